"""What the studio's job machinery costs on top of a plain Ultralytics training, on this machine.

The same short CPU training (yolov8n from scratch, or the architecture --arch names, on a generated dataset,
same arguments, same threads, offline environment) runs alternately

1. directly: a child process that imports Ultralytics and calls `YOLO(...).train(...)`;
2. through the studio: `submit_training` (dataset check, queue, scheduler), the detached worker
   (staging the dataset view, progress.json, resumable checkpoint, metrics.json), until the job's
   state is final;

and prints the wall times, their ratio (goal <= 1.05), and the time from submit to the worker's
first progress record. With `--memory`, it then starts the app server, opens the Training page in
Chromium while a training runs, and prints the server's resident memory (goal <= 300 MB) and
whether PyTorch is loaded in it (it must not be).

    python benchmarks/train_overhead.py [--epochs 5] [--images 120] [--imgsz 128] [--repeats 3] [--arch yolov8n]
        [--memory]

`direct` and `studio` take the architecture and extra train arguments (e.g. plots=False), for
benchmarks/architectures.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.app_server import app_server  # noqa: E402
from benchmarks.workspace import studio_workspace, ultralytics_copy  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.jobs.control import cancel_job  # noqa: E402
from mlcore.jobs.store import JobStore  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import submit_training  # noqa: E402

DIRECT = r"""
import json, sys
from ultralytics import YOLO
from mlcore.engine.env import use_all_cpu_cores

data, project, args, arch, name = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
model = YOLO(f"{arch}.yaml")
model.add_callback("on_train_start", use_all_cpu_cores)  # the studio's worker trains on every core too
model.train(data=data, project=project, name=name, exist_ok=True, device="cpu", **{"plots": True, **args})
"""
SPEC_ARGS = ("epochs", "imgsz", "batch", "workers", "seed")  # TrainSpec fields; other train arguments go in `advanced`


def direct(data_yaml: Path, work: Path, args: dict, env: dict, arch: str = "yolov8n", name: str = "run") -> float:
    """Wall seconds of the direct training (its run folder: work/direct/{name})."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", DIRECT, str(data_yaml), str(work / "direct"), json.dumps(args), arch, name],
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def studio(dataset: Path, args: dict, n: int, arch: str = "yolov8n") -> tuple[float, float, Path]:
    """(wall seconds from submit to the final state, seconds from submit to the first progress record, the run
    folder)."""
    settings = load_settings()
    spec = TrainSpec(
        dataset_path=str(dataset),
        model_architecture=arch,
        epochs=args["epochs"],
        imgsz=args["imgsz"],
        batch_size=args["batch"],
        workers=args["workers"],
        seed=args["seed"],
        device="cpu",
        project="bench",
        experiment=f"studio-{n}" if arch == "yolov8n" else f"studio-{arch}-{n}",
        advanced={k: v for k, v in args.items() if k not in SPEC_ARGS},
    )
    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    started = time.perf_counter()
    job = submit_training(spec, settings)
    progress = Path(job.run_dir) / "progress.json"
    first = None
    while not store.get(job.id).state.is_final():
        if first is None and progress.exists():
            first = time.perf_counter() - started
        time.sleep(0.05)
    wall = time.perf_counter() - started
    final = store.get(job.id)
    if final.state.value != "completed":
        raise SystemExit(f"the studio's job ended {final.state.value}: {final.error}")
    return wall, first if first is not None else wall, Path(job.run_dir)


def server_memory(outputs: Path, dataset: Path, epochs: int) -> None:
    """Resident memory of the app server with the Training page open while a training runs."""
    import psutil
    from playwright.sync_api import sync_playwright

    command = [sys.executable, "serve_app.py", "run", "app.py"]
    with app_server(command, {**os.environ, "ML_STUDIO_OUTPUTS": str(outputs)}) as (server, url):
        settings = load_settings()
        spec = TrainSpec(
            dataset_path=str(dataset),
            epochs=epochs * 4,
            imgsz=128,
            batch_size=16,
            workers=0,
            device="cpu",
            project="bench",
            experiment="memory",
        )
        job = submit_training(spec, settings)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            tab = browser.new_page(viewport={"width": 1400, "height": 1100})
            tab.goto(f"{url}/training")
            tab.locator(".js-plotly-plot").first.wait_for(timeout=300_000)  # an epoch ended: the chart is live
            samples = []
            for _ in range(20):  # 20 s of live refreshes
                samples.append(psutil.Process(server.pid).memory_info().rss / 2**20)
                tab.wait_for_timeout(1_000)
            browser.close()
        maps = Path(f"/proc/{server.pid}/maps").read_text()
        print(
            f"app server RSS with the Training page open and a training running: {max(samples):.0f} MiB peak, "
            f"{statistics.median(samples):.0f} MiB median (goal <= 300 MB)"
        )
        print(f"PyTorch loaded in the app server: {'yes' if 'libtorch' in maps else 'no'}")
        if not JobStore(settings.outputs_root / paths.JOBS_DB).get(job.id).state.is_final():
            cancel_job(job.id, settings, grace_s=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arch", default="yolov8n", help="the architecture trained from scratch (e.g. yolo26n)")
    parser.add_argument("--memory", action="store_true", help="also measure the app server's memory")
    options = parser.parse_args()

    with studio_workspace("train-overhead-") as work:
        dataset = make_demo_dataset(work / "data" / "demo", images=options.images, imgsz=options.imgsz * 2).root
        data_yaml = ultralytics_copy(dataset, work)
        args = {"epochs": options.epochs, "imgsz": options.imgsz, "batch": 16, "workers": 0, "seed": 0}
        env = engine_environment(load_settings())
        print(
            f"{options.images} images, {options.arch} from scratch, {options.epochs} epochs at {options.imgsz} px, "
            f"CPU ({os.cpu_count()} cores), {options.repeats} run(s) each, alternating"
        )
        direct_s, studio_s, first_s = [], [], []
        for n in range(options.repeats):
            direct_s.append(direct(data_yaml, work, args, env, options.arch))
            wall, first, _ = studio(dataset, args, n, options.arch)
            studio_s.append(wall)
            first_s.append(first)
            print(f"  run {n + 1}: direct {direct_s[-1]:.1f} s, studio {wall:.1f} s, first progress {first:.2f} s")
        ratio = statistics.median(studio_s) / statistics.median(direct_s)
        print(
            f"median wall time: direct Ultralytics {statistics.median(direct_s):.1f} s, "
            f"studio {statistics.median(studio_s):.1f} s, ratio {ratio:.3f} (goal <= 1.05)"
        )
        print(f"submit -> first progress record: {statistics.median(first_s):.2f} s (median)")
        if options.memory:
            server_memory(work / "ml_outputs", dataset, options.epochs)


if __name__ == "__main__":
    main()
