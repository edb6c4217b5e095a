"""Recommendations: the few things to do about a dataset before training, in plain words, derived
from its issues and statistics."""

from __future__ import annotations

from collections import Counter

from mlcore.datasets.issues import Issue
from mlcore.datasets.loader import Dataset
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.stats import SMALL_AT_IMGSZ_PX, Stats


def recommendations(
    report_issues: list[Issue], stats: Stats, dataset: Dataset, options: ValidationOptions
) -> list[str]:
    """What to do first, most important first; 'Ready to train' when there is nothing."""
    codes = Counter(i.code for i in report_issues if i.severity == "error")
    out: list[str] = []
    if codes:
        listed = ", ".join(f"{n} {c}" for c, n in codes.most_common())
        out.append(f"Fix the errors before training ({listed}): training would skip or fail on those files.")
    leaks = [
        i
        for i in report_issues
        if i.code in ("duplicate_image", "near_duplicate") and i.severity == "error" or i.code == "near_duplicate"
    ]
    if leaks:
        files = ", ".join(i.path or "" for i in leaks[:10])
        more = f" and {len(leaks) - 10} more (see issues.csv)" if len(leaks) > 10 else ""
        out.append(f"Remove these copies from val/test so evaluation stays unseen: {files}{more}.")
    if stats.sized_boxes:
        share = stats.small_at_imgsz / stats.sized_boxes
        if share > 0.1:
            largest = max(max(s) for s in stats.sizes) if stats.sizes else options.imgsz
            better = next(
                (s for s in (800, 960, 1280, 1600, 1920) if s > options.imgsz and s <= max(largest, options.imgsz)),
                None,
            )
            advice = f"train at imgsz {better}" if better else "crop or tile the images around the objects"
            out.append(
                f"{share:.0%} of the boxes are under {SMALL_AT_IMGSZ_PX} px at imgsz {options.imgsz}: "
                f"{advice}, or use a model with more capacity for small objects."
            )
    if any(i.code == "class_imbalance" for i in report_issues):
        out.append(
            "Classes are imbalanced: collect more images of the rare classes (best), or oversample them; "
            "check per-class metrics after training rather than the average."
        )
    if any(i.code == "few_samples" for i in report_issues):
        out.append(
            "Some classes have very few examples: aim for a few hundred instances per class for a reliable detector."
        )
    images = sum(c["images"] for c in stats.counts.values())
    backgrounds = sum(c["backgrounds"] for c in stats.counts.values())
    missing = sum(c["missing_labels"] for c in stats.counts.values())
    if images and backgrounds + missing == 0:
        out.append(
            "There are no background images (images with no objects): adding 0-10% of them reduces false positives."
        )
    elif images and (backgrounds + missing) / images > 0.5:
        out.append(
            f"{(backgrounds + missing) / images:.0%} of the images have no objects: check that labels are not missing."
        )
    if "val" not in dataset.splits or not dataset.splits.get("val"):
        out.append("There is no validation split: set aside about 20% of the images as val.")
    if not out:
        out.append("Ready to train: no problem found.")
    return out
