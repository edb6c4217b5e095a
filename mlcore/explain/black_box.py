"""D-RISE with a model the studio predicts with (Ultralytics' YOLO over a .pt or an export): the boxes to explain,
the model's score for each, and their maps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlcore.core.class_names import class_names
from mlcore.engine.heads import HeadError, check_head, ultralytics_head
from mlcore.explain.drise import drise, overlap, ultralytics_predict
from mlcore.explain.saliency import DRISE, BoxMap, ExplainError, Target, class_id

MATCH_IOU = 0.3


def _score(target: Target, found: list) -> float:
    same = [(box, score) for box, cls, score in found if cls == target.class_id]
    if not same:
        return 0.0
    ious = overlap(target.box, np.array([b for b, _ in same], dtype=np.float64))
    scores = [s for (_, s), o in zip(same, ious, strict=True) if o >= MATCH_IOU]
    return float(max(scores, default=0.0))


def explain_black_box(
    detector: Any,
    image: np.ndarray,
    imgsz: int,
    targets: list[Target] | None,
    pick: list[int] | None,
    as_class: int | str | None,
    conf: float,
    nms_free: bool,
    masks: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[BoxMap]:
    names = class_names(detector.names)
    as_class = class_id(names, as_class)
    try:
        check_head(detector, nms_free, detector.studio_path)
    except HeadError as exc:
        raise ExplainError(str(exc)) from None
    predict = ultralytics_predict(detector, imgsz, ultralytics_head(nms_free))
    base = predict([image])[0]
    if targets is None:
        found = sorted((d for d in base if d[2] >= conf), key=lambda d: -d[2])
        chosen = []
        for n in pick if pick is not None else range(len(found)):
            if not 0 <= n < len(found):
                raise ExplainError(
                    f"there is no box {n}: the model finds {len(found)} box(es) in this image at confidence {conf:g}"
                    + (f"; give 0 to {len(found) - 1}." if found else "; lower the confidence.")
                )
            chosen.append((n, Target(found[n][0], found[n][1] if as_class is None else as_class, "detection")))
    else:
        chosen = list(enumerate(targets))
    for _, t in chosen:
        class_id(names, t.class_id)
    maps, _ = drise(predict, image, [t for _, t in chosen], masks, seed, progress, stop)
    return [BoxMap(n, t, names[t.class_id], _score(t, base), DRISE, m) for (n, t), m in zip(chosen, maps, strict=True)]
