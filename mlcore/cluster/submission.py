"""The studio's jobs as Ray jobs: submit, read, stop, logs. A Ray job's id derives from the studio job's.

submit(address, job_id, entrypoint, gpus=1, cpus=1, env={...}, metadata={"owner": "ana"})
ray_job(address, job_id)   # RayJob or None when the cluster does not know it (its head restarted)
stop(address, job_id)      # Ray's stop: SIGTERM to the whole process tree, SIGKILL 3 s later
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mlcore.cluster.connection import ClusterUnavailable, client

SUBMISSION_PREFIX = "ml-studio-"
NODE_LABEL = "ray.io/node-id"  # every node carries its id as a label
TERMINAL = frozenset({"STOPPED", "SUCCEEDED", "FAILED"})
STOP_WAIT_S = 15.0  # Ray kills what is left 3 s after its SIGTERM; the job's record follows shortly


@dataclass(frozen=True)
class RayJob:
    """What the cluster says about one of the studio's jobs."""

    submission_id: str
    status: str
    """PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED."""
    message: str
    node_id: str | None
    """The node its worker runs on (once it started)."""
    metadata: dict[str, str]
    start_time: float | None
    end_time: float | None

    @property
    def job_id(self) -> str:
        return self.submission_id.removeprefix(SUBMISSION_PREFIX)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "job_id": self.job_id}


def submission_id(job_id: str) -> str:
    return SUBMISSION_PREFIX + job_id


def submit(
    address: str,
    job_id: str,
    entrypoint: str,
    gpus: int,
    cpus: float,
    env: Mapping[str, str],
    metadata: Mapping[str, str],
    node_id: str | None = None,
) -> str:
    """Submit `entrypoint` as the Ray job of `job_id` (on the node `node_id` when given); its submission id."""
    try:
        return client(address).submit_job(
            entrypoint=entrypoint,
            submission_id=submission_id(job_id),
            runtime_env={"env_vars": dict(env)},
            metadata=dict(metadata),
            entrypoint_num_gpus=gpus,
            entrypoint_num_cpus=cpus,
            entrypoint_label_selector={NODE_LABEL: node_id} if node_id else None,
        )
    except (OSError, RuntimeError) as exc:
        raise ClusterUnavailable(f"the Ray cluster at {address} did not take job {job_id}: {exc}") from exc


def _ray_job(info: Any) -> RayJob:
    return RayJob(
        submission_id=str(info.submission_id),
        status=str(getattr(info.status, "value", info.status)),
        message=str(info.message or ""),
        node_id=info.driver_node_id or None,
        metadata=dict(info.metadata or {}),
        start_time=info.start_time / 1000 if info.start_time else None,
        end_time=info.end_time / 1000 if info.end_time else None,
    )


def ray_job(address: str, job_id: str) -> RayJob | None:
    """The cluster's record of a studio job; None when it has none."""
    try:
        return _ray_job(client(address).get_job_info(submission_id(job_id)))
    except RuntimeError as exc:
        if "does not exist" in str(exc) or "404" in str(exc):
            return None
        raise ClusterUnavailable(f"the Ray cluster at {address} did not answer for job {job_id}: {exc}") from exc
    except OSError as exc:
        raise ClusterUnavailable(f"the Ray cluster at {address} cannot be reached: {exc}") from exc


def ray_jobs(address: str) -> list[RayJob]:
    """The studio's jobs the cluster knows (others' Ray jobs are left out), newest first."""
    try:
        infos = client(address).list_jobs()
    except (OSError, RuntimeError) as exc:
        raise ClusterUnavailable(f"the Ray cluster at {address} did not list its jobs: {exc}") from exc
    jobs = [_ray_job(i) for i in infos if str(i.submission_id or "").startswith(SUBMISSION_PREFIX)]
    return sorted(jobs, key=lambda j: j.start_time or 0.0, reverse=True)


def stop(address: str, job_id: str, wait_s: float = STOP_WAIT_S) -> RayJob | None:
    """Stop the job's whole process tree on its node; waits until the cluster records the end."""
    try:
        client(address).stop_job(submission_id(job_id))
    except RuntimeError as exc:
        if "does not exist" not in str(exc):
            raise ClusterUnavailable(f"the Ray cluster at {address} did not stop job {job_id}: {exc}") from exc
    except OSError as exc:
        raise ClusterUnavailable(f"the Ray cluster at {address} cannot be reached: {exc}") from exc
    deadline = time.monotonic() + wait_s
    while True:
        current = ray_job(address, job_id)
        if current is None or current.ended or time.monotonic() > deadline:
            return current
        time.sleep(0.25)


def forget(address: str, job_id: str) -> None:
    """Delete an ended job's record from the cluster (the probe's, which nobody needs to read again)."""
    try:
        client(address).delete_job(submission_id(job_id))
    except (OSError, RuntimeError):
        pass


def logs(address: str, job_id: str) -> str:
    """The job's output as Ray kept it (on the head node); '' when there is none."""
    try:
        return client(address).get_job_logs(submission_id(job_id))
    except (OSError, RuntimeError):
        return ""
