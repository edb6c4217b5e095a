"""Class names as the studio keeps them: {class id: name}, whatever wrote them (Ultralytics' model.names, a JSON
file whose keys came back as strings, a data.yaml). Imports nothing heavy, so the pages may use it too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def class_names(mapping: Mapping[Any, Any]) -> dict[int, str]:
    """`mapping` with int ids and str names, in its own order (ValueError on an id that is not a number)."""
    return {int(k): str(v) for k, v in mapping.items()}
