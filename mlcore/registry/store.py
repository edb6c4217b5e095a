"""The model registry on disk: ml_outputs/registry/{name}/ holds model.json (versions and aliases),
audit.jsonl (every change: who, when, why) and v{n}/ per version (a copy of the weights, so deleting a
run never breaks a version, and the deployment profile registered with it).

Aliases are MLflow's: any name (`production`, `candidate`, ...), each on one version at a time, never on
an archived version. Versions are numbered from 1 and never renumbered or deleted, only archived.
Changes to one model are serialised by a lock file, so the app, the API and the CLI can share a registry.

    version = register(settings, weights, "logo-detector", user="ana", reason="first model", lineage={...})
    move_alias(settings, "logo-detector", "candidate", version.number, user="ana", reason="try it")
    model = read_model(settings, "logo-detector"); model.by_alias("candidate").path
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.hashing import copy_with_sha256, file_sha256
from mlcore.core.settings import Settings

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
RESERVED_ALIASES = ("latest",)  # MLflow's own meaning; v1, v2, ... are refused by the pattern below
VERSION_ALIAS = re.compile(r"^v\d+$")
PRODUCTION = "production"


class RegistryError(ValueError):
    """A registry request that cannot be done as asked; the message says why and what to do."""


class RegistryNotFound(RegistryError):
    """The model, version or alias named does not exist."""


@dataclass(frozen=True)
class Version:
    number: int
    file: str
    """The weights, relative to the model's folder: v{n}/best.pt."""
    sha256: str
    size: int
    created: float
    by: str
    source: str
    """The file it was registered from (it may be gone since)."""
    reason: str = ""
    names: dict[str, str] = field(default_factory=dict)
    """Class id (as text) -> name, from the dataset it was trained on ({} = not known)."""
    lineage: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    mlflow: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"v{self.number}"


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    folder: Path
    created: float
    versions: tuple[Version, ...] = ()
    aliases: dict[str, int] = field(default_factory=dict)

    def version(self, number: int) -> Version:
        for v in self.versions:
            if v.number == number:
                return v
        have = ", ".join(v.label for v in self.versions) or "none"
        raise RegistryNotFound(f"{self.name} has no version v{number} (it has: {have}).")

    def by_alias(self, alias: str) -> Version:
        if alias not in self.aliases:
            have = ", ".join(f"{a} → v{n}" for a, n in sorted(self.aliases.items())) or "none yet"
            raise RegistryNotFound(f"{self.name} has no alias {alias!r} (aliases: {have}).")
        return self.version(self.aliases[alias])

    def aliases_of(self, number: int) -> list[str]:
        return sorted(a for a, n in self.aliases.items() if n == number)

    def weights(self, version: Version) -> Path:
        return self.folder / version.file


def registry_root(settings: Settings) -> Path:
    return settings.outputs_root / paths.REGISTRY_DIR


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(
            f"model name {name!r} is not allowed; use lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (e.g. logo-detector)."
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias) or VERSION_ALIAS.match(alias):
        raise RegistryError(
            f"alias {alias!r} is not allowed; use lower-case letters, digits, '_' or '-', starting with a letter, "
            "and not v1, v2, ... (e.g. production, candidate)."
        )
    if alias in RESERVED_ALIASES:
        raise RegistryError(f"alias {alias!r} is reserved (it always means the newest version); pick another name.")
    return alias


def _model_from(folder: Path, data: dict[str, Any]) -> RegisteredModel:
    versions = tuple(
        Version(**{**v, "names": {str(k): str(n) for k, n in v.get("names", {}).items()}})
        for v in data.get("versions", [])
    )
    return RegisteredModel(
        data["name"],
        folder,
        float(data.get("created", 0)),
        versions,
        {str(a): int(n) for a, n in data.get("aliases", {}).items()},
    )


def _load(folder: Path) -> RegisteredModel | None:
    try:
        data = json.loads((folder / paths.REGISTRY_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{folder / paths.REGISTRY_FILE} cannot be read ({type(exc).__name__}); it was edited by hand or "
            "damaged. Restore it from a backup: the versions' weights in v1/, v2/, ... are untouched."
        ) from None
    try:
        return _model_from(folder, data)
    except (KeyError, TypeError, ValueError):
        raise RegistryError(
            f"{folder / paths.REGISTRY_FILE} is not a registry file; restore it from a backup."
        ) from None


def _save(model: RegisteredModel) -> None:
    data = {
        "name": model.name,
        "created": model.created,
        "aliases": dict(sorted(model.aliases.items())),
        "versions": [asdict(v) for v in model.versions],
    }
    write_json_atomically(model.folder / paths.REGISTRY_FILE, data)


def _audit(model: RegisteredModel, user: str, action: str, reason: str, **details: Any) -> None:
    entry = {"time": time.time(), "user": user, "action": action, "reason": reason, **details}
    with open(model.folder / paths.AUDIT_TRAIL, "a") as log:
        log.write(json.dumps(entry) + "\n")


@contextmanager
def _locked(settings: Settings, name: str) -> Iterator[Path]:
    folder = registry_root(settings) / check_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / paths.REGISTRY_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def list_models(settings: Settings) -> list[RegisteredModel]:
    """Every registered model, by name; a damaged model file is skipped (read_model says why)."""
    root = registry_root(settings)
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            model = _load(folder)
        except RegistryError:
            continue
        if model is not None:
            found.append(model)
    return found


def read_model(settings: Settings, name: str) -> RegisteredModel:
    model = _load(registry_root(settings) / check_name(name))
    if model is None:
        have = ", ".join(m.name for m in list_models(settings)) or "none yet"
        raise RegistryNotFound(f"no registered model is called {name!r} (registered: {have}).")
    return model


def audit_trail(settings: Settings, name: str) -> list[dict[str, Any]]:
    """Every change to the model, oldest first."""
    folder = read_model(settings, name).folder
    lines = []
    for trail in (paths.AUDIT_TRAIL_BEFORE, paths.AUDIT_TRAIL):  # the older entries first
        try:
            lines += (folder / trail).read_text().splitlines()
        except FileNotFoundError:
            continue
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            entries.append({"action": "unreadable line", "reason": line[:200]})
    return entries


def register(
    settings: Settings,
    weights: Path,
    name: str,
    user: str,
    reason: str = "",
    names: dict[str, str] | None = None,
    lineage: dict[str, Any] | None = None,
    profile: Path | None = None,
) -> Version:
    """Copy `weights` (and its deployment profile) into a new version of `name`; the version."""
    with _locked(settings, name) as folder:
        model = _load(folder) or RegisteredModel(name, folder, time.time())
        number = max((v.number for v in model.versions), default=0) + 1
        target = folder / f"v{number}"
        if target.exists():  # left by a registration that failed half-way
            shutil.rmtree(target)
        target.mkdir()
        try:
            digest = copy_with_sha256(weights, target / weights.name)
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise RegistryError(f"{weights} cannot be copied into the registry ({exc.strerror or exc}).") from None
        if profile is not None and profile.is_file():
            shutil.copyfile(profile, target / paths.PROFILE_FILE)
        version = Version(
            number,
            f"v{number}/{weights.name}",
            digest,
            (target / weights.name).stat().st_size,
            time.time(),
            user,
            str(weights),
            reason,
            dict(names or {}),
            dict(lineage or {}),
        )
        model = replace(model, versions=(*model.versions, version))
        _save(model)
        _audit(model, user, "register", reason, version=number, sha256=digest, source=str(weights))
        return version


def record_mlflow(settings: Settings, name: str, number: int, result: dict[str, Any] | None) -> None:
    """Keep what the MLflow bridge answered for a version (its MLflow version, or why it failed)."""
    if result is None:
        return
    with _locked(settings, name) as folder:
        model = read_model(settings, name)
        versions = tuple(replace(v, mlflow=result) if v.number == number else v for v in model.versions)
        _save(replace(model, folder=folder, versions=versions))


def move_alias(
    settings: Settings, name: str, alias: str, number: int, user: str, reason: str = "", **details: Any
) -> RegisteredModel:
    """Point `alias` at version `number` (moving it off any other version). The promotion gate is the
    caller's (registry.promotion); this only keeps the rules."""
    check_alias(alias)
    with _locked(settings, name):
        model = read_model(settings, name)
        version = model.version(number)
        if version.archived:
            raise RegistryError(f"{name} v{number} is archived; an alias cannot point at it. Restore it first.")
        before = model.aliases.get(alias)
        model = replace(model, aliases={**model.aliases, alias: number})
        _save(model)
        _audit(model, user, "alias", reason, alias=alias, version=number, previous=before, **details)
        return model


def remove_alias(settings: Settings, name: str, alias: str, user: str, reason: str = "") -> RegisteredModel:
    with _locked(settings, name):
        model = read_model(settings, name)
        model.by_alias(alias)
        before = model.aliases[alias]
        model = replace(model, aliases={a: n for a, n in model.aliases.items() if a != alias})
        _save(model)
        _audit(model, user, "remove alias", reason, alias=alias, previous=before)
        return model


def set_archived(
    settings: Settings, name: str, number: int, archived: bool, user: str, reason: str = ""
) -> RegisteredModel:
    """Archive a version (it stays on disk and in the lineage, but no alias may point at it) or restore it."""
    with _locked(settings, name):
        model = read_model(settings, name)
        model.version(number)
        held = model.aliases_of(number)
        if archived and held:
            raise RegistryError(
                f"{name} v{number} carries {', '.join(held)}; move or remove those aliases before archiving it."
            )
        versions = tuple(replace(v, archived=archived) if v.number == number else v for v in model.versions)
        model = replace(model, versions=versions)
        _save(model)
        _audit(model, user, "archive" if archived else "restore", reason, version=number)
        return model


def integrity_problem(model: RegisteredModel, version: Version) -> str | None:
    """Why the version's weights cannot be trusted (missing, or not the file registered), or None."""
    path = model.weights(version)
    try:
        digest = file_sha256(path)
    except OSError:
        return f"{model.name} v{version.number}: {path} is missing; the registry folder was changed by hand."
    if digest != version.sha256:
        return (
            f"{model.name} v{version.number}: {path} is not the file registered (sha256 {digest[:12]}…, "
            f"registered {version.sha256[:12]}…); it was replaced by hand. Register the model again."
        )
    return None
