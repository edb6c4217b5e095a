"""Per-box gradient maps on the suite's trained model: they point at the boxes they explain (the pointing game and
its random-box baseline), they depend on the model's weights (Adebayo et al.'s randomisation check), they repeat,
a missed object and a wrong class get maps and scores, and every refusal says what is wrong."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import pytest

from mlcore.core.settings import load_settings
from mlcore.datasets.labels import parse_label
from mlcore.datasets.loader import label_path, load_dataset
from mlcore.explain.explainer import cache_file, explain
from mlcore.explain.saliency import ExplainError, Target, energy_inside

pytestmark = pytest.mark.usefixtures("tiny")


def labelled(data: str) -> list[tuple[Path, np.ndarray, list[tuple[int, tuple[float, float, float, float]]]]]:
    """Every image of the dataset with its ground-truth boxes in pixels."""
    found = []
    dataset = load_dataset(Path(data))
    for images in dataset.splits.values():
        for image in images:
            pixels = cv2.imread(str(image))
            h, w = pixels.shape[:2]
            rows, _ = parse_label(Path(label_path(image)).read_bytes())
            boxes = [(r.cls, ((r.cx - r.w / 2) * w, (r.cy - r.h / 2) * h, (r.cx + r.w / 2) * w, (r.cy + r.h / 2) * h))
                     for r in rows]  # fmt: skip
            found.append((Path(image), pixels, boxes))
    return found


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_maps_of_true_positives_point_inside_their_boxes_and_beat_a_random_box(tiny: dict) -> None:
    settings, model = load_settings(), Path(tiny["model"])
    rng = np.random.default_rng(0)
    hits, inside, baseline = [], [], []
    for _, pixels, truth in labelled(tiny["data"]):
        h, w = pixels.shape[:2]
        for m in explain(model, pixels, settings, imgsz=128, conf=0.25):
            if not any(c == m.target.class_id and iou(m.target.box, b) >= 0.5 for c, b in truth):
                continue  # the pointing game counts true positives
            hits.append(m.peak_inside)
            inside.append(m.energy_inside)
            x1, y1, x2, y2 = m.target.box
            x, y = rng.uniform(0, max(1.0, w - (x2 - x1))), rng.uniform(0, max(1.0, h - (y2 - y1)))
            baseline.append(energy_inside(m.map, (x, y, x + x2 - x1, y + y2 - y1)))
            assert m.map.shape == (h, w) and 0 <= m.map.min() and m.map.max() == pytest.approx(1.0)
    assert len(hits) >= 10, f"only {len(hits)} true positives to play the pointing game with"
    assert np.mean(hits) >= 0.8, f"the peak lies inside the box for {np.mean(hits):.0%} of true positives"
    assert np.mean(inside) > np.mean(baseline) + 0.2, (np.mean(inside), np.mean(baseline))


def test_randomising_the_heads_last_layers_changes_the_maps_and_the_same_box_gives_the_same_map(tiny: dict) -> None:
    from mlcore.engine.models import load_yolo
    from mlcore.explain.gradient import GradientExplainer

    _, pixels, truth = labelled(tiny["data"])[0]
    yolo = load_yolo(tiny["model"])
    names = dict(yolo.names)
    targets = [Target(box, cls, "label") for cls, box in truth]
    trained = GradientExplainer(copy.deepcopy(yolo.model), names)
    first = trained.explain(pixels, 128, targets)
    again = trained.explain(pixels, 128, targets)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.map, b.map)  # deterministic
    randomised = copy.deepcopy(yolo.model)
    head = randomised.model[-1]
    for branch in (head.cv2, head.cv3):  # the last layers: the box and class branches of every level
        for level in branch:
            for conv in level.modules():
                if hasattr(conv, "weight") and conv.weight is not None and conv.weight.dim() == 4:
                    conv.weight.data = torch_random_like(conv.weight.data)
    other = GradientExplainer(randomised, names).explain(pixels, 128, targets)
    for a, b in zip(first, other, strict=True):
        correlation = np.corrcoef(a.map.ravel(), b.map.ravel())[0, 1]
        assert correlation < 0.9, f"a map survived randomising the head (correlation {correlation:.2f})"


def torch_random_like(weights: object) -> object:
    import torch

    generator = torch.Generator().manual_seed(0)
    return torch.randn(weights.shape, generator=generator) * weights.std()  # type: ignore[attr-defined]


def test_a_missed_object_and_a_wrong_class_get_maps_and_the_models_scores(tiny: dict) -> None:
    settings, model = load_settings(), Path(tiny["model"])
    _, pixels, truth = labelled(tiny["data"])[0]
    cls, box = truth[0]
    other = (cls + 1) % 5
    missed, wrong = explain(
        model,
        pixels,
        settings,
        imgsz=128,
        targets=[Target(box, other, "missed"), Target(box, cls, "wrong class")],
    )
    assert missed.target.role == "missed" and 0.0 <= missed.score < 0.5  # the model does not call it `other`
    assert wrong.score > missed.score  # its own class scores higher at the object
    assert missed.map.shape == pixels.shape[:2] and missed.map.max() == pytest.approx(1.0)
    assert not np.array_equal(missed.map, wrong.map)  # the two classes' maps side by side differ


def test_a_second_look_is_read_from_the_cache(tiny: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcore.explain import explainer

    settings, model = load_settings(), Path(tiny["model"])
    _, pixels, _ = labelled(tiny["data"])[1]
    first = explain(model, pixels, settings, imgsz=128, pick=[0])
    monkeypatch.setattr(explainer, "_gradient_explainer", lambda *a: pytest.fail("computed again"))
    second = explain(model, pixels, settings, imgsz=128, pick=[0])
    np.testing.assert_allclose(first[0].map, second[0].map, atol=1e-3)  # stored as float16
    assert second[0].target == first[0].target and second[0].score == pytest.approx(first[0].score)
    assert list((settings.outputs_root / "cache" / "explanations").rglob("*.npz"))
    assert cache_file(settings, "ab" * 32).parent.name == "ab"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pick": [40]}, r"there is no box 40: the model finds \d+ box\(es\)"),
        ({"as_class": "dino"}, r"the model has no class 'dino'; its classes are solara \(0\)"),
        ({"targets": [Target((1, 1, 20, 20), 9)]}, r"the model has no class 9"),
        ({"conf": 1.5}, r"confidence=1.5; use a number between 0 and 1"),
        ({"method": "occlusion"}, r"method='occlusion'; use gradient or drise"),
    ],
)
def test_what_cannot_be_explained_is_said(tiny: dict, kwargs: dict, message: str) -> None:
    _, pixels, _ = labelled(tiny["data"])[0]
    with pytest.raises(ExplainError, match=message):
        explain(Path(tiny["model"]), pixels, load_settings(), imgsz=128, **kwargs)
