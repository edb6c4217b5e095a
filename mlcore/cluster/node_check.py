"""Runs on a cluster node as the shared-outputs probe: proves the node runs the studio and sees its outputs.

    python -m mlcore.cluster.node_check TOKEN_PATH

The studio wrote TOKEN_PATH.studio under its outputs root; this reads it back from the node's side and
answers in TOKEN_PATH.node. Exit 0 when the node sees the studio's file; otherwise 2 with the reason.
Nothing imports this module: it is an entry point.
"""

from __future__ import annotations

import json
import platform
import socket
import sys
from importlib import metadata, util
from pathlib import Path

STUDIO_SUFFIX = ".studio"
NODE_SUFFIX = ".node"


def answer(token_path: Path) -> int:
    studio_file = token_path.with_suffix(STUDIO_SUFFIX)
    host = socket.gethostname()
    try:
        token = studio_file.read_text().strip()
    except OSError as exc:
        print(
            f"node {host}: the outputs root is not shared with the studio: {studio_file} ({exc.strerror}) is "
            "missing on this node. Mount the same storage at the same path on every node (NFS or similar).",
            file=sys.stderr,
        )
        return 2
    if token != token_path.name:
        print(f"node {host}: {studio_file} holds another token: this path is another disk than the studio's.")
        return 2
    facts = {
        "token": token,
        "hostname": host,
        "python": sys.executable,
        "python_version": platform.python_version(),
        "ultralytics": util.find_spec("ultralytics") is not None,
        "ray": metadata.version("ray"),
    }
    try:
        token_path.with_suffix(NODE_SUFFIX).write_text(json.dumps(facts))
    except OSError as exc:
        print(f"node {host}: cannot write under the outputs root {token_path.parent} ({exc.strerror}).")
        return 2
    print(f"node {host}: sees the studio's outputs at {token_path.parent}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mlcore.cluster.node_check TOKEN_PATH")
    sys.exit(answer(Path(sys.argv[1])))
