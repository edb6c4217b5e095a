"""The Ray cluster at a glance: where new jobs go, its nodes (alive or dead) with what runs on each, and
the studio's jobs on it. What the System status page, `python -m mlcore cluster status` and the API show.

    report = cluster_status(settings)      # never raises; an unreachable cluster is said in `message`
    report["executor"], report["nodes"], report["jobs"]
"""

from __future__ import annotations

from typing import Any

from mlcore.cluster.connection import ClusterUnavailable
from mlcore.cluster.nodes import read_nodes
from mlcore.cluster.probe import cluster_check
from mlcore.cluster.submission import ray_jobs
from mlcore.core import paths
from mlcore.core.settings import ENV_RAY_ADDRESS, Settings
from mlcore.devices.leases import Lease
from mlcore.jobs.store import ACTIVE_STATES, FINAL_STATES, Job, JobState, JobStore
from mlcore.jobs.store import LOCAL_EXECUTOR as LOCAL

RECENT_JOBS = 50


def cluster_status(settings: Settings, recheck: bool = False) -> dict[str, Any]:
    """Where new jobs go and why; with a cluster, its nodes and the studio's jobs on it (`recheck` probes again)."""
    if not settings.ray_address:
        return {
            "configured": False,
            "address": None,
            "executor": LOCAL,
            "ok": True,
            "message": f"no Ray cluster is configured ({ENV_RAY_ADDRESS}); jobs run on this machine.",
            "nodes": [],
            "jobs": [],
        }
    check = cluster_check(settings, force=recheck)
    report: dict[str, Any] = {
        "configured": True,
        "address": settings.ray_address,
        "executor": "ray" if check.ok else LOCAL,
        "ok": check.ok,
        "message": check.message,
        "ray_version": check.ray_version,
        "checked": check.checked,
        "nodes": [],
        "jobs": [],
    }
    try:
        nodes = read_nodes(settings.ray_address)
        records = {r.job_id: r for r in ray_jobs(settings.ray_address)}
    except ClusterUnavailable as exc:
        report["message"] = str(exc)
        return report
    studio = _studio_jobs(settings)
    on_node: dict[str, list[str]] = {}
    for job in studio:
        if job.state in ACTIVE_STATES and job.node:
            on_node.setdefault(job.node, []).append(job.id)
    report["nodes"] = [{**n.to_dict(), "jobs": on_node.get(n.node_id, [])} for n in nodes]
    names = {n.node_id: n.hostname for n in nodes}
    report["jobs"] = [
        {
            "id": job.id,
            "kind": job.kind,
            "owner": job.owner,
            "state": job.state.value,
            "ray_status": records[job.id].status if job.id in records else None,
            "gpus": len(Lease.parse(job.device).gpus),
            "device": job.device,
            "node": job.node,
            "node_name": names.get(job.node or ""),
            "run": "/".join(job.run_dir.split("/")[-2:]),
            "error": job.error,
        }
        for job in studio
    ]
    return report


def _studio_jobs(settings: Settings) -> list[Job]:
    """The queued jobs (they wait in the studio's queue, not in Ray's), the active ones on Ray and the most
    recent ended ones there, newest first."""
    if not (settings.outputs_root / paths.JOBS_DB).exists():
        return []
    jobs = JobStore(settings.outputs_root / paths.JOBS_DB).list()
    queued = [j for j in jobs if j.state is JobState.QUEUED]
    on_ray = [j for j in jobs if j.executor != LOCAL]
    active = [j for j in on_ray if j.state in ACTIVE_STATES]
    ended = [j for j in on_ray if j.state in FINAL_STATES]
    return (ended[-RECENT_JOBS:] + active + queued)[::-1]
