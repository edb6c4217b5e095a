"""The verdict of a comparison in words, decided on mAP50-95's paired 95% interval.

code, words, needed = verdict(metrics, images=68)
# "no_significant_difference", "No significant difference on these 68 images: ...", 1150
"""

from __future__ import annotations

import math

A_BETTER, B_BETTER, NO_DIFFERENCE = "a_better", "b_better", "no_significant_difference"
VERDICTS = (A_BETTER, B_BETTER, NO_DIFFERENCE)
PRIMARY = "map50_95"
LABELS = {
    "map50": "mAP50",
    "map50_95": "mAP50-95",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "ap50": "AP50",
    "ap50_95": "AP50-95",
}
Z_LEVEL, Z_POWER = 1.96, 0.84  # a 95% two-sided interval that excludes 0 four times in five (80% power)


def signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def interval(row: dict[str, float]) -> str:
    """'+0.031 [+0.012, +0.050]'"""
    return f"{signed(row['delta'])} [{signed(row['ci_low'])}, {signed(row['ci_high'])}]"


def direction(row: dict[str, float]) -> str:
    """A_BETTER, B_BETTER or NO_DIFFERENCE for one metric's interval."""
    if row["ci_low"] > 0:
        return B_BETTER
    if row["ci_high"] < 0:
        return A_BETTER
    return NO_DIFFERENCE


def images_needed(row: dict[str, float], images: int) -> int | None:
    """Test images needed for a difference of the size seen to show (80% power), from the bootstrap's
    standard error, which shrinks as 1/sqrt(images). None when there is no difference at all."""
    if not math.isfinite(row["delta"]) or not math.isfinite(row["se"]) or not row["delta"] or not row["se"]:
        return None
    return math.ceil(images * ((Z_LEVEL + Z_POWER) * row["se"] / abs(row["delta"])) ** 2)


def verdict(metrics: dict[str, dict[str, float]], images: int) -> tuple[str, str, int | None]:
    """(code, the sentence a person reads, images needed when the test set is too small to tell)."""
    row = metrics[PRIMARY]
    code = direction(row)
    label = LABELS[PRIMARY]
    others = [
        f"{LABELS[m]} {interval(r)}" for m, r in metrics.items() if m != PRIMARY and direction(r) != NO_DIFFERENCE
    ]
    also = f" Also different: {'; '.join(others)}." if others else ""
    if code != NO_DIFFERENCE:
        better = "B" if code == B_BETTER else "A"
        return code, f"{better} is better: {label} {interval(row)} on {images} images.{also}", None
    needed = images_needed(row, images)
    if needed is None:
        return code, f"No difference: both models score the same on these {images} images.{also}", None
    more = (
        f" A difference of this size ({signed(row['delta'])}) would need about {needed:,} test images to show: "
        "collect more test images."
        if needed > images
        else ""
    )
    return (
        code,
        f"No significant difference on these {images} images: {label} {interval(row)}.{more}{also}",
        (needed if needed > images else None),
    )
