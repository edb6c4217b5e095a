"""The architecture list and YOLO26's head choice, from the files alone (no model is loaded here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlcore.core import paths
from mlcore.core.spec import SpecError
from mlcore.engine.architectures import (
    ARCHITECTURES,
    Family,
    architecture_of,
    architecture_table,
    family_label,
    family_of,
    is_end2end,
    model_architecture,
)
from mlcore.engine.heads import HeadRefused, head_of, recorded_architecture, ultralytics_head
from mlcore.evaluation.spec import EvalSpec
from mlcore.export.spec import ExportSpec
from mlcore.predict.profile import DeploymentProfile, ProfileError, with_overrides
from mlcore.training.spec import TrainSpec
from mlcore.tuning.spec import TuneSpec


def test_every_family_and_the_small_object_variants_are_offered() -> None:
    for family in ("yolov8", "yolo11", "yolo26"):
        assert all(f"{family}{scale}" in ARCHITECTURES for scale in "nsmlx")
    assert {"yolo26n-p2", "yolo26s-p2"} <= set(ARCHITECTURES)
    assert TrainSpec(dataset_path="d", model_architecture="yolo26s-p2").model_architecture == "yolo26s-p2"
    assert TuneSpec(dataset_path="d", study="s", architectures=("yolo11n", "yolo26n")).architectures == (
        "yolo11n",
        "yolo26n",
    )
    with pytest.raises(SpecError, match="yolo26n"):
        TrainSpec(dataset_path="d", model_architecture="yolov5n")


def test_families_heads_and_the_published_table() -> None:
    assert family_of("yolo26n-p2") is Family.YOLO26 and family_label("yolo11m") == "YOLO11"
    assert family_label("something") == "?" and family_label(None) == "?"
    assert is_end2end("yolo26x") and not is_end2end("yolo11n") and not is_end2end(None)
    rows = {r["model"]: r for r in architecture_table()}
    assert rows["yolo26n"]["COCO mAP50-95"] == 40.9 and rows["yolo26n"]["COCO mAP50-95 NMS-free"] == 40.1
    assert rows["yolo26n"]["GPU ms (TensorRT)"] == "1.7 (T4)" and rows["yolov8n"]["relative CPU time"] == "1.00×"
    assert rows["yolo26n-p2"]["COCO mAP50-95"] == "–" and "small objects" in rows["yolo26n-p2"]["note"]
    assert [r["family"] for r in architecture_table()] == sorted(
        (r["family"] for r in architecture_table()), key=["YOLOv8", "YOLO11", "YOLO26"].index
    )


@pytest.mark.parametrize(
    ("definition", "scale", "expected"),
    [
        ("yolo26n.yaml", "n", "yolo26n"),
        ("yolo26.yaml", "s", "yolo26s"),
        ("/somewhere/yolo26n-p2.yaml", None, "yolo26n-p2"),
        ("yolov8m.yaml", None, "yolov8m"),
        ("yolo11-seg.yaml", "n", None),
        ("yolov9c.yaml", None, None),
        ("", None, None),
    ],
)
def test_a_checkpoints_model_definition_names_its_architecture(definition: str, scale: str | None, expected) -> None:
    assert architecture_of(definition, scale) == expected


def _run(tmp_path: Path, architecture: str | None, args_model: str | None = None) -> Path:
    run = tmp_path / "trainings" / "p" / "e"
    (run / paths.WEIGHTS_DIR).mkdir(parents=True)
    if architecture:
        (run / paths.CONFIG_FILE).write_text(yaml.safe_dump({"model_architecture": architecture}))
    if args_model:
        (run / paths.ARGS_FILE).write_text(yaml.safe_dump({"model": args_model}))
    weights = run / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
    weights.write_bytes(b"weights")
    return weights


def test_the_head_is_chosen_from_the_files_and_refused_where_it_is_missing(tmp_path: Path) -> None:
    assert ultralytics_head(True) == {"nms": False} and ultralytics_head(False) == {"nms": None}
    y26 = _run(tmp_path / "a", "yolo26n")
    assert head_of(y26, True) is True and head_of(y26, False) is False
    v8 = _run(tmp_path / "b", "yolov8n")
    assert head_of(v8, False) is False
    with pytest.raises(HeadRefused, match="yolov8n model, which has no NMS-free head"):
        head_of(v8, True)
    attached = _run(tmp_path / "c", None, args_model="yolo11n.yaml")  # a run without the studio's config
    assert recorded_architecture(attached) == "yolo11n"
    with pytest.raises(HeadRefused, match="yolo11n"):
        head_of(attached, True)
    loose = tmp_path / "models" / "mine.pt"  # nothing says: the worker checks the model itself
    loose.parent.mkdir()
    loose.write_bytes(b"w")
    assert head_of(loose, True) is True


def test_an_export_runs_with_the_head_it_was_made_with(tmp_path: Path) -> None:
    for nms_free in (False, True):
        folder = tmp_path / f"export-{nms_free}"
        folder.mkdir()
        (folder / paths.MODEL_CARD).write_text(json.dumps({"nms_free": nms_free, "imgsz": 64}))
        onnx = folder / "best.onnx"
        onnx.write_bytes(b"onnx")
        assert head_of(onnx, False) is nms_free  # the export's own head, whatever the default asked
        if not nms_free:
            with pytest.raises(HeadRefused, match="exported with its NMS head"):
                head_of(onnx, True)


def test_specs_and_profiles_carry_the_head() -> None:
    assert EvalSpec.from_dict({"model_path": "m", "dataset_path": "d", "nms_free": True}).nms_free is True
    assert ExportSpec(model_path="m", nms_free=True).to_dict()["nms_free"] is True
    with pytest.raises(SpecError, match="nms_free"):
        EvalSpec(model_path="m", dataset_path="d", nms_free="yes")  # type: ignore[arg-type]
    saved = DeploymentProfile(confidence=0.4, iou=0.5, nms_free=True)
    assert DeploymentProfile.from_dict(saved.to_dict()) == saved
    assert "NMS-free" in saved.describe() and "IoU" not in saved.describe()
    assert with_overrides(saved, None, None).nms_free is True
    assert with_overrides(saved, None, None, False).nms_free is False
    assert with_overrides(None, 0.3, None, True).nms_free is True
    with pytest.raises(ProfileError, match="nms_free"):
        DeploymentProfile(nms_free="true")  # type: ignore[arg-type]


def test_a_loaded_models_definition_names_its_architecture() -> None:
    from types import SimpleNamespace

    assert model_architecture(SimpleNamespace(yaml={"yaml_file": "yolo26.yaml", "scale": "m"})) == "yolo26m"
    assert model_architecture(SimpleNamespace(yaml={"nc": 3})) is None
    assert model_architecture(SimpleNamespace()) is None
