"""The checks every request spec is built from (TrainSpec, EvalSpec, ExportSpec, ...), in the manner of
Ultralytics' `cfg.check_cfg`: each refuses a bad value with a message that names the field, quotes the value
and says what to use instead. The caller passes the pieces that differ, so each spec keeps its own words:

    whole("epochs", 0, 1, example="epochs=50")  # epochs=0; use a whole number of at least 1 (e.g. epochs=50).
    fraction("iou", 1.2, example=0.25)          # iou=1.2; use a number between 0 and 1 (e.g. 0.25).

Defaults are written once, on the spec's fields: forms and argparse read them (`TrainSpec.epochs`, `defaults()`).
"""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from typing import Any

STRIDE = 32  # YOLOv8's largest stride: Ultralytics rounds imgsz up to a multiple of it
DEFAULT_IMGSZ = 640  # Ultralytics' default image size
MAX_IMGSZ = 4096  # the largest image size a request may ask for (training, evaluation, validation alike)
DEVICE_PATTERN = re.compile(r"^(auto|cpu|\d+(,\d+)*)$")


class SpecError(ValueError):
    """A field has a bad value; the message names the field, the value and a good one."""


def refuse_unknown(spec: type, data: dict[str, Any], aliases: tuple[str, ...] = ()) -> None:
    """Refuse keys of `data` that are no field of the dataclass `spec`: a typo is reported, not ignored."""
    known = {f.name for f in fields(spec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(f"unknown field(s) {unknown}; known fields are {sorted(known | set(aliases))}.")


def defaults(spec: type) -> dict[str, Any]:
    """Field name -> default of the dataclass `spec` (a factory is called): what a form or a parser starts from."""
    found = {}
    for f in fields(spec):
        if f.default is not MISSING:
            found[f.name] = f.default
        elif f.default_factory is not MISSING:
            found[f.name] = f.default_factory()
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def whole(
    name: str,
    value: Any,
    low: int,
    high: int | None = None,
    example: Any = None,
    *,
    zero: bool = False,
    step: int = 1,
    use: str | None = None,
    error: type[Exception] = SpecError,
) -> int:
    """`value` must be a whole number (not a bool) from `low` (to `high`), a multiple of `step`; `zero`: 0 is allowed
    too (it means a default the caller knows). The message: "{name}={value!r}; {use}." where `use` defaults to
    "use a whole number of at least {low}" (or "from {low} to {high}"), then " (e.g. {example})" with an example."""
    fits = isinstance(value, int) and not isinstance(value, bool)
    fits = fits and ((zero and value == 0) or (low <= value and (high is None or value <= high))) and not value % step
    if not fits:
        if use is None:
            use = "use a whole number " + (f"of at least {low}" if high is None else f"from {low} to {high}")
            use += "" if example is None else f" (e.g. {example})"
        raise error(f"{name}={value!r}; {use}.")
    return value


def at_most(name: str, value: int, high: int, example: Any, error: type[Exception] = SpecError) -> None:
    """A whole number above `high` is refused as too large (checked after `whole`)."""
    if value > high:
        raise error(f"{name}={value} is too large; use at most {high} (e.g. {example}).")


def fraction(
    name: str,
    value: Any,
    example: Any = None,
    *,
    zero: bool = False,
    use: str | None = None,
    error: type[Exception] = SpecError,
) -> float:
    """`value` must be a number (not a bool) with 0 < value < 1 (`zero`: 0 <= value < 1). The message:
    "{name}={value!r}; {use}." where `use` defaults to "use a number between 0 and 1" (e.g. example)."""
    if not (_number(value) and (0 <= value if zero else 0 < value) and value < 1):
        if use is None:
            use = "use a number between 0 and 1" + ("" if example is None else f" (e.g. {example})")
        raise error(f"{name}={value!r}; {use}.")
    return float(value)


def flag(name: str, value: Any, error: type[Exception] = SpecError) -> None:
    """`value` must be true or false (not 1, not 'yes')."""
    if not isinstance(value, bool):
        raise error(f"{name}={value!r}; use true or false.")


def one_of(name: str, value: Any, options: tuple[str, ...], error: type[Exception] = SpecError) -> None:
    """`value` must be one of `options`."""
    if value not in options:
        raise error(f"{name}={value!r}; use one of {', '.join(options)}.")


def device(name: str, value: Any, *, several: bool = False, use: str | None = None) -> None:
    """'auto', 'cpu', a GPU index, or (`several`) a list of them like '0,1'."""
    text = str(value)
    if not DEVICE_PATTERN.match(text) or (not several and "," in text):
        if use is None:
            use = (
                "use 'auto', 'cpu', a GPU index like '0', or several like '0,1'"
                if several
                else "use 'auto', 'cpu' or one GPU index like '0'"
            )
        raise SpecError(f"{name}={value!r}; {use}.")


def non_empty(name: str, value: Any, hint: str) -> None:
    """A path or name that must be given: "{name} is empty; give {hint}."."""
    if not str(value or "").strip():
        raise SpecError(f"{name} is empty; give {hint}.")
