"""The search space of a study: each hyperparameter a range (log scale where it fits) or a choice.

    space = parse_space({"lr0": {"low": 1e-5, "high": 0.1, "log": True}, "optimizer": ["SGD", "AdamW"]})
    params = suggest(trial, space)          # {"lr0": 0.003, "optimizer": "AdamW"}
    fields = train_fields(params)           # {"learning_rate": 0.003, "optimizer": "AdamW", "advanced": {}}

Names are Ultralytics' train arguments (checked against its default.yaml); the ranges of DEFAULT_SPACE follow
Ultralytics' own tuner, with the optimizer a choice so that lr0 is used (optimizer=auto ignores it).
A space file is YAML in the same shape: `name: {low, high[, log, int]}`, `name: [a, b, ...]` (a choice) or
`name: {choices: [...]}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcore.core.spec import STRIDE, SpecError
from mlcore.core.user_yaml import UnsafeYaml, read_yaml_file, read_yaml_text
from mlcore.training.spec import MANAGED_ARGS, OPTIMIZERS, ultralytics_defaults, ultralytics_train_args

# Train arguments of the spec's own fields that a study may search, and the TrainSpec field each sets.
SPEC_FIELDS = {"lr0": "learning_rate", "optimizer": "optimizer", "batch": "batch_size", "imgsz": "imgsz"}
INT_ARGS = frozenset({"batch", "imgsz", "close_mosaic", "nbs"})  # Ultralytics wants whole numbers for these


class SpaceError(SpecError):
    """A search space that cannot be searched: the message names the parameter and what to change."""


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: a range [low, high] (log scale or whole numbers if asked) or a choice."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)

    @property
    def bounds(self) -> tuple[float, float]:
        """[low, high] of a range (parse_space sets both for every parameter that is not a choice)."""
        if self.low is None or self.high is None:
            raise ValueError(f"{self.name} is a choice, not a range")
        return self.low, self.high

    def describe(self) -> str:
        if self.is_choice:
            return f"{self.name} in {list(self.choices)}"
        return f"{self.name} in [{self.low:g}, {self.high:g}]" + (" (log)" if self.log else "")

    def to_dict(self) -> dict[str, Any]:
        if self.is_choice:
            return {"choices": list(self.choices)}
        entry: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            entry["log"] = True
        if self.integer:
            entry["int"] = True
        return entry


DEFAULT_SPACE: tuple[Param, ...] = (
    Param("lr0", 1e-5, 1e-1, log=True),
    Param("lrf", 0.01, 1.0),
    Param("momentum", 0.6, 0.98),
    Param("weight_decay", 0.0, 0.001),
    Param("warmup_epochs", 0.0, 5.0),
    Param("box", 1.0, 20.0),
    Param("cls", 0.2, 4.0),
    Param("dfl", 0.4, 6.0),
    Param("hsv_h", 0.0, 0.1),
    Param("hsv_s", 0.0, 0.9),
    Param("hsv_v", 0.0, 0.9),
    Param("degrees", 0.0, 45.0),
    Param("translate", 0.0, 0.9),
    Param("scale", 0.0, 0.95),
    Param("shear", 0.0, 10.0),
    Param("fliplr", 0.0, 1.0),
    Param("mosaic", 0.0, 1.0),
    Param("mixup", 0.0, 1.0),
    Param("optimizer", choices=("SGD", "AdamW")),
)
# Searchable as well, not searched unless asked for (they change the memory and the time a trial needs).
OPTIONAL_SPACE: tuple[Param, ...] = (
    Param("batch", choices=(8, 16, 32)),
    Param("imgsz", choices=(320, 480, 640)),
)


def tunable_args() -> frozenset[str]:
    """Ultralytics' train arguments a study may search: its own list, less what the studio manages, plus the
    spec's fields in SPEC_FIELDS."""
    known = ultralytics_train_args()
    return frozenset((known - MANAGED_ARGS) | set(SPEC_FIELDS))


def default_space() -> dict[str, Param]:
    return {p.name: p for p in DEFAULT_SPACE}


def _number(name: str, what: str, value: Any) -> float:
    if isinstance(value, str):  # YAML reads 1e-5 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpaceError(f"{name}: {what}={value!r} is not a number; give one, e.g. {name}: {{low: 0.0, high: 1.0}}.")
    return float(value)


def parse_param(name: Any, entry: Any) -> Param:
    """One entry of a space mapping, checked: a known argument, bounds in order, log only above 0."""
    if not isinstance(name, str) or not name:
        raise SpaceError(f"{name!r} is not a parameter name; use Ultralytics' train argument names (e.g. lr0).")
    known = tunable_args()
    if name in MANAGED_ARGS and name not in SPEC_FIELDS:
        raise SpaceError(
            f"{name} is set by the study itself (epochs per trial, device, dataset, seed); it cannot be searched."
        )
    if known and name not in known:
        close = sorted(k for k in known if k[:3] == name[:3])[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SpaceError(f"{name} is not an Ultralytics train argument{hint}; see the default space for examples.")
    if isinstance(entry, list | tuple):
        entry = {"choices": list(entry)}
    if not isinstance(entry, dict):
        raise SpaceError(f"{name}: {entry!r} is neither a range {{low: A, high: B}} nor a list of choices [A, B].")
    unknown = sorted(set(entry) - {"low", "high", "log", "int", "choices"})
    if unknown:
        raise SpaceError(f"{name}: unknown key(s) {unknown}; a range has low, high, log, int; a choice has choices.")
    if "choices" in entry:
        choices = tuple(entry["choices"] or ())
        if not choices:
            raise SpaceError(f"{name}: the list of choices is empty; give at least one value.")
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{name}: the choices {list(choices)} repeat a value; give each once.")
        if name == "optimizer":
            bad = [c for c in choices if c not in OPTIMIZERS]
            if bad:
                raise SpaceError(f"optimizer: {bad} unknown; choose from {', '.join(OPTIMIZERS)}.")
        if name in INT_ARGS and not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in choices):
            raise SpaceError(f"{name}: the choices must be positive whole numbers, e.g. [16, 32].")
        if name == "imgsz" and any(c < STRIDE for c in choices):
            raise SpaceError(f"imgsz: every choice must be at least {STRIDE} (e.g. [320, 640]).")
        return Param(name, choices=choices)
    if "low" not in entry or "high" not in entry:
        raise SpaceError(f"{name}: a range needs both low and high, e.g. {name}: {{low: 0.0, high: 1.0}}.")
    low, high = _number(name, "low", entry["low"]), _number(name, "high", entry["high"])
    for flag in ("log", "int"):
        if not isinstance(entry.get(flag, False), bool):
            raise SpaceError(f"{name}: {flag} must be true or false, not {entry[flag]!r}.")
    log, integer = entry.get("log", False), entry.get("int", False) or name in INT_ARGS
    if low > high:
        raise SpaceError(
            f"{name}: low={low:g} is above high={high:g}; swap them ({name}: {{low: {high:g}, high: {low:g}}})."
        )
    if log and low <= 0:
        raise SpaceError(
            f"{name}: a log range must lie above 0, and low={low:g}; use a small positive low "
            f"(e.g. {max(high, 1) * 1e-5:g}) or drop log: true."
        )
    if integer and (low != int(low) or high != int(high)):
        raise SpaceError(f"{name}: whole-number bounds are needed, not {low:g} and {high:g}.")
    return Param(name, low, high, log=log, integer=integer)


def parse_space(mapping: Any) -> dict[str, Param]:
    """A space mapping (from YAML, JSON or the page's table), each entry checked; at least one parameter."""
    if mapping is None or (isinstance(mapping, dict) and not mapping):
        raise SpaceError("the search space is empty; search at least one parameter (or leave it out for the default).")
    if not isinstance(mapping, dict):
        raise SpaceError("the search space must be a mapping of parameter names to ranges or choices.")
    return {str(name): parse_param(name, entry) for name, entry in mapping.items()}


def load_space_file(path: Path) -> dict[str, Param]:
    """A space from a YAML file (see the module's docstring for its shape)."""
    try:
        data = read_yaml_file(path, f"the space file {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"the space file {path} cannot be read ({getattr(exc, 'strerror', None) or exc}).") from None
    except UnsafeYaml as exc:
        raise SpaceError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise SpaceError(f"the space file {path} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    return parse_space(data)


def space_to_dict(space: dict[str, Param]) -> dict[str, Any]:
    return {name: param.to_dict() for name, param in space.items()}


def suggest(trial: Any, space: dict[str, Param]) -> dict[str, Any]:
    """The values of one Optuna trial for every parameter of the space."""
    values: dict[str, Any] = {}
    for name, p in space.items():
        if p.is_choice:
            values[name] = trial.suggest_categorical(name, list(p.choices))
        elif p.integer:
            values[name] = trial.suggest_int(name, int(p.bounds[0]), int(p.bounds[1]), log=p.log)
        else:
            values[name] = trial.suggest_float(name, *p.bounds, log=p.log)
    return values


def train_fields(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's values as TrainSpec fields: lr0, optimizer, batch and imgsz are the spec's own, the rest go to
    `advanced` (Ultralytics' other train arguments)."""
    fields: dict[str, Any] = {"advanced": {}}
    for name, value in params.items():
        if name in SPEC_FIELDS:
            fields[SPEC_FIELDS[name]] = value
        else:
            fields["advanced"][name] = value
    return fields


def space_table(space: dict[str, Param] | None = None) -> list[dict[str, Any]]:
    """The space as the page's table: every default and optional parameter, `search` ticked for those in `space`."""
    chosen = space if space is not None else default_space()
    rows = []
    for p in (*DEFAULT_SPACE, *OPTIONAL_SPACE, *(p for n, p in chosen.items() if n not in _OFFERED)):
        shown = chosen.get(p.name, p)
        rows.append(
            {
                "search": p.name in chosen,
                "parameter": p.name,
                "low": shown.low,
                "high": shown.high,
                "log": shown.log,
                "choices": ", ".join(str(c) for c in shown.choices),
            }
        )
    return rows


_OFFERED = {p.name for p in (*DEFAULT_SPACE, *OPTIONAL_SPACE)}


def _choice_value(text: str) -> Any:
    value = read_yaml_text(text, "a choice")
    return value if isinstance(value, int | float | str | bool) else text


def space_from_table(rows: list[dict[str, Any]]) -> dict[str, Param]:
    """The space of the rows whose `search` is ticked, checked like a space file."""
    mapping: dict[str, Any] = {}
    for row in rows:
        if not row.get("search"):
            continue
        name = str(row.get("parameter") or "").strip()
        choices = str(row.get("choices") or "").strip()
        if choices:
            mapping[name] = {"choices": [_choice_value(c.strip()) for c in choices.split(",") if c.strip()]}
        else:
            low, high = row.get("low"), row.get("high")
            if low is None or high is None or low != low or high != high:  # empty cells arrive as None or NaN
                raise SpaceError(f"{name}: give both low and high, or a list of choices.")
            mapping[name] = {"low": low, "high": high, "log": bool(row.get("log"))}
    return parse_space(mapping)


def baseline(space: dict[str, Param]) -> dict[str, Any]:
    """Ultralytics' default value of every parameter of the space, where it lies in the space (a range's default
    clipped to it; a choice's default if it is one of them, else the first choice): the study's first trial, so
    that it starts from the settings a plain training would use and looks for better ones."""
    defaults = ultralytics_defaults()
    values: dict[str, Any] = {}
    for name, p in space.items():
        default = defaults.get(name)
        if p.is_choice:
            values[name] = default if default in p.choices else p.choices[0]
        elif isinstance(default, int | float) and not isinstance(default, bool):
            clipped = min(max(float(default), p.bounds[0]), p.bounds[1])
            values[name] = int(round(clipped)) if p.integer else clipped
    return values
