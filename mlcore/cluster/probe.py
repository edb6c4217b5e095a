"""The shared-outputs probe: every node must see the outputs root at the same path, or results are lost.

    check = cluster_check(settings)   # cached; re-run after an hour, at once for a new node or address
    check.ok, check.message

On each alive node a small Ray job (`mlcore.cluster.node_check`) reads a token file the studio wrote under
the outputs root and writes its answer beside it, which the studio reads back. A node that cannot run the
studio, that sees another disk, or that cannot write there fails the check with what to do.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlcore.cluster import submission
from mlcore.cluster.connection import ClusterUnavailable, check_reachable
from mlcore.cluster.environment import node_command, node_environment, node_python
from mlcore.cluster.nodes import Node, read_nodes
from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.settings import Settings

PROBE_TIMEOUT_S = 120.0
GOOD_FOR_S = 3600.0  # a passed check stands this long (a new node or address checks again at once)
RETRY_AFTER_S = 10.0  # a failed check is not repeated on every page refresh (a dead address may take 5 s)
NODE_CHECK_MODULE = "mlcore.cluster.node_check"
LOG_LINES = 6


@dataclass(frozen=True)
class ClusterCheck:
    """The verdict on a cluster: may the studio submit jobs to it?"""

    address: str
    ok: bool
    message: str
    ray_version: str | None = None
    nodes: tuple[str, ...] = field(default=())
    """The node ids that passed the probe."""
    checked: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _saved(settings: Settings) -> ClusterCheck | None:
    try:
        data = json.loads((settings.outputs_root / paths.CLUSTER_CHECK_FILE).read_text())
        return ClusterCheck(**{**data, "nodes": tuple(data.get("nodes", ()))})
    except (OSError, ValueError, TypeError):
        return None


def _still_good(check: ClusterCheck | None, settings: Settings, alive: list[Node]) -> bool:
    if check is None or check.address != settings.ray_address:
        return False
    age = time.time() - check.checked
    if not check.ok:
        return age < RETRY_AFTER_S
    return age < GOOD_FOR_S and {n.node_id for n in alive} <= set(check.nodes)


def cluster_check(settings: Settings, force: bool = False) -> ClusterCheck:
    """The cluster's verdict, probing it when the saved one is stale; never raises. A failed verdict stands
    for RETRY_AFTER_S, so pages that refresh every few seconds do not each wait for a dead address."""
    address = settings.ray_address
    saved = _saved(settings)
    if not force and saved is not None and not saved.ok and _still_good(saved, settings, []):
        return saved
    try:
        version = check_reachable(address)
        alive = [n for n in read_nodes(address) if n.alive]
    except ClusterUnavailable as exc:
        check = ClusterCheck(address, False, str(exc), checked=time.time())
    else:
        if not force and saved is not None and saved.ok and _still_good(saved, settings, alive):
            return saved
        check = probe(settings, alive, version)
    write_json_atomically(settings.outputs_root / paths.CLUSTER_CHECK_FILE, check.to_dict())
    return check


def probe(settings: Settings, alive: list[Node], version: str, node_outputs_root: Path | None = None) -> ClusterCheck:
    """Run the node check on every alive node at once. `node_outputs_root` is the path the nodes are told to
    look at (the outputs root itself, unless a test points them at another disk)."""
    address = settings.ray_address
    if not alive:
        return ClusterCheck(
            address, False, f"the Ray cluster at {address} has no alive node.", version, checked=time.time()
        )
    folder = settings.outputs_root / paths.CLUSTER_PROBE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    node_folder = (node_outputs_root or settings.outputs_root) / paths.CLUSTER_PROBE_DIR
    tokens = {node.node_id: f"probe-{secrets.token_hex(6)}" for node in alive}
    try:
        for node in alive:
            token = tokens[node.node_id]
            (folder / f"{token}.studio").write_text(token)
            submission.submit(
                address,
                token,
                node_command(settings, NODE_CHECK_MODULE, str(node_folder / token)),
                gpus=0,
                cpus=0,
                env=node_environment(settings, hide_gpus=True),
                metadata={"purpose": "ML Studio shared-outputs probe"},
                node_id=node.node_id,
            )
        problems = [_verdict(settings, node, tokens[node.node_id], folder) for node in alive]
    except ClusterUnavailable as exc:
        return ClusterCheck(address, False, str(exc), version, checked=time.time())
    finally:
        for token in tokens.values():
            for suffix in (".studio", ".node"):
                (folder / f"{token}{suffix}").unlink(missing_ok=True)
    failed = [p for p in problems if p]
    if failed:
        return ClusterCheck(
            address,
            False,
            " ".join(failed) + " Jobs run on this machine until it is fixed.",
            version,
            checked=time.time(),
        )
    return ClusterCheck(
        address,
        True,
        f"{len(alive)} node(s) run the studio and share its outputs at {settings.outputs_root}.",
        version,
        tuple(n.node_id for n in alive),
        time.time(),
    )


def _verdict(settings: Settings, node: Node, token: str, folder: Path) -> str | None:
    """None when the node passed; else what is wrong with it."""
    address = settings.ray_address
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    job = submission.ray_job(address, token)
    while (job is None or not job.ended) and time.monotonic() < deadline:
        time.sleep(0.25)
        job = submission.ray_job(address, token)
    where = f"node {node.hostname} ({node.short_id})"
    if job is None or not job.ended:
        submission.stop(address, token, wait_s=5)
        return f"the probe on {where} did not run within {PROBE_TIMEOUT_S:.0f} s (is the node out of CPUs?)."
    tail = "\n".join(submission.logs(address, token).strip().splitlines()[-LOG_LINES:])
    submission.forget(address, token)
    if job.status != "SUCCEEDED":
        if "not shared" in tail or "another disk" in tail or "cannot write" in tail:
            return tail.splitlines()[-1]
        return (
            f"{where} cannot run the studio's worker ({node_python(settings)} -m {NODE_CHECK_MODULE} failed: "
            f"{tail or job.message}). Install ML Studio with its requirements at the same path on every node, "
            "or set ML_STUDIO_RAY_PYTHON to the interpreter that has it there."
        )
    answer = folder / f"{token}.node"
    if not answer.exists():
        return (
            f"{where} wrote its answer under the outputs root, but the studio cannot read it back at {answer}: "
            "the outputs root is not the same storage on that node. Mount it at the same path on every node."
        )
    facts = json.loads(answer.read_text())
    if not facts.get("ultralytics"):
        return f"{where} runs the studio without Ultralytics ({facts.get('python')}): install its requirements there."
    return None
