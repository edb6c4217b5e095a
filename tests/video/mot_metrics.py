"""ID-F1 and MOTA of tracks against a ground truth, computed by TrackEval (the MOT challenge's reference code).

idf1, mota = mot_scores(truth_rows, track_rows)   # rows: (frame, id, x1, y1, x2, y2)
"""

from __future__ import annotations

import numpy as np
from trackeval.metrics import CLEAR, Identity


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def mot_scores(truth: np.ndarray, tracks: np.ndarray, frames: list[int] | None = None) -> tuple[float, float]:
    """(ID-F1, MOTA) over `frames` (default: every frame either names), matching boxes at IoU 0.5 as TrackEval's
    MOT challenge setting does."""
    frames = frames if frames is not None else sorted(set(truth[:, 0].astype(int)) | set(tracks[:, 0].astype(int)))
    gt_ids = {v: k for k, v in enumerate(sorted(set(truth[:, 1].astype(int))))}
    tr_ids = {v: k for k, v in enumerate(sorted(set(tracks[:, 1].astype(int))))}
    data = {"num_timesteps": len(frames), "num_gt_ids": len(gt_ids), "num_tracker_ids": len(tr_ids)}
    data.update({"gt_ids": [], "tracker_ids": [], "similarity_scores": []})
    for f in frames:
        g, t = truth[truth[:, 0] == f], tracks[tracks[:, 0] == f]
        data["gt_ids"].append(np.array([gt_ids[int(i)] for i in g[:, 1]], dtype=int))
        data["tracker_ids"].append(np.array([tr_ids[int(i)] for i in t[:, 1]], dtype=int))
        data["similarity_scores"].append(_iou(g[:, 2:6], t[:, 2:6]))
    data["num_gt_dets"] = int(sum(len(x) for x in data["gt_ids"]))
    data["num_tracker_dets"] = int(sum(len(x) for x in data["tracker_ids"]))
    clear = CLEAR({"THRESHOLD": 0.5, "PRINT_CONFIG": False}).eval_sequence(data)
    identity = Identity({"THRESHOLD": 0.5, "PRINT_CONFIG": False}).eval_sequence(data)
    return float(identity["IDF1"]), float(clear["MOTA"])
