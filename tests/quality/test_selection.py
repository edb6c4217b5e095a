"""Images to label next: view geometry, uncertainty scores, diverse ranking and the pre-label export."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from mlcore.datasets.images import perceptual_hash
from mlcore.quality.selection import (
    EMPTY_LOW_CONFIDENCE,
    VIEW_FLIP,
    VIEW_LARGE,
    VIEW_ORIGINAL,
    VIEW_SMALL,
    VIEWS,
    WEIGHTS,
    Box,
    predict_views,
    rank_diverse,
    uncertainty,
    unview,
    view_images,
    view_region,
    write_prelabels,
)

W, H = 640, 480


def _to_view(box: Box, view: str) -> Box:
    """The box as the model would see it on `view` of a 640 x 480 image (written out by hand)."""
    c, p, x1, y1, x2, y2 = box
    if view == VIEW_FLIP:
        return Box(c, p, W - x2, y1, W - x1, y2)
    if view == VIEW_SMALL:  # 480 x 360 centred: offset (80, 60)
        return Box(c, p, 0.75 * x1 + 80, 0.75 * y1 + 60, 0.75 * x2 + 80, 0.75 * y2 + 60)
    if view == VIEW_LARGE:  # 800 x 600 centre-cropped: offset (-80, -60)
        return Box(c, p, 1.25 * x1 - 80, 1.25 * y1 - 60, 1.25 * x2 - 80, 1.25 * y2 - 60)
    return box


def test_unview_inverts_every_view_exactly() -> None:
    box = Box(3, 0.8, 100.0, 120.0, 260.0, 300.0)
    for view in VIEWS:
        assert unview([_to_view(box, view)], view, W, H) == [box], view
    assert unview([(1, 0.5, 10, 20, 50, 60)], VIEW_FLIP, W, H) == [Box(1, 0.5, 590, 20, 630, 60)]


def test_unview_clips_to_the_image_and_drops_boxes_on_the_padding() -> None:
    on_pad = Box(0, 0.9, 5, 5, 60, 50)  # inside the 80 px grey band left of the 0.75 view
    straddling = Box(0, 0.9, 60, 100, 200, 200)
    assert unview([on_pad], VIEW_SMALL, W, H) == []
    assert unview([straddling], VIEW_SMALL, W, H) == [Box(0, 0.9, 0.0, 40 / 0.75, 120 / 0.75, 140 / 0.75)]


def test_view_images_show_the_object_where_unview_says() -> None:
    image = np.zeros((H, W, 3), dtype=np.uint8)
    image[100:180, 200:300] = 255
    image[:, :3] = (0, 0, 255)  # a red left edge: the flip must mirror it, not just the rectangle
    views = view_images(image)
    assert len(views) == len(VIEWS) and all(v.shape == image.shape and v.dtype == np.uint8 for v in views)
    assert np.array_equal(views[0], image) and np.array_equal(views[1], image[:, ::-1])
    assert views[2][0, 0].tolist() == [114, 114, 114]  # the 0.75 view is padded with grey
    for view, pixels in zip(VIEWS, views, strict=True):
        ys, xs = np.nonzero(pixels[..., 1] > 200)  # the white rectangle only (green channel)
        found = (0, 1.0, float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        (back,) = unview([found], view, W, H)
        assert back[2:] == pytest.approx((200, 100, 300, 180), abs=1.5), view


def test_view_region_is_the_centre_for_the_enlarged_view() -> None:
    assert view_region(VIEW_ORIGINAL, W, H) == (0, 0, W, H)
    assert view_region(VIEW_SMALL, W, H) == (0, 0, W, H)
    assert view_region(VIEW_LARGE, W, H) == pytest.approx((64, 48, 576, 432))


def test_an_ambiguous_image_scores_above_a_clear_one() -> None:
    clear = [[Box(0, 0.95, 100, 100, 200, 200)] for _ in VIEWS]
    ambiguous = [
        [Box(0, 0.45, 100, 100, 200, 200), Box(1, 0.42, 102, 101, 201, 199)],
        [Box(1, 0.40, 100, 100, 200, 200)],
        [],
        [Box(0, 0.30, 300, 300, 380, 380)],
    ]
    c, a = uncertainty(clear, size=(W, H)), uncertainty(ambiguous, size=(W, H))
    assert c["low_confidence"] == pytest.approx(0.05)
    assert c["competition"] == 0.0 and c["disagreement"] == 0.0
    assert a["low_confidence"] == pytest.approx(1 - (0.45 + 0.42) / 2)
    assert a["competition"] == pytest.approx(0.42 / 0.45)
    # flip: one of three boxes matches (F1 2/3); 0.75: nothing (0); 1.25: nothing matches (0)
    assert a["disagreement"] == pytest.approx(1 - (2 / 3) / 3)
    assert a["score"] > 0.7 > 0.05 > c["score"]
    for scores in (a, c):
        assert scores["score"] == pytest.approx(sum(WEIGHTS[k] * scores[k] for k in WEIGHTS))
        assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_empty_views_agree_and_score_moderately() -> None:
    empty = uncertainty([[] for _ in VIEWS])
    assert empty["disagreement"] == 0.0 and empty["competition"] == 0.0
    assert empty["low_confidence"] == EMPTY_LOW_CONFIDENCE
    assert empty["score"] == pytest.approx(WEIGHTS["low_confidence"] * EMPTY_LOW_CONFIDENCE)


def test_weak_boxes_only_are_more_uncertain_than_nothing_and_grow_towards_the_threshold() -> None:
    weak = uncertainty([[Box(0, 0.2, 10, 10, 50, 50)], [], [], []])
    weaker = uncertainty([[Box(0, 0.06, 10, 10, 50, 50)], [], [], []])
    empty = uncertainty([[], [], [], []])
    assert weak["low_confidence"] > weaker["low_confidence"] > empty["low_confidence"]
    assert weak["disagreement"] == 0.0  # boxes under 0.25 are not detections, so the views agree
    clear = uncertainty([[Box(0, 0.95, 10, 10, 50, 50)]] * 4)
    assert weak["score"] > clear["score"]


def test_competition_needs_the_same_place_different_classes_and_a_real_detection() -> None:
    apart = [[Box(0, 0.45, 0, 0, 100, 100), Box(1, 0.44, 300, 300, 400, 400)]]
    same_class = [[Box(0, 0.45, 0, 0, 100, 100), Box(0, 0.44, 0, 0, 100, 100)]]
    noise = [[Box(0, 0.10, 0, 0, 100, 100), Box(1, 0.09, 0, 0, 100, 100)]]
    lopsided = [[Box(0, 0.90, 0, 0, 100, 100), Box(1, 0.09, 0, 0, 100, 100)]]
    for views in (apart, same_class, noise):
        assert uncertainty(views)["competition"] == 0.0
    assert uncertainty(lopsided)["competition"] == pytest.approx(0.1)


def test_an_object_the_enlarged_view_crops_away_is_no_disagreement_given_the_size() -> None:
    edge = Box(0, 0.9, 0, 200, 40, 260)  # left of x=64: outside the 1.25 view
    views = [[edge], [edge], [edge], []]
    assert uncertainty(views, size=(W, H))["disagreement"] == 0.0
    assert uncertainty(views)["disagreement"] == pytest.approx(1 / 3)  # without the size it is a miss
    missed_in_centre = [[Box(0, 0.9, 300, 200, 360, 260)]] * 3 + [[]]
    assert uncertainty(missed_in_centre, size=(W, H))["disagreement"] == pytest.approx(1 / 3)


def _scene(seed: int) -> Image.Image:
    """A textured 256 x 192 picture: a gradient with random rectangles."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, 256)[None, :, None]
    y = np.linspace(0, 1, 192)[:, None, None]
    pixels = (rng.random(3) * 120 * x + rng.random(3) * 120 * y + 30) * np.ones((192, 256, 3))
    for _ in range(12):
        x0, y0 = int(rng.integers(0, 220)), int(rng.integers(0, 160))
        pixels[y0 : y0 + int(rng.integers(10, 60)), x0 : x0 + int(rng.integers(10, 60))] = rng.integers(0, 255, 3)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_rank_diverse_drops_a_near_duplicate_and_keeps_a_different_image() -> None:
    original = _jpeg(_scene(1), 95)
    copy = _jpeg(ImageEnhance.Brightness(Image.open(io.BytesIO(original))).enhance(1.08), 70)
    other = _jpeg(_scene(2), 95)
    h_original, h_copy, h_other = (perceptual_hash(b) for b in (original, copy, other))
    assert (h_original ^ h_copy).bit_count() <= 8 < (h_original ^ h_other).bit_count()
    # the copy scores highest, so it is kept and the original is the one dropped
    kept, dropped = rank_diverse([0.6, 0.9, 0.3, 0.5], [h_original, h_copy, h_other, None])
    assert kept == [1, 3, 2] and dropped == {0: 1}
    kept, dropped = rank_diverse([0.6, 0.9, 0.3], [h_original, h_copy, h_other], max_bits=0)
    assert h_original != h_copy and (kept, dropped) == ([1, 0, 2], {})


def test_rank_diverse_matches_a_plain_loop_over_all_144_bits() -> None:
    rng = random.Random(5)
    bases = [rng.getrandbits(144) for _ in range(40)]
    hashes: list[int | None] = []
    for _ in range(300):
        h = rng.choice(bases)
        for bit in rng.sample(range(144), rng.randint(0, 6)):  # high bits too: they live in the third word
            h ^= 1 << bit
        hashes.append(h)
    scores = [rng.random() for _ in hashes]
    expected_kept: list[int] = []
    expected_dropped: dict[int, int] = {}
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
        near = [(bin(hashes[i] ^ hashes[k]).count("1"), n, k) for n, k in enumerate(expected_kept)]  # type: ignore[operator]
        best = min(near, default=None)
        if best is not None and best[0] <= 8:
            expected_dropped[i] = best[2]
        else:
            expected_kept.append(i)
    kept, dropped = rank_diverse(scores, hashes)
    assert kept == expected_kept and dropped == expected_dropped
    assert 40 < len(kept) < 150 and len(kept) + len(dropped) == 300  # some clusters keep two


def test_rank_diverse_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        rank_diverse([0.5, 0.4], [1])


def test_write_prelabels_writes_normalised_clipped_lines_and_leaves_the_sources_alone(tmp_path: Path) -> None:
    sources = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "shot.png"
        Image.new("RGB", (200, 100), (10, 20, 30)).save(path)
        sources.append(path)
    before = [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in sources]
    boxes = [
        Box(0, 0.9, 20, 10, 60, 50),
        Box(1, 0.5, 180, -10, 220, 30),  # clipped to x 180..200, y 0..30
        Box(0, 0.2, 0, 0, 10, 10),  # under min_conf
        Box(1, 0.9, 210, 0, 250, 50),  # wholly outside
    ]
    out = tmp_path / "export"
    write_prelabels(out, [(sources[0], boxes, (200, 100)), (sources[1], [], (200, 100))], {0: "cat", 2: "dog"})
    assert sorted(p.name for p in (out / "images").iterdir()) == ["1_shot.png", "shot.png"]
    assert (out / "labels" / "shot.txt").read_text().splitlines() == [
        "0 0.200000 0.300000 0.200000 0.400000",
        "1 0.950000 0.150000 0.100000 0.300000",
    ]
    assert (out / "labels" / "1_shot.txt").read_text() == ""
    assert (out / "classes.txt").read_text().splitlines() == ["cat", "class1", "dog"]
    assert not (out / "data.yaml").exists()
    assert (out / "images" / "shot.png").read_bytes() == before[0][0]
    assert [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in sources] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "export"]


def test_write_prelabels_refuses_to_overwrite_a_source(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    source = tmp_path / "images" / "x.png"
    Image.new("RGB", (8, 8)).save(source)
    data = source.read_bytes()
    with pytest.raises(ValueError):
        write_prelabels(tmp_path, [(source, [Box(0, 0.9, 0, 0, 4, 4)], (8, 8))], {0: "a"})
    assert source.read_bytes() == data and not (tmp_path / "labels").exists()


class _Array:
    """A tensor stand-in: .cpu().numpy() gives the array."""

    def __init__(self, values: Any) -> None:
        self.values = np.asarray(values, dtype=float)

    def cpu(self) -> _Array:
        return self

    def numpy(self) -> np.ndarray:
        return self.values


class _Result:
    def __init__(self, boxes: list[Box]) -> None:
        rows = np.array([b[2:] for b in boxes], dtype=float).reshape(-1, 4)
        self.boxes = type(
            "Boxes",
            (),
            {"xyxy": _Array(rows), "conf": _Array([b.conf for b in boxes]), "cls": _Array([b.cls for b in boxes])},
        )()


class _FakeModel:
    """Records its predict calls; answers each view with the object where that view shows it."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.calls: list[tuple[list[np.ndarray], dict[str, Any]]] = []

    def predict(self, images: list[np.ndarray], **kwargs: Any) -> list[_Result]:
        self.calls.append((images, kwargs))
        answers = [[_to_view(self.box, view)] for view in VIEWS]
        answers[2] = []  # the model misses it at 0.75
        return [_Result(a) for a in answers]


def test_predict_views_sends_four_views_in_one_call_and_maps_boxes_back() -> None:
    image = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    box = Box(2, 0.7, 400.0, 100.0, 560.0, 220.0)
    model = _FakeModel(box)
    views = predict_views(model, image, imgsz=320, device="cpu", conf=0.1)
    assert len(model.calls) == 1
    images, kwargs = model.calls[0]
    assert len(images) == 4 and np.array_equal(images[1], image[:, ::-1])
    assert kwargs == {"conf": 0.1, "imgsz": 320, "device": "cpu", "verbose": False}
    assert views[0] == [box] and views[1] == [box] and views[2] == [] and views[3] == [box]
    assert isinstance(views[1][0].cls, int)
    assert uncertainty(views, size=(W, H))["disagreement"] == pytest.approx(1 / 3)
