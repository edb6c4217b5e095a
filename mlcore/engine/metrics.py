"""Ultralytics' results as plain data, and why a job failed in words a user can act on.

write_json_atomically(folder.metrics, metrics_to_dict(model.val(...), names))
"""

from __future__ import annotations

import errno
from typing import Any

from mlcore.core.errors import TaskError


def failure_message(exc: BaseException, batch_size: Any) -> str:
    """Why a job failed, in words that say what to do when the cause is known."""
    if isinstance(exc, TaskError):
        return str(exc)
    if "out of memory" in str(exc).lower():
        batch = int(batch_size) if isinstance(batch_size, int) and batch_size > 0 else 16
        return (
            f"CUDA out of memory with batch_size={batch_size} (Ultralytics had already tried smaller "
            f"batches if it happened in the first epoch); try batch_size={max(1, batch // 2)}, a smaller "
            "imgsz, or a GPU with more free memory, then resume or start again."
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"the outputs disk is full or a file-size limit was reached ({exc.strerror}); free space under "
            "the outputs folder, then resume the run or start again. Nothing from this job is shown as complete."
        )
    return f"{type(exc).__name__}: {exc}"


def _count(counts: Any, index: int) -> int | None:
    return int(counts[index]) if counts is not None and index < len(counts) else None


def metrics_to_dict(metrics: Any, names: dict[int, str]) -> dict[str, Any]:
    """Ultralytics' DetMetrics as plain numbers for the charts (no PNGs needed)."""
    box = metrics.box
    classes = []
    for i, cid in enumerate(getattr(box, "ap_class_index", [])):
        p, r, ap50, ap = box.class_result(i)
        classes.append(
            {
                "id": int(cid),
                "name": names.get(int(cid), str(cid)),
                "precision": float(p),
                "recall": float(r),
                "ap50": float(ap50),
                "ap50_95": float(ap),
                "instances": _count(getattr(metrics, "nt_per_class", None), int(cid)),
                "images": _count(getattr(metrics, "nt_per_image", None), int(cid)),
            }
        )
    curves = {}
    for name, (x, y, xlabel, ylabel) in zip(metrics.curves, metrics.curves_results, strict=False):
        curves[name] = {
            "x": [float(v) for v in x],
            "y": [[float(v) for v in row] for row in y],
            "xlabel": xlabel,
            "ylabel": ylabel,
        }
    matrix = getattr(getattr(metrics, "confusion_matrix", None), "matrix", None)
    return {
        "precision": float(box.mp),
        "recall": float(box.mr),
        "map50": float(box.map50),
        "map50_95": float(box.map),
        "classes": classes,
        "curves": curves,
        "confusion_matrix": None if matrix is None else [[float(v) for v in row] for row in matrix],
        "confusion_axes": [*[names[i] for i in sorted(names)], "background"],
        "speed_ms": {k: float(v) for k, v in getattr(metrics, "speed", {}).items()},
    }
