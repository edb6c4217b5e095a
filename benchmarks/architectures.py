"""The detection families side by side on the CPU: yolov8n, yolo11n and yolo26n trained from scratch at the same
budget on one generated demo dataset, in one run.

1. Each architecture trains with the same arguments (--epochs, --imgsz, batch 16, workers 0, seed 0, plots off,
   the studio's demo recipe: nbs 16 and warmup_epochs 1; offline, every core) as a direct Ultralytics call in a
   child process, then through the studio (submit, queue, detached worker), with benchmarks/train_overhead.py's
   own `direct` and `studio`, alternately --repeats times (medians). From the studio's first run: the time per
   epoch (the median step of results.csv's `time`, validation included) and the best mAP50-95 of results.csv.
   From both: the wall-time ratio studio / direct, the studio's training overhead (goal <= 1.05).
2. Each studio best.pt is timed on the CPU at batch 1 on the val images at --imgsz (median of --runs after 5
   warm-ups, the studio's CPU-thread policy, Ultralytics' predictor: `inference` is the runtime alone, `total`
   adds the pre- and post-processing, where NMS runs), in PyTorch (.pt) and in onnxruntime (an ONNX export).
   YOLO26 runs with each of its heads: the default one-to-many head with NMS, and the NMS-free one-to-one head,
   selected with Ultralytics' `nms=False` at predict and at export (8.4.190); the ONNX outputs prove which head
   an export holds: (B, 300, 6) for the NMS-free head, (B, 4 + classes, anchors) for a head that needs NMS. Each
   head's val mAP50-95 is measured too (Ultralytics' val of best.pt with that head), beside the training's best.

It prints a markdown table (and --json FILE). The measurements run in a child process of their own with the
workers' offline environment. About 15 minutes on 2 CPU cores with --epochs 5 --images 200.

    python benchmarks/architectures.py [--epochs 10] [--images 300] [--imgsz 256] [--archs yolov8n yolo11n yolo26n]
        [--runs 50] [--repeats 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.train_overhead import direct, studio  # noqa: E402
from benchmarks.workspace import studio_workspace, ultralytics_copy  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.runs.results import MAP50_95, read_results  # noqa: E402

ARCHS = ("yolov8n", "yolo11n", "yolo26n")
# The studio's demo recipe (mlcore.datasets.demo.DEMO_TRAINING_RECIPE): every batch an optimizer step and a one-epoch
# warm-up; with Ultralytics' defaults (gradients accumulated to 64 images, 3 warm-up epochs) a few epochs on a few
# hundred images learn nothing measurable
RECIPE = {"nbs": 16, "warmup_epochs": 1}
OVERHEAD_GOAL = 1.05
WARM_UP = 5
BEGAN = time.perf_counter()


def say(text: str) -> None:
    print(f"[{time.perf_counter() - BEGAN:5.0f} s] {text}", flush=True)


# -- training


def epoch_seconds(run: Path) -> tuple[float | None, float | None, int]:
    """(median seconds per epoch, best mAP50-95, epochs) from a run's results.csv."""
    frame = read_results(run / paths.RESULTS_CSV)
    if frame.empty or "time" not in frame:
        return None, None, 0
    times = [float(t) for t in frame["time"]]
    steps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    best = float(frame[MAP50_95].max()) if MAP50_95 in frame else None
    return statistics.median(steps), best, len(frame)


def train_all(
    archs: list[str], dataset: Path, data_yaml: Path, work: Path, args: dict, repeats: int
) -> dict[str, dict]:
    """Each architecture trained directly and through the studio, alternately, `repeats` times each."""
    env = engine_environment(load_settings())
    found = {}
    for arch in archs:
        direct_s, studio_s, first_s, runs = [], [], [], []
        for n in range(repeats):
            say(f"{arch}: direct Ultralytics training ({n + 1}/{repeats})…")
            direct_s.append(direct(data_yaml, work, args, env, arch, name=f"{arch}-{n}"))
            say(f"{arch}: the same through the studio ({n + 1}/{repeats})…")
            wall, first, run = studio(dataset, args, n, arch)
            studio_s.append(wall)
            first_s.append(first)
            runs.append(run)
        per_epoch, best, epochs = epoch_seconds(runs[0])
        direct_epoch, direct_best, _ = epoch_seconds(work / "direct" / f"{arch}-0")
        ratio = statistics.median(studio_s) / statistics.median(direct_s)
        found[arch] = {
            "direct_s": [round(s, 2) for s in direct_s],
            "studio_s": [round(s, 2) for s in studio_s],
            "ratio": round(ratio, 3),
            "first_progress_s": round(statistics.median(first_s), 2),
            "epochs": epochs,
            "epoch_s": None if per_epoch is None else round(per_epoch, 2),
            "best_map50_95": None if best is None else round(best, 4),
            "direct_epoch_s": None if direct_epoch is None else round(direct_epoch, 2),
            "direct_best_map50_95": None if direct_best is None else round(direct_best, 4),
            "best_pt": str(runs[0] / "weights" / "best.pt"),
        }
        say(
            f"{arch}: direct {statistics.median(direct_s):.1f} s, studio {statistics.median(studio_s):.1f} s "
            f"(ratio {ratio:.3f}), {per_epoch or 0:.1f} s/epoch, best mAP50-95 {best or 0:.4f}"
        )
    return found


# -- latency and each head's mAP (the child process: architectures.py --measure CONFIG OUT)


def has_nms_free_head(model: Any) -> bool:
    """A YOLO26 .pt carries a one-to-one head beside its one-to-many head."""
    return getattr(model.model.model[-1], "one2one_cv2", None) is not None


def timed(path: str, images: list[str], imgsz: int, runs: int, head: dict) -> dict:
    """Median ms per image at batch 1 on the CPU (inference alone, and with pre- and post-processing), as the
    studio's export card times a model (mlcore.export.latency), with the head arguments."""
    from ultralytics import YOLO

    from mlcore.engine.env import set_cpu_threads, torch_threads

    model = YOLO(path, task="detect")  # a fresh predictor: the head is chosen when it is set up
    kwargs = {"imgsz": imgsz, "device": "cpu", "verbose": False, "batch": 1, **head}
    for n in range(WARM_UP):
        model.predict(images[n % len(images)], **kwargs)
        if n == 0:
            set_cpu_threads("cpu", path)
    inference, total = [], []
    for n in range(runs):
        speed = model.predict(images[n % len(images)], **kwargs)[0].speed
        inference.append(float(speed["inference"]))
        total.append(float(sum(v for v in speed.values() if v is not None)))
    return {
        "inference_ms": round(statistics.median(inference), 2),
        "total_ms": round(statistics.median(total), 2),
        "threads": torch_threads(),
        "end2end": bool(getattr(model.predictor.model, "end2end", False)),
    }


def onnx_export(best: str, imgsz: int, head: dict, into: Path) -> tuple[Path, list, bool]:
    """An ONNX export of `best` with the head arguments: its path, its output shapes as onnxruntime reads them, and
    whether its metadata says end-to-end (the NMS-free head)."""
    import onnxruntime
    from ultralytics import YOLO

    made = Path(YOLO(best).export(format="onnx", imgsz=imgsz, device="cpu", batch=1, **head))
    target = into / made.name
    shutil.move(str(made), target)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    end2end = session.get_modelmeta().custom_metadata_map.get("end2end") == "True"
    return target, [list(o.shape) for o in session.get_outputs()], end2end


def head_map(best: str, data_yaml: str, imgsz: int, head: dict, project: Path) -> float:
    from ultralytics import YOLO

    metrics = YOLO(best).val(
        data=data_yaml, split="val", imgsz=imgsz, batch=16, device="cpu", plots=False, project=str(project), **head
    )
    return round(float(metrics.box.map), 4)


def measure(config: dict) -> list[dict]:
    from ultralytics import YOLO

    rows = []
    images, imgsz, runs = config["images"], config["imgsz"], config["runs"]
    for arch, best in config["models"].items():
        heads = [("NMS", {})]
        if has_nms_free_head(YOLO(best)):
            heads.append(("NMS-free", {"nms": False}))
        for label, head in heads:
            into = Path(config["work"]) / f"{arch}-{label}"
            into.mkdir(parents=True, exist_ok=True)
            onnx, shapes, end2end = onnx_export(best, imgsz, head, into)
            rows.append(
                {
                    "model": arch,
                    "head": label,
                    "val_map50_95": head_map(best, config["data_yaml"], imgsz, head, into / "val"),
                    "pt": timed(best, images, imgsz, runs, head),
                    "onnx": timed(str(onnx), images, imgsz, runs, {}),  # an export holds the one head it was made with
                    "onnx_outputs": shapes,
                    # (B, top-k, 6): boxes, score, class; top-k is 300, or every anchor when there are fewer
                    "onnx_end2end": end2end and shapes[0][-1] == 6,
                    "onnx_metadata_end2end": end2end,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def run_measure(
    found: dict[str, dict], dataset: Path, data_yaml: Path, work: Path, options: argparse.Namespace
) -> list[dict]:
    images = sorted(str(p) for p in (dataset / "images" / "val").iterdir())
    config = {
        "models": {arch: row["best_pt"] for arch, row in found.items()},
        "images": images,
        "imgsz": options.imgsz,
        "runs": options.runs,
        "data_yaml": str(data_yaml),
        "work": str(work / "measure"),
    }
    config_file, out = work / "measure.json", work / "measured.json"
    config_file.write_text(json.dumps(config))
    env = {**engine_environment(load_settings()), "PYTHONPATH": str(ROOT)}
    log = work / "measure.log"
    with open(log, "w") as output:
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(config_file), str(out)],
            env=env,
            cwd=work,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        raise SystemExit(f"the measuring process failed ({proc.returncode}):\n{log.read_text()[-3000:]}")
    return json.loads(out.read_text())


# -- the report


def table(found: dict[str, dict], measured: list[dict], options: argparse.Namespace) -> str:
    lines = [
        f"{options.images} demo images ({options.imgsz} px), from scratch, {options.epochs} epochs, batch 16 (nbs 16, "
        f"1 warm-up epoch), CPU "
        f"({os.cpu_count()} cores), {options.repeats} training(s) of each kind; latency: batch 1, {options.imgsz} px, "
        f"median of {options.runs} runs",
        "",
        "| Model | Head | s / epoch | Best mAP50-95 (results.csv) | val mAP50-95, this head "
        "| PyTorch ms (inference / total) | ONNX ms (inference / total) | ONNX output "
        "| Studio / direct training (s) | Ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in measured:
        trained = found[row["model"]]
        first = row["head"] == "NMS"
        shape = "×".join(str(d) for d in row["onnx_outputs"][0])
        lines.append(
            "| "
            + " | ".join(
                [
                    row["model"],
                    row["head"],
                    f"{trained['epoch_s']:.1f}" if first and trained["epoch_s"] else "",
                    f"{trained['best_map50_95']:.4f}" if first and trained["best_map50_95"] is not None else "",
                    f"{row['val_map50_95']:.4f}",
                    f"{row['pt']['inference_ms']:.1f} / {row['pt']['total_ms']:.1f}",
                    f"{row['onnx']['inference_ms']:.1f} / {row['onnx']['total_ms']:.1f}",
                    shape + (" (NMS-free)" if row["onnx_end2end"] else ""),
                    f"{statistics.median(trained['studio_s']):.1f} / {statistics.median(trained['direct_s']):.1f}"
                    if first
                    else "",
                    f"{trained['ratio']:.3f}" if first else "",
                ]
            )
            + " |"
        )
    ratios = {arch: row["ratio"] for arch, row in found.items()}
    verdicts = ", ".join(f"{a} {r:.3f} ({'met' if r <= OVERHEAD_GOAL else 'NOT met'})" for a, r in ratios.items())
    lines += ["", f"Studio training overhead, studio / direct wall time (goal <= {OVERHEAD_GOAL}): {verdicts}"]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":  # the measuring child process
        rows = measure(json.loads(Path(sys.argv[2]).read_text()))
        Path(sys.argv[3]).write_text(json.dumps(rows))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--archs", nargs="+", default=list(ARCHS))
    parser.add_argument("--runs", type=int, default=50, help="timed predictions per model and runtime")
    parser.add_argument("--repeats", type=int, default=1, help="trainings of each kind per architecture (medians)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    options = parser.parse_args()
    load_before = os.getloadavg()[0]
    say(f"load average before: {load_before:.2f} on {os.cpu_count()} cores (other processes slow every figure)")
    with studio_workspace("ml-studio-arch-bench-") as work:
        dataset = make_demo_dataset(work / "data" / "demo", images=options.images, imgsz=options.imgsz, seed=0).root
        data_yaml = ultralytics_copy(dataset, work)
        args = {
            "epochs": options.epochs,
            "imgsz": options.imgsz,
            "batch": 16,
            "workers": 0,
            "seed": 0,
            "plots": False,
            **RECIPE,
        }
        found = train_all(options.archs, dataset, data_yaml, work, args, options.repeats)
        say("latency and each head's mAP (a child process)…")
        measured = run_measure(found, dataset, data_yaml, work, options)
    report = table(found, measured, options)
    print()
    print(report)
    seconds = round(time.perf_counter() - BEGAN, 1)
    load_after = os.getloadavg()[0]
    print(f"\nwhole benchmark: {seconds:.0f} s; load average before {load_before:.2f}, after {load_after:.2f}")
    if options.json:
        settings = {k: v for k, v in vars(options).items() if k != "json"} | {"cpus": os.cpu_count()}
        settings |= {"load_before": round(load_before, 2), "load_after": round(load_after, 2)}
        for row in found.values():
            row.pop("best_pt", None)
        options.json.write_text(
            json.dumps({"settings": settings, "training": found, "models": measured, "seconds": seconds}, indent=2)
        )


if __name__ == "__main__":
    main()
