"""A real local Ray cluster for the tests: a head and a worker node on free ports of 127.0.0.1.

Each node is `ray start --block` in a process group of its own, declaring `--num-gpus 1` (Ray trusts the
declared count, so GPU scheduling is exercised on a machine without one) and a small object store. A node
is stopped by killing its group and every process under it, the jobs' workers included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.conftest import free_port

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE_BYTES = 80 * 2**20
START_TIMEOUT_S = 120.0


def _ray_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_STUDIO_")}
    return {**env, **extra, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


@dataclass
class RayNode:
    process: subprocess.Popen
    log: Path
    node_manager_port: int

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def kill(self) -> None:
        """SIGKILL to the node's group and every process under it (raylet, its workers, the jobs' workers)."""
        processes = self.tree()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for process in processes:
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(processes, timeout=10)
        self.process.wait(timeout=10)


@dataclass
class LocalRayCluster:
    folder: Path
    gcs_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    nodes: list[RayNode] = field(default_factory=list)
    sessions: int = 0
    env: dict[str, str] = field(default_factory=dict)
    """Variables every node starts with (a node's own storage credentials)."""

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _start_node(self, *args: str) -> RayNode:
        port = free_port()
        log = self.folder / f"node-{len(self.nodes)}.log"
        command = [
            RAY,
            "start",
            "--block",
            "--disable-usage-stats",
            "--num-cpus",
            "2",
            "--num-gpus",
            "1",
            "--object-store-memory",
            str(OBJECT_STORE_BYTES),
            "--node-ip-address",
            "127.0.0.1",
            "--node-manager-port",
            str(port),
            "--dashboard-agent-listen-port",
            str(free_port()),
            "--metrics-export-port",
            str(free_port()),
            *args,
        ]
        with open(log, "ab") as out:
            process = subprocess.Popen(
                command,
                env=_ray_env(self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.folder,
            )
        node = RayNode(process, log, port)
        self.nodes.append(node)
        return node

    def start(self, workers: int = 1) -> LocalRayCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sessions += 1
        self._start_node(
            "--head",
            "--port",
            str(self.gcs_port),
            "--dashboard-host",
            "127.0.0.1",
            "--dashboard-port",
            str(self.dashboard_port),
            "--include-dashboard",
            "true",
            "--ray-client-server-port",
            str(free_port()),
            "--temp-dir",
            str(self.folder / f"ray-{self.sessions}"),
        )
        self.wait_for_nodes(1)
        for _ in range(workers):
            self.add_worker()
        return self

    def add_worker(self) -> RayNode:
        alive = self.alive_nodes()
        node = self._start_node("--address", f"127.0.0.1:{self.gcs_port}")
        self.wait_for_nodes(alive + 1)
        return node

    def alive_nodes(self) -> int:
        try:
            url = f"{self.address}/api/v0/nodes?limit=100"
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                rows = json.loads(response.read())["data"]["result"]["result"]
            return sum(1 for r in rows if r["state"] == "ALIVE")
        except (OSError, ValueError, KeyError):
            return 0

    def wait_for_nodes(self, count: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.alive_nodes() < count:
            dead = [n for n in self.nodes if n.process.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(n.log.read_text(errors="replace")[-2000:] for n in self.nodes)
                raise RuntimeError(f"the local Ray cluster did not start {count} node(s):\n{logs}")
            time.sleep(0.5)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()

    def restart_head(self) -> None:
        """The head comes back on the same ports as a new session (it forgets its jobs), with a worker node."""
        self.stop()
        self.nodes = []
        self.start()
