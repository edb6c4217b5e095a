"""Images to label next (active learning): how much a label would teach the model, per image.

The model is run on four test-time views of each unlabelled image (the original, a horizontal flip,
and the image shown at 0.75 and 1.25 of its size). Its doubt shows three ways, each scored in [0, 1]:
weak confidence on the original, two classes competing for the same place, and views that disagree.
`rank_diverse` orders images by the combined score and drops near-duplicates (the validation's near-copy
test: perceptual hash, and foreground map for mostly flat images), so the top N are diverse; `write_prelabels`
exports them with the model's boxes as pre-labels.

Ultralytics letterboxes every input to `imgsz`, so a merely resized image would reach the network at
the same size. The scale views therefore keep the original canvas size: at 0.75 the shrunk image is
centred on grey padding (objects appear smaller), at 1.25 the enlarged image is centre-cropped
(objects appear larger; the outer tenth on each side is out of view, see `view_region`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mlcore.core.class_names import class_names
from mlcore.datasets.near_copies import NEAR_DUPLICATE_BITS, same_picture


class Box(NamedTuple):
    """One detection in original-image pixels."""

    cls: int
    conf: float
    x1: float
    y1: float
    x2: float
    y2: float


VIEW_ORIGINAL = "original"
VIEW_FLIP = "hflip"
VIEW_SMALL = "scale0.75"
VIEW_LARGE = "scale1.25"
VIEWS: tuple[str, ...] = (VIEW_ORIGINAL, VIEW_FLIP, VIEW_SMALL, VIEW_LARGE)  # the order of every per-view list
VIEW_SCALES: dict[str, float] = {VIEW_SMALL: 0.75, VIEW_LARGE: 1.25}
PAD_VALUE = 114  # the grey Ultralytics letterboxes with

CONFIDENT = 0.25  # a box counts as a detection from this confidence (Ultralytics' default predict threshold)
COMPETITION_IOU = 0.7  # boxes of two classes overlapping this much claim the same object
MATCH_IOU = 0.5  # a view's box agrees with an original box of the same class overlapping this much
VISIBLE_ENOUGH = 0.5  # an original box a view shows less of than this may be missed there without disagreement
EMPTY_LOW_CONFIDENCE = 0.5  # nothing at all in any view: the model is sure or blind; moderate either way
WEIGHTS: dict[str, float] = {"low_confidence": 0.4, "competition": 0.3, "disagreement": 0.3}  # sum to 1


def _check_image(image: np.ndarray) -> tuple[int, int]:
    """(width, height) of a BGR HxWx3 uint8 array; ValueError otherwise."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a BGR HxWx3 uint8 array, got {getattr(image, 'shape', type(image))}")
    height, width = image.shape[:2]
    if not width or not height:
        raise ValueError("the image is empty")
    return width, height


def _geometry(view: str, width: int, height: int) -> tuple[float, float, int, int]:
    """(sx, sy, ox, oy): a view pixel is x * sx + ox (after the flip, if any); offsets are negative for a crop."""
    if view in (VIEW_ORIGINAL, VIEW_FLIP):
        return 1.0, 1.0, 0, 0
    if view not in VIEW_SCALES:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    scale = VIEW_SCALES[view]
    sw, sh = max(1, round(width * scale)), max(1, round(height * scale))
    return sw / width, sh / height, (width - sw) // 2, (height - sh) // 2


def view_images(image: np.ndarray) -> list[np.ndarray]:
    """The image in every view of VIEWS, each the size of the original (scaled content padded or cropped)."""
    import cv2

    width, height = _check_image(image)
    out: list[np.ndarray] = []
    for view in VIEWS:
        if view == VIEW_ORIGINAL:
            out.append(np.ascontiguousarray(image))
            continue
        if view == VIEW_FLIP:
            out.append(np.ascontiguousarray(image[:, ::-1]))
            continue
        sx, sy, ox, oy = _geometry(view, width, height)
        sw, sh = round(width * sx), round(height * sy)
        interpolation = cv2.INTER_AREA if sw < width else cv2.INTER_LINEAR
        resized = cv2.resize(image, (sw, sh), interpolation=interpolation)
        canvas = np.full_like(image, PAD_VALUE)
        x0, y0 = max(0, ox), max(0, oy)
        x1, y1 = min(width, ox + sw), min(height, oy + sh)
        canvas[y0:y1, x0:x1] = resized[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        out.append(canvas)
    return out


def view_region(view: str, width: int, height: int) -> tuple[float, float, float, float]:
    """The part of the original image (x1, y1, x2, y2 in its pixels) that `view` shows."""
    sx, sy, ox, oy = _geometry(view, width, height)
    return (
        max(0.0, -ox / sx),
        max(0.0, -oy / sy),
        min(float(width), (width - ox) / sx),
        min(float(height), (height - oy) / sy),
    )


def unview(boxes: Iterable[Sequence[float]], view: str, width: int, height: int) -> list[Box]:
    """Boxes predicted on `view` of a width x height image, in the original image's pixels.

    Boxes are clipped to the image; those left without area (wholly on the padding) are dropped."""
    sx, sy, ox, oy = _geometry(view, width, height)
    out: list[Box] = []
    for b in boxes:
        x1, y1 = (float(b[2]) - ox) / sx, (float(b[3]) - oy) / sy
        x2, y2 = (float(b[4]) - ox) / sx, (float(b[5]) - oy) / sy
        if view == VIEW_FLIP:
            x1, x2 = width - x2, width - x1
        x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
        y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
        if x2 > x1 and y2 > y1:
            out.append(Box(int(b[0]), float(b[1]), x1, y1, x2, y2))
    return out


def predict_views(model: Any, image: np.ndarray, imgsz: int, device: str, conf: float = 0.05) -> list[list[Box]]:
    """An Ultralytics model's boxes on every view of `image` (one predict call), in original pixels, VIEWS order."""
    width, height = _check_image(image)
    views = view_images(image)
    results = model.predict(views, conf=conf, imgsz=imgsz, device=device, verbose=False)
    results = list(results)
    if len(results) != len(views):
        raise RuntimeError(f"the model returned {len(results)} results for {len(views)} views")
    out: list[list[Box]] = []
    for view, result in zip(VIEWS, results, strict=True):
        boxes = getattr(result, "boxes", None)
        if boxes is None:
            out.append([])
            continue
        xyxy = np.asarray(boxes.xyxy.cpu().numpy(), dtype=float).reshape(-1, 4)
        confs = np.asarray(boxes.conf.cpu().numpy(), dtype=float).reshape(-1)
        classes = np.asarray(boxes.cls.cpu().numpy()).reshape(-1)
        raw = [(int(c), float(p), *map(float, xy)) for c, p, xy in zip(classes, confs, xyxy, strict=True)]
        out.append(unview(raw, view, width, height))
    return out


def _array(boxes: Sequence[Box]) -> np.ndarray:
    """The boxes' corners as an N x 4 float array."""
    return np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], dtype=float).reshape(-1, 4)


def _area(a: np.ndarray) -> np.ndarray:
    return np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every row of `a` (N x 4) with every row of `b` (M x 4): an N x M array."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _low_confidence(original: Sequence[Box]) -> float:
    """1 - the mean confidence of the original view's boxes at or above CONFIDENT.

    Without any such box: EMPTY_LOW_CONFIDENCE when the model saw nothing at all, rising linearly with
    the strongest weak box to 1 - CONFIDENT as it nears the threshold (continuous with the first case):
    a weak suspicion just under the threshold is as uncertain as a detection just over it."""
    confident = [b.conf for b in original if b.conf >= CONFIDENT]
    if confident:
        return float(1.0 - np.mean(confident))
    if not original:
        return EMPTY_LOW_CONFIDENCE
    strongest = max(b.conf for b in original)
    return EMPTY_LOW_CONFIDENCE + (1.0 - CONFIDENT - EMPTY_LOW_CONFIDENCE) * min(strongest / CONFIDENT, 1.0)


def _competition(original: Sequence[Box]) -> float:
    """The closest confidence ratio (weaker / stronger) of two boxes of different classes on one place.

    A pair counts when its IoU is at least COMPETITION_IOU and its stronger box is at least CONFIDENT
    (two noise boxes competing teach nothing); 0.45 vs 0.42 gives 0.93, 0.9 vs 0.05 gives 0.06."""
    if len(original) < 2:
        return 0.0
    iou = _iou(_array(original), _array(original))
    cls = np.array([b.cls for b in original])
    conf = np.array([b.conf for b in original], dtype=float)
    stronger = np.maximum(conf[:, None], conf[None, :])
    weaker = np.minimum(conf[:, None], conf[None, :])
    pairs = (iou >= COMPETITION_IOU) & (cls[:, None] != cls[None, :]) & (stronger >= CONFIDENT)
    if not pairs.any():
        return 0.0
    ratio = np.divide(weaker, stronger, out=np.zeros_like(weaker), where=stronger > 0)
    return float(ratio[pairs].max())


def _agreement(original: Sequence[Box], other: Sequence[Box], region: tuple[float, float, float, float]) -> float:
    """F1 of greedy same-class IoU >= MATCH_IOU matching of the two views' boxes at or above CONFIDENT.

    Only what the view shows is compared: original boxes are clipped to `region`, and one the view shows
    less than VISIBLE_ENOUGH of may go unmatched without counting as a miss. Both empty: 1."""
    a_boxes = [b for b in original if b.conf >= CONFIDENT]
    b_boxes = [b for b in other if b.conf >= CONFIDENT]
    a = _array(a_boxes)
    rx1, ry1, rx2, ry2 = region
    clipped = np.column_stack(
        [np.clip(a[:, 0], rx1, rx2), np.clip(a[:, 1], ry1, ry2), np.clip(a[:, 2], rx1, rx2), np.clip(a[:, 3], ry1, ry2)]
    )
    full = _area(a)
    visible = np.divide(_area(clipped), full, out=np.ones_like(full), where=full > 0)
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    if a_boxes and b_boxes:
        iou = _iou(clipped, _array(b_boxes))
        same = np.array([x.cls for x in a_boxes])[:, None] == np.array([y.cls for y in b_boxes])[None, :]
        iou = np.where(same & (iou >= MATCH_IOU), iou, 0.0)
        for flat in np.argsort(-iou, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(b_boxes))
            if iou[i, j] <= 0:
                break
            if i not in matched_a and j not in matched_b:
                matched_a.add(i)
                matched_b.add(j)
    matches = len(matched_a)
    misses = sum(1 for i in range(len(a_boxes)) if i not in matched_a and visible[i] >= VISIBLE_ENOUGH)
    extras = len(b_boxes) - len(matched_b)
    total = 2 * matches + misses + extras
    return 1.0 if total == 0 else 2 * matches / total


def uncertainty(views: list[list[Box]], size: tuple[int, int] | None = None) -> dict[str, float]:
    """How much a label of this image would teach the model: components and `score`, each in [0, 1].

    `views` are the boxes per view in original pixels, the original first (as `predict_views` returns,
    in VIEWS order). Pass `size` (width, height) for such a list: the 1.25 view shows only the centre of
    the image, and without the size an object it crops away counts as a disagreement.

    - low_confidence: see `_low_confidence` (no box anywhere: EMPTY_LOW_CONFIDENCE, a moderate 0.5).
    - competition: see `_competition` (0 without a competing pair).
    - disagreement: 1 - the mean over the other views of their matching F1 with the original (0 when
      all views agree, including all empty).
    - score: the WEIGHTS-weighted mean of the three.
    """
    if not views:
        raise ValueError("no views: give at least the original view's boxes")
    if size is not None and len(views) != len(VIEWS):
        raise ValueError(f"with a size, expected the {len(VIEWS)} views of VIEWS, got {len(views)}")
    original = [Box(*b) for b in views[0]]
    agreements = []
    for index, boxes in enumerate(views[1:], start=1):
        region = view_region(VIEWS[index], *size) if size is not None else (-np.inf, -np.inf, np.inf, np.inf)
        agreements.append(_agreement(original, [Box(*b) for b in boxes], region))
    parts = {
        "low_confidence": _low_confidence(original),
        "competition": _competition(original),
        "disagreement": 1.0 - float(np.mean(agreements)) if agreements else 0.0,
    }
    parts = {k: min(max(v, 0.0), 1.0) for k, v in parts.items()}
    parts["score"] = min(max(sum(WEIGHTS[k] * v for k, v in parts.items()), 0.0), 1.0)
    return parts


def _hash_words(h: int) -> tuple[int, int, int]:
    """A hash of up to 192 bits as three 64-bit words (the 144-bit difference hash fits)."""
    if h < 0 or h >> 192:
        raise ValueError(f"a perceptual hash must be a non-negative integer of at most 192 bits, got {h}")
    mask = (1 << 64) - 1
    return h & mask, (h >> 64) & mask, h >> 128


def rank_diverse(
    scores: list[float],
    hashes: list[int | None],
    max_bits: int = NEAR_DUPLICATE_BITS,
    maps: list[bytes | None] | None = None,
) -> tuple[list[int], dict[int, int]]:
    """Image indices by score, highest first (ties by index), without near-duplicates of a kept image.

    An image whose hash is within `max_bits` Hamming distance of a kept image's (and, where `maps` gives both a
    foreground map, whose map matches too: near_copies) is dropped, mapped to the nearest such kept image (the
    higher-scored on a tie); an image without a hash is always kept. Each image is compared with the kept set
    at once (numpy popcount), O(N * kept) at worst."""
    if len(scores) != len(hashes) or (maps is not None and len(maps) != len(hashes)):
        raise ValueError(f"{len(scores)} scores but {len(hashes)} hashes" + (f" and {len(maps)} maps" if maps else ""))
    map_of: list[bytes | None] = list(maps) if maps is not None else [None] * len(hashes)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    dropped: dict[int, int] = {}
    words = np.zeros((len(scores), 3), dtype=np.uint64)
    owners: list[int] = []  # the kept images that have a hash, in the rows of `words`
    for index in order:
        h = hashes[index]
        if h is None:
            kept.append(index)
            continue
        row = np.array(_hash_words(h), dtype=np.uint64)
        if owners:
            bits = np.bitwise_count(words[: len(owners)] ^ row).sum(axis=1)
            close = np.flatnonzero(bits <= max_bits)
            copied = next(
                (
                    owners[k]
                    for k in close[np.argsort(bits[close], kind="stable")]
                    if same_picture(map_of[index], map_of[owners[k]])
                ),
                None,
            )
            if copied is not None:
                dropped[index] = copied
                continue
        words[len(owners)] = row
        owners.append(index)
        kept.append(index)
    return kept, dropped


def _yolo_lines(boxes: Iterable[Sequence[float]], width: int, height: int, min_conf: float) -> list[str]:
    """YOLO label lines (cls cx cy w h, normalised, 6 decimals) of the boxes at or above min_conf, clipped."""
    lines = []
    for raw in boxes:
        b = Box(int(raw[0]), raw[1], raw[2], raw[3], raw[4], raw[5])
        if b.conf < min_conf:
            continue
        x1, x2 = min(max(b.x1, 0.0), width), min(max(b.x2, 0.0), width)
        y1, y2 = min(max(b.y1, 0.0), height), min(max(b.y2, 0.0), height)
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"{int(b.cls)} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def write_prelabels(
    folder: Path,
    chosen: list[tuple[Path, list[Box], tuple[int, int]]],
    names: dict[int, str],
    min_conf: float = 0.25,
) -> None:
    """The chosen images with the model's boxes as pre-labels, as CVAT and Label Studio import YOLO data.

    `chosen` holds (image path, the original view's boxes, (width, height)) in the pixels the labelling
    tool shows. Writes folder/images/ (copies, original names; on a clash the later one gets a counter
    prefix, 1_name.jpg), folder/labels/<stem>.txt (an empty file for an image with no box kept) and
    folder/classes.txt (one name per line, line number = class id; a missing id is written class<id>).
    The sources are only read (shutil.copy2); a destination that is a source raises ValueError first.
    """
    folder = Path(folder)
    images_dir, labels_dir = folder / "images", folder / "labels"
    names = class_names(names)
    stems: set[str] = set()  # case-folded: a.jpg, A.png and a.png would share a label file somewhere
    plan: list[tuple[Path, Path, list[str]]] = []
    for source, boxes, (width, height) in chosen:
        source = Path(source)
        if width <= 0 or height <= 0:
            raise ValueError(f"{source}: the size must be positive, got {width}x{height}")
        name, counter = source.name, 0
        while Path(name).stem.lower() in stems:
            counter += 1
            name = f"{counter}_{source.name}"
        stems.add(Path(name).stem.lower())
        target = images_dir / name
        if target.exists() and target.resolve() == source.resolve():
            raise ValueError(f"{source} is inside the export folder; export to another folder")
        plan.append((source, target, _yolo_lines(boxes, width, height, min_conf)))
    images_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    top = -1
    for source, target, lines in plan:
        shutil.copy2(source, target)
        (labels_dir / f"{target.stem}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        top = max([top, *(int(line.split(" ", 1)[0]) for line in lines)])
    top = max([top, *names])
    classes = [names.get(i, f"class{i}") for i in range(top + 1)]
    (folder / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
