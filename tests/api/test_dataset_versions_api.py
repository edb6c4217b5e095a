"""The dataset version routes of the HTTP API: versions made, listed, read and compared; fix lists under the outputs;
merges with a class mapping; COCO out and back in; a layout checked and repaired; bad input answered 4xx, never 500."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from PIL import Image

from mlcore.api.app import create_api
from mlcore.core.settings import LOCAL_USER, Settings
from mlcore.datasets.loader import load_dataset
from tests.conftest import tree_digest

API = "/api/v1/ml"


@pytest.fixture
def studio(data_studio: tuple[Settings, Path]) -> tuple[TestClient, Settings, Path]:
    """A client of an API whose only dataset root holds a copy of the small dataset (data/logos)."""
    settings, source = data_studio
    with TestClient(create_api(settings)) as client:
        yield client, settings, source


def _label_lines(root: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (root / "labels").rglob("*.txt"))


def _versions_made(settings: Settings) -> list[Path]:
    return sorted((settings.outputs_root / "datasets").glob("*/v*"))


def _refused(answer, status: int, *words: str) -> str:
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    for word in words:
        assert word in detail, detail
    return detail


def test_a_resplit_version_is_listed_read_by_name_and_compared_with_its_source(studio) -> None:
    client, settings, source = studio
    before = tree_digest(source)
    answer = client.post(f"{API}/datasets/versions", json={"source": "logos", "resplit": "60/30/10", "tolerance": 0.2})
    assert answer.status_code == 201, answer.text
    manifest = answer.json()
    assert (manifest["name"], manifest["version"], manifest["made_by"]) == ("logos", 1, LOCAL_USER)
    assert manifest["parent"]["path"] == str(source)  # "logos" was looked up in the dataset roots
    change = manifest["changes"][0]
    assert change["kind"] == "resplit" and change["moved"] > 0 and sum(manifest["counts"].values()) == 24
    assert tree_digest(source) == before, "the source dataset was written"

    assert client.get(f"{API}/datasets/versions").json() == [manifest]
    assert client.get(f"{API}/datasets/versions/logos/1").json() == manifest
    assert client.get(f"{API}/datasets/versions/logos/v1").json() == manifest
    _refused(client.get(f"{API}/datasets/versions/logos/7"), 404, "no version '7'", "it has v1")
    _refused(client.get(f"{API}/datasets/versions/birds/1"), 404, "no dataset versions named 'birds'", "logos")

    diff = client.post(f"{API}/datasets/compare", json={"a": str(source), "b": manifest["path"]})
    assert diff.status_code == 200, diff.text
    counts = diff.json()["counts"]
    assert counts["moved"] == change["moved"] and counts["added"] == counts["removed"] == counts["relabelled"] == 0
    moved = {(Path(m["image"]).name, m["from"], m["to"]) for m in diff.json()["moved"]}
    assert moved == {(Path(m["image"]).name, m["from"], m["to"]) for m in change["moves"]}


def _fix_list(path: Path, label_file: str, as_is: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["label_file", "line", "type", "score", "as_is", "suggested"])
        writer.writeheader()
        writer.writerow(
            {"label_file": label_file, "line": 1, "type": "spurious", "score": 0.1, "as_is": as_is, "suggested": ""}
        )
    return path


def test_a_fix_list_under_the_outputs_is_applied_and_one_outside_the_roots_is_refused(studio, tmp_path: Path) -> None:
    client, settings, source = studio
    label = sorted(p for p in (source / "labels" / "train").glob("*.txt") if p.read_text().strip())[0]
    name, first = label.relative_to(source).as_posix(), label.read_text().splitlines()[0]
    audit = settings.outputs_root / "quality" / "audits" / "a1" / "fix_list.csv"  # not a dataset root
    assert not any(audit.is_relative_to(r) for r in settings.dataset_roots)
    _fix_list(audit, name, first)
    answer = client.post(f"{API}/datasets/versions", json={"source": str(source), "apply_fixes": str(audit)})
    assert answer.status_code == 201, answer.text
    manifest = answer.json()
    assert manifest["changes"][0] | {"file": None} == {
        "kind": "apply_fixes",
        "file": None,
        "fixes": 1,
        "changed": 0,
        "removed": 1,
        "added": 0,
    }
    assert (Path(manifest["path"]) / name).read_text().splitlines() == label.read_text().splitlines()[1:]
    body = {"source": "logos", "apply_fixes": "quality/audits/a1/fix_list.csv"}
    relative = client.post(f"{API}/datasets/versions", json=body)
    assert relative.status_code == 201 and relative.json()["version"] == 2, relative.text  # looked up in the outputs

    outside = _fix_list(tmp_path / "elsewhere" / "fix_list.csv", name, first)
    made = _versions_made(settings)
    _refused(
        client.post(f"{API}/datasets/versions", json={"source": "logos", "apply_fixes": str(outside)}),
        400,
        "outside the allowed folders (fix lists are read only from",
    )
    drop = tmp_path / "elsewhere" / "drop.txt"
    drop.write_text("images/train/x.jpg\n")
    _refused(
        client.post(f"{API}/datasets/versions", json={"source": "logos", "remove": str(drop)}),
        400,
        "outside the allowed folders",
    )
    _refused(
        client.post(f"{API}/datasets/versions", json={"source": "logos", "remove": str(audit.parent)}),
        400,
        "is a folder",
    )
    assert _versions_made(settings) == made, "a refused request wrote a version"

    removed = client.post(f"{API}/datasets/versions", json={"source": "logos", "remove": "errors"})
    assert removed.status_code == 201 and removed.json()["changes"][0]["kind"] == "remove", removed.text


def _labelled_folder(target: Path, names: list[str], lines: dict[str, str]) -> Path:
    """images/, labels/, classes.txt: another dataset with classes of its own."""
    (target / "images").mkdir(parents=True)
    (target / "labels").mkdir()
    rng = np.random.default_rng(3)
    for stem, text in lines.items():
        Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(target / "images" / f"{stem}.jpg")
        (target / "labels" / f"{stem}.txt").write_text(text)
    (target / "classes.txt").write_text("\n".join(names) + "\n")
    return target


def test_a_merge_follows_the_class_map(studio) -> None:
    client, settings, source = studio
    ours = load_dataset(source).names
    lines = {"m_a": "0 0.5 0.5 0.2 0.2\n", "m_b": "1 0.3 0.3 0.1 0.1\n2 0.6 0.6 0.2 0.2\n"}
    other = _labelled_folder(source.parent / "other", [ours[1], "pelican", "Heron"], lines)
    body = {"source": "logos", "merge": "other", "class_map": {"Heron": ours[0]}}
    answer = client.post(f"{API}/datasets/versions", json=body)
    assert answer.status_code == 201, answer.text
    manifest = answer.json()
    change = manifest["changes"][0]
    assert change["kind"] == "merge" and change["from"] == str(other) and change["appended"] == ["pelican"]
    assert change["classes"] == {ours[1]: ours[1], "pelican": "pelican", "Heron": ours[0]}
    version = Path(manifest["path"])
    assert load_dataset(version).names == {**ours, len(ours): "pelican"}
    assert [line.split()[0] for line in (version / "labels/train/m_b.txt").read_text().splitlines()] == [
        str(len(ours)),
        "0",
    ]
    _refused(
        client.post(f"{API}/datasets/versions", json={**body, "class_map": {"Egret": "x"}}),
        400,
        "--map names Egret, which the dataset to merge does not have",
    )
    unmerged = {"source": "logos", "resplit": "80/20", "class_map": {"a": "b"}}
    _refused(client.post(f"{API}/datasets/versions", json=unmerged), 400, "give the dataset to merge")


def test_a_coco_document_exported_by_the_api_imports_back_with_the_same_labels(studio, tmp_path: Path) -> None:
    client, settings, source = studio
    answer = client.get(f"{API}/datasets/export-coco", params={"path": "logos"})
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert len(document["images"]) == 24 and len(document["annotations"]) == _label_lines(source) > 0
    val = client.get(f"{API}/datasets/export-coco", params={"path": str(source), "split": "val"}).json()
    assert len(val["images"]) == len(load_dataset(source).splits["val"]) < 24
    _refused(
        client.get(f"{API}/datasets/export-coco", params={"path": "logos", "split": "holdout"}),
        404,
        "no 'holdout' split",
        "train (17 images)",
        "val",
        "test",
    )

    (source.parent / "logos.json").write_text(json.dumps(document))
    body = {"source": "logos.json", "images": str(source), "name": "roundtrip"}
    imported = client.post(f"{API}/datasets/import-coco", json=body)
    assert imported.status_code == 201, imported.text
    manifest = imported.json()
    version = Path(manifest["path"])
    assert manifest["name"] == "roundtrip" and manifest["made_by"] == LOCAL_USER
    assert _label_lines(version) == len(document["annotations"]) and manifest["validation"]["error"] == 0
    assert manifest["counts"] == {s: len(v) for s, v in load_dataset(source).splits.items()}

    broken = json.loads(json.dumps(document))
    broken["annotations"][0]["bbox"] = ["left", 0, 1, 1]  # a file a hand edit broke
    (source.parent / "broken.json").write_text(json.dumps(broken))
    _refused(
        client.post(f"{API}/datasets/import-coco", json={"source": "broken.json", "images": str(source)}),
        400,
        "not a usable COCO detection file",
    )
    _refused(client.post(f"{API}/datasets/import-coco", json={"source": "logos.json"}), 400, "images of logos")
    secret = tmp_path / "secret.jpg"  # outside the roots: a file name must not reach it
    shutil.copy(next((source / "images" / "train").iterdir()), secret)
    for name in (str(secret), f"../../{secret.name}"):
        document["images"][0]["file_name"] = name
        (source.parent / "escape.json").write_text(json.dumps(document))
        _refused(
            client.post(f"{API}/datasets/import-coco", json={"source": "escape.json", "images": str(source)}),
            400,
            "names an image outside",
        )
    document["images"][0]["file_name"] = "images/train/a\x00.jpg"
    (source.parent / "nul.json").write_text(json.dumps(document))
    _refused(
        client.post(f"{API}/datasets/import-coco", json={"source": "nul.json", "images": str(source)}),
        400,
        "not a usable COCO detection file",
    )
    assert len(_versions_made(settings)) == 1


def test_a_wrong_train_path_is_diagnosed_then_repaired(studio) -> None:
    client, settings, source = studio
    broken = source.parent / "broken"
    shutil.copytree(source, broken)
    data = yaml.safe_load((broken / "data.yaml").read_text())
    (broken / "data.yaml").write_text(yaml.safe_dump({**data, "train": "../exports/images/train"}, sort_keys=False))
    before = tree_digest(broken)

    checked = client.post(f"{API}/datasets/repair", json={"source": "broken/data.yaml", "check": True})
    assert checked.status_code == 200, checked.text
    assert checked.json()["path"] == str(broken / "data.yaml")
    assert [(r["kind"], r["split"]) for r in checked.json()["repairs"]] == [("split_path", "train")]
    assert "did you mean 'images/train'" in checked.json()["repairs"][0]["message"]
    assert _versions_made(settings) == [], "a check wrote a version"

    repaired = client.post(f"{API}/datasets/repair", json={"source": "broken/data.yaml"})
    assert repaired.status_code == 201, repaired.text
    manifest = repaired.json()
    assert (manifest["name"], manifest["version"], manifest["made_by"]) == ("broken", 1, LOCAL_USER)
    assert manifest["counts"] == {"train": 17, "val": 5, "test": 2} and manifest["validation"]["error"] == 0
    assert [r["kind"] for r in manifest["changes"][0]["repairs"]] == ["split_path"]
    assert tree_digest(broken) == before, "the source dataset was written"

    healthy = client.post(f"{API}/datasets/repair", json={"source": "logos", "check": True})
    assert healthy.status_code == 200 and healthy.json()["repairs"] == []
    _refused(client.post(f"{API}/datasets/repair", json={"source": "logos"}), 400, "nothing to repair")


def test_bad_input_is_answered_with_what_is_wrong_never_500(studio, tmp_path: Path) -> None:
    client, settings, source = studio
    versions = f"{API}/datasets/versions"
    answer = client.post(versions, json={"source": "logos", "resplit": "80/20", "re_split": "80/20"})
    assert answer.status_code == 422 and answer.json()["error"] == "bad_field" and "re_split" in answer.json()["detail"]
    _refused(client.post(versions, json={"source": "logos"}), 400, "nothing to change")
    _refused(client.get(f"{versions}/logos/1"), 404, "none has been made yet")
    outside = tmp_path / "elsewhere"
    shutil.copytree(source, outside)
    refused_outside = "outside the allowed folders"
    _refused(client.post(versions, json={"source": str(outside), "resplit": "80/20"}), 400, refused_outside)
    _refused(client.get(f"{API}/datasets/export-coco", params={"path": str(outside)}), 400, refused_outside)
    _refused(client.post(f"{API}/datasets/compare", json={"a": "logos", "b": str(outside)}), 400, "outside")
    _refused(client.post(f"{API}/datasets/repair", json={"source": str(outside), "check": True}), 400, "outside")
    _refused(client.post(f"{API}/datasets/import-coco", json={"source": str(outside)}), 400, "outside")
    _refused(client.post(f"{API}/datasets/compare", json={"a": "logos", "b": "logos/images"}), 400, "cannot be used")
    _refused(client.post(versions, json={"source": "~no-such-user-here/logos", "resplit": "80/20"}), 400, "home")
    for split in ("seventy", "nan/20/10", "1e309/1"):
        _refused(client.post(versions, json={"source": "logos", "resplit": split}), 400, "is not a split")
    for tolerance in (-0.1, 2):
        assert (
            client.post(versions, json={"source": "logos", "resplit": "80/20", "tolerance": tolerance}).status_code
            == 422
        )
    assert client.post(versions, json={"source": "logos", "add": "logos", "add_to": "holdout"}).status_code == 422
    _refused(client.post(versions, json={"source": "logos", "name": "../up", "resplit": "80/20"}), 400, "name=")
    assert _versions_made(settings) == []
