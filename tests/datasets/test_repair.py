"""Repaired versions of datasets Ultralytics cannot read as they are: a data.yaml split path that misses its folder,
labels in a folder of their own, a names list too short, CVAT's "YOLO 1.1" export, Label Studio's single folder.
Each is diagnosed with what is wrong, repaired into a version that loads and validates without errors with the
source's labels, and the source stays byte-identical; refusals and the command line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mlcore.core.errors import SubmitError
from mlcore.datasets.loader import DatasetError, label_path, load_dataset
from mlcore.datasets.repair import (
    CVAT_YOLO,
    LABELS_FOLDER,
    NAMES,
    NO_SPLITS,
    SPLIT_PATH,
    diagnose,
    repair_dataset,
)
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate
from tests.conftest import mlcore, tree_digest

SPLITS = ("train", "val", "test")


def _source(logos: Path) -> dict[str, dict[str, tuple[Path, str]]]:
    """{split: {stem: (image, label text)}} of the small dataset."""
    return {
        s: {i.stem: (i, (logos / "labels" / s / f"{i.stem}.txt").read_text()) for i in (logos / "images" / s).iterdir()}
        for s in SPLITS
    }


def _version_labels(version: Path) -> dict[str, dict[str, str | None]]:
    """{split: {image stem: its label text, None without a label file}} of a written version."""
    found: dict[str, dict[str, str | None]] = {}
    for split, images in load_dataset(version).splits.items():
        labels = {Path(i).stem: Path(label_path(i)) for i in images}
        found[split] = {stem: label.read_text() if label.is_file() else None for stem, label in labels.items()}
    return found


def _errors(path: Path) -> set[str]:
    report = validate(path, ValidationOptions(near_duplicates=False))
    return {i.code for i in report.issues if i.severity == "error"}


def _write_yaml(path: Path, **data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


NAMES5 = ["solara", "aqualine", "verdant", "nimbus", "ferro"]


def test_a_split_path_that_misses_its_folder_is_read_from_the_folder_beside_data_yaml(data_studio) -> None:
    settings, logos = data_studio
    source = _source(logos)
    target = logos.parent / "roboflow"
    for split, folder in (("train", "train"), ("val", "valid"), ("test", "test")):
        for part in ("images", "labels"):
            (target / folder / part).mkdir(parents=True)
        for stem, (image, text) in source[split].items():
            shutil.copy(image, target / folder / "images" / image.name)
            (target / folder / "labels" / f"{stem}.txt").write_text(text)
    _write_yaml(
        target / "data.yaml",
        train="../exports/train/images",
        val="images/valid",
        test="test/images",
        nc=5,
        names=NAMES5,
    )
    before = tree_digest(target)
    n_train, n_val = len(source["train"]), len(source["val"])

    repairs = diagnose(target / "data.yaml")
    assert [(r.kind, r.split) for r in repairs] == [(SPLIT_PATH, "train"), (SPLIT_PATH, "val")]
    assert repairs[0].message == (
        f"train: '../exports/train/images' does not exist; did you mean 'train/images'? {n_train} images found there."
    )
    assert repairs[1].message == (
        f"val: 'images/valid' does not exist; did you mean 'valid/images'? {n_val} images found there."
    )
    assert diagnose(target) == repairs  # the folder as well as its data.yaml
    missing = [i.message for i in load_dataset(target).issues if i.code == "split_missing"]
    assert any(
        m.startswith("train: '../exports/train/images' does not exist")
        and m.endswith(
            f"Did you mean 'train/images'? {n_train} images found there; python -m mlcore dataset repair "
            "makes a repaired version."
        )
        for m in missing
    ), missing
    assert "split_missing" in _errors(target)

    manifest = repair_dataset(str(target / "data.yaml"), settings)
    version = Path(manifest["path"])
    assert version == settings.outputs_root / "datasets" / "roboflow" / "v1"
    assert manifest["counts"] == {"train": n_train, "val": n_val, "test": len(source["test"])}
    assert manifest["changes"][0]["kind"] == "repair" and len(manifest["changes"]) == 1
    assert [r["kind"] for r in manifest["changes"][0]["repairs"]] == [SPLIT_PATH, SPLIT_PATH]
    assert manifest["parent"]["path"] == str(target / "data.yaml") and manifest["parent"]["fingerprint"]
    assert list(load_dataset(version).names.values()) == NAMES5
    assert _version_labels(version) == {s: {k: t for k, (_, t) in v.items()} for s, v in source.items()}
    assert manifest["validation"]["error"] == 0
    assert tree_digest(target) == before, "the source dataset was written"


@pytest.mark.parametrize("folder", ["{split}-labels", "labels-{split}", "{split}_labels", "labels"])
def test_labels_in_a_folder_of_their_own_are_found_and_put_where_ultralytics_looks(data_studio, folder: str) -> None:
    settings, logos = data_studio
    source = _source(logos)
    target = logos.parent / "scattered"
    for split in ("train", "val"):
        (target / "images" / split).mkdir(parents=True)
        (target / folder.format(split=split)).mkdir(parents=True, exist_ok=True)
        for stem, (image, text) in source[split].items():
            shutil.copy(image, target / "images" / split / image.name)
            (target / folder.format(split=split) / f"{stem}.txt").write_text(text)
    unlabelled = sorted(source["train"])[0]
    (target / folder.format(split="train") / f"{unlabelled}.txt").unlink()  # one image lost its label
    _write_yaml(target / "data.yaml", train="images/train", val="images/val", names=NAMES5)
    before = tree_digest(target)
    n_train, n_val = len(source["train"]), len(source["val"])

    repairs = diagnose(target)
    assert [(r.kind, r.split) for r in repairs] == [(LABELS_FOLDER, "train"), (LABELS_FOLDER, "val")]
    assert repairs[0].message == (
        f"the labels of images/train are in {folder.format(split='train')}/ ({n_train - 1} of {n_train} images "
        "matched), where Ultralytics does not look; the repaired version puts them in labels/train."
    )
    assert f"({n_val} of {n_val} images matched)" in repairs[1].message
    assert "missing_label" in _errors(target)

    manifest = repair_dataset(str(target), settings)
    version = Path(manifest["path"])
    expected = {s: {k: t for k, (_, t) in source[s].items()} for s in ("train", "val")}
    expected["train"][unlabelled] = None  # a background in the version, as Ultralytics would read it
    assert _version_labels(version) == expected
    assert manifest["validation"]["error"] == 0 and manifest["counts"] == {"train": n_train, "val": n_val}
    assert tree_digest(target) == before


def test_class_ids_past_the_names_list_get_names_of_their_own(data_studio) -> None:
    settings, logos = data_studio
    source = _source(logos)
    target = logos.parent / "short"
    shutil.copytree(logos, target)
    _write_yaml(target / "data.yaml", train="images/train", val="images/val", test="images/test", names=NAMES5[:2])
    top = max(int(line.split()[0]) for s in source.values() for _, t in s.values() for line in t.splitlines())
    assert top >= 3
    before = tree_digest(target)

    repairs = diagnose(target)
    assert [r.kind for r in repairs] == [NAMES]
    assert repairs[0].message == (
        f"names lists 2 classes but the labels use class ids up to {top}; the repaired version names ids 2–{top} "
        f"'class_2' … 'class_{top}' (rename them in its data.yaml)."
    )
    assert "class_out_of_range" in _errors(target)

    manifest = repair_dataset(str(target), settings, name="short-named")
    version = Path(manifest["path"])
    assert load_dataset(version).names == {0: "solara", 1: "aqualine", **{i: f"class_{i}" for i in range(2, top + 1)}}
    assert _version_labels(version) == {s: {k: t for k, (_, t) in v.items()} for s, v in source.items()}
    assert manifest["validation"]["error"] == 0 and manifest["name"] == "short-named"
    assert tree_digest(target) == before


def _cvat_export(source: dict, target: Path, with_valid: bool) -> None:
    """CVAT's "YOLO 1.1" export: obj.data, obj.names, train.txt (+ valid.txt), obj_train_data/ (+ obj_valid_data/)."""
    groups = {"train": [*source["train"].values(), *source["test"].values()], "valid": list(source["val"].values())}
    if not with_valid:
        groups = {"train": [*groups["train"], *groups["valid"]]}
    target.mkdir()
    for key, entries in groups.items():
        (target / f"obj_{key}_data").mkdir()
        for image, text in entries:
            shutil.copy(image, target / f"obj_{key}_data" / image.name)
            (target / f"obj_{key}_data" / f"{image.stem}.txt").write_text(text)
        lines = [f"data/obj_{key}_data/{image.name}" for image, _ in entries]
        (target / f"{key}.txt").write_text("\n".join([*lines, f"data/obj_{key}_data/gone.jpg"]) + "\n")
    (target / "obj.names").write_text("\n".join(NAMES5) + "\n")
    lists = "".join(f"{key} = data/{key}.txt\n" for key in groups)
    (target / "obj.data").write_text(f"classes = 5\n{lists}names = data/obj.names\nbackup = backup/\n")


@pytest.mark.parametrize("with_valid", [True, False])
def test_a_cvat_yolo_export_becomes_a_yolo_dataset(data_studio, with_valid: bool) -> None:
    settings, logos = data_studio
    source = _source(logos)
    target = logos.parent / "cvat"
    _cvat_export(source, target, with_valid)
    before = tree_digest(target)
    with pytest.raises(DatasetError, match='CVAT\'s "YOLO 1.1" export .*`python -m mlcore dataset repair'):
        load_dataset(target)  # no layout the loader knows: neither Ultralytics nor validation reads it

    repairs = diagnose(target)
    assert [r.kind for r in repairs] == ([CVAT_YOLO] if with_valid else [CVAT_YOLO, NO_SPLITS])
    assert repairs[0].message == (
        'a CVAT "YOLO 1.1" export (obj.data, obj.names, train.txt): the repaired version '
        "is a YOLO dataset with images/train and labels/train."
    )

    manifest = repair_dataset(str(target), settings)
    version = Path(manifest["path"])
    assert manifest["parent"]["fingerprint"] is None  # the loader cannot read the source
    assert manifest["changes"][0]["missing_images"] == (2 if with_valid else 1)  # gone.jpg of each list
    everything = {k: t for v in source.values() for k, (_, t) in v.items()}
    labels = _version_labels(version)
    if with_valid:
        assert manifest["counts"] == {"train": len(source["train"]) + len(source["test"]), "val": len(source["val"])}
        assert labels["val"] == {k: t for k, (_, t) in source["val"].items()}
    else:
        assert set(manifest["counts"]) == set(SPLITS) and manifest["changes"][1]["kind"] == "resplit"
    assert {k: t for v in labels.values() for k, t in v.items()} == everything
    assert list(load_dataset(version).names.values()) == NAMES5
    assert manifest["validation"]["error"] == 0
    assert tree_digest(target) == before


def _label_studio(source: dict, target: Path) -> int:
    """Label Studio's "YOLO" export: classes.txt, images/, labels/, notes.json; no split folders."""
    (target / "images").mkdir(parents=True)
    (target / "labels").mkdir()
    for entries in source.values():
        for stem, (image, text) in entries.items():
            shutil.copy(image, target / "images" / image.name)
            (target / "labels" / f"{stem}.txt").write_text(text)
    (target / "classes.txt").write_text("\n".join(NAMES5) + "\n")
    (target / "notes.json").write_text(json.dumps({"categories": [{"id": i, "name": n} for i, n in enumerate(NAMES5)]}))
    return sum(len(v) for v in source.values())


def test_a_label_studio_export_is_split_70_20_10_without_leaks(data_studio) -> None:
    settings, logos = data_studio
    source = _source(logos)
    target = logos.parent / "labelstudio"
    total = _label_studio(source, target)
    before = tree_digest(target)

    repairs = diagnose(target)
    assert [r.to_dict() for r in repairs] == [
        {
            "kind": NO_SPLITS,
            "split": None,
            "message": (
                f"no validation split (one folder of {total} images, as Label Studio exports them): "
                "the repaired version splits them 70/20/10 keeping near-copies together."
            ),
        }
    ]
    report = validate(target, ValidationOptions(near_duplicates=False))
    assert any(i.code == "split_missing" and i.split == "val" for i in report.issues)

    manifest = repair_dataset(str(target), settings)
    version = Path(manifest["path"])
    dataset = load_dataset(version)
    assert set(dataset.splits) == set(SPLITS) and sum(map(len, dataset.splits.values())) == total
    for split, share in zip(SPLITS, (0.7, 0.2, 0.1), strict=True):
        assert abs(len(dataset.splits[split]) / total - share) <= 0.05 + 1e-9, manifest["counts"]
    contents = {s: {hashlib.sha256(Path(i).read_bytes()).hexdigest() for i in v} for s, v in dataset.splits.items()}
    assert not (
        contents["train"] & contents["val"]
        or contents["train"] & contents["test"]
        or contents["val"] & contents["test"]
    )
    labels = _version_labels(version)
    assert {k: t for v in labels.values() for k, t in v.items()} == {
        k: t for v in source.values() for k, (_, t) in v.items()
    }
    assert [c["kind"] for c in manifest["changes"]] == ["repair", "resplit"]
    assert dataset.names == dict(enumerate(NAMES5)) and manifest["validation"]["error"] == 0
    assert tree_digest(target) == before

    again = repair_dataset(str(target), settings, resplit="80/20", name="ls")  # the user's proportions win
    assert set(again["counts"]) == {"train", "val"}
    assert "splits them 80/20 keeping" in again["changes"][0]["repairs"][0]["message"]


def test_refusals_say_what_is_wrong(data_studio, tmp_path: Path) -> None:
    settings, logos = data_studio
    before = tree_digest(logos)
    assert diagnose(logos) == []
    with pytest.raises(SubmitError, match="can be read as it is; nothing to repair .*--resplit"):
        repair_dataset(str(logos), settings)
    manifest = repair_dataset(str(logos), settings, resplit="80/20")  # a re-split is always possible
    assert set(manifest["counts"]) == {"train", "val"} and manifest["changes"][0]["repairs"] == []
    empty = logos.parent / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "readme.txt").write_text("nothing here yet\n")
    with pytest.raises(SubmitError, match="holds no images"):
        repair_dataset(str(empty), settings)
    with pytest.raises(SubmitError, match="holds no images"):
        repair_dataset(str(empty / "images"), settings)
    lost = logos.parent / "lost"
    shutil.copytree(logos, lost)
    _write_yaml(lost / "data.yaml", train="nowhere/images", val="images/val", names=NAMES5)
    shutil.rmtree(lost / "images" / "train")
    with pytest.raises(SubmitError, match="train: 'nowhere/images' does not exist .* no folder of train images"):
        repair_dataset(str(lost), settings)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(SubmitError, match="outside the allowed folders"):
        repair_dataset(str(outside), settings)
    with pytest.raises(SubmitError, match="is not a split"):
        repair_dataset(str(logos), settings, resplit="most/some")
    assert tree_digest(logos) == before


def test_the_command_checks_and_repairs(data_studio) -> None:
    settings, logos = data_studio
    target = logos.parent / "labelstudio"
    _label_studio(_source(logos), target)
    env = {"ML_STUDIO_OUTPUTS": str(settings.outputs_root), "ML_STUDIO_DATASET_ROOTS": str(logos.parent)}
    proc = mlcore("dataset", "repair", str(target), "--check", "--json", extra_env=env)
    assert proc.returncode == 0, proc.stderr
    checked = json.loads(proc.stdout)
    assert checked["path"] == str(target) and [r["kind"] for r in checked["repairs"]] == [NO_SPLITS]
    assert not (settings.outputs_root / "datasets").exists()  # --check writes nothing
    proc = mlcore("dataset", "repair", str(target), "--json", extra_env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["changes"][0]["kind"] == "repair" and set(manifest["counts"]) == set(SPLITS)
    proc = mlcore("dataset", "repair", str(logos), "--check", extra_env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "nothing to repair"
    proc = mlcore("dataset", "repair", str(logos), extra_env=env)
    assert proc.returncode == 2 and "nothing to repair" in proc.stderr and "Traceback" not in proc.stderr
