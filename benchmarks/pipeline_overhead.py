"""What a pipeline costs over running its steps by hand: the same train → evaluate → export sequence as three CLI
calls (`train --wait`, `evaluate --wait`, `export --wait`, each started when the one before has returned) and as one
pipeline (`pipeline run --wait`), on the same data, in one run, the two orders alternating.

    python benchmarks/pipeline_overhead.py [--images 120] [--epochs 3] [--imgsz 128] [--repeats 2]

Prints, per repeat and as medians: the wall time of each way and their ratio (goal <= 1.05), and the pipeline's
own time between steps: from one step's job ending to the next step's job starting, as the job store recorded
them (goal <= 2 s per step), beside the same gap between the hand-run CLI calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.core import paths  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.jobs.store import JobStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def mlcore(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "mlcore", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"mlcore {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done


def gaps(store: JobStore, ids: list[str]) -> list[float]:
    """Seconds from each job's end to the next job's start."""
    jobs = [store.get(i) for i in ids]
    return [round(b.started - a.ended, 2) for a, b in zip(jobs, jobs[1:], strict=False) if a.ended and b.started]


def by_hand(env: dict[str, str], data: Path, args: argparse.Namespace, tag: str) -> tuple[float, list[float]]:
    store = JobStore(Path(env["ML_STUDIO_OUTPUTS"]) / paths.JOBS_DB)
    before = {j.id for j in store.list()}
    began = time.perf_counter()
    mlcore(
        env, "train", "--data", str(data), "--epochs", str(args.epochs), "--imgsz", str(args.imgsz), "--batch", "16",
        "--workers", "0", "--device", "cpu", "--project", "hand", "--experiment", tag, "--no-plots", "--wait",
    )  # fmt: skip
    run = f"hand/{tag}"
    mlcore(env, "evaluate", "--model", run, "--data", str(data), "--split", "test", "--device", "cpu", "--wait")
    mlcore(env, "export", run, "--format", "onnx", "--device", "cpu", "--wait")
    wall = time.perf_counter() - began
    made = sorted((j for j in store.list() if j.id not in before), key=lambda j: j.created)
    return wall, gaps(store, [j.id for j in made])


def as_pipeline(env: dict[str, str], data: Path, args: argparse.Namespace, work: Path) -> tuple[float, list[float]]:
    file = work / "bench.yaml"
    file.write_text(
        f"name: bench\ndataset: {data}\nsteps:\n"
        f"  train: {{epochs: {args.epochs}, imgsz: {args.imgsz}, batch_size: 16, workers: 0, device: cpu, "
        "advanced: {plots: false}}\n"
        "  evaluate: {split: test, device: cpu}\n"
        "  export: {formats: [onnx], device: cpu}\n"
    )
    began = time.perf_counter()
    done = mlcore(env, "pipeline", "run", str(file), "--wait", "--json")
    wall = time.perf_counter() - began
    document = json.loads(done.stdout)
    if document["state"] != "passed":
        raise SystemExit(f"the pipeline ended {document['state']}: {document.get('error')}")
    store = JobStore(Path(env["ML_STUDIO_OUTPUTS"]) / paths.JOBS_DB)
    return wall, gaps(store, [s["job"] for s in document["steps"] if s["job"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    data = make_demo_dataset(work / "data" / "demo", images=args.images, imgsz=256, seed=0).root
    env = {
        **os.environ,
        "ML_STUDIO_OUTPUTS": str(work / "out"),
        "ML_STUDIO_DATASET_ROOTS": str(work / "data"),
        "PYTHONPATH": str(ROOT),
    }
    hand_walls, pipe_walls, hand_gaps, pipe_gaps = [], [], [], []
    print(f"{args.images} images, {args.epochs} epochs at {args.imgsz} px, CPU; train → evaluate → export (ONNX)")
    for n in range(args.repeats):
        order = ("hand", "pipeline") if n % 2 == 0 else ("pipeline", "hand")
        for way in order:
            if way == "hand":
                wall, between = by_hand(env, data, args, f"r{n}")
                hand_walls.append(wall)
                hand_gaps += between
            else:
                wall, between = as_pipeline(env, data, args, work)
                pipe_walls.append(wall)
                pipe_gaps += between
            print(f"  repeat {n + 1}, {way:<8}: {wall:6.1f} s, between steps {between} s", flush=True)
    hand, pipe = statistics.median(hand_walls), statistics.median(pipe_walls)
    print(f"median wall time: by hand {hand:.1f} s, pipeline {pipe:.1f} s, ratio {pipe / hand:.3f} (goal <= 1.05)")
    print(
        f"between steps: pipeline median {statistics.median(pipe_gaps):.2f} s, max {max(pipe_gaps):.2f} s "
        f"(goal <= 2 s); by hand median {statistics.median(hand_gaps):.2f} s"
    )


if __name__ == "__main__":
    main()
