"""Explanation jobs' folders as pages and the API read them: the result with its pictures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.explain.render import b64


def explanation_result(folder: Path, pictures: bool = True) -> dict[str, Any] | None:
    """explanation.json of a finished job, each box with its overlay and map as base64 PNG when `pictures`; None
    while it is not written."""
    try:
        document = json.loads((folder / paths.EXPLANATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    for box in document.get("boxes", []):
        box["map_path"], box["overlay_path"] = str(folder / box["map"]), str(folder / box["overlay"])
        if pictures:
            for name in ("map", "overlay"):
                try:
                    box[f"{name}_png"] = b64((folder / box[name]).read_bytes())
                except OSError:
                    box[f"{name}_png"] = None
    return document
