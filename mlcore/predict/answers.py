"""Predictions on images sent by a person or a program (the Predict page, POST /predict and /predict_batch,
the command line on one image), answered by the predictor process.

    model, profile, answers = answer_files(client, settings, "…/best.pt", [("a.jpg", data, "image/jpeg")])
    answers[0].detections   # [{"class_id", "class_name", "confidence", "box": [x1, y1, x2, y2]}], original pixels
    answers[0].error        # '' or what is wrong with that file (the others are answered all the same)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import resolve_model
from mlcore.core.settings import Settings
from mlcore.predict.client import PredictorClient
from mlcore.predict.images import DecodedImage, ImageRejected, decode_image
from mlcore.predict.profile import DeploymentProfile, ProfileError, choose_profile, with_overrides


class TooManyFiles(SubmitError):
    """More files in one request than ML_STUDIO_PREDICT_MAX_FILES."""


@dataclass
class Answer:
    name: str
    image: DecodedImage | None = None
    detections: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    code: str = ""
    status: int = 200
    time_ms: float = 0.0
    batched_with: int = 0

    def to_dict(self, model: Path | str) -> dict[str, Any]:
        """The API's answer for one file."""
        if self.error:
            return {"file": self.name, "error": self.error, "code": self.code, "status": self.status}
        size = {"width": self.image.width, "height": self.image.height} if self.image else None
        return {
            "file": self.name,
            "detections": self.detections,
            "image": size,
            "model": str(model),
            "time_ms": self.time_ms,
            "batched_with": self.batched_with,
        }

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for d in self.detections:
            found[d["class_name"]] = found.get(d["class_name"], 0) + 1
        return found


def check_thresholds(confidence: float | None, iou: float | None) -> None:
    for name, value in (("confidence_threshold", confidence), ("iou_threshold", iou)):
        if value is not None and not 0 < value < 1:
            raise ProfileError(f"{name}={value}; use a number between 0 and 1 (e.g. 0.25), or leave it out.")


def answer_files(
    client: PredictorClient,
    settings: Settings,
    model_text: str,
    files: list[tuple[str, bytes, str | None]],
    confidence: float | None = None,
    iou: float | None = None,
    profile: str = "default",
    nms_free: bool | None = None,
) -> tuple[Path, DeploymentProfile, list[Answer]]:
    """Decode each (name, bytes, content type), predict the good ones together; one Answer per file, in order.

    SubmitError for a model that may not be loaded, ProfileError for unusable thresholds or profile;
    PredictorBusy / PredictorUnavailable from the client."""
    started = time.perf_counter()
    if len(files) > settings.predict.max_files:
        raise TooManyFiles(
            f"{len(files)} files sent; at most {settings.predict.max_files} are answered at once "
            "(ML_STUDIO_PREDICT_MAX_FILES). Send them in smaller groups."
        )
    model = resolve_model(model_text, settings)
    check_thresholds(confidence, iou)
    thresholds = with_overrides(choose_profile(model, settings, profile), confidence, iou, nms_free)
    answers = []
    for name, data, content_type in files:
        try:
            answers.append(Answer(name, decode_image(data, name, settings.predict, content_type)))
        except ImageRejected as exc:
            answers.append(Answer(name, error=str(exc), code=exc.code, status=exc.status))
    good = [a for a in answers if a.image is not None]
    if good:
        results = client.predict(model, [a.image for a in good], thresholds)  # type: ignore[misc]
        for answer, result in zip(good, results, strict=True):
            if "error" in result:
                answer.error, answer.code, answer.status = result["error"], result["code"], result["status"]
            else:
                answer.detections, answer.batched_with = result["detections"], result.get("batched_with", 1)
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    for answer in answers:
        answer.time_ms = elapsed
    return model, thresholds, answers
