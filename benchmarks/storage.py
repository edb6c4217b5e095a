"""Pulling a dataset from a local S3 server (SeaweedFS `weed mini`, started here) into the studio's cache, against
the reference: the AWS CLI's `aws s3 sync` when this machine has it, else boto3's own `download_file` loop over the
listing; then a second pull with nothing changed.

    python benchmarks/storage.py [--images 2000] [--repeats 3]

Goals: the first pull <= 1.0x the reference; the second <= 0.1x the reference's first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.storage.pull import pull  # noqa: E402
from tests.s3_server import seaweedfs  # noqa: E402


def upload(client, folder: Path, prefix: str) -> int:  # noqa: ANN001
    files = [p for p in folder.rglob("*") if p.is_file()]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda p: client.upload_file(str(p), "data", prefix + p.relative_to(folder).as_posix()), files))
    return len(files)


def reference(client, env: dict[str, str], into: Path) -> tuple[float, str]:  # noqa: ANN001
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    began = time.perf_counter()
    if shutil.which("aws"):
        subprocess.run(
            [
                "aws",
                "s3",
                "sync",
                "s3://data/bench/",
                str(into),
                "--endpoint-url",
                env["ML_STUDIO_S3_ENDPOINT"],
                "--quiet",
            ],
            env={**os.environ, **env},
            check=True,
        )
        return time.perf_counter() - began, "aws s3 sync"
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket="data", Prefix="bench/")
            for o in page.get("Contents", [])]  # fmt: skip
    for key in keys:
        target = into / key[len("bench/") :]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file("data", key, str(target))
    return time.perf_counter() - began, "boto3 download_file loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storage-bench-"))
    data = make_demo_dataset(work / "demo", images=args.images, imgsz=256, seed=0).root
    with seaweedfs(work / "s3", buckets=("data",)) as server:
        client = server.client()
        count = upload(client, data, "bench/")
        size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        print(f"{count} objects ({size / 2**20:.1f} MiB, {args.images} images) on SeaweedFS at {server.endpoint}")
        firsts, seconds, references = [], [], []
        name = ""
        for n in range(args.repeats):
            ref_s, name = reference(client, server.env, work / "reference")
            references.append(ref_s)
            outputs = work / f"out-{n}"
            settings = load_settings({**os.environ, **server.env, "ML_STUDIO_OUTPUTS": str(outputs)})
            first = pull("s3://data/bench", settings)
            second = pull("s3://data/bench", settings)
            assert first.fetched == count and second.fetched == 0
            firsts.append(first.seconds)
            seconds.append(second.seconds)
            print(
                f"  repeat {n + 1}: {name} {ref_s:.2f} s, first pull {first.seconds:.2f} s, "
                f"second pull {second.seconds:.2f} s",
                flush=True,
            )
        ref, one, two = statistics.median(references), statistics.median(firsts), statistics.median(seconds)
        print(f"median: {name} {ref:.2f} s; first pull {one:.2f} s = {one / ref:.2f}x (goal <= 1.0)")
        print(f"second pull, nothing changed: {two:.2f} s = {two / ref:.3f}x the reference (goal <= 0.1)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
