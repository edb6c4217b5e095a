"""The drift report: a folder of new images (say, from production) against the images a model was trained on.

Each image gives a few statistics (size, brightness, contrast, colour, sharpness); with a model, its predictions
give more (confidence, detections per image, the class mix). Each statistic's two distributions are compared with
the population stability index (PSI) and read as stable, shifted or drifted:

    reference, _, _ = image_statistics(training_paths)
    current, kept, skipped = image_statistics(new_paths)    # kept: which paths were readable
    report = drift_report(reference, current)               # JSON-ready; report["summary"] says it in a sentence
    report["features"][k]["tails"]                          # indices into `kept`: the new images to look at first

Pure NumPy and Pillow: no model here (the job runs the model and passes `prediction_statistics` in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

IMAGE_FEATURES = ("width", "height", "aspect", "brightness", "contrast", "saturation", "colourfulness", "blur")
"""Per image: pixel size after EXIF orientation, w/h, mean and std of luma, mean HSV saturation, the
Hasler-Suesstrunk colourfulness, and the variance of a 3x3 Laplacian (lower is blurrier); all but the sizes on a
thumbnail."""
PREDICTION_FEATURES = ("confidence", "detections_per_image", "class_mix")

THUMBNAIL_SIDE = 256  # pixel statistics on a thumbnail of this longest side: fast, and the same scale for every image
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights, as Pillow's "L" conversion
ORIENTATION_TAG = 0x0112  # EXIF Orientation; 5..8 turn the image a quarter, swapping width and height
REASON_CHARS = 200

# PSI bands of the credit-scoring convention (e.g. Siddiqi, "Credit Risk Scorecards", 2006): below 0.1 the population
# is stable, 0.1 to 0.25 it has shifted (worth a look), 0.25 and above it has drifted (act on it).
SHIFT_PSI = 0.1
DRIFT_PSI = 0.25
VERDICTS = ("stable", "shift", "drift")  # mildest first
PSI_FLOOR = 1e-4  # a bin's share is floored here, so an empty bin costs a large but finite amount
PSI_BINS = 10  # the convention's ten quantile bins, used in full once both sets are large enough
NOISE_PSI = 0.05  # the PSI two samples of one population show on average, at most (sets the bins for small sets)
FEW_IMAGES = 10  # below this on either side the report says to read its verdict with care
HISTOGRAM_BINS = 20  # the plotted histogram's equal-width bins (not the PSI's quantile bins)
MIN_SHARE_CHANGE = 0.02  # a class whose share moved less than this is not named in the class-mix sentence
ROUND = 6

# Per feature: what happened when the new values are lower, higher, about the same (after "new images" for the
# image features, "the model" for the predictions).
_PHRASES: dict[str, tuple[str, str, str]] = {
    "width": ("are narrower", "are wider", "are about as wide"),
    "height": ("are shorter", "are taller", "are about as tall"),
    "aspect": ("are taller in shape", "are wider in shape", "have about the same shape"),
    "brightness": ("are darker", "are brighter", "are about as bright"),
    "contrast": ("have lower contrast", "have higher contrast", "have about the same contrast"),
    "saturation": ("are less saturated", "are more saturated", "are about as saturated"),
    "colourfulness": ("are duller", "are more colourful", "are about as colourful"),
    "blur": ("are blurrier", "are sharper", "are about as sharp"),
    "confidence": ("is less confident", "is more confident", "is about as confident"),
    "detections_per_image": (
        "makes fewer detections per image",
        "makes more detections per image",
        "makes about as many detections per image",
    ),
}
_SUBJECTS = {"image": "new images", "prediction": "the model"}
_LABELS = {"detections_per_image": "detections per image", "class_mix": "class mix"}


def _label(name: str) -> str:
    return _LABELS.get(name, name)


# --- image statistics ---------------------------------------------------------------------------------------------


def _thumbnail(path: Path) -> tuple[int, int, Image.Image]:
    """The upright size and an upright RGB thumbnail; JPEGs are decoded at a reduced scale (2x the thumbnail)."""
    with Image.open(path) as image:  # Pillow's own decompression-bomb limit applies: beyond it, an error
        width, height = image.size
        turned = image.getexif().get(ORIENTATION_TAG, 1) in (5, 6, 7, 8)
        scale = 2 * THUMBNAIL_SIDE / max(width, height, 1)
        if scale < 1:  # what Image.thumbnail's reducing_gap does, before the EXIF turn needs the pixels
            image.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))
        image.load()  # a truncated or corrupt file fails here
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    rgb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return (height, width, rgb) if turned else (width, height, rgb)


def _features(path: Path) -> dict[str, float]:
    width, height, rgb = _thumbnail(path)
    pixels = np.asarray(rgb, dtype=np.float64)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    grey = LUMA[0] * red + LUMA[1] * green + LUMA[2] * blue
    saturation = np.asarray(rgb.convert("HSV"), dtype=np.float64)[..., 1]
    rg, yb = red - green, 0.5 * (red + green) - blue  # Hasler & Suesstrunk (2003) opponent colours
    colourfulness = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return {
        "width": float(width),
        "height": float(height),
        "aspect": width / height,
        "brightness": float(grey.mean()),
        "contrast": float(grey.std()),
        "saturation": float(saturation.mean()),
        "colourfulness": float(colourfulness),
        "blur": float(laplacian.var()) if laplacian.size else 0.0,  # under 3 px a side there is no Laplacian
    }


def image_statistics(
    paths: list[Path], progress: Callable[[int, int], None] | None = None
) -> tuple[dict[str, np.ndarray], list[int], list[tuple[str, str]]]:
    """Each readable image's IMAGE_FEATURES, which of `paths` they are, and why each other one was skipped.

    Returns (features, readable, skipped): features[name][k] belongs to paths[readable[k]]; skipped holds
    (path, reason) for files that would not open or decode (corrupt, truncated, a decompression bomb). Never
    raises for a bad image. `progress(done, total)` is called after each path.
    """
    rows: list[dict[str, float]] = []
    readable: list[int] = []
    skipped: list[tuple[str, str]] = []
    for index, path in enumerate(paths):
        try:
            rows.append(_features(Path(path)))
            readable.append(index)
        except Exception as exc:  # Pillow raises many types for broken files (OSError, SyntaxError, ValueError...)
            skipped.append((str(path), f"{type(exc).__name__}: {exc}"[:REASON_CHARS]))
        if progress is not None:
            progress(index + 1, len(paths))
    features = {name: np.array([row[name] for row in rows], dtype=np.float64) for name in IMAGE_FEATURES}
    return features, readable, skipped


def prediction_statistics(detections: list[list[tuple[int, float]]], n_classes: int) -> dict[str, np.ndarray]:
    """From each image's (class id, confidence) boxes: every box's confidence, the boxes per image, boxes per class."""
    class_counts = np.zeros(n_classes, dtype=np.int64)
    for boxes in detections:
        for cls, _ in boxes:
            if not 0 <= int(cls) < n_classes:
                raise ValueError(f"class id {cls} is outside the model's {n_classes} classes")
            class_counts[int(cls)] += 1
    return {
        "confidence": np.array([conf for boxes in detections for _, conf in boxes], dtype=np.float64),
        "detections_per_image": np.array([len(boxes) for boxes in detections], dtype=np.int64),
        "class_counts": class_counts,
    }


# --- the population stability index -------------------------------------------------------------------------------


def _values(array: Any) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _share_psi(reference: np.ndarray, current: np.ndarray) -> float:
    ref, cur = np.maximum(reference, PSI_FLOOR), np.maximum(current, PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _quantile_bins(reference: np.ndarray, bins: int) -> tuple[np.ndarray, bool]:
    """Interior edges at the reference's quantiles, deduplicated, and whether to split off values below the lowest.

    Bins are right-closed, (-inf, e1], (e1, e2], ..., (ek, inf), so a value the reference holds often (a fixed image
    size, one detection) is a bin's top and values above it fall in the next. When the lowest edge is the
    reference's minimum (a constant reference, or a point mass at the bottom), values below it get a bin of their
    own; a constant reference v so splits into below v, v, above v, and an identical current set scores 0.
    """
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    return edges, bool(edges[0] <= reference.min())


def _bin_shares(values: np.ndarray, edges: np.ndarray, split_low: bool) -> np.ndarray:
    index = np.searchsorted(edges, values, side="left")
    if split_low:
        index = np.where(values < edges[0], 0, index + 1)
    return np.bincount(index, minlength=len(edges) + 1 + split_low) / values.size


def psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """The population stability index of `current` against `reference`, in bins at the reference's quantiles.

    sum((cur - ref) * ln(cur / ref)) over the bins' shares, each floored at PSI_FLOOR. 0 for identical sets; non-finite
    values are dropped. Raises ValueError when either side has no values.
    """
    ref, cur = _values(reference), _values(current)
    if not ref.size or not cur.size:
        raise ValueError("psi needs at least one value on each side")
    if bins < 2:
        raise ValueError(f"bins={bins}; use 2 or more")
    edges, split_low = _quantile_bins(ref, bins)
    return _share_psi(_bin_shares(ref, edges, split_low), _bin_shares(cur, edges, split_low))


def categorical_psi(ref_counts: Sequence[float] | np.ndarray, cur_counts: Sequence[float] | np.ndarray) -> float:
    """The PSI of two category counts (say boxes per class), one share per category, floored at PSI_FLOOR."""
    ref, cur = np.asarray(ref_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64)
    if ref.shape != cur.shape:
        raise ValueError(f"{ref.size} reference categories against {cur.size} current ones")
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("categorical_psi needs a count on each side")
    return _share_psi(ref / ref.sum(), cur / cur.sum())


def verdict(value: float) -> str:
    """'stable' below SHIFT_PSI, 'shift' below DRIFT_PSI, else 'drift'."""
    return "stable" if value < SHIFT_PSI else "shift" if value < DRIFT_PSI else "drift"


def psi_bins(n_reference: int, n_current: int) -> int:
    """Quantile bins for two sets of these sizes: PSI_BINS when they are large, fewer when they are small.

    Two samples of one population score on average about (bins - 1) * (1/n + 1/m) by chance alone (PSI is
    close to a chi-square statistic): with ten bins and 30 images a side that is 0.6, 'drift' out of nothing.
    So the bins are the most that keep that chance level at NOISE_PSI, between 2 (above or below the median) and
    PSI_BINS.
    """
    chance = 1 / max(n_reference, 1) + 1 / max(n_current, 1)
    return int(min(PSI_BINS, max(2, 1 + math.floor(NOISE_PSI / chance))))


# --- the report ---------------------------------------------------------------------------------------------------


def _histogram(reference: np.ndarray, current: np.ndarray) -> dict[str, list[float]]:
    """Both sets' shares in shared equal-width bins (integer bins for small whole numbers), for plotting."""
    both = np.concatenate([reference, current])
    low, high = float(both.min()), float(both.max())
    if np.all(both == np.round(both)) and high - low <= HISTOGRAM_BINS:
        edges = np.arange(low - 0.5, high + 1.0)
    elif low == high:
        edges = np.array([low - 0.5, high + 0.5])
    else:
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    return {
        "edges": [round(float(e), ROUND) for e in edges],
        "reference": [round(float(s), ROUND) for s in np.histogram(reference, edges)[0] / reference.size],
        "current": [round(float(s), ROUND) for s in np.histogram(current, edges)[0] / current.size],
    }


def _direction(reference: np.ndarray, current: np.ndarray) -> str:
    """'low' or 'high' when the new values moved down or up, 'wider' or 'narrower' when only their spread changed."""
    moved = float(np.median(current) - np.median(reference))
    q1, q3 = np.quantile(reference, [0.25, 0.75])
    scale = float(q3 - q1) or float(reference.std()) or float(current.std())
    spread = (float(current.std()) + 1e-12) / (float(reference.std()) + 1e-12)
    if moved and (not scale or abs(moved) / scale >= 0.1 or 0.8 <= spread <= 1.25):
        return "low" if moved < 0 else "high"
    mean_moved = float(current.mean() - reference.mean())
    if 0.8 <= spread <= 1.25 and mean_moved:
        return "low" if mean_moved < 0 else "high"
    return "wider" if spread > 1 else "narrower"


def _tails(reference: np.ndarray, current: np.ndarray, direction: str, count: int) -> list[int]:
    """The current indices furthest in `direction` (furthest from the reference median when only the spread moved)."""
    if direction == "low":
        order = np.argsort(current, kind="stable")
    elif direction == "high":
        order = np.argsort(-current, kind="stable")
    else:
        order = np.argsort(-np.abs(current - np.median(reference)), kind="stable")
    return [int(i) for i in order[: max(count, 0)]]


def _numeric_entry(name: str, group: str, reference: Any, current: Any, tail_examples: int) -> dict[str, Any]:
    ref, cur = np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)
    bins = psi_bins(ref.size, cur.size)
    value = psi(ref, cur, bins)
    judged = verdict(value)
    direction = _direction(ref, cur)
    low, high, same = _PHRASES[name]
    if judged == "stable":
        phrase = f"{_SUBJECTS[group]} {same}"
    elif direction in ("low", "high"):
        phrase = f"{_SUBJECTS[group]} {low if direction == 'low' else high}"
    else:
        phrase = f"{_label(name)} varies {'more' if direction == 'wider' else 'less'} on new images"
    return {
        "name": name,
        "label": _label(name),
        "group": group,
        "psi": round(value, ROUND),
        "verdict": judged,
        "bins": bins,
        "reference_median": round(float(np.median(ref)), ROUND),
        "current_median": round(float(np.median(cur)), ROUND),
        "sentence": f"{phrase}: {_label(name)} PSI {value:.2f}, {judged}",
        "histogram": _histogram(ref, cur),
        "tails": _tails(ref, cur, direction, tail_examples) if group == "image" else [],
    }


def _class_mix_entry(reference: np.ndarray, current: np.ndarray, names: dict[int, str]) -> dict[str, Any]:
    ref, cur = np.asarray(reference, dtype=np.float64), np.asarray(current, dtype=np.float64)
    value = categorical_psi(ref, cur)
    judged = verdict(value)
    ref_share, cur_share = ref / ref.sum(), cur / cur.sum()
    change = cur_share - ref_share
    ordered = np.argsort(-change, kind="stable")
    more = [names.get(int(i), str(int(i))) for i in ordered[:2] if change[i] >= MIN_SHARE_CHANGE]
    fewer = [names.get(int(i), str(int(i))) for i in ordered[::-1][:2] if change[i] <= -MIN_SHARE_CHANGE]
    if judged == "stable":
        phrase = "the class mix is about the same"
    else:
        parts = [f"more {' and '.join(more)}"] * bool(more) + [f"fewer {' and '.join(fewer)}"] * bool(fewer)
        phrase = "the class mix changed" + (f" ({', '.join(parts)})" if parts else "")
    shown = [i for i in range(ref.size) if ref[i] or cur[i]]
    return {
        "name": "class_mix",
        "label": _label("class_mix"),
        "group": "prediction",
        "psi": round(value, ROUND),
        "verdict": judged,
        "bins": int(ref.size),
        "reference_median": None,  # categories have no median
        "current_median": None,
        "sentence": f"{phrase}: class mix PSI {value:.2f}, {judged}",
        "histogram": {
            "classes": [names.get(i, str(i)) for i in shown],
            "reference": [round(float(ref_share[i]), ROUND) for i in shown],
            "current": [round(float(cur_share[i]), ROUND) for i in shown],
        },
        "tails": [],
    }


def _size(features: dict[str, np.ndarray]) -> int:
    return next((len(features[name]) for name in IMAGE_FEATURES if name in features), 0)


def _summary(features: list[dict[str, Any]]) -> str:
    def listed(entries: list[dict[str, Any]]) -> str:
        return ", ".join(f"{e['label']} ({'PSI ' * (k == 0)}{e['psi']:.2f})" for k, e in enumerate(entries))

    ranked = sorted(features, key=lambda e: -e["psi"])
    drifted = [e for e in ranked if e["verdict"] == "drift"]
    shifted = [e for e in ranked if e["verdict"] == "shift"]
    total = len(features)
    if drifted:
        text = f"Drift in {len(drifted)} of {total} features: {listed(drifted)}"
        return text + (f"; shift in {len(shifted)}: {listed(shifted)}." if shifted else ".")
    if shifted:
        return f"Shift in {len(shifted)} of {total} features: {listed(shifted)}."
    worst = ranked[0]
    return f"No drift: every feature is stable (largest PSI {worst['psi']:.2f}, {worst['label']})."


def drift_report(
    reference: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    reference_predictions: dict | None = None,
    current_predictions: dict | None = None,
    names: dict[int, str] | None = None,
    tail_examples: int = 6,
) -> dict:
    """Compare the new images' statistics (and the model's predictions on them) with the reference set's.

    `reference` and `current` come from image_statistics, the predictions from prediction_statistics (both or
    neither). Every feature gets a PSI, a verdict, both medians, a sentence with its direction, a histogram of both
    sets on shared edges and, for image features, `tails`: indices into the current arrays of the images furthest
    in the direction of the change. The overall verdict is the worst feature's. Plain JSON types throughout.
    """
    n_ref, n_cur = _size(reference), _size(current)
    if not n_ref or not n_cur:
        raise ValueError(f"no images to compare ({n_ref} reference, {n_cur} new)")
    if (reference_predictions is None) != (current_predictions is None):
        raise ValueError("pass the predictions on both image sets, or on neither")
    names = names or {}
    notes: list[str] = []
    if min(n_ref, n_cur) < FEW_IMAGES:
        notes.append(f"few images: read the verdict with care ({n_cur} new, {n_ref} reference).")
    features = [
        _numeric_entry(name, "image", reference[name], current[name], tail_examples)
        for name in IMAGE_FEATURES
        if name in reference and name in current
    ]
    if reference_predictions is not None and current_predictions is not None:
        ref_conf, cur_conf = reference_predictions["confidence"], current_predictions["confidence"]
        boxes = bool(len(ref_conf) and len(cur_conf))
        if boxes:
            features.append(_numeric_entry("confidence", "prediction", ref_conf, cur_conf, 0))
        counts = reference_predictions["detections_per_image"], current_predictions["detections_per_image"]
        features.append(_numeric_entry("detections_per_image", "prediction", *counts, 0))
        if boxes:
            ref_mix, cur_mix = reference_predictions["class_counts"], current_predictions["class_counts"]
            features.append(_class_mix_entry(ref_mix, cur_mix, names))
        else:
            side = "the reference images" if not len(ref_conf) else "the new images"
            notes.append(f"The model found nothing on {side}: confidence and class mix are not compared.")
    worst = max((e["verdict"] for e in features), key=VERDICTS.index)
    return {
        "features": features,
        "verdict": worst,
        "summary": _summary(features),
        "reference_images": n_ref,
        "current_images": n_cur,
        "note": " ".join(notes) or None,
        "bands": {"shift": SHIFT_PSI, "drift": DRIFT_PSI},  # the verdicts' PSI lines, for the charts
    }
