"""Deployment profiles: the threshold advisor on known predictions, per-class thresholds, where profiles
live and which model they answer for, and how sent images are checked and decoded."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlcore.core import paths
from mlcore.core.settings import PredictLimits, Settings
from mlcore.evaluation.analysis import Detections
from mlcore.predict.advisor import AdviceError, advise, apply_nms
from mlcore.predict.images import ImageRejected, decode_image
from mlcore.predict.profile import (
    DeploymentProfile,
    ProfileError,
    choose_profile,
    profile_path,
    read_profile,
    save_profile,
    with_overrides,
)

ON = [10.0, 10.0, 50.0, 50.0]  # where every labelled box is
OFF = [100.0, 100.0, 140.0, 140.0]  # background


def _detections(preds: list[tuple[int, int, float, list[float]]], gts: list[tuple[int, int]], n: int) -> Detections:
    """preds: (image, class, confidence, box); gts: (image, class), each at ON."""
    return Detections(
        images=[f"images/test/{i}.jpg" for i in range(n)],
        sizes=np.full((n, 2), 200),
        names={0: "a", 1: "b"},
        gt_image=np.array([g[0] for g in gts]),
        gt_cls=np.array([g[1] for g in gts]),
        gt_box=np.array([ON for _ in gts], dtype=float).reshape(-1, 4),
        pred_image=np.array([p[0] for p in preds]),
        pred_cls=np.array([p[1] for p in preds]),
        pred_conf=np.array([p[2] for p in preds], dtype=np.float32),
        pred_box=np.array([p[3] for p in preds], dtype=float).reshape(-1, 4),
        imgsz=200,
    )


@pytest.fixture
def known() -> Detections:
    """Class a: four objects; found at 0.9, 0.8, 0.4, 0.3, a false positive at 0.6. Class b: one object found at
    0.5, a false positive at 0.95. Best F1: a 0.3 (F1 0.889), b 0.5; both together 0.3."""
    preds = [
        (0, 0, 0.9, ON),
        (1, 0, 0.8, ON),
        (2, 0, 0.6, OFF),
        (3, 0, 0.4, ON),
        (2, 0, 0.3, ON),
        (4, 1, 0.5, ON),
        (4, 1, 0.95, OFF),
    ]
    return _detections(preds, [(0, 0), (1, 0), (2, 0), (3, 0), (4, 1)], 5)


def _row(advice, name: str) -> dict:
    return next(r for r in advice.rows if r["name"] == name)


def test_best_f1_picks_the_threshold_of_the_highest_f1(known: Detections) -> None:
    advice = advise(known, "best_f1")
    assert advice.confidence == pytest.approx(0.3, abs=1e-4) and advice.per_class == {}
    assert advice.overall["tp"] == 5 and advice.overall["fp"] == 2  # every box at or above 0.3 is kept
    assert _row(advice, "a")["recall"] == 1.0 and _row(advice, "a")["precision"] == pytest.approx(0.8)


def test_per_class_thresholds_differ_where_the_classes_differ(known: Detections) -> None:
    advice = advise(known, "best_f1", per_class=True)
    assert advice.per_class == {"b": pytest.approx(0.5, abs=1e-4)}  # a's own equals the global one
    b = _row(advice, "b")
    assert (b["tp"], b["fp"], b["precision"]) == (1, 1, 0.5)  # the 0.95 false positive is above any threshold


def test_precision_at_least_takes_the_most_recall_that_keeps_it(known: Detections) -> None:
    advice = advise(known, "precision", target=0.9, per_class=True)
    a, b = _row(advice, "a"), _row(advice, "b")
    assert a["threshold"] == pytest.approx(0.8, abs=1e-4) and a["precision"] == 1.0 and a["recall"] == 0.5
    assert a["note"] == ""
    assert "cannot reach precision at least 0.90" in b["note"]  # its best F1 instead, and it says so


def test_recall_at_least_takes_the_most_precision_that_keeps_it(known: Detections) -> None:
    advice = advise(known, "recall", target=0.7, per_class=True)
    a = _row(advice, "a")
    assert a["threshold"] == pytest.approx(0.4, abs=1e-4) and a["recall"] == 0.75


def test_a_lower_nms_iou_drops_overlapping_boxes_of_one_class_only() -> None:
    shifted = [14.0, 10.0, 54.0, 50.0]  # IoU 0.82 with ON
    d = _detections([(0, 0, 0.9, ON), (0, 0, 0.7, shifted), (0, 1, 0.8, shifted)], [(0, 0)], 1)
    assert len(apply_nms(d, 0.7).pred_cls) == 3  # what the evaluation kept stays at its own NMS
    kept = apply_nms(d, 0.5)
    assert sorted(zip(kept.pred_cls.tolist(), [round(float(c), 2) for c in kept.pred_conf], strict=True)) == [
        (0, 0.9),
        (1, 0.8),
    ]
    assert advise(d, "recall", target=0.5, nms_iou=0.5).iou == 0.5


def test_the_advisor_refuses_what_it_cannot_judge(known: Detections) -> None:
    with pytest.raises(AdviceError, match="made at 0.7"):
        advise(known, nms_iou=0.8)
    with pytest.raises(AdviceError, match="objective"):
        advise(known, objective="accuracy")
    with pytest.raises(AdviceError, match="no labelled boxes"):
        advise(_detections([(0, 0, 0.9, ON)], [], 1))


def test_a_profile_applies_per_class_thresholds_and_refuses_other_classes() -> None:
    profile = DeploymentProfile(confidence=0.3, per_class={"b": 0.6}, names={0: "a", 1: "b"})
    assert profile.floor == 0.3 and profile.class_thresholds({0: "a", 1: "b"}) == {0: 0.3, 1: 0.6}
    with pytest.raises(ProfileError, match="the model has a, c"):
        profile.class_thresholds({0: "a", 1: "c"})
    with pytest.raises(ProfileError, match="between 0 and 1"):
        DeploymentProfile(confidence=1.5)
    with pytest.raises(ProfileError, match="no field"):
        DeploymentProfile.from_dict({"confidence": 0.3, "threshold": 0.2})
    replaced = with_overrides(profile, 0.5, None)
    assert (replaced.confidence, replaced.per_class, replaced.iou) == (0.5, {}, profile.iou)


def test_profiles_live_beside_the_model_and_answer_for_the_model_they_name(settings: Settings, tmp_path: Path) -> None:
    weights = settings.outputs_root / paths.TRAININGS_DIR / "p" / "e" / paths.WEIGHTS_DIR
    weights.mkdir(parents=True)
    best, last = weights / "best.pt", weights / "last.pt"
    path = save_profile(DeploymentProfile(confidence=0.4), best, settings)
    assert path == weights / paths.PROFILE_FILE and json.loads(path.read_text())["model"] == "best.pt"
    assert read_profile(best, settings).confidence == 0.4 and read_profile(last, settings) is None
    outside = tmp_path / "elsewhere" / "yolo.pt"
    assert profile_path(outside, settings).is_relative_to(settings.outputs_root / paths.PROFILES_DIR)
    assert choose_profile(best, settings, "none") is None
    assert choose_profile(best, settings, '{"confidence": 0.2}').confidence == 0.2
    assert choose_profile(best, settings, str(path)).confidence == 0.4
    (tmp_path / "profile.json").write_text('{"confidence": 0.2}')
    with pytest.raises(ProfileError, match="not a profile.json under"):
        choose_profile(best, settings, str(tmp_path / "profile.json"))
    with pytest.raises(ProfileError, match="not valid JSON"):
        choose_profile(best, settings, "{confidence")


def test_an_export_uses_the_profile_of_the_model_it_was_exported_from(settings: Settings) -> None:
    weights = settings.outputs_root / paths.TRAININGS_DIR / "p" / "e" / paths.WEIGHTS_DIR
    weights.mkdir(parents=True)
    save_profile(DeploymentProfile(confidence=0.45), weights / "best.pt", settings)
    export = settings.outputs_root / paths.EXPORTS_DIR / "e_best_1"
    export.mkdir(parents=True)
    (export / paths.EXPORT_CONFIG).write_text(f"model_path: {weights / 'best.pt'}\n")
    assert read_profile(export / "best.onnx", settings).confidence == 0.45
    save_profile(DeploymentProfile(confidence=0.6), export / "best.onnx", settings)  # its own wins
    assert read_profile(export / "best_openvino_model", settings).confidence == 0.6


LIMITS = PredictLimits(max_image_bytes=200_000, max_pixels=1_000_000)


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_images_are_decoded_upright_as_training_sees_them() -> None:
    picture = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to display
    decoded = decode_image(_encoded(picture, "JPEG", exif=exif), "phone.jpg", LIMITS, "image/jpeg")
    assert (decoded.width, decoded.height) == (20, 40)
    assert decoded.pixels[10, 10].tolist()[2] > 200  # BGR: red is the last channel
    for fmt in ("PNG", "WEBP", "BMP", "TIFF"):
        assert decode_image(_encoded(picture, fmt), f"x.{fmt.lower()}", LIMITS).width == 40


NOISE = _encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)), "JPEG")


@pytest.mark.parametrize(
    ("data", "content_type", "status", "words"),
    [
        (b"", None, 422, "empty (0 bytes)"),
        (b"just some text", "image/png", 422, "not an image"),
        (NOISE[: len(NOISE) * 2 // 3], "image/jpeg", 422, "truncated"),
        (_encoded(Image.new("RGB", (8, 8)), "PNG"), "text/plain", 415, "not as an image"),
        (_encoded(Image.new("1", (2000, 1000)), "PNG"), "image/png", 413, "decompression bomb"),
        (_encoded(Image.new("RGB", (8, 8)), "GIF"), "image/gif", 422, "a GIF image"),
        (b"\xff\xd8" + bytes(300_000), "image/jpeg", 413, "MB; images up to"),
    ],
    ids=["empty", "not-an-image", "truncated", "wrong-type", "bomb", "gif", "too-large"],
)
def test_bad_images_are_refused_with_what_to_send(
    data: bytes, content_type: str | None, status: int, words: str
) -> None:
    with pytest.raises(ImageRejected, match=re.escape(words)) as caught:
        decode_image(data, "upload", LIMITS, content_type)
    assert caught.value.status == status and "upload" in str(caught.value)


def test_the_predictor_keeps_models_by_recent_use_within_its_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcore.predict import model_cache

    loads: list[str] = []
    monkeypatch.setattr(model_cache, "load_detector", lambda path, device: loads.append(path.name) or path.name)
    monkeypatch.setattr(model_cache, "warm_up", lambda model: None)
    monkeypatch.setattr(model_cache, "_size", lambda path: 500 * 2**20)  # each model takes 500 MB
    cache = model_cache.ModelCache(limit_bytes=1200 * 2**20, device="cpu")
    for name in ("a.pt", "b.pt", "a.pt", "c.pt"):  # a is used again before c comes: b is the least recent
        cache.get(Path(name))
    assert [Path(m["path"]).name for m in cache.status()["models"]] == ["a.pt", "c.pt"]
    assert loads == ["a.pt", "b.pt", "c.pt"]  # a was kept, not loaded twice
    alone = model_cache.ModelCache(limit_bytes=100 * 2**20, device="cpu")
    alone.get(Path("big.pt"))
    assert [Path(m["path"]).name for m in alone.status()["models"]] == ["big.pt"]  # the newest always stays
