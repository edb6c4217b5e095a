"""A deployment profile: the confidence threshold (one, or one per class) and the NMS IoU a model is
deployed with, kept as profile.json beside the model and used by default by the Predict page, batch
prediction jobs and the HTTP API.

    profile = DeploymentProfile(confidence=0.31, iou=0.6, per_class={"logo": 0.45}, names={0: "logo"})
    save_profile(profile, model_path, settings)
    read_profile(model_path, settings)      # None when the model has none

Per-class thresholds are applied after NMS (Ultralytics has one threshold for all classes): the model
runs at the lowest of them, then each box is kept when its confidence reaches its class's threshold.

Where it lives: profile.json in the model's folder (a run's weights/, an export folder). The file names
the model it was chosen for, so in weights/ it answers for best.pt or last.pt, not both; in an export
folder it answers for every format (they are one model), and an export without one of its own uses the
profile of the model it was exported from. Models outside the outputs root get theirs under
<outputs>/profiles/.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.class_names import class_names
from mlcore.core.settings import Settings
from mlcore.core.spec import fraction
from mlcore.engine.heads import NMS_FREE

DEFAULT_CONFIDENCE = 0.25  # Ultralytics' predict defaults, used when a model has no profile
DEFAULT_IOU = 0.7


class ProfileError(ValueError):
    """A profile is unreadable or does not fit the model; the message says what to do."""


@dataclass(frozen=True)
class DeploymentProfile:
    """Thresholds a model is deployed with. Validated on construction."""

    confidence: float = DEFAULT_CONFIDENCE
    """The threshold of every class without its own."""
    iou: float = DEFAULT_IOU
    """NMS IoU: boxes of one class overlapping more than this with a better one are dropped."""
    per_class: dict[str, float] = field(default_factory=dict)
    """Class name -> its own threshold, applied after NMS."""
    names: dict[int, str] = field(default_factory=dict)
    """The classes of the model the profile was chosen for ({} = not known)."""
    model: str = ""
    """File name of the model it was chosen for ('' = any model in its folder)."""
    objective: str = ""
    """How it was chosen, e.g. 'best F1' or 'precision >= 0.90'."""
    evaluation: str = ""
    """The evaluation folder whose predictions it was chosen from."""
    expected: list[dict[str, Any]] = field(default_factory=list)
    """Per class precision, recall and F1 on that evaluation at these thresholds."""
    created: float = 0.0
    nms_free: bool = False
    """Run a YOLO26 model with its NMS-free head (mlcore.engine.heads): `iou` then has no effect."""

    def __post_init__(self) -> None:
        if not isinstance(self.nms_free, bool):
            raise ProfileError(f"nms_free={self.nms_free!r}; use true or false.")
        fraction("confidence", self.confidence, 0.25, error=ProfileError)
        fraction("iou", self.iou, 0.25, error=ProfileError)
        if not isinstance(self.per_class, dict):
            raise ProfileError('per_class must map class names to thresholds, e.g. {"logo": 0.4}.')
        for name, value in self.per_class.items():
            fraction(f"per_class[{name!r}]", value, 0.25, error=ProfileError)
        object.__setattr__(self, "names", class_names(self.names or {}))

    @property
    def floor(self) -> float:
        """The threshold the model runs at: the lowest of all, so that no class loses a box it would keep."""
        return min([self.confidence, *self.per_class.values()])

    def class_thresholds(self, model_names: dict[int, str]) -> dict[int, float]:
        """Class id -> threshold for this model; ProfileError when the profile names classes it lacks."""
        known = {name: cls for cls, name in model_names.items()}
        unknown = sorted(set(self.per_class) - set(known))
        if unknown or (self.names and self.names != model_names):
            theirs = ", ".join(sorted(set(self.names.values()) | set(self.per_class))) or "none"
            raise ProfileError(
                f"the profile is for the classes {theirs}, but the model has {', '.join(model_names.values())}; "
                "choose a profile made for this model (or none), or make one from an evaluation of it."
            )
        return {cls: self.per_class.get(name, self.confidence) for cls, name in model_names.items()}

    def describe(self) -> str:
        """One line for a page or a log: 'confidence 0.31 (logo 0.45), IoU 0.60, best F1'."""
        own = ", ".join(f"{k} {v:.2f}" for k, v in self.per_class.items())
        return (
            f"confidence {self.confidence:.2f}"
            + (f" ({own})" if own else "")
            + (f", {NMS_FREE}" if self.nms_free else f", NMS IoU {self.iou:.2f}")
            + (f", {self.objective}" if self.objective else "")
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["names"] = {str(k): v for k, v in self.names.items()}
        return data

    @classmethod
    def from_dict(cls, data: Any) -> DeploymentProfile:
        if not isinstance(data, dict):
            raise ProfileError("a profile is a JSON object with confidence, iou and optionally per_class.")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ProfileError(
                f"a profile has no field {', '.join(unknown)}; it has {', '.join(cls.__dataclass_fields__)}."
            )
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"the profile is not valid: {exc}") from None


def profile_path(model: Path, settings: Settings) -> Path:
    """Where the profile of `model` (a weights file or an export) is kept."""
    folder = export_folder(model, settings) or model.parent
    if folder.is_relative_to(settings.outputs_root):
        return folder / paths.PROFILE_FILE
    digest = hashlib.sha256(str(model).encode()).hexdigest()[:10]
    return settings.outputs_root / paths.PROFILES_DIR / f"{model.stem}-{digest}" / paths.PROFILE_FILE


def export_folder(model: Path, settings: Settings) -> Path | None:
    """The export folder `model` belongs to (exports/{name}/...), or None for any other model."""
    root = settings.outputs_root / paths.EXPORTS_DIR
    if model.is_relative_to(root) and len(model.relative_to(root).parts) >= 2:
        return root / model.relative_to(root).parts[0]
    return None


def _export_source(model: Path, settings: Settings) -> Path | None:
    """The .pt an export was made from (its export_config.yaml), or None."""
    folder = export_folder(model, settings)
    if folder is None:
        return None
    try:
        config = yaml.safe_load((folder / paths.EXPORT_CONFIG).read_text())
    except (OSError, yaml.YAMLError):
        return None
    source = Path(str(config.get("model_path", ""))) if isinstance(config, dict) else None
    return source if source is not None and source.suffix == ".pt" and export_folder(source, settings) is None else None


def load_profile_file(path: Path) -> DeploymentProfile:
    try:
        return DeploymentProfile.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ProfileError(f"{path} does not exist.") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(
            f"{path} is not a readable profile ({type(exc).__name__}); save the profile again."
        ) from None


def read_profile(model: Path, settings: Settings) -> DeploymentProfile | None:
    """The profile saved for `model`, or None (none saved, or the one in its folder is another model's).

    An export without a profile of its own has the profile of the model it was exported from."""
    path = profile_path(model, settings)
    if not path.is_file():
        source = _export_source(model, settings)
        return read_profile(source, settings) if source is not None else None
    profile = load_profile_file(path)
    if profile.model and export_folder(model, settings) is None and profile.model != model.name:
        return None
    return profile


def save_profile(profile: DeploymentProfile, model: Path, settings: Settings) -> Path:
    """Write the profile for `model` (replacing the one there); its path."""
    path = profile_path(model, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = profile.to_dict() | {"model": profile.model or model.name, "created": profile.created or time.time()}
    write_json_atomically(path, data)
    return path


def with_overrides(
    saved: DeploymentProfile | None, confidence: float | None, iou: float | None, nms_free: bool | None = None
) -> DeploymentProfile:
    """The thresholds a prediction uses: the saved profile (or the defaults), with what the caller gave instead.

    A confidence given replaces the profile's per-class thresholds too: the caller asked for one threshold."""
    profile = saved or DeploymentProfile()
    if nms_free is not None:
        profile = replace(profile, nms_free=bool(nms_free))
    if confidence is not None:
        profile = replace(profile, confidence=float(confidence), per_class={})
    if iou is not None:
        profile = replace(profile, iou=float(iou))
    return profile


PROFILE_CHOICES = ("default", "none")  # the model's saved profile; no profile (Ultralytics' defaults)


def choose_profile(model: Path, settings: Settings, choice: str = "default") -> DeploymentProfile | None:
    """The profile a request asks for: 'default' (the model's saved one, if any), 'none', a JSON object, or
    the path of a profile.json under the outputs root. ProfileError when it cannot be used."""
    text = (choice or "default").strip()
    if text in PROFILE_CHOICES:
        return read_profile(model, settings) if text == "default" else None
    if text.startswith("{"):
        try:
            return DeploymentProfile.from_dict(json.loads(text))
        except ValueError as exc:
            if isinstance(exc, ProfileError):
                raise
            raise ProfileError(
                f'the profile is not valid JSON ({exc}); send an object like {{"confidence": 0.3}}.'
            ) from None
    path = Path(text).expanduser()
    path = path if path.is_absolute() else settings.outputs_root / path
    try:
        real = path.resolve(strict=True)
    except OSError:
        raise ProfileError(
            f"the profile {text} does not exist; use default, none, a JSON object or a profile.json."
        ) from None
    if not real.is_relative_to(settings.outputs_root) or real.name != paths.PROFILE_FILE:
        raise ProfileError(
            f"{text} is not a profile.json under {settings.outputs_root}; use default, none or a JSON object."
        )
    return load_profile_file(real)
