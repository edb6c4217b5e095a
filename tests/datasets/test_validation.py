"""Each defect planted in a clean generated dataset is found with its code, severity and path."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from mlcore.datasets.issues import CODES
from mlcore.datasets.loader import DatasetError
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.report import ValidationReport
from mlcore.datasets.validation.validate import validate
from tests.conftest import PROJECT_ROOT
from tests.dataset_builder import clean_dataset, jpeg_bytes, noise_image, png_bytes, snapshot, write_yaml

FAST = ValidationOptions(workers=1)


def run(root: Path, options: ValidationOptions = FAST, cache: Path | None = None) -> ValidationReport:
    return validate(root, options, cache_path=cache)


def found(report: ValidationReport, code: str, severity: str, path: str | None = None, line: int | None = None):
    matches = [
        i
        for i in report.issues
        if i.code == code
        and i.severity == severity
        and (path is None or i.path == path)
        and (line is None or i.line == line)
    ]
    assert matches, (
        f"no {severity} {code} at {path}:{line}; got {[(i.code, i.severity, i.path) for i in report.issues]}"
    )
    return matches[0]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return clean_dataset(tmp_path / "ds")


def test_clean_dataset_has_no_warning_or_error(dataset: Path) -> None:
    report = run(dataset)
    assert report.severity_counts() == {"error": 0, "warning": 0, "info": 0}
    assert report.verdict == "ready"
    assert report.counts["train"] == {
        "images": 12,
        "labelled": 12,
        "backgrounds": 0,
        "missing_labels": 0,
        "boxes": 24,
        "corrupt": 0,
    }
    assert [c["instances"] for c in report.classes] == [{"train": 12, "val": 4}, {"train": 12, "val": 4}]
    assert report.boxes["total"] == 32 and report.boxes_per_image == {"2": 16}
    assert sum(map(sum, report.centre_heatmap)) == 32
    assert report.image_sizes["top"] == [[96, 64, 16]]


def test_legal_variations_stay_silent(dataset: Path) -> None:
    """BOM, CRLF, trailing spaces, no final newline, grayscale PNG: all legal."""
    labels = dataset / "labels" / "train"
    (labels / "train_0.txt").write_bytes(b"\xef\xbb\xbf0 0.30 0.40 0.20 0.30\r\n1 0.70 0.60 0.25 0.35  \r\n")
    (labels / "train_1.txt").write_bytes(b"0 0.30 0.40 0.20 0.30\n\n1 0.70 0.60 0.25 0.35")
    (dataset / "images" / "train" / "train_2.jpg").unlink()
    (dataset / "images" / "train" / "train_2.png").write_bytes(png_bytes(noise_image(99, mode="L")))
    report = run(dataset)
    assert report.severity_counts()["warning"] == 0 and report.severity_counts()["error"] == 0
    assert report.counts["train"]["boxes"] == 24


def _link_out(image: Path) -> None:
    """`image` made a link to a copy of itself outside the dataset's folder."""
    elsewhere = image.parent.parent.parent.parent / f"elsewhere-{image.name}"
    shutil.copyfile(image, elsewhere)
    image.unlink()
    image.symlink_to(elsewhere)


def _label(root: Path, name: str, text: str | bytes, split: str = "train") -> None:
    path = root / "labels" / split / f"{name}.txt"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _exif_rotated(root: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    (root / "images/train/train_0.jpg").write_bytes(jpeg_bytes(noise_image(1), exif=exif))


def _bomb_png(root: Path) -> None:
    """A PNG whose header claims 30000 x 30000 pixels."""
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    (root / "images/train/train_0.jpg").unlink()
    (root / "images/train/train_0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + end)


def _truncated(root: Path) -> None:
    path = root / "images/train/train_0.jpg"
    path.write_bytes(path.read_bytes()[:-400])


def _labels_elsewhere(root: Path) -> None:
    (root / "labels" / "val").rename(root / "labels" / "val-labels")


def _near_copy(root: Path) -> None:
    """The same picture re-encoded at another quality: different bytes, same look."""
    image = Image.open(root / "images/train/train_3.jpg")
    (root / "images/val/val_0.jpg").write_bytes(jpeg_bytes(image, quality=60))


def _imbalance(root: Path) -> None:
    for k in range(12):
        _label(root, f"train_{k}", "0 0.3 0.4 0.2 0.3\n0 0.7 0.6 0.2 0.3\n" + ("1 0.5 0.5 0.1 0.1\n" if k == 0 else ""))


DEFECTS: list[tuple[str, Callable[[Path], None], str, str, str | None, int | None]] = [
    (
        "invalid yaml",
        lambda r: (r / "data.yaml").write_text("train: [images/train\nnames: {"),
        "yaml_error",
        "error",
        "data.yaml",
        None,
    ),
    (
        "no val key",
        lambda r: write_yaml(r, {"train": "images/train", "names": ["cat", "dog"]}),
        "yaml_error",
        "error",
        "data.yaml",
        None,
    ),
    (
        "nc mismatch",
        lambda r: write_yaml(r, {"train": "images/train", "val": "images/val", "nc": 3, "names": ["cat", "dog"]}),
        "nc_mismatch",
        "error",
        "data.yaml",
        None,
    ),
    (
        "split missing",
        lambda r: write_yaml(r, {"train": "images/train", "val": "images/nothere", "names": ["cat", "dog"]}),
        "split_missing",
        "error",
        "data.yaml",
        None,
    ),
    (
        "image outside",
        lambda r: _link_out(r / "images" / "train" / "train_0.jpg"),
        "outside_roots",
        "error",
        "images/train/train_0.jpg",
        None,
    ),
    (
        "download key",
        lambda r: write_yaml(
            r, {"train": "images/train", "val": "images/val", "names": ["cat", "dog"], "download": "bash get.sh"}
        ),
        "download_key",
        "warning",
        "data.yaml",
        None,
    ),
    (
        "unused class",
        lambda r: write_yaml(r, {"train": "images/train", "val": "images/val", "names": ["cat", "dog", "bird"]}),
        "unused_class",
        "warning",
        None,
        None,
    ),
    ("imbalance", _imbalance, "class_imbalance", "warning", None, None),
    (
        "no val instance",
        lambda r: [_label(r, f"val_{k}", "0 0.3 0.4 0.2 0.3\n", "val") for k in range(4)],
        "few_samples",
        "warning",
        None,
        None,
    ),
    (
        "zero-byte image",
        lambda r: (r / "images/train/train_0.jpg").write_bytes(b""),
        "corrupt_image",
        "error",
        "images/train/train_0.jpg",
        None,
    ),
    (
        "not an image",
        lambda r: (r / "images/train/train_0.jpg").write_text("hello"),
        "corrupt_image",
        "error",
        "images/train/train_0.jpg",
        None,
    ),
    ("truncated jpeg", _truncated, "corrupt_image", "error", "images/train/train_0.jpg", None),
    ("decompression bomb", _bomb_png, "corrupt_image", "error", "images/train/train_0.png", None),
    (
        "gif",
        lambda r: (r / "images/train/extra.gif").write_bytes(b"GIF89a..."),
        "unsupported_format",
        "warning",
        "images/train/extra.gif",
        None,
    ),
    (
        "png named jpg",
        lambda r: (r / "images/train/train_0.jpg").write_bytes(png_bytes(noise_image(1))),
        "format_mismatch",
        "warning",
        "images/train/train_0.jpg",
        None,
    ),
    (
        "tiny image",
        lambda r: (r / "images/train/train_0.jpg").write_bytes(jpeg_bytes(noise_image(1, (8, 8)))),
        "tiny_image",
        "error",
        "images/train/train_0.jpg",
        None,
    ),
    ("exif rotation", _exif_rotated, "exif_rotation", "warning", "images/train/train_0.jpg", None),
    (
        "leak to val",
        lambda r: shutil.copy(r / "images/train/train_1.jpg", r / "images/val/val_0.jpg"),
        "duplicate_image",
        "error",
        "images/val/val_0.jpg",
        None,
    ),
    (
        "copy in train",
        lambda r: shutil.copy(r / "images/train/train_1.jpg", r / "images/train/train_2.jpg"),
        "duplicate_image",
        "warning",
        "images/train/train_2.jpg",
        None,
    ),
    ("near copy in val", _near_copy, "near_duplicate", "warning", "images/val/val_0.jpg", None),
    (
        "missing label",
        lambda r: (r / "labels/train/train_0.txt").unlink(),
        "missing_label",
        "warning",
        "images/train/train_0.jpg",
        None,
    ),
    ("labels in the wrong folder", _labels_elsewhere, "missing_label", "error", "labels/val", None),
    (
        "orphan label",
        lambda r: _label(r, "ghost", "0 0.5 0.5 0.2 0.2\n"),
        "orphan_label",
        "warning",
        "labels/train/ghost.txt",
        None,
    ),
    ("background", lambda r: _label(r, "train_0", ""), "background_image", "info", "labels/train/train_0.txt", None),
    (
        "4 columns",
        lambda r: _label(r, "train_0", "0 0.5 0.5 0.2\n"),
        "bad_label_syntax",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "non-numeric",
        lambda r: _label(r, "train_0", "0 0.3 0.4 0.2 0.3\n0 a 0.5 0.2 0.2\n"),
        "bad_label_syntax",
        "error",
        "labels/train/train_0.txt",
        2,
    ),
    (
        "nan",
        lambda r: _label(r, "train_0", "0 nan 0.5 0.2 0.2\n"),
        "bad_label_syntax",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "not utf-8",
        lambda r: _label(r, "train_0", b"0 0.5 0.5 0.2 0.2 \xff\xfe\n"),
        "bad_label_syntax",
        "error",
        "labels/train/train_0.txt",
        None,
    ),
    (
        "float class",
        lambda r: _label(r, "train_0", "1.5 0.5 0.5 0.2 0.2\n"),
        "bad_label_syntax",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "class too high",
        lambda r: _label(r, "train_0", "5 0.5 0.5 0.2 0.2\n"),
        "class_out_of_range",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "negative class",
        lambda r: _label(r, "train_0", "-1 0.5 0.5 0.2 0.2\n"),
        "class_out_of_range",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "pixels not normalised",
        lambda r: _label(r, "train_0", "0 48 32 10 10\n"),
        "coords_out_of_range",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "crosses border",
        lambda r: _label(r, "train_0", "0 0.05 0.5 0.3 0.2\n"),
        "box_outside_image",
        "warning",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "zero width",
        lambda r: _label(r, "train_0", "0 0.5 0.5 0 0.2\n"),
        "degenerate_box",
        "error",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "tiny box",
        lambda r: _label(r, "train_0", "0 0.5 0.5 0.01 0.01\n"),
        "tiny_box",
        "warning",
        "labels/train/train_0.txt",
        1,
    ),
    (
        "duplicate line",
        lambda r: _label(r, "train_0", "0 0.3 0.4 0.2 0.3\n0 0.3 0.4 0.2 0.3\n"),
        "duplicate_box",
        "warning",
        "labels/train/train_0.txt",
        2,
    ),
    (
        "overlap",
        lambda r: _label(r, "train_0", "0 0.5 0.5 0.4 0.4\n0 0.5 0.5 0.41 0.4\n"),
        "overlapping_boxes",
        "warning",
        "labels/train/train_0.txt",
        2,
    ),
    (
        "polygon",
        lambda r: _label(r, "train_0", "0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4\n"),
        "segment_label",
        "info",
        "labels/train/train_0.txt",
        None,
    ),
]


@pytest.mark.parametrize(
    ("plant", "code", "severity", "path", "line"), [d[1:] for d in DEFECTS], ids=[d[0] for d in DEFECTS]
)
def test_planted_defect_is_found(
    dataset: Path, plant, code: str, severity: str, path: str | None, line: int | None
) -> None:
    plant(dataset)
    report = run(dataset)
    issue = found(report, code, severity, path, line)
    assert len(issue.message) > 30  # says what is wrong and what to do
    json.dumps(report.to_dict())


def test_every_code_of_the_contract_is_planted_somewhere() -> None:
    planted = {d[2] for d in DEFECTS}
    assert planted | {"path_resolution"} == set(CODES)


def test_labels_in_a_similar_folder_are_pointed_to(dataset: Path) -> None:
    _labels_elsewhere(dataset)
    issue = found(run(dataset), "missing_label", "error", "labels/val")
    assert "labels/val-labels/" in issue.message and "move them to labels/val/" in issue.message


def test_a_dataset_reached_through_a_link_reports_paths_relative_to_it(tmp_path: Path) -> None:
    """Its splits are read resolved; its issues still name files relative to the dataset, not absolute paths."""
    root = clean_dataset(tmp_path / "real" / "shapes")
    _near_copy(root)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    issue = found(run(tmp_path / "link" / "shapes", ValidationOptions()), "near_duplicate", "warning")
    assert issue.path == "images/val/val_0.jpg" and "images/train/train_3.jpg" in issue.message


def test_the_labels_hint_counts_every_matching_label_file(tmp_path: Path) -> None:
    """Not only those of the first 200 images: a split of 260 said "Found 200" before."""
    root = tmp_path / "many"
    for split, count in (("train", 260), ("val", 2)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / f"{split}-labels").mkdir(parents=True)
        for n in range(count):
            Image.new("RGB", (32, 32), (n % 255, 0, 0)).save(root / "images" / split / f"{split}_{n}.png")
            (root / "labels" / f"{split}-labels" / f"{split}_{n}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    write_yaml(root, {"train": "images/train", "val": "images/val", "names": ["logo"]})
    issue = found(run(root), "missing_label", "error", "labels/train")
    assert "Found 260 matching label files in labels/train-labels/" in issue.message


def test_links_that_loop_or_dangle_are_reported_and_the_rest_is_checked(dataset: Path) -> None:
    images = dataset / "images" / "train"
    (images / "loop.jpg").symlink_to(images / "loop.jpg")
    (images / "gone.jpg").symlink_to(images / "nowhere.jpg")
    (images / "again").symlink_to(images, target_is_directory=True)  # a folder loop: not followed
    report = run(dataset)
    assert (
        "Too many levels of symbolic links" in found(report, "corrupt_image", "error", "images/train/loop.jpg").message
    )
    found(report, "corrupt_image", "error", "images/train/gone.jpg")
    assert report.counts["train"]["images"] == 14 and report.counts["train"]["boxes"] == 24


def test_box_statistics_have_sizes_and_areas(dataset: Path) -> None:
    sample = run(dataset).boxes["sample"]
    assert len(sample["area_rel"]) == 32
    assert sample["area_rel"][0] == pytest.approx(sample["w_rel"][0] * sample["h_rel"][0])
    assert sample["area_px"][0] == pytest.approx(sample["w_px"][0] * sample["h_px"][0])


def test_defects_do_not_stop_the_rest_of_the_dataset(dataset: Path) -> None:
    (dataset / "images/train/train_0.jpg").write_bytes(b"")
    _label(dataset, "train_1", "0 a b c d\n")
    report = run(dataset)
    assert report.counts["train"]["images"] == 12 and report.counts["train"]["corrupt"] == 1
    assert report.counts["train"]["boxes"] == 2 * 10 + 2  # train_1's line fails; train_0's boxes still count
    assert report.verdict == "not_ready"


def test_download_is_never_run(tmp_path: Path, dataset: Path) -> None:
    marker = tmp_path / "marker"
    write_yaml(
        dataset,
        {
            "train": "images/train",
            "val": "images/missing",
            "names": ["cat", "dog"],
            "download": f"open({str(marker)!r}, 'w').write('ran')",
        },
    )
    report = run(dataset)
    found(report, "download_key", "warning")
    assert not marker.exists()


def test_nothing_is_written_to_the_dataset(tmp_path: Path, dataset: Path) -> None:
    _truncated(dataset)  # Ultralytics would rewrite this file
    before = snapshot(dataset)
    run(dataset, ValidationOptions(workers=1), cache=tmp_path / "cache.sqlite")
    assert snapshot(dataset) == before


def test_split_first_layout_with_classes_txt(tmp_path: Path) -> None:
    root = tmp_path / "split-first"
    for split, n in (("train", 3), ("valid", 2)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for k in range(n):
            (root / split / "images" / f"{k}.jpg").write_bytes(jpeg_bytes(noise_image(k + 10 * n)))
            (root / split / "labels" / f"{k}.txt").write_text("2 0.5 0.5 0.2 0.2\n")
    (root / "classes.txt").write_text("a\nb\nc\n")
    report = run(root, ValidationOptions(workers=1, min_instances=1))
    assert report.dataset["layout"] == "<split>/images" and set(report.counts) == {"train", "val"}
    assert report.dataset["names"] == {"0": "a", "1": "b", "2": "c"}
    assert report.classes[2]["instances"] == {"train": 3, "val": 2}
    found(report, "yaml_error", "info")  # no data.yaml: said once, as information


def test_folder_without_class_names_uses_numbers(tmp_path: Path) -> None:
    root = clean_dataset(tmp_path / "ds")
    (root / "data.yaml").unlink()
    report = run(root)
    assert report.dataset["names_known"] is False
    assert [c["name"] for c in report.classes] == ["0", "1"]


def test_list_file_split_and_absolute_path(tmp_path: Path) -> None:
    root = clean_dataset(tmp_path / "ds")
    (root / "train.txt").write_text("".join(f"./images/train/train_{k}.jpg\n" for k in range(5)))
    write_yaml(root, {"path": str(root), "train": "train.txt", "val": ["images/val"], "names": {0: "cat", 1: "dog"}})
    report = run(root, ValidationOptions(workers=1, min_instances=1))
    assert report.counts["train"]["images"] == 5 and report.counts["val"]["images"] == 4


@pytest.mark.parametrize("make", ["missing", "file", "empty-folder"])
def test_unreadable_datasets_raise_a_clear_error(tmp_path: Path, make: str) -> None:
    target = tmp_path / "x"
    if make == "file":
        target.write_text("not a dataset")
    elif make == "empty-folder":
        target.mkdir()
    with pytest.raises(DatasetError) as info:
        run(target)
    assert str(tmp_path) in str(info.value) or "x" in str(info.value)


def test_non_utf8_file_names_are_reported_and_saved(tmp_path: Path, dataset: Path, settings) -> None:
    from mlcore.datasets.validation.saved_reports import list_reports, load_report, save_report

    odd = os.fsencode(dataset / "images" / "train") + b"/bad\xffname.jpg"
    with open(odd, "wb") as f:
        f.write(b"")
    report = run(dataset, FAST, tmp_path / "facts.sqlite")  # cached under its bytes
    issue = found(report, "corrupt_image", "error")
    assert "name.jpg" in issue.path
    assert run(dataset, FAST, tmp_path / "facts.sqlite").to_dict()["issues"] == report.to_dict()["issues"]
    saved = save_report(report, settings.outputs_root)
    assert list_reports(settings.outputs_root, report.dataset["source"])[0].folder == saved.folder
    again = load_report(saved)
    assert again.severity_counts() == report.severity_counts()
    assert "name.jpg" in saved.issues_file.read_text()


def test_cache_skips_unchanged_images_and_sees_changes(tmp_path: Path, dataset: Path) -> None:
    cache = tmp_path / "facts.sqlite"
    first = run(dataset, FAST, cache)
    assert first.cache_hits == 0
    second = run(dataset, FAST, cache)
    assert second.cache_hits == 16 and second.to_dict()["issues"] == first.to_dict()["issues"]
    (dataset / "images/train/train_0.jpg").write_bytes(b"")
    third = run(dataset, FAST, cache)
    assert third.cache_hits == 15
    found(third, "corrupt_image", "error", "images/train/train_0.jpg")


def test_parallel_reading_gives_the_same_report(tmp_path: Path) -> None:
    root = clean_dataset(tmp_path / "big", train=70, val=10)
    shutil.copy(root / "images/train/train_1.jpg", root / "images/val/val_0.jpg")
    serial = run(root, ValidationOptions(workers=1))
    parallel = run(root, ValidationOptions(workers=2))
    assert parallel.to_dict()["issues"] == serial.to_dict()["issues"]
    assert parallel.counts == serial.counts


def test_options_turn_checks_off(dataset: Path) -> None:
    (dataset / "images/train/train_0.jpg").write_bytes(b"")
    _label(dataset, "train_1", "9 0.5 0.5 0.2 0.2\n")
    (dataset / "labels/train/train_2.txt").unlink()
    report = run(dataset, ValidationOptions(check_images=False, check_labels=False, validate_format=False))
    codes = {i.code for i in report.issues}
    assert not codes & {"corrupt_image", "class_out_of_range", "missing_label"}
    assert report.options["check_images"] is False


def test_tiny_boxes_at_imgsz_lead_to_a_recommendation(dataset: Path) -> None:
    for k in range(12):
        _label(dataset, f"train_{k}", "0 0.3 0.4 0.06 0.09\n1 0.7 0.6 0.06 0.09\n")
    report = run(dataset, ValidationOptions(workers=1, imgsz=64))
    assert any("under 8 px at imgsz 64" in r for r in report.recommendations)


def test_options_from_the_original_request_body() -> None:
    options = ValidationOptions.from_dict(
        {"dataset_path": "x", "check_images": True, "check_labels": False, "validate_format": True}
    )
    assert options.check_labels is False
    with pytest.raises(ValueError, match="unknown option"):
        ValidationOptions.from_dict({"check_imgs": True})
    with pytest.raises(ValueError, match="imgsz=10"):
        ValidationOptions(imgsz=10)


def test_logo_tdtu_through_its_roboflow_paths(tmp_path: Path) -> None:
    source = PROJECT_ROOT.parent / "shared" / "datasets" / "logo_tdtu"
    if not source.exists():
        pytest.skip("../shared/datasets/logo_tdtu is not beside this checkout")
    root = tmp_path / "logo_tdtu"
    shutil.copytree(source, root)
    report = run(root, ValidationOptions(workers=2))
    assert report.counts["train"]["images"] == 243 and report.counts["val"]["images"] == 68
    assert report.counts["test"]["images"] == 35
    resolved = [i for i in report.issues if i.code == "path_resolution"]
    assert {i.split for i in resolved} == {"train", "val", "test"}
    assert "'../train/images'" in resolved[0].message or "'../valid/images'" in resolved[0].message
    assert report.severity_counts()["error"] == 0
    assert report.classes[0]["name"] == "logo_tdtu" and report.boxes["total"] == 359


def test_an_unchanged_dataset_reuses_its_report_and_any_change_is_seen(tmp_path: Path, dataset: Path) -> None:
    cache = tmp_path / "facts.sqlite"
    first = run(dataset, FAST, cache)
    again = run(dataset, FAST, cache)
    assert again.to_dict()["issues"] == first.to_dict()["issues"] and again.counts == first.counts
    _label(dataset, "train_3", "0 0.3 0.4 0.2 0.3\n3 0.5 0.5 0.2 0.2\n")  # a label changes, no image does
    changed = run(dataset, FAST, cache)
    found(changed, "class_out_of_range", "error", "labels/train/train_3.txt", 2)
    (dataset / "labels" / "train" / "stray.txt").write_text("")  # a new file in a label folder
    found(run(dataset, FAST, cache), "orphan_label", "warning", "labels/train/stray.txt")
    other = run(dataset, ValidationOptions(workers=1, imgsz=32), cache)  # other options: checked again
    assert other.options["imgsz"] == 32


def test_a_dangling_link_does_not_hide_the_other_files_from_the_fingerprint(dataset: Path) -> None:
    from mlcore.datasets.validation.fingerprint import dataset_fingerprint as _fingerprint

    (dataset / "images" / "train" / "gone.jpg").symlink_to(dataset / "nowhere.jpg")
    (dataset / "labels" / "train" / "gone.txt").symlink_to(dataset / "nowhere.txt")
    from mlcore.datasets.loader import load_dataset

    loaded = load_dataset(dataset)
    entries = [(split, image) for split, images in loaded.splits.items() for image in images]
    _, stats = _fingerprint(loaded, entries, FAST)
    regular = [p for p in dataset.rglob("*") if p.is_file() and p.parent.name in ("train", "val")]
    assert {str(p) for p in regular} == set(stats)  # every readable file, whatever the listing order


def test_a_changed_label_is_seen_even_beside_a_dangling_link(tmp_path: Path, dataset: Path) -> None:
    cache = tmp_path / "facts.sqlite"
    (dataset / "labels" / "train" / "gone.txt").symlink_to(dataset / "nowhere.txt")
    run(dataset, FAST, cache)
    _label(dataset, "train_5", "0 0.3 0.4 0.2 0.3\n4 0.5 0.5 0.2 0.2\n")
    found(run(dataset, FAST, cache), "class_out_of_range", "error", "labels/train/train_5.txt", 2)
