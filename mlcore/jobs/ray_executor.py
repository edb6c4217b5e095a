"""The Ray executor: each job's worker is a Ray job on the cluster at ML_STUDIO_RAY_ADDRESS.

The studio's queue stays the scheduler of record: a job is submitted only when a node has the GPUs it
asks for free (Ray's view of the nodes, less the GPUs the studio's running jobs hold, less GPUs whose
memory the node reports full), so it never waits in Ray's own queue, which fails what waits 15 minutes.
A job that asks for no GPU gets none (CUDA_VISIBLE_DEVICES empty). A job's device on the cluster is
"gpu:0" or "gpu:0,1" meaning "one GPU" or "two GPUs of one node"; the worker records the node's own
indices when it starts. Stop stays the studio's flag in the run folder; Cancel is Ray's stop_job.
"""

from __future__ import annotations

import shlex
from functools import cached_property
from pathlib import Path
from typing import Any

from mlcore.cluster import submission
from mlcore.cluster.connection import ClusterUnavailable
from mlcore.cluster.environment import RAY_EXECUTOR, node_command, node_environment
from mlcore.cluster.nodes import Node, read_nodes
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.devices.leases import CPU, NO_DEVICE, Lease, requested_gpus
from mlcore.jobs.executor import Observation, Placement
from mlcore.jobs.local import MIN_FREE_GPU_MB
from mlcore.jobs.progress import run_folder_log
from mlcore.jobs.store import Job

WORKER_MODULE = "mlcore.worker"
CPUS_PER_JOB = 1  # what Ray reserves for each job's worker; a training's data loaders use what the node has


class RayExecutor:
    """Workers as Ray jobs; the cluster's nodes are read once per scheduling step."""

    name = RAY_EXECUTOR

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.address = settings.ray_address

    @cached_property
    def nodes(self) -> list[Node]:
        return read_nodes(self.address)

    @property
    def alive(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    def gpus_wanted(self, spec: dict[str, Any]) -> int:
        """GPUs of one node the job needs: 0 on the CPU, 1 for "auto" on a cluster with GPUs, N for "0,...,N-1"."""
        wanted = str(spec.get("device", "auto"))
        if wanted in (CPU, NO_DEVICE):
            return 0
        if wanted == "auto":
            return 1 if any(n.gpus for n in self.alive) else 0
        return len(requested_gpus(wanted))

    def refusal(self, spec: dict[str, Any]) -> str | None:
        need = self.gpus_wanted(spec)
        largest = max((n.gpus for n in self.alive), default=0)
        if need > largest:
            return (
                f"device={spec.get('device')!r} asks for {need} GPU(s) on one node, but the largest node of the Ray "
                f"cluster at {self.address} has {largest}; ask for at most {largest} (one training never spans "
                "nodes), or 'auto'."
            )
        return None

    def place(self, job: Job, active: list[Job]) -> Placement:
        impossible = self.refusal(job.spec)
        if impossible:
            return Placement(impossible=impossible)
        if job.spec.get("device") == NO_DEVICE:
            return Placement(NO_DEVICE)
        need = self.gpus_wanted(job.spec)
        mine = [j for j in active if j.executor == self.name and j.device != NO_DEVICE]
        held_by = {j.id: self.gpus_wanted(j.spec) for j in mine}  # what Ray reserved for each, whatever it runs on
        if need == 0:
            on_cpu = sum(1 for held in held_by.values() if held == 0)  # one CPU job per node, as on one machine
            return Placement(CPU) if on_cpu < len(self.alive) else Placement()
        free = {n.node_id: self._usable_gpus(n) for n in self.alive}
        unplaced = []
        for other in mine:
            held = held_by[other.id]
            if other.node in free:
                free[other.node] -= held
            elif held:
                unplaced.append(held)  # submitted, not started yet: Ray will put it where it fits
        for held in sorted(unplaced, reverse=True):
            roomiest = max(free, key=free.__getitem__)
            free[roomiest] -= held
        if any(left >= need for left in free.values()):
            return Placement(str(Lease.of_gpus(tuple(range(need)))))
        return Placement()

    def capacity(self, wanted: str) -> int:
        """How many jobs asking for `wanted` the cluster runs at once: its usable GPUs, or one CPU job per node."""
        need = self.gpus_wanted({"device": wanted})
        if need == 0:
            return max(1, len(self.alive))
        return max(1, sum(self._usable_gpus(n) // need for n in self.alive))

    @staticmethod
    def _usable_gpus(node: Node) -> int:
        """The node's GPUs, less those its reporter says have too little free memory (others' work)."""
        readings = [g.memory_free_mb for g in node.gpu_readings if g.memory_free_mb is not None]
        if not readings:
            return node.gpus
        return min(node.gpus, sum(1 for free in readings if free >= MIN_FREE_GPU_MB))

    def launch(self, job: Job, device: str) -> dict[str, Any]:
        gpus = len(Lease.parse(device).gpus)
        folder = RunFolder(Path(job.run_dir))
        folder.path.mkdir(parents=True, exist_ok=True)
        worker = node_command(self.settings, WORKER_MODULE, job.id)
        # the log goes to the run folder (shared) and to Ray's own record of the job (read when the folder is not)
        line = f"set -o pipefail; {worker} 2>&1 | tee -a {shlex.quote(str(folder.log(job.kind)))}"
        try:
            submission.submit(
                self.address,
                job.id,
                f"bash -c {shlex.quote(line)}",
                gpus=gpus,
                cpus=CPUS_PER_JOB,
                env=node_environment(self.settings, hide_gpus=gpus == 0),
                metadata={"owner": job.owner, "kind": job.kind, "studio_job": job.id, "run_dir": job.run_dir},
            )
        except ClusterUnavailable as exc:
            raise OSError(str(exc)) from exc
        return {}

    def observe(self, job: Job) -> Observation:
        try:
            record = submission.ray_job(self.address, job.id)
        except ClusterUnavailable:
            return Observation(known=False)
        if record is None:
            return Observation(
                ended=f"the Ray cluster at {self.address} no longer knows this job (its head node restarted, which "
                "forgets the jobs it ran)."
            )
        node = record.node_id or job.node
        if record.ended:
            return Observation(ended=f"Ray reports it {record.status.lower()}: {record.message}", node=node)
        try:
            dead = {n.node_id: n for n in self.nodes if not n.alive}
        except ClusterUnavailable:
            return Observation(known=False)
        if node in dead:
            return Observation(
                ended=f"its node {dead[node].hostname} ({dead[node].short_id}) left the cluster "
                f"({dead[node].state_message or 'dead'}).",
                node=node,
            )
        return Observation(node=node)

    def cancel(self, job: Job, grace_s: float) -> None:
        try:
            submission.stop(self.address, job.id, wait_s=grace_s + submission.STOP_WAIT_S)
        except ClusterUnavailable as exc:
            raise OSError(str(exc)) from exc

    def log(self, job: Job) -> str:
        """The run folder's log; Ray's copy (kept on the head node) when this machine cannot read the folder's."""
        if RunFolder(Path(job.run_dir)).log(job.kind).exists():
            return run_folder_log(job)
        return submission.logs(self.address, job.id)
