"""GET /status: the machine (CPU, memory, disk, GPUs), PyTorch and the jobs."""

from __future__ import annotations

from fastapi import APIRouter, Query

from mlcore.api.context import ApiContext
from mlcore.system.status import collect_status


def router(ctx: ApiContext) -> APIRouter:
    """The status route."""
    routes = APIRouter()

    @routes.get("/status", summary="System status: CPU, memory, disk, GPUs, PyTorch, jobs")
    def status(torch: bool = Query(True, description="Include the PyTorch probe (kept for a minute).")) -> dict:  # noqa: B008
        return collect_status(ctx.settings, include_torch=False, torch=ctx.probe.get() if torch else None).to_dict()

    return routes
