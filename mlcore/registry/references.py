"""What a user may name as a model to compare or deploy: `NAME:VERSION` (logo-detector:3 or :v3),
`NAME@ALIAS` (logo-detector@production), a run (its folder, or project/experiment under trainings/),
a trusted .pt, or an export's file.

    ref = resolve_reference("logo-detector@production", settings)
    ref.path, ref.sha256, ref.label          # registry/logo-detector/v3/best.pt, 9f2c…, "logo-detector v3"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.hashing import file_sha256
from mlcore.core.settings import Settings
from mlcore.export.store import list_exports
from mlcore.predict.models import ModelChoice, deployable_models, resolve_model
from mlcore.registry.lineage import dataset_facts, run_of
from mlcore.registry.store import (
    PRODUCTION,
    RegisteredModel,
    RegistryError,
    Version,
    integrity_problem,
    list_models,
    read_model,
)
from mlcore.runs.store import read_run

VERSION_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*):v?(?P<number>\d+)$")
ALIAS_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)@(?P<alias>[A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class ModelRef:
    text: str
    label: str
    path: Path
    sha256: str
    names: dict[str, str] = field(default_factory=dict)
    """Class id (as text) -> name when known without loading the model ({} = not known)."""
    imgsz: int | None = None
    """The image size it was trained or exported at, when known."""


def _from_version(text: str, model: RegisteredModel, version: Version) -> ModelRef:
    if problem := integrity_problem(model, version):
        raise RegistryError(problem)
    spec = version.lineage.get("spec") or {}
    return ModelRef(text, f"{model.name} v{version.number}", model.weights(version), version.sha256, version.names,
                    spec.get("imgsz"))  # fmt: skip


def weights_facts(path: Path, settings: Settings) -> tuple[dict[str, str], int | None]:
    """(classes, imgsz) of a run's weights or an export, from their files."""
    folder = run_of(path)
    if folder is not None and (run := read_run(folder)) is not None:
        return dataset_facts(str(run.spec.get("dataset_path") or "")).get("names", {}), run.spec.get("imgsz")
    for item in list_exports(settings):
        if path.is_relative_to(item.path) and item.card:
            return {str(k): str(v) for k, v in (item.card.get("classes") or {}).items()}, item.card.get("imgsz")
    return {}, None


def resolve_reference(text: str, settings: Settings) -> ModelRef:
    """The model `text` names; RegistryError or SubmitError (with what to do) when there is none."""
    text = (text or "").strip()
    if match := ALIAS_REF.match(text):
        model = read_model(settings, match["name"])
        return _from_version(text, model, model.by_alias(match["alias"]))
    if match := VERSION_REF.match(text):
        model = read_model(settings, match["name"])
        return _from_version(text, model, model.version(int(match["number"])))
    candidate = Path(text)
    for folder in (candidate, settings.outputs_root / paths.TRAININGS_DIR / text):
        if (folder / paths.CONFIG_FILE).is_file() and (folder / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS).is_file():
            candidate = folder / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
            break
    try:
        path = resolve_model(str(candidate), settings)
    except SubmitError as exc:
        raise RegistryError(
            f"{text!r} names no model: {exc} Give NAME:VERSION, NAME@ALIAS, a run folder or a weights file."
        ) from None
    names, imgsz = weights_facts(path, settings)
    run = run_of(path)
    label = f"{run.parent.name}/{run.name}" if run else path.name
    return ModelRef(text, label, path, file_sha256(path), names, imgsz)


@dataclass(frozen=True)
class Choice:
    text: str
    """What resolve_reference takes."""
    label: str


def model_choices(settings: Settings) -> list[Choice]:
    """What a comparison may pick: registered versions (aliases first), then runs' weights and exports."""
    found = []
    for model in list_models(settings):
        found += [Choice(f"{model.name}@{a}", f"{model.name}@{a} (v{n})") for a, n in sorted(model.aliases.items())]
        found += [Choice(f"{model.name}:{v.number}", f"{model.name} v{v.number}") for v in reversed(model.versions)
                  if not v.archived]  # fmt: skip
    found += [Choice(str(m.path), m.label) for m in deployable_models(settings)]
    return found


def registered_path(text: str, settings: Settings) -> str:
    """The weights file a NAME:VERSION or NAME@ALIAS names (checked against its sha256); any other text as it
    is. Lets predictions name "logo-detector@production" wherever they take a model path."""
    text = (text or "").strip()
    if ALIAS_REF.match(text) or VERSION_REF.match(text):
        return str(resolve_reference(text, settings).path)
    return text


def registered_weights(settings: Settings) -> list[ModelChoice]:
    """Every version that is not archived, production first, then newest first (for pickers)."""
    found = []
    for model in list_models(settings):
        versions = sorted((v for v in model.versions if not v.archived),
                          key=lambda v: (PRODUCTION not in model.aliases_of(v.number), -v.number))  # fmt: skip
        for version in versions:
            aliases = ", ".join(model.aliases_of(version.number))
            label = f"{model.name} v{version.number}" + (f" ({aliases})" if aliases else "")
            found.append(ModelChoice(model.weights(version), label, "registered"))
    return found


def deployable_with_registry(settings: Settings) -> list[ModelChoice]:
    """The models a prediction may use: registered versions first (production on top), then runs and exports."""
    return registered_weights(settings) + deployable_models(settings)
