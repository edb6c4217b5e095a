import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcore.core.spec import SpecError
from mlcore.training.spec import ARCHITECTURES, TrainSpec, ultralytics_train_args


def test_the_original_request_bodies_load_as_they_are() -> None:
    full = TrainSpec.from_dict(
        {
            "mode": "full",
            "dataset_path": "/path/to/dataset",
            "model_architecture": "yolov8s",
            "epochs": 100,
            "batch_size": 16,
            "learning_rate": 0.01,
        }
    )
    transfer = TrainSpec.from_dict(
        {
            "mode": "transfer",
            "dataset_path": "/path/to/dataset",
            "model_architecture": "yolov8s",
            "base_model_path": "/path/to/base/model.pt",
            "epochs": 50,
            "batch_size": 16,
            "learning_rate": 0.001,
        }
    )
    assert full.to_ultralytics()["lr0"] == 0.01 and full.to_ultralytics()["batch"] == 16
    assert transfer.base_model_path == "/path/to/base/model.pt"


def test_ultralytics_arguments_and_defaults() -> None:
    spec = TrainSpec(dataset_path="d", freeze=10, advanced={"mosaic": 0.5, "close_mosaic": 2})
    args = spec.to_ultralytics()
    assert args["freeze"] == 10 and args["mosaic"] == 0.5 and "device" not in args and "lr0" not in args
    assert TrainSpec(dataset_path="d", device="0,1").to_ultralytics()["device"] == "0,1"
    assert {"mosaic", "lr0", "close_mosaic"} <= ultralytics_train_args()  # read from Ultralytics' own file


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"mode": "scratch"}, "mode='scratch' is unknown"),
        ({"experiment": "model"}, "renamed by Ultralytics"),
        ({"model_architecture": "yolov9c"}, "yolov8n"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 2.5}, "epochs=2.5"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": -1, "device": "0,1"}, "single GPU"),
        ({"imgsz": 16}, "imgsz=16"),
        ({"learning_rate": 2}, "between 0 and 1"),
        ({"optimizer": "adam"}, "optimizer='adam'"),
        ({"device": "cuda:0"}, "device='cuda:0'"),
        ({"cache": "yes"}, "cache='yes'"),
        ({"freeze": 30}, "at most 22"),
        ({"mode": "transfer"}, "needs base_model_path"),
        ({"mode": "resume", "dataset_path": ""}, "needs resume_from"),
        ({"dataset_path": " "}, "dataset_path is empty"),
        ({"project": "../etc"}, "project='../etc'"),
        ({"experiment": "a/b"}, "experiment='a/b'"),
        ({"advanced": {"data": "x.yaml"}}, "set by the studio"),
        ({"advanced": {"mosiac": 0.5}}, "did you mean"),
    ],
)
def test_bad_values_name_the_field_and_a_good_value(changes: dict, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        TrainSpec(**{"dataset_path": "ml_outputs/datasets/demo", **changes})


def test_unknown_fields_and_bad_json_are_refused() -> None:
    with pytest.raises(SpecError, match="unknown field"):
        TrainSpec.from_dict({"dataset_path": "d", "epoch": 3})
    with pytest.raises(SpecError, match="not valid JSON"):
        TrainSpec.from_json("{mode: full")


def test_warnings_for_surprising_values() -> None:
    spec = TrainSpec(dataset_path="d", imgsz=650, learning_rate=0.02, mode="full", freeze=5)
    text = " ".join(spec.warnings())
    assert "use 672" in text and "ignores learning_rate" in text and "meant for transfer" in text
    assert TrainSpec(dataset_path="d").warnings() == []


@given(
    mode=st.sampled_from(["full", "transfer", "resume"]),
    arch=st.sampled_from(ARCHITECTURES),
    epochs=st.integers(1, 10_000),
    batch=st.sampled_from([-1, 1, 8, 16, 64]),
    imgsz=st.integers(32, 4096),
    lr=st.none() | st.floats(1e-6, 0.9),
    device=st.sampled_from(["auto", "cpu", "0", "1"]),
    cache=st.sampled_from([False, True, "ram", "disk"]),
    name=st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True),
)
def test_json_round_trip(mode, arch, epochs, batch, imgsz, lr, device, cache, name) -> None:
    spec = TrainSpec(
        mode=mode,
        dataset_path="d",
        model_architecture=arch,
        epochs=epochs,
        batch_size=batch,
        imgsz=imgsz,
        learning_rate=lr,
        device=device,
        cache=cache,
        experiment=name,
        base_model_path="w.pt" if mode == "transfer" else None,
        resume_from="run" if mode == "resume" else None,
    )
    again = TrainSpec.from_json(spec.to_json())
    assert again == spec and json.loads(again.to_json()) == spec.to_dict()
