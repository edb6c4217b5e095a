"""The cluster's nodes as Ray sees them: alive or dead, CPUs, GPUs, and each GPU's memory where reported.

nodes = read_nodes("http://head:8265")
[(n.short_id, n.alive, n.gpus) for n in nodes]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlcore.cluster.connection import dashboard_json


@dataclass(frozen=True)
class NodeGpu:
    """One GPU of a node, as the node's reporter agent reads it (only where the node has NVIDIA's library)."""

    index: int
    name: str
    memory_total_mb: float | None
    memory_used_mb: float | None

    @property
    def memory_free_mb(self) -> float | None:
        if self.memory_total_mb is None or self.memory_used_mb is None:
            return None
        return self.memory_total_mb - self.memory_used_mb


@dataclass(frozen=True)
class Node:
    """One node of the cluster."""

    node_id: str
    ip: str
    hostname: str
    alive: bool
    is_head: bool
    cpus: float
    gpus: int
    """GPUs the node declares to Ray (`ray start --num-gpus`, or those it detected)."""
    gpu_readings: tuple[NodeGpu, ...] = field(default=())
    state_message: str | None = None

    @property
    def short_id(self) -> str:
        return self.node_id[:8]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "short_id": self.short_id}


def read_nodes(address: str) -> list[Node]:
    """Every node the cluster knows, alive first (the head before workers); ClusterUnavailable when unreachable."""
    listed = dashboard_json(address, "/api/v0/nodes?detail=1&limit=1000")
    rows = (((listed or {}).get("data") or {}).get("result") or {}).get("result") or []
    summary = dashboard_json(address, "/nodes?view=summary")
    readings = {
        (entry.get("raylet") or {}).get("nodeId"): entry
        for entry in ((summary or {}).get("data") or {}).get("summary", [])
    }
    nodes = [_node(row, readings.get(row.get("node_id")) or {}) for row in rows]
    return sorted(nodes, key=lambda n: (not n.alive, not n.is_head, n.node_id))


def _node(row: dict[str, Any], reading: dict[str, Any]) -> Node:
    resources = row.get("resources_total") or {}
    gpus = tuple(
        NodeGpu(
            index=int(g.get("index", i)),
            name=str(g.get("name", "GPU")),
            memory_total_mb=_number(g.get("memoryTotal")),
            memory_used_mb=_number(g.get("memoryUsed")),
        )
        for i, g in enumerate(reading.get("gpus") or [])
    )
    return Node(
        node_id=str(row.get("node_id", "")),
        ip=str(row.get("node_ip", "")),
        hostname=str(reading.get("hostname") or row.get("node_name") or row.get("node_ip", "")),
        alive=row.get("state") == "ALIVE",
        is_head=bool(row.get("is_head_node")),
        cpus=float(resources.get("CPU", 0.0)),
        gpus=int(resources.get("GPU", 0.0)),
        gpu_readings=gpus,
        state_message=row.get("state_message"),
    )


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
