import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mlcore.runs.results import lr_columns, read_results

HEADER = (
    "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
    "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2\n"
)
ROW = "{e},{t},1.5,2.5,1.2,0.5,0.4,0.45,0.3,1.4,2.4,1.1,0.001,0.001,0.001\n"


def csv_text(epochs: int) -> str:
    return HEADER + "".join(ROW.format(e=e, t=10.0 * e) for e in range(1, epochs + 1))


def test_a_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text(csv_text(3))
    frame = read_results(path)
    assert list(frame["epoch"]) == [1, 2, 3] and frame["metrics/mAP50(B)"].iloc[-1] == 0.45
    assert lr_columns(frame) == ["lr/pg0", "lr/pg1", "lr/pg2"]


def test_missing_empty_header_only_and_half_written(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    assert read_results(path).empty
    path.write_text("")
    assert read_results(path).empty
    path.write_text(HEADER)
    assert read_results(path).empty and "epoch" in read_results(path).columns
    path.write_text(csv_text(2) + "3,30.0,1.5,2.")  # the third line is still being written
    assert list(read_results(path)["epoch"]) == [1, 2]


def test_nan_padded_headers_and_eight_lr_groups(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    header = ",".join(f"{name:>20}" for name in ["epoch", "metrics/mAP50(B)", *[f"lr/pg{i}" for i in range(8)]])
    path.write_text(
        header + "\n" + "1, nan," + ",".join(["0.01"] * 8) + "\n" + "2, 0.5," + ",".join(["0.01"] * 8) + "\n"
    )
    frame = read_results(path)
    assert math.isnan(frame["metrics/mAP50(B)"][0]) and frame["metrics/mAP50(B)"][1] == 0.5
    assert lr_columns(frame) == [f"lr/pg{i}" for i in range(8)]


@given(cut=st.integers(min_value=0, max_value=len(csv_text(4).encode())))
def test_cut_anywhere_gives_only_complete_epochs(tmp_path_factory, cut: int) -> None:
    data = csv_text(4).encode()
    path = tmp_path_factory.mktemp("cut") / "results.csv"
    path.write_bytes(data[:cut])
    frame = read_results(path)
    complete = data[:cut].count(b"\n") - 1
    assert len(frame) == max(0, complete)
    if len(frame):
        assert list(frame["epoch"]) == list(range(1, len(frame) + 1))
