"""The one way to name a model, for every command, route and page that takes one:

- a weights file or an export: absolute, or relative to the outputs folder or to the working folder
  (`trainings/logos/v1/weights/best.pt`, `exports/best_20261201-101500/best.onnx`);
- a run: its folder, or PROJECT/EXPERIMENT under trainings/ (`logos/v1`): its best.pt;
- a registered version: NAME:VERSION (`logo-detector:3` or `:v3`) or NAME@ALIAS (`logo-detector@production`);
- an export folder (`exports/best_20261201-101500`): its one format (several: the error names them).

    ref = resolve_reference("logo-detector@production", settings)
    ref.path, ref.sha256, ref.label          # registry/logo-detector/v3/best.pt, 9f2c…, "logo-detector v3"
    spec = EvalSpec(model_path=model_path("logos/v1", settings, weights_only=True), ...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.hashing import file_sha256
from mlcore.core.safe_paths import is_export, resolve_model
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.export.store import ExportSummary, list_exports
from mlcore.predict.models import ModelChoice, deployable_models
from mlcore.registry.lineage import dataset_facts, run_of
from mlcore.registry.store import (
    PRODUCTION,
    RegisteredModel,
    RegistryError,
    RegistryNotFound,
    Version,
    integrity_problem,
    list_models,
    read_model,
)
from mlcore.runs.store import read_run

VERSION_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*):v?(?P<number>\d+)$")
ALIAS_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*)@(?P<alias>[A-Za-z0-9_-]+)$")
MODEL_FORMS = (
    "Name a model as a weights file or an export (absolute, or relative to the outputs folder or to the working "
    "folder, e.g. trainings/logos/v1/weights/best.pt), a run (PROJECT/EXPERIMENT, e.g. logos/v1), a registered "
    "version (NAME:N or NAME@ALIAS, e.g. logo-detector@production) or an export folder (exports/NAME)."
)


class ModelNameError(SubmitError, RegistryError):
    """The text names no model that may be used; the message says why and lists the ways to name one."""


class UnknownModel(ModelNameError, RegistryNotFound):
    """The registered model, version or alias named does not exist."""


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
    return ModelRef(
        text,
        f"{model.name} v{version.number}",
        model.weights(version),
        version.sha256,
        version.names,
        spec.get("imgsz"),
    )


def weights_facts(path: Path, settings: Settings) -> tuple[dict[str, str], int | None]:
    """(classes, imgsz) of a run's weights or an export, from their files."""
    folder = run_of(path)
    if folder is not None and (run := read_run(folder)) is not None:
        return dataset_facts(str(run.spec.get("dataset_path") or "")).get("names", {}), run.spec.get("imgsz")
    for item in list_exports(settings):
        if path.is_relative_to(item.path) and item.card:
            return {str(k): str(v) for k, v in (item.card.get("classes") or {}).items()}, item.card.get("imgsz")
    return {}, None


def _candidates(text: str, settings: Settings) -> list[Path]:
    """Where a typed path may point: as it is when absolute; else under the working folder, the outputs folder,
    its trainings (PROJECT/EXPERIMENT) and the studio's own folder, in that order."""
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~someone" of no such user
        return []
    if path.is_absolute():
        return [path]
    bases = (Path.cwd(), settings.outputs_root, settings.outputs_root / paths.TRAININGS_DIR, PROJECT_ROOT)
    return list(dict.fromkeys(base / path for base in bases))


def _export_of(path: Path, settings: Settings) -> ExportSummary | None:
    return next((e for e in list_exports(settings) if path == e.path or path.is_relative_to(e.path)), None)


def _export_format(folder: Path, settings: Settings) -> Path:
    """The model an export folder holds: its one format (a folder with several names them)."""
    export = _export_of(folder, settings)
    formats = [Path(f["path"]) for f in ((export.card or {}).get("formats") or [])] if export else []
    if len(formats) == 1:
        return formats[0]
    if not formats:
        raise ModelNameError(f"{folder} holds no finished export (its model card is missing). {MODEL_FORMS}")
    listed = "; ".join(str(f) for f in formats)
    raise ModelNameError(f"{folder} holds {len(formats)} exported models; name one of them: {listed}.")


def _found_path(text: str, settings: Settings) -> Path:
    """The file `text` points at: a run folder gives its best.pt, an export folder its one format."""
    for candidate in _candidates(text, settings):
        if not candidate.exists():
            continue
        weights = candidate / paths.WEIGHTS_DIR / paths.BEST_WEIGHTS
        if candidate.is_dir() and weights.is_file():
            return weights
        if candidate.is_dir() and (candidate / paths.MODEL_CARD).is_file():
            return _export_format(candidate, settings)
        return candidate
    typed = Path(text)  # nothing there: a relative name is most likely meant under the outputs folder
    return typed if typed.is_absolute() or text.startswith("~") else settings.outputs_root / typed


def _label(path: Path, settings: Settings) -> str:
    if (run := run_of(path)) is not None:
        return f"{run.parent.name}/{run.name}"
    if (export := _export_of(path, settings)) is not None:
        return f"{export.name}/{path.name}"
    return path.name


def names_registered(text: str) -> bool:
    """Whether `text` is of the registry's forms, NAME:N or NAME@ALIAS (which version it means can change)."""
    return bool(ALIAS_REF.match(text) or VERSION_REF.match(text))


def _registered(text: str, settings: Settings) -> ModelRef | None:
    """The registered version NAME:N or NAME@ALIAS names; None when `text` is not of that form."""
    try:
        if match := ALIAS_REF.match(text):
            model = read_model(settings, match["name"])
            return _from_version(text, model, model.by_alias(match["alias"]))
        if match := VERSION_REF.match(text):
            model = read_model(settings, match["name"])
            return _from_version(text, model, model.version(int(match["number"])))
    except ModelNameError:
        raise
    except RegistryNotFound as exc:
        raise UnknownModel(f"{exc} {MODEL_FORMS}") from None
    except RegistryError as exc:
        raise ModelNameError(f"{exc} {MODEL_FORMS}") from None
    return None


def _named_file(text: str, settings: Settings, weights_only: bool, purpose: str) -> Path:
    """The file a path, a run or an export folder names, if it may be loaded (and is weights, when asked)."""
    try:
        path = resolve_model(str(_found_path(text, settings)), settings)
    except ModelNameError:
        raise
    except SubmitError as exc:
        raise ModelNameError(f"{text!r} names no model that may be used: {exc} {MODEL_FORMS}") from None
    if weights_only and is_export(path):
        source = ((_export_of(path, settings) or ExportSummary(path, {}, {}, 0)).card or {}).get("source") or {}
        origin = source.get("run") or source.get("path") or "the run it was exported from"
        raise ModelNameError(
            f"{_label(path, settings)} is an exported model; {purpose} needs the PyTorch weights (.pt) it was "
            f"exported from: name {origin} instead."
        )
    return path


def _text(text: str, default: str) -> str:
    named = (text or "").strip() or default.strip()
    if not named:
        raise ModelNameError(f"no model given. {MODEL_FORMS}")
    return named


def resolve_reference(
    text: str, settings: Settings, weights_only: bool = False, purpose: str = "this", default: str = ""
) -> ModelRef:
    """The model `text` names (`default` when it is empty), with its sha256, label, classes and size;
    ModelNameError, with what to do, when there is none.

    `weights_only`: refuse exports, for what needs the PyTorch weights (`purpose`: "a training", "an audit")."""
    text = _text(text, default)
    if (ref := _registered(text, settings)) is not None:
        return ref
    path = _named_file(text, settings, weights_only, purpose)
    names, imgsz = weights_facts(path, settings)
    return ModelRef(text, _label(path, settings), path, file_sha256(path), names, imgsz)


def model_path(
    text: str, settings: Settings, weights_only: bool = False, purpose: str = "this", default: str = ""
) -> str:
    """The file `text` names, as a job's spec records it (an absolute path): resolve_reference without the facts
    (no hashing, no reading of runs and exports: it sits on the prediction routes' path)."""
    text = _text(text, default)
    if (ref := _registered(text, settings)) is not None:
        return str(ref.path)
    return str(_named_file(text, settings, weights_only, purpose))


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
        found += [
            Choice(f"{model.name}:{v.number}", f"{model.name} v{v.number}")
            for v in reversed(model.versions)
            if not v.archived
        ]
    found += [Choice(str(m.path), m.label) for m in deployable_models(settings)]
    return found


def registered_weights(settings: Settings) -> list[ModelChoice]:
    """Every version that is not archived, production first, then newest first (for pickers)."""
    found = []
    for model in list_models(settings):
        versions = sorted(
            (v for v in model.versions if not v.archived),
            key=lambda v: (PRODUCTION not in model.aliases_of(v.number), -v.number),
        )
        for version in versions:
            aliases = ", ".join(model.aliases_of(version.number))
            label = f"{model.name} v{version.number}" + (f" ({aliases})" if aliases else "")
            found.append(ModelChoice(model.weights(version), label, "registered"))
    return found


def deployable_with_registry(settings: Settings) -> list[ModelChoice]:
    """The models a prediction may use: registered versions first (production on top), then runs and exports."""
    return registered_weights(settings) + deployable_models(settings)
