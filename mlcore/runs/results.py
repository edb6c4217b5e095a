"""Reading Ultralytics' results.csv while a training may still be writing it.

Tolerates a missing or empty file, a half-written last line (only lines ending in a newline count),
`nan`/`inf` values, the space-padded headers of older Ultralytics versions, and any number of
`lr/pgN` columns (3 for SGD/AdamW, 8 for MuSGD).

    frame = read_results(run_dir / "results.csv")   # one row per completed epoch
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

EPOCH = "epoch"
MAP50, MAP50_95 = "metrics/mAP50(B)", "metrics/mAP50-95(B)"


def read_results(path: Path) -> pd.DataFrame:
    """The epochs written so far, as numbers; an empty frame when there are none yet."""
    try:
        data = path.read_bytes()
    except OSError:
        return pd.DataFrame()
    complete = data[: data.rfind(b"\n") + 1]  # drop a last line that is still being written
    lines = complete.decode("utf-8", errors="replace").splitlines()
    if not lines:
        return pd.DataFrame()
    header = [name.strip() for name in lines[0].split(",")]
    rows = [line for line in lines[1:] if line.count(",") == len(header) - 1]
    if not rows:
        return pd.DataFrame(columns=header)
    frame = pd.read_csv(io.StringIO("\n".join(rows)), header=None, names=header, skipinitialspace=True)
    frame = frame.apply(pd.to_numeric, errors="coerce")
    return frame.dropna(subset=[EPOCH]).astype({EPOCH: int}).reset_index(drop=True)


def lr_columns(frame: pd.DataFrame) -> list[str]:
    """The learning-rate columns present (lr/pg0, lr/pg1, ...)."""
    return sorted((c for c in frame.columns if c.startswith("lr/pg")), key=lambda c: int(c[5:]))


def best_epoch(frame: pd.DataFrame) -> int | None:
    """The epoch Ultralytics keeps as best.pt: highest fitness = 0.1 * mAP50 + 0.9 * mAP50-95."""
    if frame.empty or MAP50 not in frame or MAP50_95 not in frame:
        return None
    fitness = 0.1 * frame[MAP50].fillna(0) + 0.9 * frame[MAP50_95].fillna(0)
    if fitness.max() <= 0:
        return None  # nothing detected yet: no epoch is better than another
    return int(frame.loc[fitness.idxmax(), EPOCH])
