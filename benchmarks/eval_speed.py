"""What an evaluation costs on top of Ultralytics' own validation, and how fast the page re-thresholds.

1. A tiny YOLOv8n is fitted on CPU (or `--model` names a .pt under the outputs' trainings folder).
2. The same validation runs alternately
   - directly: a child process that imports Ultralytics and calls `YOLO(model).val(...)`;
   - through the studio: `submit_evaluation` and the worker's evaluation job (model.val() with every
     prediction kept, predictions.npz, the analysis, metrics.json, predictions/, error_samples/),
     timed from the worker's start to its end, as the direct run is timed from its process start;
   and the ratio of the medians is printed (goal <= 1.3).
3. From the stored predictions, tiled to exactly 1,000 images when the split has another count, the
   re-threshold the page does on a slider move (analysis, gallery choice, worst images) is timed at
   several confidence and IoU pairs (goal <= 0.5 s).

    python benchmarks/eval_speed.py [--images 1430] [--imgsz 128] [--repeats 3] [--model PT] [--device 0]
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.workspace import studio_workspace, ultralytics_copy  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.evaluation.analysis import Detections, analyze, worst_images  # noqa: E402
from mlcore.evaluation.gallery import gallery_images  # noqa: E402
from mlcore.evaluation.spec import EvalSpec  # noqa: E402
from mlcore.evaluation.submit import submit_evaluation  # noqa: E402
from mlcore.jobs.store import JobStore  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import submit_training  # noqa: E402

DIRECT = r"""
import sys
from ultralytics import YOLO
model, data, split, imgsz, device = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[6]
YOLO(model).val(data=data, split=split, imgsz=imgsz, batch=16, device=device, project=sys.argv[5], name="val")
"""
NO_AUGMENTATION = {
    "mosaic": 0.0,
    "fliplr": 0.0,
    "hsv_h": 0.0,
    "hsv_s": 0.0,
    "hsv_v": 0.0,
    "scale": 0.0,
    "translate": 0.0,
}


def wait(job_id: str) -> None:
    store = JobStore(load_settings().outputs_root / paths.JOBS_DB)
    while not store.get(job_id).state.is_final():
        time.sleep(0.2)
    final = store.get(job_id)
    if final.state.value != "completed":
        raise SystemExit(f"the job ended {final.state.value}: {final.error}")


def fit_model(work: Path) -> Path:
    """A from-scratch model fitted to 17 images in about a minute: it predicts boxes worth analysing."""
    dataset = make_demo_dataset(work / "data" / "fit", images=24, imgsz=128, seed=7).root
    spec = TrainSpec(
        dataset_path=str(dataset),
        epochs=60,
        imgsz=128,
        batch_size=8,
        workers=0,
        device="cpu",
        project="bench",
        experiment="fitted",
        advanced={"nbs": 8, "warmup_epochs": 0, "val": False, **NO_AUGMENTATION},
    )
    job = submit_training(spec, load_settings())
    wait(job.id)
    return Path(job.run_dir) / "weights" / "best.pt"


def direct(model: Path, data_yaml: Path, split: str, imgsz: int, device: str, work: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", DIRECT, str(model), str(data_yaml), split, str(imgsz), str(work / "direct"), device],
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def studio(model: Path, dataset: Path, split: str, imgsz: int, device: str) -> tuple[float, Path]:
    """(seconds from the worker's start to its end, the evaluation folder)."""
    spec = EvalSpec(model_path=str(model), dataset_path=str(dataset), split=split, imgsz=imgsz, device=device)
    job = submit_evaluation(spec, load_settings())
    wait(job.id)
    final = JobStore(load_settings().outputs_root / paths.JOBS_DB).get(job.id)
    return (final.ended or 0) - (final.started or 0), Path(final.run_dir)


def tiled(d: Detections, n: int) -> Detections:
    """The same evaluation repeated (or cut) to exactly n images."""
    copies = -(-n // len(d.images))
    offset = lambda index: np.concatenate([index + k * len(d.images) for k in range(copies)])  # noqa: E731
    keep_gt, keep_pred = offset(d.gt_image) < n, offset(d.pred_image) < n
    return Detections(
        images=[f"{k}/{name}" for k in range(copies) for name in d.images][:n],
        sizes=np.concatenate([d.sizes] * copies)[:n],
        names=d.names,
        gt_image=offset(d.gt_image)[keep_gt],
        gt_cls=np.concatenate([d.gt_cls] * copies)[keep_gt],
        gt_box=np.concatenate([d.gt_box] * copies)[keep_gt],
        pred_image=offset(d.pred_image)[keep_pred],
        pred_cls=np.concatenate([d.pred_cls] * copies)[keep_pred],
        pred_conf=np.concatenate([d.pred_conf] * copies)[keep_pred],
        pred_box=np.concatenate([d.pred_box] * copies)[keep_pred],
        imgsz=d.imgsz,
    )


def rethreshold(d: Detections) -> None:
    print(
        f"re-threshold on {len(d.images)} images, {len(d.gt_cls)} objects, {len(d.pred_cls)} stored predictions "
        "(analysis + gallery choice + worst images, as the page does on a slider move):"
    )
    times = []
    for conf, iou in ((0.25, 0.45), (0.5, 0.5), (0.1, 0.45), (0.25, 0.75), (0.05, 0.3), (0.01, 0.5)):
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            result = analyze(d, conf, iou)
            gallery_images(d, result)
            worst_images(d, result, limit=100)
            runs.append(time.perf_counter() - started)
        times.append(statistics.median(runs))
        kept = int((result.pred_type != "").sum())
        print(f"  confidence {conf:<4} IoU {iou:<4}: {times[-1] * 1000:6.1f} ms ({kept} predictions kept)")
    print(
        f"re-threshold: {statistics.median(times) * 1000:.0f} ms median, {max(times) * 1000:.0f} ms slowest "
        "(goal <= 500 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1430, help="dataset size; its train split is evaluated")
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", help="a YOLO detection .pt with the demo's five classes (default: fit one)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or a GPU index")
    options = parser.parse_args()

    with studio_workspace("eval-speed-") as work:
        started = time.perf_counter()
        if options.model:  # models are loaded from the outputs' trainings folder only
            model = work / "ml_outputs" / "trainings" / "bench" / "given" / "best.pt"
            model.parent.mkdir(parents=True)
            shutil.copyfile(options.model, model)
        else:
            model = fit_model(work)
        print(f"model: {model} ({'given' if options.model else f'fitted in {time.perf_counter() - started:.0f} s'})")
        dataset = make_demo_dataset(work / "data" / "eval", images=options.images, imgsz=options.imgsz, seed=1).root
        data_yaml = ultralytics_copy(dataset, work)
        split = "train"
        count = len(list((dataset / "images" / split).iterdir()))
        env = engine_environment(load_settings())
        where = "CPU" if options.device == "cpu" else f"GPU {options.device}"
        print(
            f"validation of {count} images at {options.imgsz} px on {where} ({os.cpu_count()} cores), "
            f"{options.repeats} run(s) each, alternating"
        )
        direct_s, studio_s, folder = [], [], None
        for n in range(options.repeats):
            direct_s.append(direct(model, data_yaml, split, options.imgsz, options.device, work, env))
            wall, folder = studio(model, dataset, split, options.imgsz, options.device)
            studio_s.append(wall)
            print(f"  run {n + 1}: model.val() {direct_s[-1]:.1f} s, studio evaluation job {wall:.1f} s")
        ratio = statistics.median(studio_s) / statistics.median(direct_s)
        print(
            f"median wall time: model.val() alone {statistics.median(direct_s):.1f} s, studio evaluation "
            f"{statistics.median(studio_s):.1f} s, ratio {ratio:.2f} (goal <= 1.3)"
        )
        assert folder is not None
        metrics = json.loads((folder / "metrics.json").read_text())
        print(
            f"agreement: mAP50 {metrics['map50']:.5f} (Ultralytics {metrics['ultralytics']['map50']:.5f}), "
            f"mAP50-95 {metrics['map50_95']:.5f} (Ultralytics {metrics['ultralytics']['map50_95']:.5f})"
        )
        print("studio job's stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in metrics["timings_s"].items()))
        rethreshold(tiled(Detections.load(folder / "predictions.npz"), 1000))


if __name__ == "__main__":
    main()
