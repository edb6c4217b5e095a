"""How fast an A/B comparison and a registration are.

    python benchmarks/compare_speed.py [--images 1000] [--resamples 1000]

1. A/B of two stored evaluations of 1,000 images (3 classes, ~3 labels and ~20 predictions per image, as an
   evaluation keeps them down to confidence 0.001) with 1,000 paired bootstrap resamples: the studio's whole
   comparison from the files (reading both, thresholds, the bootstrap, error types, disagreements; goal:
   <= 2 s), against the reference, Ultralytics' own `ap_per_class` run once per resample on the resampled
   predictions (timed on 50 resamples and scaled). Both give the same mAP on the
   unresampled images, which the benchmark checks first.
2. Registering a version of a 50 MB checkpoint (copy + sha256 + lineage, goal: <= 1 s), against a plain
   `shutil.copyfile` followed by `hashlib.sha256` of the copy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.compare.comparison import Side, compare_evaluations  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.evaluation.analysis import Detections, average_precision, correct_at_thresholds  # noqa: E402
from mlcore.evaluation.store import _detections  # noqa: E402
from mlcore.registry.store import register  # noqa: E402


def evaluation(images: int, seed: int, truth: tuple | None = None) -> Detections:
    """A stored evaluation as a trained detector leaves it: most objects found with a good box and a high
    confidence, some missed or misplaced, and a long tail of low-confidence boxes on background."""
    rng = np.random.default_rng(seed)
    if truth is None:
        counts = rng.integers(1, 6, images)
        gt_image = np.repeat(np.arange(images), counts)
        xy = rng.uniform(0, 520, (len(gt_image), 2))
        wh = rng.uniform(16, 120, (len(gt_image), 2))
        truth = (gt_image, rng.integers(0, 3, len(gt_image)), np.hstack([xy, xy + wh]))
    gt_image, gt_cls, gt_box = truth
    found = rng.random(len(gt_image)) < 0.85
    jitter = rng.normal(0, 4, (found.sum(), 4))
    background = rng.integers(12, 24, images)
    bg_image = np.repeat(np.arange(images), background)
    bg_xy = rng.uniform(0, 560, (len(bg_image), 2))
    bg_box = np.hstack([bg_xy, bg_xy + rng.uniform(10, 80, (len(bg_image), 2))])
    return Detections(
        images=[f"images/test/{n:05d}.jpg" for n in range(images)],
        sizes=np.full((images, 2), 640),
        names={0: "solara", 1: "aqualine", 2: "verdant"},
        gt_image=gt_image,
        gt_cls=gt_cls,
        gt_box=gt_box,
        pred_image=np.concatenate([gt_image[found], bg_image]),
        pred_cls=np.concatenate([gt_cls[found], rng.integers(0, 3, len(bg_image))]),
        pred_conf=np.concatenate([rng.uniform(0.4, 0.99, found.sum()), rng.uniform(0.001, 0.45, len(bg_image))]),
        pred_box=np.vstack([gt_box[found] + jitter, bg_box]),
        imgsz=640,
    )


def stored(d: Detections, folder: Path) -> Path:
    """An evaluation folder as the evaluation job leaves it (the files a comparison reads)."""
    folder.mkdir(parents=True)
    d.save(folder / paths.PREDICTIONS_FILE)
    (folder / paths.EVAL_CONFIG).write_text(json.dumps({"split": "test", "imgsz": 640}))
    metrics = {"map50_95": average_precision(d)["map50_95"], "dataset_root": str(folder), "ultralytics": {}}
    (folder / paths.METRICS_FILE).write_text(json.dumps(metrics))
    return folder


def ultralytics_resamples(d: Detections, resamples: int, seed: int) -> list[float]:
    """mAP50-95 of `resamples` bootstrap draws, each computed by Ultralytics' ap_per_class."""
    from ultralytics.utils.metrics import ap_per_class

    correct = correct_at_thresholds(d)
    rng = np.random.default_rng(seed)
    n = len(d.images)
    by_image_pred = [np.flatnonzero(d.pred_image == i) for i in range(n)]
    by_image_gt = [np.flatnonzero(d.gt_image == i) for i in range(n)]
    values = []
    for _ in range(resamples):
        draw = rng.integers(0, n, n)
        preds = np.concatenate([by_image_pred[i] for i in draw])
        labels = np.concatenate([by_image_gt[i] for i in draw])
        ap = ap_per_class(correct[preds], d.pred_conf[preds], d.pred_cls[preds], d.gt_cls[labels])[5]
        values.append(float(ap.mean()))
    return values


def bench_comparison(images: int, resamples: int) -> None:
    a = evaluation(images, seed=1)
    b = evaluation(images, seed=2, truth=(a.gt_image, a.gt_cls, a.gt_box))
    from ultralytics.utils.metrics import ap_per_class

    reference = ap_per_class(correct_at_thresholds(a), a.pred_conf, a.pred_cls, a.gt_cls)[5].mean()
    ours = average_precision(a)["map50_95"]
    assert abs(reference - ours) < 1e-9, (reference, ours)
    print(
        f"{images} images, {len(a.pred_cls):,} + {len(b.pred_cls):,} stored predictions, {len(a.gt_cls):,} labels; "
        f"mAP50-95 on all images: studio {ours:.5f}, Ultralytics ap_per_class {reference:.5f}"
    )
    work = Path(tempfile.mkdtemp(prefix="compare-bench-"))
    sides = [Side(name, stored(d, work / name)) for name, d in (("a", a), ("b", b))]
    times = []
    for _ in range(3):
        _detections.cache_clear()  # read the stored predictions from disk every time
        start = time.perf_counter()
        doc = compare_evaluations(*sides, resamples=resamples, seed=0)
        times.append(time.perf_counter() - start)
    shutil.rmtree(work, ignore_errors=True)
    row = doc["metrics"]["map50_95"]
    ours_s = statistics.median(times)
    sample = 50
    start = time.perf_counter()
    ultralytics_resamples(a, sample, seed=0)
    reference_s = (time.perf_counter() - start) / sample * resamples * 2  # two models
    print(
        f"A/B from the two stored evaluations, {resamples} paired resamples: studio {ours_s:.2f} s (median of 3; "
        "goal <= 2 s); "
        f"Ultralytics ap_per_class per resample, both models: {reference_s:.1f} s (from {sample} resamples); "
        f"ratio {ours_s / reference_s:.3f}x"
    )
    print(f"  mAP50-95 B - A = {row['delta']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]")


def bench_registration(megabytes: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="register-bench-"))
    try:
        weights = work / "best.pt"
        weights.write_bytes(np.random.default_rng(0).bytes(megabytes * 2**20))
        settings = load_settings({"ML_STUDIO_OUTPUTS": str(work / "ml_outputs")})
        ours, plain = [], []
        for n in range(3):
            start = time.perf_counter()
            register(settings, weights, "bench", "bench", lineage={"run": None})
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            target = work / f"copy{n}.pt"
            shutil.copyfile(weights, target)
            hashlib.sha256(target.read_bytes()).hexdigest()
            plain.append(time.perf_counter() - start)
        o, p = statistics.median(ours), statistics.median(plain)
        print(
            f"Registering a {megabytes} MB checkpoint: studio {o * 1000:.0f} ms (median of 3; goal <= 1 s); "
            f"copy then sha256: {p * 1000:.0f} ms; ratio {o / p:.2f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()
    bench_comparison(args.images, args.resamples)
    bench_registration(args.megabytes)


if __name__ == "__main__":
    main()
