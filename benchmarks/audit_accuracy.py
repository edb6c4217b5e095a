"""How well the label-error audit finds planted errors, and what it costs beside an evaluation.

1. A demo dataset (five logo classes) is made and a YOLOv8n fitted on its train split, from scratch on the CPU
   (or `--model` names a .pt and `--data` its dataset, to measure another model).
2. A copy of the dataset gets planted errors in the audited split (about `--fraction` of the boxes each:
   removed, class swapped, shifted by 30-60% of their size; benchmarks/planting.py).
3. The evaluation job runs on the clean split and the audit job on the planted copy, through the studio.
4. Printed: AUROC of the image scores for "has a planted error"; recall of each planted kind among the
   first 2x as many suspects as were planted; the audit's analysis time against its own prediction time
   (goal <= 0.2x) and both per 1,000 images beside the evaluation's.

    python benchmarks/audit_accuracy.py [--images 1000] [--imgsz 256] [--epochs 30] [--split test]
                                        [--model PT --data DATASET] [--fraction 0.1] [--seed 0] [--keep DIR]

Goals: AUROC >= 0.9, recall >= 0.8 per type at that depth.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.planting import audit_accuracy, plant_errors  # noqa: E402
from benchmarks.workspace import wait  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", help="a trained .pt (skips the training); needs --data")
    parser.add_argument("--data", help="the dataset the model was trained on")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", help="work in this folder and keep it (the trained model is reused next time)")
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="audit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
    os.environ["ML_STUDIO_DATASET_ROOTS"] = str(work / "data") + (os.pathsep + args.data if args.data else "")
    if args.model:
        os.environ["ML_STUDIO_MODEL_ROOTS"] = str(Path(args.model).parent)
    from mlcore.core.settings import load_settings
    from mlcore.datasets.demo import make_demo_dataset
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.evaluation.submit import submit_evaluation
    from mlcore.quality.spec import AuditSpec
    from mlcore.quality.submit import submit_audit
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import submit_training

    settings = load_settings()
    dataset = Path(args.data) if args.data else work / "data" / "demo"
    model = Path(args.model) if args.model else work / "ml_outputs/trainings/bench/audit/weights/best.pt"
    if not args.data and not dataset.exists():
        make_demo_dataset(dataset, images=args.images, imgsz=args.imgsz, seed=args.seed)
    if not model.exists():
        print(f"Training a YOLOv8n on {dataset} ({args.epochs} epochs at {args.imgsz})...", flush=True)
        spec = TrainSpec(
            dataset_path=str(dataset),
            epochs=args.epochs,
            imgsz=args.imgsz,
            batch_size=16,
            workers=2,
            device=args.device,
            project="bench",
            experiment="audit",
            advanced={"plots": False},
        )
        print(f"  trained in {wait(submit_training(spec, settings).id)['seconds']:.0f} s", flush=True)
    planted_root = work / "data" / f"planted-{args.seed}"
    shutil.rmtree(planted_root, ignore_errors=True)
    shutil.copytree(dataset, planted_root)
    names = yaml.safe_load((dataset / "data.yaml").read_text())["names"]
    planted = plant_errors(planted_root, args.split, args.fraction, args.seed, classes=len(names))

    evaluation = wait(
        submit_evaluation(
            EvalSpec(
                model_path=str(model), dataset_path=str(dataset), split=args.split, imgsz=args.imgsz, device=args.device
            ),
            settings,
        ).id
    )
    audited = wait(
        submit_audit(
            AuditSpec(
                model_path=str(model),
                dataset_path=str(planted_root),
                split=args.split,
                imgsz=args.imgsz,
                device=args.device,
            ),
            settings,
        ).id
    )
    document = json.loads((audited["folder"] / "audit.json").read_text())
    sizes = {p.image: Image.open(planted_root / p.image).size for p in planted}
    scores = audit_accuracy(document, planted, sizes)
    n = document["counts"]["images"]
    timings = document["timings_s"]
    eval_val = json.loads((evaluation["folder"] / "metrics.json").read_text())["val_seconds"]
    per_k = 1000 / max(1, n)
    print(
        f"\nAudit of {n} {args.split} images, {document['counts']['labels']} labels, {len(planted)} planted errors "
        f"(confident at {document['confident']:.2f}):"
    )
    print(f"  AUROC of the image scores: {scores['auroc']:.3f}  (goal >= 0.9)")
    print(f"  {'type':<14} {'planted':>7} {'found':>6} {'recall':>7} {'typed right':>12}   at depth {2 * len(planted)}")
    for kind in ("overlooked", "swapped", "badly_located"):
        row = scores[kind]
        recall = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        print(f"  {kind:<14} {row['planted']:>7} {row['found']:>6} {recall:>7} {row['typed_right']:>12}")
    print(
        f"  analysis {timings['analysis']:.2f} s against its prediction {timings['prediction']:.2f} s: "
        f"{timings['analysis'] / max(1e-9, timings['prediction']):.3f}x  (goal <= 0.2x)"
    )
    predicted = timings["prediction"] * per_k
    print(
        f"  per 1,000 images: audit job {audited['seconds'] * per_k:.1f} s (prediction {predicted:.1f}"
        f" s, analysis {timings['analysis'] * per_k:.1f} s); evaluation job {evaluation['seconds'] * per_k:.1f} s "
        f"(its validation {eval_val * per_k:.1f} s)"
    )
    print(
        json.dumps(
            {
                "scores": scores,
                "timings_s": timings,
                "audit_job_s": audited["seconds"],
                "evaluation_job_s": evaluation["seconds"],
                "images": n,
            }
        )
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
