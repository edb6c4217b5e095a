"""A/B comparisons on constructed cases: a model against itself, a model with shifted boxes, the paired and
seeded bootstrap, the verdict in words, the refusals, and the HTML report."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlcore.compare.bootstrap import _curves, _resampled_ap, paired_bootstrap
from mlcore.compare.comparison import Side, compare_evaluations, scored
from mlcore.compare.pairing import ComparisonError, pair
from mlcore.compare.store import load_comparison, save_comparison
from mlcore.compare.verdict import A_BETTER, B_BETTER, NO_DIFFERENCE, images_needed, verdict
from mlcore.core.settings import Settings
from mlcore.datasets.demo import make_demo_dataset
from mlcore.evaluation.analysis import Detections, average_precision
from mlcore.evaluation.store import load_evaluation_metrics
from mlcore.predict.profile import DeploymentProfile
from tests.evaluation_fixture import made_up_detections
from tests.registry_fixture import fake_weights, recorded_evaluation, shifted


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ab") / "data"
    make_demo_dataset(root, images=120, imgsz=96, seed=5)
    return root


def _evaluation(
    settings: Settings, dataset: Path, name: str, detections: Detections | None = None, seed: int = 3
) -> Path:
    model = fake_weights(settings.outputs_root / "models" / f"{name}.pt", seed=hash(name) % 1000)
    return recorded_evaluation(
        settings.outputs_root, dataset, model, "test", detections=detections, name=name, seed=seed
    )


def test_a_model_compared_with_itself_differs_by_zero_with_intervals_that_hold_zero(settings, dataset) -> None:
    folder = _evaluation(settings, dataset, "same")
    doc = compare_evaluations(Side("A", folder), Side("B", folder))
    for name, row in doc["metrics"].items():
        assert row["delta"] == 0.0, name
        assert row["ci_low"] <= 0.0 <= row["ci_high"], name
    for rows in doc["per_class"].values():
        assert all(r["delta"] == 0.0 and r["ci_low"] <= 0 <= r["ci_high"] for r in rows.values())
    assert doc["verdict"] == NO_DIFFERENCE
    assert doc["disagreements"] == []
    stored = load_evaluation_metrics(folder)  # the point estimates are the evaluation's own numbers
    assert doc["metrics"]["map50_95"]["a"] == pytest.approx(stored["map50_95"])
    assert doc["metrics"]["map50"]["a"] == pytest.approx(stored["map50"])


def test_a_model_whose_boxes_are_all_shifted_is_significantly_worse(settings, dataset) -> None:
    good = made_up_detections(dataset, "test", seed=3)
    a = _evaluation(settings, dataset, "good", good)
    b = _evaluation(settings, dataset, "shifted", shifted(good, 0.6))
    doc = compare_evaluations(Side("good", a), Side("shifted", b))
    row = doc["metrics"]["map50_95"]
    assert row["delta"] < 0 and row["ci_high"] < 0
    assert doc["verdict"] == A_BETTER
    assert doc["summary"].startswith("A is better: mAP50-95 −")
    assert doc["error_types"]["localization"]["b"] > doc["error_types"]["localization"]["a"]
    rows = doc["disagreements"]
    assert sum(r["better"] == "a" for r in rows) > sum(r["better"] == "b" for r in rows)
    assert rows[0]["one_right"] and rows[0]["better"] == "a"  # one model right and the other wrong come first
    assert [r["one_right"] for r in rows] == sorted((r["one_right"] for r in rows), reverse=True)
    swapped = compare_evaluations(Side("shifted", b), Side("good", a))  # the other way round: B is better
    assert swapped["verdict"] == B_BETTER
    assert swapped["metrics"]["map50_95"]["delta"] == pytest.approx(-row["delta"])


def test_the_bootstrap_is_paired_and_seeded(settings, dataset) -> None:
    d = made_up_detections(dataset, "test", seed=4)
    profile = DeploymentProfile()
    same, copy = scored(d, profile), scored(replace(d, pred_box=d.pred_box.copy()), profile)
    # paired: the same draw of images for both, so identical models differ by exactly 0 in every resample
    result = paired_bootstrap(same, copy, resamples=300, seed=1)
    assert all(r["se"] == 0.0 and r["ci_low"] == r["ci_high"] == 0.0 for r in result.metrics.values())
    worse = scored(shifted(d, 0.3), profile)
    first, again = paired_bootstrap(same, worse, 300, seed=7), paired_bootstrap(same, worse, 300, seed=7)
    other = paired_bootstrap(same, worse, 300, seed=8)
    assert first.metrics == again.metrics  # reproducible
    assert first.metrics["map50_95"]["ci_low"] != other.metrics["map50_95"]["ci_low"]  # the seed matters
    assert first.metrics["map50_95"]["delta"] == other.metrics["map50_95"]["delta"]  # the estimate does not


def test_resampled_ap_with_every_image_once_is_the_evaluations_ap(dataset) -> None:
    d = made_up_detections(dataset, "test", seed=6)
    classes = np.unique(d.gt_cls)
    ones = np.ones((1, len(d.images)))
    labels = ones @ np.stack([np.bincount(d.gt_image[d.gt_cls == c], minlength=len(d.images)) for c in classes], 1)
    ap = np.stack([_resampled_ap(c, ones, labels[:, i]) for i, c in enumerate(_curves(d, classes))], 1)[0]
    reference = average_precision(d)["per_class"]
    assert ap.mean(1) == pytest.approx([reference[d.names[int(c)]]["ap50_95"] for c in classes], abs=1e-5)
    # an image drawn twice counts as two copies of it
    twice = np.ones((1, len(d.images)))
    twice[0, 0] = 2
    doubled = _doubled(d, 0)
    labels2 = twice @ np.stack([np.bincount(d.gt_image[d.gt_cls == c], minlength=len(d.images)) for c in classes], 1)
    ap2 = np.stack([_resampled_ap(c, twice, labels2[:, i]) for i, c in enumerate(_curves(d, classes))], 1)[0]
    expected = average_precision(doubled)["per_class"]
    assert ap2.mean(1) == pytest.approx([expected[d.names[int(c)]]["ap50_95"] for c in classes], abs=0.02)


def _doubled(d: Detections, n: int) -> Detections:
    extra = len(d.images)
    g, p = d.gt_image == n, d.pred_image == n
    return Detections(
        images=[*d.images, d.images[n] + "#2"],
        sizes=np.vstack([d.sizes, d.sizes[n : n + 1]]),
        names=d.names,
        gt_image=np.concatenate([d.gt_image, np.full(g.sum(), extra)]),
        gt_cls=np.concatenate([d.gt_cls, d.gt_cls[g]]),
        gt_box=np.vstack([d.gt_box, d.gt_box[g]]),
        pred_image=np.concatenate([d.pred_image, np.full(p.sum(), extra)]),
        pred_cls=np.concatenate([d.pred_cls, d.pred_cls[p]]),
        pred_conf=np.concatenate([d.pred_conf, d.pred_conf[p]]),
        pred_box=np.vstack([d.pred_box, d.pred_box[p]]),
        imgsz=d.imgsz,
    )


def test_the_verdict_says_how_many_images_a_difference_of_this_size_needs() -> None:
    small = {"delta": 0.01, "ci_low": -0.01, "ci_high": 0.03, "se": 0.01}
    metrics = {"map50_95": small, "map50": small}
    code, words, needed = verdict(metrics, images=68)
    assert code == NO_DIFFERENCE
    assert needed == images_needed(small, 68) == int(np.ceil(68 * (2.8 * 0.01 / 0.01) ** 2))
    assert words.startswith("No significant difference on these 68 images: mAP50-95 +0.010 [−0.010, +0.030].")
    assert f"about {needed:,} test images" in words and "collect more test images" in words
    clear = {"delta": 0.031, "ci_low": 0.012, "ci_high": 0.05, "se": 0.01}
    assert verdict({"map50_95": clear}, 68)[:2] == (
        B_BETTER,
        "B is better: mAP50-95 +0.031 [+0.012, +0.050] on 68 images.",
    )


def test_comparisons_that_cannot_be_made_say_why(settings, dataset, tmp_path) -> None:
    d = made_up_detections(dataset, "test", seed=3)
    renamed = replace(d, names={**d.names, 0: "something-else"})
    with pytest.raises(ComparisonError, match=r"different classes \(only A has .*; only B has something-else\)"):
        pair(d, renamed)
    val = made_up_detections(dataset, "val", seed=3)
    with pytest.raises(ComparisonError, match="share no image: they were made on different splits"):
        pair(d, val)
    moved = replace(d, gt_box=d.gt_box + 5)
    with pytest.raises(ComparisonError, match="the dataset changed in between"):
        pair(d, moved)
    broken = _evaluation(settings, dataset, "broken")
    (broken / "predictions.npz").write_bytes(b"not an archive")
    with pytest.raises(ComparisonError, match="broken: predictions.npz cannot be read"):
        compare_evaluations(Side("broken", broken), Side("broken", broken))


def test_the_report_is_one_self_contained_page(settings, dataset) -> None:
    good = made_up_detections(dataset, "test", seed=3)
    a = _evaluation(settings, dataset, "good", good)
    b = _evaluation(settings, dataset, "worse", shifted(good, 0.5))
    folder = save_comparison(compare_evaluations(Side("v1", a), Side("v2", b)), settings)
    html = (folder / "report.html").read_text()
    assert "A is better" in html and "<svg" in html and "data:image/jpeg;base64," in html
    assert not re.search(r"""(src|href)=["']https?://""", html)  # nothing fetched from the network
    assert load_comparison(folder)["verdict"] == A_BETTER


def test_a_split_without_labels_has_no_map_but_still_compares(dataset) -> None:
    d = made_up_detections(dataset, "test", seed=3)
    empty = replace(d, gt_image=d.gt_image[:0], gt_cls=d.gt_cls[:0], gt_box=d.gt_box[:0])
    profile = DeploymentProfile()
    result = paired_bootstrap(scored(empty, profile), scored(shifted(empty, 0.2), profile), resamples=200)
    assert np.isnan(result.metrics["map50_95"]["ci_low"])  # nothing to find: mAP is undefined, not 0
    assert result.metrics["precision"]["a"] == 0.0  # every prediction is a false positive
    code, words, needed = verdict(result.metrics, len(empty.images))
    assert code == NO_DIFFERENCE and needed is None and words
