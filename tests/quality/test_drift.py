"""The drift report on synthetic image folders: darker, blurrier and unchanged copies, broken files, the PSI itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from mlcore.charts import drift as drift_charts
from mlcore.quality import drift
from mlcore.quality.drift import (
    IMAGE_FEATURES,
    categorical_psi,
    drift_report,
    image_statistics,
    prediction_statistics,
    psi,
)

N_IMAGES = 30


def _textured(rng: np.random.Generator) -> np.ndarray:
    """A random RGB picture of varied size: a colour gradient, blocks, and fine noise (so blur has edges to lose)."""
    width, height = int(rng.integers(160, 480)), int(rng.integers(120, 400))
    ys, xs = np.mgrid[0:height, 0:width] / max(width, height)
    base = rng.uniform(40, 200, size=3)
    slope = rng.uniform(-60, 60, size=(2, 3))
    pixels = base + xs[..., None] * slope[0] + ys[..., None] * slope[1]
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        pixels[y0 : y0 + int(rng.integers(10, 80)), x0 : x0 + int(rng.integers(10, 80))] += rng.uniform(-70, 70, 3)
    pixels += rng.normal(0, rng.uniform(5, 25), size=pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _write(folder: Path, pictures: list[np.ndarray]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, pixels in enumerate(pictures):
        path = folder / f"{k:03d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def pictures() -> list[np.ndarray]:
    rng = np.random.default_rng(20240611)
    return [_textured(rng) for _ in range(N_IMAGES)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, pictures: list[np.ndarray]) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("drift")
    blurred = [np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(3))) for p in pictures]
    return {
        "reference": _write(root / "reference", pictures),
        "same": _write(root / "same", [p.copy() for p in pictures]),
        "dark": _write(root / "dark", [(p * 0.5).astype(np.uint8) for p in pictures]),
        "blurred": _write(root / "blurred", blurred),
    }


@pytest.fixture(scope="module")
def reference(folders: dict[str, list[Path]]) -> dict[str, np.ndarray]:
    return image_statistics(folders["reference"])[0]


def _entry(report: dict, name: str) -> dict:
    return next(e for e in report["features"] if e["name"] == name)


def test_statistics_measure_each_image(folders: dict[str, list[Path]], pictures: list[np.ndarray]) -> None:
    seen: list[tuple[int, int]] = []
    features, readable, skipped = image_statistics(folders["reference"], progress=lambda d, t: seen.append((d, t)))
    assert readable == list(range(N_IMAGES)) and skipped == []
    assert set(features) == set(IMAGE_FEATURES) and all(len(v) == N_IMAGES for v in features.values())
    assert features["width"].tolist() == [p.shape[1] for p in pictures]  # the full size, not the thumbnail's
    assert features["height"].tolist() == [p.shape[0] for p in pictures]
    np.testing.assert_allclose(features["aspect"], features["width"] / features["height"])
    assert np.all((features["brightness"] > 0) & (features["brightness"] < 255))
    assert seen[-1] == (N_IMAGES, N_IMAGES) and len(seen) == N_IMAGES


def test_grey_image_has_no_saturation_or_colour_and_flat_has_no_edges(tmp_path: Path) -> None:
    Image.new("RGB", (64, 48), (90, 90, 90)).save(tmp_path / "flat.png")
    Image.new("RGB", (64, 48), (255, 0, 0)).save(tmp_path / "red.png")
    features, _, _ = image_statistics([tmp_path / "flat.png", tmp_path / "red.png"])
    assert features["brightness"][0] == pytest.approx(90, abs=0.5)
    assert features["contrast"][0] == pytest.approx(0, abs=1e-9)
    assert features["saturation"].tolist() == pytest.approx([0, 255], abs=0.5)
    assert features["colourfulness"].tolist() == pytest.approx([0, 0.3 * np.hypot(255, 127.5)])  # 0.3 x mean colour
    assert features["blur"][0] == pytest.approx(0, abs=1e-9)


def test_exif_orientation_swaps_width_and_height(tmp_path: Path) -> None:
    image = Image.new("RGB", (200, 100), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    image.save(tmp_path / "turned.jpg", exif=exif)
    image.save(tmp_path / "plain.jpg")
    features, _, _ = image_statistics([tmp_path / "turned.jpg", tmp_path / "plain.jpg"])
    assert features["width"].tolist() == [100, 200] and features["height"].tolist() == [200, 100]
    assert features["aspect"].tolist() == pytest.approx([0.5, 2.0])


def test_broken_files_are_skipped_and_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    good = tmp_path / "good.jpg"
    Image.fromarray(_textured(rng)).save(good, quality=90)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    large = tmp_path / "large.png"
    Image.new("RGB", (1000, 1000)).save(large)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 480 * 400)  # the good one fits; 1000x1000 is over twice: a "bomb"
    features, readable, skipped = image_statistics([corrupt, good, truncated, large])
    assert readable == [1] and len(features["brightness"]) == 1
    assert [p for p, _ in skipped] == [str(corrupt), str(truncated), str(large)]
    assert "truncated" in skipped[1][1] or "broken" in skipped[1][1]
    assert "DecompressionBomb" in skipped[2][1]


def test_darker_copy_is_drift_on_brightness(folders: dict[str, list[Path]], reference: dict[str, np.ndarray]) -> None:
    current, _, _ = image_statistics(folders["dark"])
    report = drift_report(reference, current)
    brightness = _entry(report, "brightness")
    assert brightness["verdict"] == "drift" and brightness["psi"] >= drift.DRIFT_PSI
    assert "darker" in brightness["sentence"] and brightness["sentence"].startswith("new images are darker")
    assert brightness["current_median"] < brightness["reference_median"]
    assert report["verdict"] == "drift"
    assert report["summary"].startswith("Drift in ") and "brightness" in report["summary"]
    # x0.5 keeps the order, so the darkest new images are the darkest training ones
    assert set(brightness["tails"]) == set(np.argsort(reference["brightness"])[:6].tolist())
    assert _entry(report, "width")["verdict"] == "stable"  # the sizes did not change
    assert report["reference_images"] == report["current_images"] == N_IMAGES and report["note"] is None


def test_unchanged_copy_is_stable(folders: dict[str, list[Path]], reference: dict[str, np.ndarray]) -> None:
    current, _, _ = image_statistics(folders["same"])
    report = drift_report(reference, current)
    assert report["verdict"] == "stable"
    assert [e["name"] for e in report["features"]] == list(IMAGE_FEATURES)
    assert all(e["psi"] < drift.SHIFT_PSI and e["verdict"] == "stable" for e in report["features"])
    assert report["summary"].startswith("No drift: every feature is stable")
    assert "about as bright" in _entry(report, "brightness")["sentence"]


def test_blurred_copy_is_blurrier(folders: dict[str, list[Path]], reference: dict[str, np.ndarray]) -> None:
    current, _, _ = image_statistics(folders["blurred"])
    report = drift_report(reference, current)
    blur = _entry(report, "blur")
    assert blur["verdict"] == "drift" and "blurrier" in blur["sentence"]
    assert blur["current_median"] < blur["reference_median"]
    assert set(blur["tails"]) <= set(range(N_IMAGES)) and len(blur["tails"]) == 6
    assert current["blur"][blur["tails"][0]] == current["blur"].min()


def test_psi_identical_zero_shifted_large() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=2000)
    assert psi(values, values) == 0.0
    assert psi(values, values + 1.0) > drift.DRIFT_PSI
    assert psi(values, rng.normal(size=2000)) < drift.SHIFT_PSI  # another sample of the same population


def test_psi_constant_and_point_masses() -> None:
    constant = np.full(20, 640.0)
    assert psi(constant, constant) == 0.0
    assert psi(constant, np.full(20, 1920.0)) > drift.DRIFT_PSI  # bigger than the only size seen
    assert psi(constant, np.full(20, 320.0)) > drift.DRIFT_PSI  # and smaller
    counts = np.array([1] * 40 + [2] * 30 + [3] * 20 + [4] * 10, dtype=float)
    assert psi(counts, np.zeros(50)) > drift.DRIFT_PSI  # no detections at all, below the reference's minimum
    assert psi(counts, np.full(50, 6.0)) > drift.DRIFT_PSI
    with pytest.raises(ValueError):
        psi(np.array([]), counts)


def test_bins_shrink_for_small_sets_so_chance_is_not_drift() -> None:
    assert drift.psi_bins(5000, 5000) == drift.PSI_BINS and drift.psi_bins(30, 30) == 2
    rng = np.random.default_rng(11)
    verdicts = [
        _entry(
            drift_report({"brightness": rng.normal(100, 20, 200)}, {"brightness": rng.normal(100, 20, 200)}),
            "brightness",
        )["verdict"]
        for _ in range(20)
    ]
    assert "drift" not in verdicts and verdicts.count("stable") >= 15


def test_class_mix_change_is_named() -> None:
    assert categorical_psi([50, 50], [50, 50]) == 0.0
    assert categorical_psi([90, 10, 0], [10, 90, 0]) > drift.DRIFT_PSI
    rng = np.random.default_rng(5)
    ref_boxes = [[(0, 0.9), (0, 0.8), (1, 0.7)] for _ in range(40)]  # person-heavy
    cur_boxes = [[(1, 0.9), (1, 0.8), (0, 0.7)] for _ in range(40)]  # car-heavy, same confidences and counts
    ref_pred, cur_pred = prediction_statistics(ref_boxes, 3), prediction_statistics(cur_boxes, 3)
    assert ref_pred["class_counts"].tolist() == [80, 40, 0] and ref_pred["detections_per_image"].tolist() == [3] * 40
    assert len(ref_pred["confidence"]) == 120
    images = {"brightness": rng.normal(100, 10, 40)}
    report = drift_report(images, images, ref_pred, cur_pred, names={0: "person", 1: "car", 2: "bike"})
    mix = _entry(report, "class_mix")
    assert mix["verdict"] == "drift" and "more car" in mix["sentence"] and "fewer person" in mix["sentence"]
    assert mix["histogram"]["classes"] == ["person", "car"]  # bike never appears
    assert mix["histogram"]["reference"] == pytest.approx([2 / 3, 1 / 3])
    assert _entry(report, "confidence")["verdict"] == "stable" and _entry(report, "detections_per_image")["psi"] == 0
    assert [e["name"] for e in report["features"]] == ["brightness", "confidence", "detections_per_image", "class_mix"]
    assert report["verdict"] == "drift" and "class mix (PSI" in report["summary"]
    with pytest.raises(ValueError):
        prediction_statistics([[(3, 0.5)]], 3)


def test_fewer_detections_and_no_boxes() -> None:
    images = {"brightness": np.linspace(50, 150, 40)}
    ref_pred = prediction_statistics([[(0, 0.8)] * 3 for _ in range(40)], 1)
    cur_pred = prediction_statistics([[] for _ in range(40)], 1)
    report = drift_report(images, images, ref_pred, cur_pred)
    count = _entry(report, "detections_per_image")
    assert count["verdict"] == "drift" and "fewer detections per image" in count["sentence"]
    assert [e["name"] for e in report["features"]] == ["brightness", "detections_per_image"]
    assert "found nothing on the new images" in report["note"]


def test_few_images_note_and_json(folders: dict[str, list[Path]], reference: dict[str, np.ndarray]) -> None:
    current, _, _ = image_statistics(folders["dark"][:5])
    ref_pred = prediction_statistics([[(0, 0.9), (1, 0.6)]] * N_IMAGES, 2)
    cur_pred = prediction_statistics([[(0, 0.4)]] * 5, 2)
    report = drift_report(reference, current, ref_pred, cur_pred, names={0: "cat", 1: "dog"})
    assert report["current_images"] == 5 and "few images: read the verdict with care" in report["note"]
    assert report["verdict"] == "drift"  # still judged
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert "less confident" in _entry(report, "confidence")["sentence"]


def test_figures(folders: dict[str, list[Path]], reference: dict[str, np.ndarray]) -> None:
    current, _, _ = image_statistics(folders["dark"])
    ref_pred = prediction_statistics([[(0, 0.9)], [(1, 0.6)]] * 15, 2)
    report = drift_report(reference, current, ref_pred, ref_pred, names={0: "cat", 1: "dog"})
    brightness = _entry(report, "brightness")
    figure = drift_charts.feature_figure(brightness)
    assert [t.name for t in figure.data] == ["training images", "new images"]
    assert list(figure.data[0].y) == brightness["histogram"]["reference"]
    assert len(figure.data[1].x) == len(brightness["histogram"]["edges"]) - 1
    assert brightness["sentence"] in figure.layout.title.text
    mix = drift_charts.feature_figure(_entry(report, "class_mix"))
    assert len(mix.data) == 2 and list(mix.data[0].x) == ["cat", "dog"]
    overview = drift_charts.overview_figure(report)
    assert len(overview.data) == 1 and len(overview.data[0].x) == len(report["features"]) == 11
    assert sorted(shape.x0 for shape in overview.layout.shapes) == [drift.SHIFT_PSI, drift.DRIFT_PSI]
