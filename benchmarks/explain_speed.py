"""Per-box explanations against Ultralytics' own heatmap, on the same images and model, in one run.

    python benchmarks/explain_speed.py [--images 8] [--imgsz 640] [--conf 0.1] [--repeats 3] [--masks 1000]

The model is a yolov8n trained here on the demo dataset (no weights can be downloaded); it runs at --imgsz.
- Gradient maps: the studio's per-box LayerCAM for every box the model finds (one forward pass, one backward pass
  per box) against Ultralytics' `predict(visualize=True)` (one forward, one backward per prediction above conf up
  to 16, merged into one overlay per image, written as a JPEG). Goals: <= 1.5x its time per image, <= 0.5 s per box.
- D-RISE: seconds per image at --masks masks on the model's ONNX export, at 320 px and at --imgsz.
The maps cache is bypassed (the explainer is called directly): these are the first looks.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402

from benchmarks.workspace import train_in_worker  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402

NO_AUGMENTATION = {"mosaic": 0.0, "fliplr": 0.0, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0, "scale": 0.0}


def train(work: Path) -> Path:
    """A yolov8n fitted to the demo dataset at 128 px by the studio's worker (about a minute on 2 cores)."""
    data = make_demo_dataset(work / "data" / "demo", images=24, imgsz=128, seed=7).root
    outputs = work / "out"
    spec = TrainSpec(
        dataset_path=str(data), epochs=60, imgsz=128, batch_size=8, workers=0, device="cpu", project="b",
        experiment="tiny", advanced={"nbs": 8, "warmup_epochs": 0, "val": False, "plots": False, **NO_AUGMENTATION},
    )  # fmt: skip
    return train_in_worker(spec, outputs, outputs / paths.TRAININGS_DIR / "b" / "tiny")


def studio_seconds(model: Path, images: list[Path], imgsz: int, conf: float) -> tuple[float, int]:
    from mlcore.engine.models import load_yolo
    from mlcore.explain.gradient import GradientExplainer

    yolo = load_yolo(model)
    explainer = GradientExplainer(yolo.model, dict(yolo.names))
    explainer.explain(cv2.imread(str(images[0])), imgsz, conf=conf)  # warm-up
    boxes, began = 0, time.perf_counter()
    for image in images:
        boxes += len(explainer.explain(cv2.imread(str(image)), imgsz, conf=conf))
    return time.perf_counter() - began, boxes


def ultralytics_seconds(model: Path, images: list[Path], imgsz: int, conf: float, out: Path) -> float:
    from ultralytics import YOLO

    yolo = YOLO(str(model))
    yolo.predict(str(images[0]), imgsz=imgsz, conf=conf, visualize=True, project=str(out), name="w", verbose=False)
    began = time.perf_counter()
    for image in images:
        yolo.predict(str(image), imgsz=imgsz, conf=conf, visualize=True, project=str(out), name="r", verbose=False)
    return time.perf_counter() - began


def drise_seconds(model: Path, image: Path, imgsz: int, masks: int, work: Path) -> tuple[float, int]:
    from ultralytics import YOLO

    from mlcore.explain.black_box import explain_black_box

    onnx = Path(YOLO(str(model)).export(format="onnx", imgsz=imgsz, verbose=False))
    exported = work / f"tiny_{imgsz}.onnx"
    shutil.move(onnx, exported)
    detector = YOLO(str(exported), task="detect")
    detector.studio_device, detector.studio_path = "cpu", exported
    pixels = cv2.imread(str(image))
    began = time.perf_counter()
    found = explain_black_box(detector, pixels, imgsz, None, None, None, 0.1, False, masks, 0)
    return time.perf_counter() - began, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--conf", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--masks", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="explain-bench-") as tmp:
        work = Path(tmp)
        model = train(work)
        images = sorted((work / "data" / "demo" / "images").rglob("*.jpg"))[: args.images]
        ours, theirs, boxes = [], [], 0
        for n in range(args.repeats):
            seconds, boxes = studio_seconds(model, images, args.imgsz, args.conf)
            reference = ultralytics_seconds(model, images, args.imgsz, args.conf, work / f"u{n}")
            ours.append(seconds)
            theirs.append(reference)
            print(f"  repeat {n + 1}: studio {seconds:.2f} s ({boxes} boxes), Ultralytics visualize {reference:.2f} s")
        s, u = statistics.median(ours), statistics.median(theirs)
        per_image, per_box = s / len(images), s / max(1, boxes)
        print(
            f"gradient maps, {len(images)} images at {args.imgsz} px: studio {per_image:.3f} s per image "
            f"({per_box:.3f} s per box, {boxes / len(images):.1f} boxes per image) vs Ultralytics "
            f"{u / len(images):.3f} s per image = {s / u:.2f}x (goal <= 1.5x; <= 0.5 s per box)"
        )
        for size in sorted({320, args.imgsz}):
            seconds, count = drise_seconds(model, images[0], size, args.masks, work)
            print(f"D-RISE on ONNX at {size} px, {args.masks} masks: {seconds:.1f} s per image ({count} boxes at once)")


if __name__ == "__main__":
    main()
