"""A Streamlit server for a benchmark: started on a free port, healthy before use, stopped after."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def app_server(
    command: list[str], env: dict[str, str], timeout_s: float = 60
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run `command` (a `streamlit run`-like command line) on a free local port; yields (process, url)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*command, "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise TimeoutError(f"{' '.join(command)} was not healthy within {timeout_s:.0f} s")
        yield server, url
    finally:
        server.terminate()
        server.wait(timeout=30)
