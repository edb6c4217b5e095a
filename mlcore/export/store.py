"""The exports on disk: ml_outputs/exports/{model_name}_{timestamp}/, newest first, and the one result
document that the command line (--json) and the HTTP API give for an export.

    for item in list_exports(settings):
        print(item.name, item.complete, [f["format"] for f in item.card["formats"]])
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.folders import config_folders
from mlcore.core.settings import Settings
from mlcore.evaluation.analysis import Detections


class ExportUnreadable(ValueError):
    """An export's files are missing or damaged; the message says which and what to do."""


@dataclass(frozen=True)
class ExportSummary:
    """One export folder: its request, and its model card once the export has completed."""

    path: Path
    config: dict[str, Any]
    card: dict[str, Any] | None
    created: float

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def complete(self) -> bool:
        return self.card is not None

    @property
    def verdict(self) -> str:
        """'passed', 'failed', 'not checked' or 'not finished', over every format."""
        if self.card is None:
            return "not finished"
        checks = [f["parity"] for f in self.card["formats"] if f.get("parity")]
        if not checks:
            return "not checked"
        return "passed" if all(c["passed"] for c in checks) else "failed"


def _read_card(folder: Path) -> dict[str, Any] | None:
    try:
        card = json.loads((folder / paths.MODEL_CARD).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ExportUnreadable(f"{folder.name}/{paths.MODEL_CARD} cannot be read ({type(exc).__name__}).") from None
    return card if isinstance(card, dict) and isinstance(card.get("formats"), list) else None


def card_entry(model: Path) -> dict[str, Any] | None:
    """The model card's entry of an exported model (a file or an OpenVINO folder), found by its name in the card
    of the export folder it lies in (so it still matches after the export folder was moved or unzipped elsewhere);
    None for a model that no finished export describes."""
    try:
        card = _read_card(model.parent)
    except ExportUnreadable:
        return None
    return next((e for e in (card or {}).get("formats", []) if Path(str(e.get("path", ""))).name == model.name), None)


def list_exports(settings: Settings) -> list[ExportSummary]:
    """Every folder under exports/ with a readable request, newest first."""
    found = []
    for folder, config, created in config_folders(settings.outputs_root / paths.EXPORTS_DIR, paths.EXPORT_CONFIG):
        try:
            found.append(ExportSummary(folder, config, _read_card(folder), created))
        except ExportUnreadable:
            continue
    return found


def export_result(folder: Path) -> dict[str, Any]:
    """The export as scripts read it: its folder, and per format the precision it ran at, the parity numbers and
    the latency."""
    card = _read_card(folder)
    if card is None:
        raise ExportUnreadable(f"{folder} has no {paths.MODEL_CARD}: the export did not finish.")
    source_ms = (card.get("latency_source") or {}).get("median_ms")
    formats = []
    for entry in card["formats"]:
        parity = entry.get("parity")
        keys = ("map50_source", "map50_export", "map50_95_source", "map50_95_export", "passed", "verdict", "causes")
        formats.append(
            {
                "format": entry["format"],
                "path": entry["path"],
                "precision": entry["precision"],
                "inference_precision": entry.get("inference_precision"),  # OpenVINO's hint; None for the others
                "ran_at": (entry.get("latency") or {}).get("ran_at"),
                "parity": {k: parity[k] for k in keys} if parity else None,
                "latency_ms": {"source": source_ms, "export": (entry.get("latency") or {}).get("median_ms")},
            }
        )
    return {"output_dir": str(folder), "stopped": card.get("stopped", False), "formats": formats}


def load_parity(folder: Path, name: str) -> tuple[Detections, Detections]:
    """The source's and the export's stored predictions on the checked split."""
    runs = folder / paths.PARITY_DIR
    try:
        return Detections.load(runs / "source.npz"), Detections.load(runs / f"{name}.npz")
    except (OSError, ValueError, KeyError) as exc:
        raise ExportUnreadable(
            f"the parity predictions of {folder.name} cannot be read ({type(exc).__name__})."
        ) from None


def export_zip(folder: Path) -> bytes:
    """The exported models and the model card, as one zip (the parity predictions and logs stay out)."""
    buffer = io.BytesIO()
    kept = [
        p for p in sorted(folder.rglob("*")) if p.is_file() and not p.relative_to(folder).parts[0] == paths.PARITY_DIR
    ]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in kept:
            if path.suffix not in (".log", ".json") or path.name == paths.MODEL_CARD:
                archive.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return buffer.getvalue()
