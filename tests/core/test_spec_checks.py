"""The checks every request spec is built from (mlcore.core.spec), the stamped job folders (mlcore.core.folders),
and the request names the match IoU and the NMS IoU keep on the wire."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from mlcore.compare.pairing import ComparisonError
from mlcore.core.errors import SubmitError
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.settings import Settings
from mlcore.core.spec import (
    DEFAULT_IMGSZ,
    MAX_IMGSZ,
    SpecError,
    at_most,
    defaults,
    device,
    flag,
    fraction,
    non_empty,
    one_of,
    whole,
)
from mlcore.datasets.loader import usable_split
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.evaluation.spec import EvalSpec
from mlcore.predict.spec import PredictSpec


def _refusal(check, *args, **kwargs) -> str:
    with pytest.raises(SpecError) as caught:
        check(*args, **kwargs)
    return str(caught.value)


def test_whole_says_the_range_and_an_example() -> None:
    assert whole("epochs", 1, 1) == 1
    assert _refusal(whole, "epochs", 0, 1) == "epochs=0; use a whole number of at least 1."
    assert _refusal(whole, "epochs", 0, 1, example="epochs=50") == (
        "epochs=0; use a whole number of at least 1 (e.g. epochs=50)."
    )
    assert (
        _refusal(whole, "top", 100_001, 1, 100_000, 50) == "top=100001; use a whole number from 1 to 100000 (e.g. 50)."
    )
    assert whole("top", 100_000, 1, 100_000) == 100_000  # both bounds belong to the range
    assert _refusal(whole, "seed", "3", 0) == "seed='3'; use a whole number of at least 0."
    assert _refusal(whole, "seed", 2.0, 0) == "seed=2.0; use a whole number of at least 0."


def test_whole_refuses_a_bool_where_a_number_is_wanted() -> None:
    assert _refusal(whole, "workers", True, 0) == "workers=True; use a whole number of at least 0."
    assert (
        _refusal(whole, "kfold", False, 2, 10, 5, zero=True) == "kfold=False; use a whole number from 2 to 10 (e.g. 5)."
    )


def test_whole_with_zero_and_a_step() -> None:
    assert whole("imgsz", 0, 32, MAX_IMGSZ, zero=True) == 0
    assert _refusal(whole, "imgsz", 16, 32, MAX_IMGSZ, DEFAULT_IMGSZ, zero=True) == (
        f"imgsz=16; use a whole number from 32 to {MAX_IMGSZ} (e.g. 640)."
    )
    assert whole("imgsz", 96, 0, step=32) == 96
    assert _refusal(whole, "imgsz", 100, 0, step=32, use="use 0 or a multiple of 32") == (
        "imgsz=100; use 0 or a multiple of 32."
    )


def test_each_check_raises_the_callers_error() -> None:
    with pytest.raises(KeyError):
        whole("resamples", 5, 100, 100_000, error=KeyError)
    with pytest.raises(LookupError, match=r"^confidence=1.5; use a number between 0 and 1 \(e.g. 0.25\).$"):
        fraction("confidence", 1.5, 0.25, error=LookupError)
    with pytest.raises(OSError, match=r"^split='dev'; use one of test, val\.$"):
        one_of("split", "dev", ("test", "val"), OSError)


def test_fraction_is_open_or_half_open_as_asked() -> None:
    assert fraction("iou", 0.45) == 0.45
    for bad in (0, 1, 1.2, -0.1):
        assert _refusal(fraction, "iou", bad, 0.25) == f"iou={bad!r}; use a number between 0 and 1 (e.g. 0.25)."
    assert fraction("tolerance", 0, zero=True) == 0.0
    assert _refusal(fraction, "tolerance", 1, zero=True, use="use an mAP difference from 0 to 1 (e.g. 0.005)") == (
        "tolerance=1; use an mAP difference from 0 to 1 (e.g. 0.005)."
    )
    assert _refusal(fraction, "conf", 0.5j) == "conf=0.5j; use a number between 0 and 1."


def test_fraction_refuses_a_bool_where_a_number_is_wanted() -> None:
    assert _refusal(fraction, "tolerance", False, zero=True) == "tolerance=False; use a number between 0 and 1."
    assert _refusal(fraction, "iou", True) == "iou=True; use a number between 0 and 1."


def test_flag_device_non_empty_and_at_most() -> None:
    flag("dynamic", False)
    assert _refusal(flag, "dynamic", 1) == "dynamic=1; use true or false."
    assert _refusal(flag, "dynamic", "yes") == "dynamic='yes'; use true or false."
    device("device", "0")
    device("device", "0,1", several=True)
    assert _refusal(device, "device", "0,1") == "device='0,1'; use 'auto', 'cpu' or one GPU index like '0'."
    assert _refusal(device, "device", "cuda", several=True) == (
        "device='cuda'; use 'auto', 'cpu', a GPU index like '0', or several like '0,1'."
    )
    assert _refusal(device, "device", "gpu", use="use auto, cpu or a GPU index such as 0") == (
        "device='gpu'; use auto, cpu or a GPU index such as 0."
    )
    for empty in ("", "  ", None):
        assert _refusal(non_empty, "source", empty, "a folder of images") == "source is empty; give a folder of images."
    at_most("imgsz", MAX_IMGSZ, MAX_IMGSZ, 640)
    assert _refusal(at_most, "imgsz", MAX_IMGSZ + 1, MAX_IMGSZ, "640 or 1280") == (
        f"imgsz={MAX_IMGSZ + 1} is too large; use at most {MAX_IMGSZ} (e.g. 640 or 1280)."
    )


def test_defaults_reads_each_field_once() -> None:
    @dataclass
    class Form:
        name: str
        epochs: int = 100
        tags: list[str] = field(default_factory=lambda: ["a"])

    assert defaults(Form) == {"epochs": 100, "tags": ["a"]}
    assert defaults(EvalSpec)["match_iou"] == EvalSpec.match_iou == 0.45


def test_one_maximum_image_size_for_every_request() -> None:
    ValidationOptions(imgsz=MAX_IMGSZ)
    with pytest.raises(
        ValueError, match=rf"^imgsz={MAX_IMGSZ + 32} is out of range; use 32 to {MAX_IMGSZ} \(e.g. 640\)"
    ):
        ValidationOptions(imgsz=MAX_IMGSZ + 32)
    with pytest.raises(SpecError, match=f"from 32 to {MAX_IMGSZ}"):
        EvalSpec(model_path="m.pt", dataset_path="d", imgsz=MAX_IMGSZ + 32)


def test_the_match_iou_keeps_its_request_name() -> None:
    """In code the evaluation's match IoU and the predictor's NMS IoU have two names; requests, job records and
    messages keep `iou_threshold`, so the records already written load as they are."""
    recorded = {
        "model_path": "m.pt",
        "dataset_path": "d",
        "split": "val",
        "confidence_threshold": 0.3,
        "iou_threshold": 0.5,
        "imgsz": 0,
        "device": "cpu",
        "save_predictions": True,
        "analyze_errors": False,
        "nms_free": False,
    }
    spec = EvalSpec.from_dict(recorded)
    assert spec.match_iou == 0.5
    assert spec.to_dict() == recorded and list(spec.to_dict()) == list(recorded)  # the same keys, in the same order
    older = {k: v for k, v in recorded.items() if k != "nms_free"}  # a record written before the head was a choice
    assert EvalSpec.from_dict(older) == spec
    with pytest.raises(SpecError, match=r"^iou_threshold=1.5; use a number between 0 and 1 \(e.g. 0.25\)\.$"):
        EvalSpec.from_dict({**recorded, "iou_threshold": 1.5})
    with pytest.raises(SpecError, match="iou_threshold"):  # the request name is among the known ones
        EvalSpec.from_dict({**recorded, "iou": 0.5})


def test_the_nms_iou_keeps_its_request_name() -> None:
    spec = PredictSpec.from_dict({"model_path": "m.pt", "source": "photos", "iou_threshold": 0.6})
    assert spec.nms_iou == 0.6 and spec.to_dict()["iou_threshold"] == 0.6 and "nms_iou" not in spec.to_dict()
    assert PredictSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match=r"^iou_threshold=0; use a number between 0 and 1, or leave it empty"):
        PredictSpec(model_path="m.pt", source="photos", nms_iou=0)


def test_a_stamped_folder_is_named_to_the_microsecond_and_never_reused(tmp_path: Path) -> None:
    now = datetime(2026, 12, 6, 14, 25, 1, 123456)
    folder = stamped_folder(tmp_path / "exports", "v1_best", now)
    assert folder == tmp_path / "exports" / "v1_best_20261206-142501-123456" and folder.is_dir()
    with pytest.raises(FileExistsError):
        stamped_folder(tmp_path / "exports", "v1_best", now)
    assert re.fullmatch(r"run_\d{8}-\d{6}-\d{6}", stamped_folder(tmp_path, "run").name)
    write_request(folder, "export_config.yaml", {"model_path": "m.pt", "formats": ["onnx"], "imgsz": 640})
    text = (folder / "export_config.yaml").read_text()
    assert yaml.safe_load(text) == {"model_path": "m.pt", "formats": ["onnx"], "imgsz": 640}
    assert text.index("model_path") < text.index("formats") < text.index("imgsz")  # the order it was given in


def test_one_helper_resolves_loads_and_checks_the_split(data_studio: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, dataset = data_studio
    shutil.rmtree(dataset / "images" / "test")
    path, loaded = usable_split(str(dataset), settings, "val")
    assert path == dataset.resolve() and loaded.splits["val"]
    with pytest.raises(SubmitError) as caught:
        usable_split(str(dataset), settings, "test")
    assert str(caught.value) == "the dataset has no 'test' split (it has: train, val); pick one of those."
    with pytest.raises(ComparisonError) as caught:
        usable_split(str(dataset), settings, "test", advice="compare on one of those", error=ComparisonError)
    assert str(caught.value) == "the dataset has no 'test' split (it has: train, val); compare on one of those."
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(SubmitError, match=r"^the source dataset cannot be used: .*outside the allowed folders"):
        usable_split(str(tmp_path / "elsewhere"), settings, what="the source dataset")
