"""COCO import and export: YOLO → COCO → YOLO gives the same labels, pycocotools reads the export, a
Roboflow-style export (one JSON per split) imports with the right counts, and bad files are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlcore.core.errors import SubmitError
from mlcore.datasets.coco import ROBOFLOW_JSON, export_coco, import_coco
from mlcore.datasets.loader import load_dataset
from tests.conftest import mlcore


def _boxes(root: Path, split: str) -> dict[str, list[tuple]]:
    """Every label line of a split, by image name, rounded to 4 decimals."""
    return {
        p.stem: sorted(tuple(round(float(v), 4) for v in line.split()) for line in p.read_text().splitlines())
        for p in sorted((root / "labels" / split).glob("*.txt"))
    }


def test_yolo_to_coco_to_yolo_gives_the_same_labels_and_pycocotools_reads_it(data_studio, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    settings, source = data_studio
    dataset = load_dataset(source)
    document = export_coco(dataset)
    out = tmp_path / "data" / "logos.json"
    out.write_text(json.dumps(document))
    coco = COCO(str(out))
    assert len(coco.getImgIds()) == sum(len(v) for v in dataset.splits.values())
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(dataset.names.values())
    splits = list(dataset.splits)
    assert len(coco.getAnnIds()) == sum(len(v) for s in splits for v in _boxes(source, s).values())
    manifest = import_coco(out, source, settings, name="roundtrip")
    for split in splits:  # the file names keep their split: every split comes back with the same labels
        assert _boxes(Path(manifest["path"]), split) == _boxes(source, split)
    assert load_dataset(Path(manifest["path"])).names == dataset.names and manifest["validation"]["error"] == 0


def _roboflow_export(source: Path, target: Path) -> dict:
    """A Roboflow "COCO" export of the dataset: train/, valid/, test/ each with its images and _annotations.coco.json,
    plus one crowd box, one box past the image's edge, one without area, one background and one missing image."""
    dataset = load_dataset(source)
    for split, folder in (("train", "train"), ("val", "valid"), ("test", "test")):
        (target / folder).mkdir(parents=True)
        document = export_coco(dataset, split)
        for image in document["images"]:
            shutil.copy(source / image["file_name"], target / folder / Path(image["file_name"]).name)
            image["file_name"] = Path(image["file_name"]).name
        document["categories"] = [{"id": 0, "name": "logos", "supercategory": "none"}] + document["categories"]
        if split == "train":
            first = document["annotations"]
            first[0]["iscrowd"] = 1
            first[1]["bbox"][2] += 500  # past the right edge: clipped
            first[2]["bbox"][3] = 0  # no area: dropped
            document["images"].append({"id": 999, "file_name": "gone.jpg", "width": 96, "height": 96})
            background = document["images"][-2]["id"]
            document["annotations"] = [a for a in first if a["image_id"] != background]
        (target / folder / ROBOFLOW_JSON).write_text(json.dumps(document))
    return {s: len(v) for s, v in dataset.splits.items()}


def test_a_roboflow_coco_export_imports_with_the_right_counts(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    counts = _roboflow_export(source, tmp_path / "data" / "export")
    manifest = import_coco(tmp_path / "data" / "export", None, settings)
    change = manifest["changes"][0]
    assert manifest["counts"] == counts  # the missing image is left out, the background kept
    assert (change["iscrowd"], change["clipped"], change["no_area"], change["missing_images"]) == (1, 1, 1, 1)
    assert change["backgrounds"] >= 1 and any("gone.jpg" in d for d in change["dropped"])
    version = load_dataset(Path(manifest["path"]))
    assert list(version.names.values()) == ["logos", *load_dataset(source).names.values()]  # Roboflow's class 0 kept
    assert manifest["validation"]["error"] == 0
    lines = [
        line
        for p in (Path(manifest["path"]) / "labels" / "train").glob("*.txt")
        for line in p.read_text().split("\n")
        if line
    ]
    assert all(0 <= float(v) <= 1 for line in lines for v in line.split()[1:])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image ids"),
        (lambda d: d["categories"].append({"id": 77}), "without a name"),
        (lambda d: d["annotations"].append({**d["annotations"][0], "image_id": 12345}), "unknown image"),
        (lambda d: d.pop("images"), "not a COCO detection file"),
    ],
)
def test_bad_coco_files_are_refused_with_what_is_wrong(data_studio, tmp_path: Path, change, message: str) -> None:
    settings, source = data_studio
    document = export_coco(load_dataset(source), "val")
    change(document)
    bad = tmp_path / "data" / "bad.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(SubmitError, match=message):
        import_coco(bad, source, settings)
    assert not (settings.outputs_root / "datasets" / "bad").exists()


def test_a_coco_file_naming_images_outside_its_folder_or_malformed_is_refused(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    outside = tmp_path / "private.jpg"
    shutil.copy(next((source / "images" / "val").iterdir()), outside)
    for file_name in ("../../private.jpg", str(outside)):  # up out of its folder, or anywhere
        document = export_coco(load_dataset(source), "val")
        document["images"][0]["file_name"] = file_name
        bad = tmp_path / "data" / "escape.json"
        bad.write_text(json.dumps(document))
        with pytest.raises(SubmitError, match="names an image outside"):
            import_coco(bad, source, settings)
    document = export_coco(load_dataset(source), "val")
    document["annotations"][0]["bbox"] = ["a", "b", "c", "d"]
    bad.write_text(json.dumps(document))
    with pytest.raises(SubmitError, match="is not a usable COCO detection file"):
        import_coco(bad, source, settings)
    with pytest.raises(SubmitError, match="outside the allowed folders"):
        import_coco(tmp_path / "private.jpg", source, settings)
    document = export_coco(load_dataset(source), "val")
    bad.write_text(json.dumps(document))
    with pytest.raises(SubmitError, match=r"none of the \d+ images the file names is in .*/labels \(e.g. "):
        import_coco(bad, source / "labels", settings)  # the wrong folder
    assert not (settings.outputs_root / "datasets" / "escape").exists()


def test_the_commands_import_and_export_coco(data_studio, tmp_path: Path) -> None:
    settings, source = data_studio
    env = {"ML_STUDIO_OUTPUTS": str(settings.outputs_root), "ML_STUDIO_DATASET_ROOTS": str(source.parent)}
    out = tmp_path / "data" / "all.json"
    proc = mlcore("dataset", "export-coco", str(source), "--out", str(out), extra_env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(out.read_text())["images"]) == sum(len(v) for v in load_dataset(source).splits.values())
    proc = mlcore("dataset", "import-coco", str(out), "--images", str(source), "--json", extra_env=env)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert {"path", "parent", "changes"} <= set(manifest) and manifest["changes"][0]["kind"] == "import_coco"
    proc = mlcore("dataset", "import-coco", str(out), extra_env=env)
    assert proc.returncode == 2 and "--images" in proc.stderr and "Traceback" not in proc.stderr
