"""Tuning at the same wall-time budget: the studio's Optuna study (TPE, median pruning, trials as jobs) against
Ultralytics' own `model.tune()` (genetic mutation, every iteration trained to the end), on the demo dataset.

Both start every trial from the same base model (a short training made first), with the same epochs per trial
and the same base settings, each with its own default search space, one after the other on this machine. The
benchmark prints the best fitness (0.1 mAP50 + 0.9 mAP50-95) each reached within the budget, the time each took
to reach the weaker one's best, and their ratio (goals: the studio's best >= Ultralytics', and the weaker best
reached in <= 0.6x the time), and writes the best-so-far curves as a PNG.

    python benchmarks/tune_vs_ultralytics.py [--minutes 12] [--epochs 3] [--images 120] [--imgsz 128]
        [--png docs/tune-vs-ultralytics.png]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.workspace import studio_workspace, ultralytics_copy, wait  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.jobs.scheduler import schedule  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import submit_training  # noqa: E402
from mlcore.tuning.spec import TuneSpec  # noqa: E402
from mlcore.tuning.study import StudyFolder, open_study  # noqa: E402
from mlcore.tuning.submit import cancel_study, start_study, study_report  # noqa: E402

ULTRALYTICS_TUNE = r"""
import json, sys
from ultralytics import YOLO
from mlcore.engine.env import use_all_cpu_cores

base, data, project, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
model = YOLO(base)
model.add_callback("on_train_start", use_all_cpu_cores)
model.tune(data=data, project=project, name="tune", iterations=10_000, plots=False, save=False, val=False, **args)
"""


def ultralytics_curve(base: Path, data_yaml: Path, work: Path, args: dict, seconds: float) -> list[tuple[float, float]]:
    """Run model.tune() for `seconds`; (seconds since start, fitness) of every iteration finished by then."""
    env = {**engine_environment(load_settings()), "PYTHONPATH": str(ROOT)}
    log = open(work / "ultralytics-tune.log", "w")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", ULTRALYTICS_TUNE, str(base), str(data_yaml), str(work / "ultra"), json.dumps(args)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=work,
    )
    results = work / "ultra" / "tune" / "tune_results.ndjson"
    seen: list[tuple[float, float]] = []
    while time.monotonic() - started < seconds and process.poll() is None:
        lines = results.read_text().splitlines() if results.exists() else []
        for line in lines[len(seen) :]:
            seen.append((time.monotonic() - started, float(json.loads(line)["fitness"])))
        time.sleep(1.0)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return seen


def studio_curve(base: Path, dataset: Path, epochs: int, imgsz: int, seconds: float, seed: int) -> tuple[list, dict]:
    """Run a study for `seconds`; (seconds since start, value) of every trial completed by then, and its counts."""
    settings = load_settings()
    spec = TuneSpec(
        study="bench",
        dataset_path=str(dataset),
        base_model_path=str(base),
        epochs=epochs,
        trials=None,
        hours=seconds / 3600,
        imgsz=imgsz,
        batch_size=16,
        workers=0,
        device="cpu",
        parallel=1,
        seed=seed,
    )
    started_at = time.time()
    start_study(spec, settings)
    while time.time() - started_at < seconds:
        schedule(settings)
        time.sleep(1.0)
    cancel_study("bench", settings)  # what is still running at the deadline does not count
    study = open_study(StudyFolder.of("bench", settings))
    curve = [
        (t.datetime_complete.timestamp() - started_at, float(t.value))
        for t in study.get_trials(deepcopy=False)
        if t.value is not None
        and t.state.name == "COMPLETE"
        and t.datetime_complete.timestamp() - started_at <= seconds
    ]
    return sorted(curve), study_report("bench", settings)["counts"]


def first_reaching(curve: list[tuple[float, float]], target: float) -> float | None:
    best = None
    for seconds, value in sorted(curve):
        best = value if best is None else max(best, value)
        if best >= target - 1e-9:
            return seconds
    return None


def plot(curves: dict[str, list[tuple[float, float]]], path: Path, minutes: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    for name, points in curves.items():
        xs, ys, best = [0.0], [0.0], 0.0
        for seconds, value in sorted(points):
            best = max(best, value)
            xs.append(seconds / 60)
            ys.append(best)
        xs.append(minutes)
        ys.append(best)
        axis.step(xs, ys, where="post", label=name)
        axis.plot(xs[1:-1], ys[1:-1], "o", markersize=3, color=axis.lines[-1].get_color())
    axis.set_xlabel("minutes")
    axis.set_ylabel("best fitness so far")
    axis.set_title("Tuning at the same budget (CPU, demo dataset)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0, help="wall-time budget of each tuner")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per trial / iteration")
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--base-epochs", type=int, default=20, help="epochs of the base model both start from")
    parser.add_argument("--seed", type=int, default=0, help="the demo dataset's and the study's seed")
    parser.add_argument("--png", default=str(ROOT / "docs" / "tune-vs-ultralytics.png"))
    args = parser.parse_args()
    seconds = args.minutes * 60
    with studio_workspace("tune-bench-") as work:
        dataset = make_demo_dataset(work / "data" / "demo", images=args.images, imgsz=args.imgsz, seed=args.seed).root
        base_job = submit_training(
            TrainSpec(
                dataset_path=str(dataset),
                epochs=args.base_epochs,
                imgsz=args.imgsz,
                batch_size=16,
                workers=0,
                device="cpu",
                project="bench",
                experiment="base",
            ),
            load_settings(),
        )
        base = wait(base_job.id)["folder"] / "weights" / "best.pt"
        print(f"base model: {args.base_epochs} epochs -> {base}", flush=True)
        common = {"epochs": args.epochs, "imgsz": args.imgsz, "batch": 16, "workers": 0, "device": "cpu"}
        ultra = ultralytics_curve(base, ultralytics_copy(dataset, work), work, common, seconds)
        print(f"Ultralytics model.tune(): {len(ultra)} iterations in {args.minutes:g} min", flush=True)
        studio, counts = studio_curve(base, dataset, args.epochs, args.imgsz, seconds, args.seed)
        print(f"studio (Optuna TPE + median pruning): {counts}", flush=True)
    best_u = max((v for _, v in ultra), default=0.0)
    best_s = max((v for _, v in studio), default=0.0)
    weaker = min(best_u, best_s)
    t_u, t_s = first_reaching(ultra, weaker), first_reaching(studio, weaker)
    near = 0.95 * weaker  # one lucky last trial moves the weaker best; 95% of it says more about the curves
    n_u, n_s = first_reaching(ultra, near), first_reaching(studio, near)
    half_u = max((v for t, v in ultra if t <= seconds / 2), default=0.0)
    half_s = max((v for t, v in studio if t <= seconds / 2), default=0.0)
    finished = counts["complete"] + counts["pruned"]
    print(f"\nbudget {args.minutes:g} min each, {args.epochs} epochs per trial, imgsz {args.imgsz}, CPU")
    reach = [f"min to {target:.4f}" for target in (weaker, near)]
    print(f"{'':<28}{'best':>8}{'at half':>9}{'trials':>14}{reach[0]:>14}{reach[1]:>14}")
    rows = (
        ("Ultralytics model.tune()", best_u, half_u, f"{len(ultra)}", t_u, n_u),
        ("studio (Optuna, pruning)", best_s, half_s, f"{finished} ({counts['pruned']} pr.)", t_s, n_s),
    )
    for name, best, half, trials, t_best, t_near in rows:
        minutes = [f"{t / 60:.1f}" if t else "-" for t in (t_best, t_near)]
        print(f"{name:<28}{best:>8.4f}{half:>9.4f}{trials:>14}{minutes[0]:>14}{minutes[1]:>14}")
    if t_u and t_s:
        print(f"time to the weaker best, studio / Ultralytics: {t_s / t_u:.2f}x (goal <= 0.6)")
    if n_u and n_s:
        print(f"time to 95% of the weaker best, studio / Ultralytics: {n_s / n_u:.2f}x")
    print(f"best fitness, studio - Ultralytics: {best_s - best_u:+.4f} (goal >= 0)")
    plot(
        {"Ultralytics model.tune()": ultra, "ML Studio (Optuna TPE + median pruning)": studio},
        Path(args.png),
        args.minutes,
    )
    print(f"curves: {args.png}")


if __name__ == "__main__":
    main()
