"""What running a job on Ray costs: the same short training through the local executor and through a
local Ray cluster (one head node on this machine, which also runs the job), in one run.

    python benchmarks/ray_overhead.py [--epochs 3 10] [--repeats 2]

For each executor and training length: the wall time from submit to the job's end, and from submit to its
first progress (the first epoch started, as progress.json says). Goals: Ray's wall time <= 1.10x the local
one, and Ray adds <= 3 s before the first progress. Ray's cost is mostly fixed (its job supervisor starts
for each job), so the ratio is printed for a short and a longer training. The cluster's shared-outputs
check runs once before the timings, as the studio runs it once when it starts using a cluster (it stands
for an hour).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.cluster.probe import cluster_check  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.jobs.progress import read_progress  # noqa: E402
from mlcore.jobs.scheduler import refresh  # noqa: E402
from mlcore.jobs.store import JobState, open_store  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import submit_training  # noqa: E402
from tests.ray_cluster import LocalRayCluster  # noqa: E402

LOOK_EVERY_S = 2.0  # how often a page takes a scheduling step


def one_training(environment: dict[str, str], dataset: Path, name: str, epochs: int) -> tuple[float, float, str]:
    """(seconds to the first progress, seconds to the end, where it ran) of one training from its submit."""
    settings = load_settings(environment)
    spec = TrainSpec(
        dataset_path=str(dataset),
        epochs=epochs,
        imgsz=64,
        batch_size=8,
        workers=0,
        device="cpu",
        project="bench",
        experiment=name,
    )
    began = time.perf_counter()
    job = submit_training(spec, settings)
    first = None
    store = open_store(settings)
    looked = began
    while True:
        current = store.get(job.id)
        if first is None and read_progress(Path(current.run_dir)).get("epoch"):
            first = time.perf_counter() - began
        if current.state.is_final():
            break
        if time.perf_counter() - looked > LOOK_EVERY_S:  # as an open page does; the worker records its end
            refresh(settings)
            looked = time.perf_counter()
        time.sleep(0.1)
    if current.state is not JobState.COMPLETED:
        sys.exit(f"{name} ended {current.state.value}: {current.error}")
    return first or float("nan"), time.perf_counter() - began, current.executor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    dataset = make_demo_dataset(work / "data" / "small", images=24, imgsz=96, seed=7).root
    base = {k: v for k, v in os.environ.items() if not k.startswith("ML_STUDIO_")}
    base["ML_STUDIO_DATASET_ROOTS"] = str(work / "data")
    local_env = {**base, "ML_STUDIO_OUTPUTS": str(work / "local")}
    one_training(local_env, dataset, "warm-up", 1)  # the first import of torch and Ultralytics fills the caches
    local = {
        e: [one_training(local_env, dataset, f"local-{e}-{n}", e) for n in range(args.repeats)] for e in args.epochs
    }

    cluster = LocalRayCluster(work / "ray").start(workers=0)
    try:
        ray_env = {**base, "ML_STUDIO_OUTPUTS": str(work / "ray-out"), "ML_STUDIO_RAY_ADDRESS": cluster.address}
        check = cluster_check(load_settings(ray_env), force=True)
        if not check.ok:
            sys.exit(f"the local cluster did not pass its check: {check.message}")
        one_training(ray_env, dataset, "warm-up", 1)  # as on this machine: the first job fills the caches
        ray = {e: [one_training(ray_env, dataset, f"ray-{e}-{n}", e) for n in range(args.repeats)] for e in args.epochs}
    finally:
        cluster.stop()
    assert {r[2] for rows in local.values() for r in rows} == {"local"}
    assert {r[2] for rows in ray.values() for r in rows} == {"ray"}

    def median(rows: list[tuple[float, float, str]], index: int) -> float:
        return statistics.median(r[index] for r in rows)

    print(f"CPU training at imgsz 64 on 24 images, median of {args.repeats}; the Ray cluster is one head node here")
    for epochs in args.epochs:
        wall_local, wall_ray = median(local[epochs], 1), median(ray[epochs], 1)
        first_local, first_ray = median(local[epochs], 0), median(ray[epochs], 0)
        print(f"{epochs} epochs:")
        print(f"  local executor:  first progress {first_local:5.1f} s   end {wall_local:5.1f} s")
        print(f"  Ray executor:    first progress {first_ray:5.1f} s   end {wall_ray:5.1f} s")
        ratio, added = wall_ray / wall_local, wall_ray - wall_local
        print(f"  wall-time ratio Ray/local: {ratio:.2f}x (goal <= 1.10), Ray adds {added:+.1f} s")
        print(f"  Ray adds {first_ray - first_local:+.1f} s before the first progress (goal <= 3 s)")


if __name__ == "__main__":
    main()
