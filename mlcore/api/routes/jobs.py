"""The routes every kind of job has, made by one function: GET its listing (jobs/kinds.py names the path), GET one
by id (404 for a job of another kind or task), POST .../cancel, and POST .../stop where Stop applies.

    add_job_routes(routes, ctx, JobKind.EXPORT, export_status, "export_id",
                   listing=("exports", "Every export"), read=("export", "One export: ..."),
                   cancel=("cancel_export", "Cancel an export"))

Each route is given as (its name, its summary): the name makes the OpenAPI operation id, so the kinds' routes
keep the ids, parameters and summaries clients and generated clients know.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from mlcore.api.context import ApiContext
from mlcore.core.settings import Settings
from mlcore.jobs.control import cancel_job, stop_job
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.scheduler import refresh
from mlcore.jobs.store import Job, JobStore, jobs_of

Report = Callable[[Job, JobStore], dict[str, Any]]
Route = tuple[str, str]  # (the route's name, its summary)


def _by_id(id_name: str, answer: Callable[[str], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A route function whose one path parameter is called `id_name` (each kind keeps its own: training_id, ...)."""

    def endpoint(**given: str) -> dict[str, Any]:
        return answer(given[id_name])

    parameter = inspect.Parameter(id_name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
    endpoint.__signature__ = inspect.Signature([parameter], return_annotation=dict)  # type: ignore[attr-defined]
    endpoint.__doc__ = None  # a docstring would become the operation's description
    return endpoint


def add_job_routes(
    routes: APIRouter,
    ctx: ApiContext,
    kind: JobKind,
    report: Report,
    id_name: str,
    *,
    listing: Route,
    read: Route,
    cancel: Route,
    stop: Route | None = None,
    actions_at: str | None = None,
    tasks: tuple[JobTask, ...] | None = None,
    jobs: Callable[[Settings], list[Job]] | None = None,
    row: Callable[[dict[str, Any]], dict[str, Any]] = lambda shown: shown,
    cancelling: Callable[..., Job] = cancel_job,
) -> None:
    """GET /{listing} (`jobs`, by default every job of `kind` and `tasks`, oldest first, each as `row` of its
    `report`), GET /{listing}/{id}, POST {actions_at}/stop (with `stop`) and POST {actions_at}/cancel; `actions_at`
    is the read path unless given. A job of another kind, or of a task not in `tasks`, is not found there."""
    path = f"/{KINDS[kind].listing}"
    item = f"{path}/{{{id_name}}}"
    actions_at = actions_at or item

    def every() -> list[dict]:
        refresh(ctx.settings)
        listed = jobs(ctx.settings) if jobs else jobs_of(ctx.settings, kind)
        return [row(report(j, ctx.store)) for j in listed if tasks is None or j.spec.get("task") in tasks]

    def one(job_id: str) -> dict[str, Any]:
        refresh(ctx.settings)  # the API is one of the callers that advance the queue
        return report(ctx.job(job_id, kind, tasks), ctx.store)

    def acted(action: Callable[..., Job]) -> Callable[[str], dict[str, Any]]:
        def act(job_id: str) -> dict[str, Any]:
            ctx.job(job_id, kind, tasks)
            return report(action(job_id, ctx.settings, actor=ctx.actor), ctx.store)

        return act

    routes.add_api_route(path, every, methods=["GET"], name=listing[0], summary=listing[1])
    routes.add_api_route(item, _by_id(id_name, one), methods=["GET"], name=read[0], summary=read[1])
    if stop is not None:
        routes.add_api_route(
            f"{actions_at}/stop", _by_id(id_name, acted(stop_job)), methods=["POST"], name=stop[0], summary=stop[1]
        )
    routes.add_api_route(
        f"{actions_at}/cancel", _by_id(id_name, acted(cancelling)), methods=["POST"], name=cancel[0], summary=cancel[1]
    )
