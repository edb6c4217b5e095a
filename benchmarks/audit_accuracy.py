"""How well the label audit finds planted errors with the models people have, beside cleanlab's ObjectLab.

1. Datasets: two generated ones (benchmarks/audit_models.GENERATED) and the real ../shared/datasets/logo_tdtu.
2. Models of several strengths: one YOLOv8n training per dataset from scratch on the CPU, a checkpoint every
   epoch; for each target val mAP50 the first checkpoint that reaches it.
3. Each checkpoint predicts the clean val split once, as the audit job predicts (evaluation.task.predict_split).
4. Errors are planted in those detections' labels at each rate (the share of boxes changed: removed, swapped to
   another class, shifted by 30-60% of their size; the predictions stay the model's on the true images), over
   `--seeds` seeds, and both the audit's analysis (mlcore.quality.audit) and ObjectLab with its defaults
   (mlcore.quality.objectlab) rank them.
5. Printed per cell: AUROC of the image scores for "has a planted error", recall of each kind among the first
   2x as many suspects as were planted, the precision of the first 20 suspects, the list's length, and in how many
   of the seeds the audit called the model too weak (its list cut) or cautioned that its mAP50 against the labels
   is below 0.8 (its list kept); the same for ObjectLab.

With --kfold: errors planted in a copy of the first dataset's train split, a model trained on it, and the audit
job run on that train split in sample and with 2 and 5 folds: what K-fold buys on a split the model learned.

    python benchmarks/audit_accuracy.py [--work DIR] [--datasets demo-a,demo-b,logo_tdtu] [--epochs 60]
        [--imgsz 160] [--targets 0.6,0.8,0.9,0.99] [--rates 0.05,0.1,0.2] [--seeds 30] [--kfold] [--json FILE]

Goals for every model at val mAP50 >= 0.8: AUROC >= 0.9, recall >= 0.8 per kind at 2x depth, precision@20 >= 0.7;
weaker models: the warning, and nothing worse than ObjectLab's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.audit_models import DATASETS, Checkpoint, pick_checkpoints, prepare_dataset, train_with_checkpoints  # noqa: E402
from benchmarks.planting import KINDS, hits, plant_in_detections, ranking_accuracy  # noqa: E402

GOAL_MAP50 = 0.8


def predictions(checkpoint: Checkpoint, dataset: Path, work: Path, tag: str, imgsz: int, device: str) -> Any:
    """The checkpoint's detections on the dataset's clean val split, as the audit job predicts them (cached)."""
    from mlcore.datasets.loader import load_dataset
    from mlcore.datasets.staging import stage_dataset
    from mlcore.evaluation.analysis import Detections
    from mlcore.evaluation.task import predict_split

    cache = work / "predictions" / f"{tag}-e{checkpoint.epoch}.npz"
    if cache.exists():
        return Detections.load(cache)
    data = load_dataset(dataset)
    images = list(data.splits["val"])
    staged = stage_dataset(data, work / "staging" / tag)
    d, _ = predict_split(
        str(checkpoint.weights), data, images, staged, "val", imgsz, device, work / "ultralytics" / tag
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    d.save(cache)
    return d


def seen(d: Any, planted: Any) -> bool:
    """Does the model see the planted error's true object at all (a box of any class at IoU >= 0.5 with it, at
    a confidence the audit uses)? A removed box it does not see, no audit with it can find; a shifted or swapped
    label it does not see is told only by how little it sees there."""
    from mlcore.quality.audit import MIN_CONFIDENCE, iou

    mine = (d.pred_image == planted.image) & (d.pred_conf >= MIN_CONFIDENCE)
    return bool(mine.any() and iou(np.array(planted.box), d.pred_box[mine]).max() >= 0.5)


def cell(d: Any, rate: float, seeds: int) -> dict[str, Any]:
    """The audit and ObjectLab on `seeds` plantings at `rate`, pooled: AUROC and precision@20 averaged, recall
    summed over the seeds."""
    from mlcore.quality.audit import audit
    from mlcore.quality.objectlab import objectlab

    pooled: dict[str, Any] = {"seen": {k: [0, 0] for k in KINDS}}
    for name in ("audit", "objectlab"):
        pooled[name] = {
            "auroc": [],
            "precision20": [],
            "listed": [],
            "weak": 0,
            "caution": 0,
            "blind": 0,
            "overlooked_visible": [0, 0],
            **{k: [0, 0] for k in KINDS},
        }
    for seed in range(seeds):
        planted_d, lines, planted = plant_in_detections(d, rate, seed)
        for p in planted:
            pooled["seen"][p.type] = [pooled["seen"][p.type][0] + seen(d, p), pooled["seen"][p.type][1] + 1]
        result = audit(planted_d, lines)
        reference = objectlab(planted_d, lines)
        for name, (scores, suspects) in (
            ("audit", (result.image_scores, result.suspects)),
            ("objectlab", reference),
        ):
            got = ranking_accuracy(scores, suspects, planted, len(d.images))
            row = pooled[name]
            row["auroc"].append(got["auroc"])
            row["listed"].append(got["listed"])
            if got["precision20"] is not None:
                row["precision20"].append(got["precision20"])
            for kind in KINDS:
                row[kind] = [row[kind][0] + got[kind][0], row[kind][1] + got[kind][1]]
        pooled["audit"]["weak"] += result.strength.weak
        pooled["audit"]["blind"] += result.blind_spot is not None
        visible = pooled["audit"]["overlooked_visible"]
        for p in planted:
            if p.type == "overlooked" and (result.blind_spot is None or _input_px(d, p) >= result.blind_spot.below_px):
                visible[0] += any(hits(p, s) for s in result.suspects[: 2 * len(planted)])
                visible[1] += 1
        pooled["audit"]["caution"] += not result.strength.weak and result.strength.warning() is not None
        pooled["audit"]["strength"] = result.strength.to_dict()

    def mean(values: list[float]) -> float | None:
        values = [v for v in values if v == v]
        return sum(values) / len(values) if values else None

    pooled["seen"] = {k: found / planted if planted else None for k, (found, planted) in pooled["seen"].items()}
    for row in (pooled["audit"], pooled["objectlab"]):
        row["auroc"], row["precision20"], row["listed"] = (
            mean(row["auroc"]),
            mean(row["precision20"]),
            mean(row["listed"]),
        )
    return pooled


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _recall(pair: list[int]) -> str:
    return "-" if not pair[1] else f"{pair[0] / pair[1]:.2f} ({pair[0]}/{pair[1]})"


def meets(row: dict[str, Any]) -> bool:
    recalls = [row[k][0] / row[k][1] for k in KINDS if row[k][1]]
    return (row["auroc"] or 0) >= 0.9 and all(r >= 0.8 for r in recalls) and (row["precision20"] or 0) >= 0.7


def _input_px(d: Any, planted: Any) -> float:
    """The planted box's long side in pixels at the model's input."""
    from mlcore.evaluation.analysis import input_scale

    x1, y1, x2, y2 = planted.box
    return float(max(x2 - x1, y2 - y1) * input_scale(d, np.array([planted.image]))[0])


def _warned(row: dict[str, Any], seeds: int) -> str:
    """In how many seeds the audit warned: "weak" (the list cut), "caution" (mAP50 below 0.8, the list kept) or
    "blind" (labels too small for the model to see, see mlcore/quality/blind_spot.py)."""
    said = [f"{name} {row[name]}/{seeds}" for name in ("weak", "caution", "blind") if row.get(name)]
    return ", ".join(s.replace(f" {seeds}/{seeds}", "") for s in said)


def print_table(rows: list[dict[str, Any]], seeds: int) -> None:
    print(
        "\n| Dataset | Epoch | val mAP50 | Error rate | Who | AUROC | Overlooked | Swapped | Badly located "
        "| Precision@20 | Listed | Seen | Warned | Goals |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        for name in ("audit", "objectlab"):
            m = r[name]
            goal = "" if name == "objectlab" or r["map50"] < GOAL_MAP50 else ("met" if meets(m) else "**missed**")
            cells = [
                r["dataset"],
                str(r["epoch"]),
                f"{r['map50']:.2f}",
                f"{r['rate']:.0%}",
                name,
                _fmt(m["auroc"], 3),
                *(_recall(m[kind]) for kind in KINDS),
                _fmt(m["precision20"]),
                _fmt(m["listed"], 0),
                " / ".join(_fmt(r["seen"][kind]) for kind in KINDS),
                _warned(m, seeds),
                goal,
            ]
            print("| " + " | ".join(cells) + " |")


def kfold_measure(dataset: Path, work: Path, epochs: int, imgsz: int, device: str, kfold_epochs: int) -> list[dict]:
    """In-sample against 2- and 5-fold audits of a planted train split (10% of its boxes), with a model trained
    on it: each audit job runs once (work/kfold.json remembers it); its predictions are analysed again here."""
    import yaml
    from PIL import Image

    from benchmarks.planting import Planted, audit_accuracy, plant_errors
    from benchmarks.workspace import wait
    from mlcore.core.settings import load_settings
    from mlcore.datasets.loader import load_dataset
    from mlcore.evaluation.analysis import Detections
    from mlcore.quality.audit import audit
    from mlcore.quality.audit_task import label_lines
    from mlcore.quality.spec import AuditSpec
    from mlcore.quality.submit import submit_audit

    root = work / "data" / f"{dataset.name}-planted-train"
    names = yaml.safe_load((dataset / "data.yaml").read_text())["names"]
    marker = root / "planted.json"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(dataset, root)
        kinds = 3 if len(names) > 1 else 2
        planted = plant_errors(root, "train", 0.1 / kinds, seed=0, classes=len(names))
        marker.write_text(json.dumps([p.__dict__ for p in planted]))
    planted = [Planted(**{**p, "box": tuple(p["box"])}) for p in json.loads(marker.read_text())]
    run = train_with_checkpoints(root, work, f"{dataset.name}-planted", epochs, imgsz, device)
    sizes = {p.image: Image.open(root / p.image).size for p in planted}
    done_file = work / "kfold.json"
    done: dict[str, Any] = json.loads(done_file.read_text()) if done_file.exists() else {}
    rows = []
    for k in (0, 2, 5):
        if str(k) not in done:
            spec = AuditSpec(
                model_path=str(run / "weights" / "best.pt"),
                dataset_path=str(root),
                split="train",
                kfold=k,
                kfold_epochs=kfold_epochs,
                imgsz=imgsz,
                device=device,
            )
            ended = wait(submit_audit(spec, load_settings()).id)  # a K-fold audit ends after its trainings too
            done[str(k)] = {"folder": str(ended["folder"]), "seconds": ended["seconds"]}
            done_file.write_text(json.dumps(done))
        folder = Path(done[str(k)]["folder"])
        d = Detections.load(folder / "predictions.npz")
        result = audit(d, label_lines(load_dataset(root), [str(root / i) for i in d.images]))
        document = {
            "images": [{"path": d.images[n], "score": float(v)} for n, v in enumerate(result.image_scores)],
            "issues": [{**s.to_dict(), "path": d.images[s.image], "box": list(s.box)} for s in result.suspects],
        }
        scores = audit_accuracy(document, planted, sizes)
        rows.append({"kfold": k, "scores": scores, "seconds": done[str(k)]["seconds"], "listed": len(result.suspects)})
        recalls = " ".join(f"{kind} {scores[kind]['found']}/{scores[kind]['planted']}" for kind in KINDS)
        print(
            f"  K={k}: AUROC {scores['auroc']:.3f}, found at 2x depth: {recalls}, {len(result.suspects)} listed, "
            f"{done[str(k)]['seconds']:.0f} s",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", help="work in this folder and keep it (trained models are reused next time)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--targets", default="0.6,0.8,0.9,0.99")
    parser.add_argument("--rates", default="0.05,0.1,0.2")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--kfold", action="store_true", help="also measure K-fold against in-sample on train")
    parser.add_argument("--kfold-epochs", type=int, default=10)
    parser.add_argument("--json", help="write every cell's figures to this file")
    args = parser.parse_args()

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="audit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
    os.environ["ML_STUDIO_DATASET_ROOTS"] = os.pathsep.join(
        [str(work / "data"), str(ROOT.parent / "shared" / "datasets")]
    )
    os.environ["ML_STUDIO_MODEL_ROOTS"] = str(work / "ml_outputs")
    targets = tuple(float(t) for t in args.targets.split(","))
    rates = [float(r) for r in args.rates.split(",")]
    rows: list[dict[str, Any]] = []
    for name in args.datasets.split(","):
        dataset = prepare_dataset(name, work)
        run = train_with_checkpoints(dataset, work, name, args.epochs, args.imgsz, args.device)
        for checkpoint in pick_checkpoints(run, targets):
            d = predictions(checkpoint, dataset, work, name, args.imgsz, args.device)
            for rate in rates:
                rows.append(
                    {
                        "dataset": name,
                        "epoch": checkpoint.epoch,
                        "map50": checkpoint.map50,
                        "map50_95": checkpoint.map50_95,
                        "rate": rate,
                        "images": len(d.images),
                        "labels": len(d.gt_cls),
                        **cell(d, rate, args.seeds),
                    }
                )
            print(f"{name} epoch {checkpoint.epoch} (val mAP50 {checkpoint.map50:.2f}): done", flush=True)
    print_table(rows, args.seeds)
    strong = [r for r in rows if r["map50"] >= GOAL_MAP50]
    print(
        f"\nCells with val mAP50 >= {GOAL_MAP50}: {sum(meets(r['audit']) for r in strong)} of {len(strong)} meet "
        "every goal"
    )
    for r in strong:
        if r["audit"]["blind"]:
            print(
                f"{r['dataset']} epoch {r['epoch']} at {r['rate']:.0%}: a blind spot in {r['audit']['blind']} of "
                f"{args.seeds} seeds; of the removed labels above it, found {_recall(r['audit']['overlooked_visible'])}"
            )
    kfold = []
    if args.kfold:
        first = prepare_dataset(args.datasets.split(",")[0], work)
        print("\nK-fold on a planted train split (in sample = K 0):", flush=True)
        kfold = kfold_measure(first, work, args.epochs, args.imgsz, args.device, args.kfold_epochs)
    if args.json:
        Path(args.json).write_text(json.dumps({"cells": rows, "kfold": kfold}, indent=1, default=str))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
