"""Training history charts: built from results.csv frames, whatever columns a version writes."""

from __future__ import annotations

import pandas as pd
import pytest

from mlcore.charts.training import smooth, training_history
from mlcore.runs.results import best_epoch


def frame(epochs: int = 4, lr_groups: int = 3) -> pd.DataFrame:
    data = {"epoch": list(range(1, epochs + 1)), "time": [10.0 * e for e in range(1, epochs + 1)]}
    for kind in ("train", "val"):
        for loss in ("box_loss", "cls_loss", "dfl_loss"):
            data[f"{kind}/{loss}"] = [2.0 - 0.1 * e for e in range(epochs)]
    data["metrics/precision(B)"] = [0.1 * e for e in range(epochs)]
    data["metrics/recall(B)"] = [0.1 * e for e in range(epochs)]
    data["metrics/mAP50(B)"] = [0.2, 0.6, 0.5, 0.55][:epochs]
    data["metrics/mAP50-95(B)"] = [0.1, 0.3, 0.35, 0.2][:epochs]
    for g in range(lr_groups):
        data[f"lr/pg{g}"] = [0.01] * epochs
    return pd.DataFrame(data)


def test_the_best_epoch_is_the_one_ultralytics_keeps() -> None:
    assert best_epoch(frame()) == 3  # 0.1 * 0.5 + 0.9 * 0.35 beats 0.1 * 0.6 + 0.9 * 0.3
    silent = frame().assign(**{"metrics/mAP50(B)": 0.0, "metrics/mAP50-95(B)": 0.0})
    assert best_epoch(silent) is None and best_epoch(pd.DataFrame()) is None


@pytest.mark.parametrize("lr_groups", [3, 8])
def test_six_panels_with_train_and_val_losses_and_every_lr_group(lr_groups: int) -> None:
    fig = training_history(frame(lr_groups=lr_groups))
    names = [t.name for t in fig.data]
    assert names.count("train") == 3 and names.count("val") == 3
    assert {"precision", "recall", "mAP50", "mAP50-95"} <= set(names)
    assert sum(n.startswith("lr pg") for n in names) == lr_groups
    assert len(fig.layout.shapes) == 6 and "best epoch 3" in fig.layout.annotations[-1].text


def test_missing_columns_and_an_empty_frame_still_draw() -> None:
    partial = frame()[["epoch", "train/box_loss"]]
    assert [t.name for t in training_history(partial).data] == ["train"]
    assert len(training_history(pd.DataFrame()).data) == 0


def test_smoothing_keeps_the_first_value_and_evens_out_the_rest() -> None:
    values = pd.Series([0.0, 1.0, 0.0, 1.0])
    assert smooth(values, 0.0).tolist() == values.tolist()
    smoothed = smooth(values, 0.5)
    assert smoothed.iloc[0] == 0.0 and smoothed.max() < 1.0
