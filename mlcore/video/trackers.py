"""The trackers Ultralytics ships (their YAML files in its package, read without importing it), their settings with
the user's changes checked against them, and the one rule that keeps tracking offline: no re-identification model.

    tracker_names()                          # ["tracktrack", "botsort", "bytetrack", ...]: Ultralytics' default first
    config = tracker_settings("bytetrack", {"track_buffer": 60})
    config = tracker_settings("/data/my_tracker.yaml")   # a YAML of one's own, checked the same way
    refuse_downloads(config, model_path, nms_free)        # ReID on an export or a YOLO26 head would download a model
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import PathNotAllowed, is_export, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.engine.architectures import is_end2end
from mlcore.engine.heads import recorded_architecture

REID_KEYS = ("with_reid", "model")
ENGINE_DEFAULT = "tracktrack"  # Ultralytics 8.4.190's cfg/default.yaml: tracker: tracktrack.yaml (read below)


class TrackerError(SubmitError):
    """A tracker or a setting that cannot be used; the message says what to give."""


@cache
def _engine_folder() -> Path:
    spec = importlib.util.find_spec("ultralytics")  # finds the package without running it (no torch import)
    if spec is None or not spec.submodule_search_locations:
        raise TrackerError("Ultralytics is not installed here; run `make dev` (or `pip install -r requirements.txt`).")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def default_tracker() -> str:
    """The tracker Ultralytics uses when none is named (its cfg/default.yaml's `tracker`)."""
    try:
        text = (_engine_folder() / "cfg" / "default.yaml").read_text()
        return str(yaml.safe_load(text).get("tracker") or ENGINE_DEFAULT).removesuffix(".yaml")
    except (OSError, yaml.YAMLError):
        return ENGINE_DEFAULT


@cache
def _shipped() -> dict[str, dict[str, Any]]:
    found = {}
    for file in sorted((_engine_folder() / "cfg" / "trackers").glob("*.yaml")):
        data = yaml.safe_load(file.read_text())
        if isinstance(data, dict) and data.get("tracker_type"):
            found[file.stem] = data
    return found


def tracker_names() -> list[str]:
    """The trackers Ultralytics ships, its default first."""
    names = sorted(_shipped())
    first = default_tracker()
    return [first, *[n for n in names if n != first]] if first in names else names


def tracker_defaults(name: str) -> dict[str, Any]:
    """A shipped tracker's settings as Ultralytics writes them; TrackerError naming the known ones."""
    shipped = _shipped()
    key = name.strip().lower().removesuffix(".yaml")
    if key not in shipped:
        raise TrackerError(f"unknown tracker {name!r}; use one of {', '.join(tracker_names())}, or a YAML file of one.")
    return dict(shipped[key])


def _checked(key: str, value: Any, default: Any, tracker: str) -> Any:
    where = f"tracker {tracker}: {key}={value!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TrackerError(f"{where}; use true or false.")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TrackerError(f"{where}; use a whole number of at least 0 (its default is {default}).")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TrackerError(f"{where}; use a number (its default is {default}).")
        if key.endswith(("thresh", "thr")) and not 0 <= value <= 1:
            raise TrackerError(f"{where}; a threshold lies between 0 and 1 (its default is {default}).")
        if value < 0:
            raise TrackerError(f"{where}; use a number of at least 0 (its default is {default}).")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise TrackerError(f"{where}; use a word such as {default!r}.")
    return value.strip()


def tracker_settings(
    tracker: str, changes: dict[str, Any] | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """The settings a job tracks with: a shipped tracker's (by name) or a YAML file's (under the dataset roots or
    the outputs), with `changes` applied; each value checked against the shipped default's type and range."""
    text = tracker.strip() or default_tracker()
    own: dict[str, Any] = {}
    shipped_name = text.lower().removesuffix(".yaml") in _shipped()
    if text.lower().endswith((".yaml", ".yml")) and not shipped_name:
        if settings is None:
            raise TrackerError(f"{text}: a tracker file needs the studio's settings to be checked.")
        try:
            path = resolve_user_path(
                text, (*settings.dataset_roots, settings.outputs_root), base=PROJECT_ROOT, what="tracker file"
            )
            loaded = yaml.safe_load(path.read_text())
        except PathNotAllowed as exc:
            raise TrackerError(str(exc)) from None
        except (OSError, yaml.YAMLError) as exc:
            raise TrackerError(
                f"{text} cannot be read as YAML ({str(exc)[:120]}); give a tracker's YAML file."
            ) from None
        if not isinstance(loaded, dict) or not loaded.get("tracker_type"):
            raise TrackerError(f"{text} names no tracker_type; start from one of Ultralytics' tracker files.")
        own = loaded
        text = str(loaded["tracker_type"])
    defaults = tracker_defaults(text)
    name = str(defaults["tracker_type"])
    merged = dict(defaults)
    for key, value in {**own, **(changes or {})}.items():
        if key not in defaults:
            raise TrackerError(
                f"tracker {name} has no setting {key!r}; its settings are {', '.join(sorted(defaults))}."
            )
        if key == "tracker_type":
            if value != name:
                raise TrackerError(
                    f"tracker_type={value!r} in the changes of tracker {name}; pick that tracker instead."
                )
            continue
        merged[key] = _checked(key, value, defaults[key], name)
    return merged


def refuse_downloads(config: dict[str, Any], model: Path, nms_free: bool) -> None:
    """Re-identification would fetch a model (the studio works offline): allowed only on the detector's own features,
    which Ultralytics reads from a .pt's detection head with NMS."""
    if not config.get("with_reid"):
        return
    name = config["tracker_type"]
    if str(config.get("model", "auto")) != "auto":
        raise TrackerError(
            f"tracker {name}: with_reid with model={config.get('model')!r} loads a separate re-identification model; "
            "keep model: auto (the detector's own features) or turn with_reid off."
        )
    architecture = recorded_architecture(model) if model.suffix == ".pt" else None
    if is_export(model) or nms_free or (architecture and is_end2end(architecture)):
        raise TrackerError(
            f"tracker {name}: with_reid on {model.name} would download a re-identification model (its own features are "
            "read only from a .pt's detection head with NMS); turn with_reid off, or use such a model."
        )


def write_tracker_file(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
