"""GET /status: the machine (CPU, memory, disk, GPUs), PyTorch and the jobs; GET /cluster: the Ray cluster."""

from __future__ import annotations

from fastapi import APIRouter, Query

from mlcore.api.context import ApiContext
from mlcore.system.cluster import cluster_status
from mlcore.system.status import collect_status


def router(ctx: ApiContext) -> APIRouter:
    """The status route."""
    routes = APIRouter()

    @routes.get("/status", summary="System status: CPU, memory, disk, GPUs, PyTorch, jobs")
    def status(torch: bool = Query(True, description="Include the PyTorch probe (kept for a minute).")) -> dict:  # noqa: B008
        return collect_status(ctx.settings, include_torch=False, torch=ctx.probe.get() if torch else None).to_dict()

    @routes.get("/cluster", summary="The Ray cluster jobs run on: where new jobs go, nodes, GPUs, its jobs")
    def cluster(check: bool = Query(False, description="Probe the nodes and the shared outputs again now.")) -> dict:  # noqa: B008
        return cluster_status(ctx.settings, recheck=check)

    return routes
