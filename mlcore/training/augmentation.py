"""The augmentation settings a training can change: Ultralytics' names, defaults and the ranges the studio accepts.

    check_augmentation({"mosaic": 0.5, "fliplr": 0.0})     # ValueError naming the setting and its range
    augmentation_table({"mosaic": 0.5})                     # rows for a run's page: setting, value, default, what

The defaults are those of Ultralytics 8.4.190's default.yaml; a training's spec keeps only the settings the user
set (`TrainSpec.augmentation`), and Ultralytics' defaults apply to the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.user_yaml import read_yaml_file


@dataclass(frozen=True)
class Augmentation:
    name: str
    default: float
    low: float
    high: float
    step: float
    what: str


AUGMENTATIONS = (
    Augmentation("hsv_h", 0.015, 0.0, 1.0, 0.005, "hue shift, a fraction of the colour wheel"),
    Augmentation("hsv_s", 0.7, 0.0, 1.0, 0.05, "saturation change, a fraction"),
    Augmentation("hsv_v", 0.4, 0.0, 1.0, 0.05, "brightness change, a fraction"),
    Augmentation("degrees", 0.0, 0.0, 180.0, 1.0, "rotation, ± degrees"),
    Augmentation("translate", 0.1, 0.0, 0.9, 0.05, "shift, ± a fraction of the image"),
    Augmentation("scale", 0.5, 0.0, 0.95, 0.05, "zoom, ± a fraction"),
    Augmentation("shear", 0.0, 0.0, 45.0, 1.0, "shear, ± degrees"),
    Augmentation("perspective", 0.0, 0.0, 0.001, 0.0001, "perspective warp (0–0.001)"),
    Augmentation("flipud", 0.0, 0.0, 1.0, 0.05, "chance of an upside-down flip"),
    Augmentation("fliplr", 0.5, 0.0, 1.0, 0.05, "chance of a mirror flip"),
    Augmentation("mosaic", 1.0, 0.0, 1.0, 0.05, "chance of a 2×2 mosaic of four images"),
    Augmentation("mixup", 0.0, 0.0, 1.0, 0.05, "chance of blending in a second image"),
    Augmentation("copy_paste", 0.0, 0.0, 1.0, 0.05, "copy-paste of objects (needs segment labels: none in boxes)"),
    Augmentation("erasing", 0.4, 0.0, 0.9, 0.05, "random erasing (a classification setting: no effect on boxes)"),
)
BY_NAME = {a.name: a for a in AUGMENTATIONS}
DEFAULTS = {a.name: a.default for a in AUGMENTATIONS}


def check_augmentation(values: Any) -> dict[str, float]:
    """`values` as {setting: number} if every setting is known and in its range; ValueError saying which is not."""
    if not isinstance(values, dict):
        raise ValueError("augmentation must be a mapping of setting to number, e.g. {'mosaic': 0.5}.")
    checked = {}
    for name, value in values.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise ValueError(f"augmentation[{name!r}] is not an augmentation setting; use one of {', '.join(BY_NAME)}.")
        if isinstance(value, bool) or not isinstance(value, int | float) or not setting.low <= value <= setting.high:
            raise ValueError(
                f"augmentation[{name!r}]={value!r}; use a number from {setting.low:g} to "
                f"{setting.high:g} (Ultralytics' default is {setting.default:g})."
            )
        checked[name] = float(value)
    return checked


def augmentation_table(values: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per setting: its value in a training (`values`, the others at their default) and whether it was
    changed."""
    return [
        {
            "setting": a.name,
            "value": float(values.get(a.name, a.default)),
            "default": a.default,
            "changed": a.name in values and float(values[a.name]) != a.default,
            "what": a.what,
        }
        for a in AUGMENTATIONS
    ]


def run_augmentation(run_folder: Path, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The augmentation a run trained with: its spec's settings (those in the other arguments included), and over
    them args.yaml's values once Ultralytics wrote it."""
    try:
        args = read_yaml_file(run_folder / paths.ARGS_FILE) or {}  # an attached run's: made elsewhere
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        args = {}
    values = {**(spec.get("augmentation") or {}), **(spec.get("advanced") or {}), **args}
    return augmentation_table({k: v for k, v in values.items() if k in BY_NAME and isinstance(v, int | float)})


def parse_settings(pairs: list[str]) -> dict[str, float]:
    """Settings typed as NAME=VALUE ("mosaic=0.5"), checked; ValueError saying which is wrong."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        try:
            values[name.strip()] = float(text)
        except ValueError:
            raise ValueError(f"{pair!r}; write NAME=VALUE with a number, e.g. mosaic=0.5.") from None
        if not sep:
            raise ValueError(f"{pair!r}; write NAME=VALUE, e.g. mosaic=0.5.")
    return check_augmentation(values)
