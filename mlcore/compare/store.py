"""Comparisons on disk: ml_outputs/comparisons/{a}_vs_{b}_{timestamp}/ with comparison.json and report.html.

folder = save_comparison(document, settings)
for item in list_comparisons(settings): print(item.name, item.document["verdict"])
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.compare.comparison import scored_sides
from mlcore.compare.disagreements import draw_disagreement
from mlcore.compare.pairing import ComparisonError
from mlcore.compare.report import comparison_html
from mlcore.core import paths
from mlcore.core.atomic_file import write_atomically, write_json_atomically
from mlcore.core.folders import stamped_folder
from mlcore.core.settings import Settings

REPORT_PICTURES = 12


@dataclass(frozen=True)
class ComparisonSummary:
    path: Path
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)[:40].strip("_") or "model"


def gallery_pictures(document: dict[str, Any], limit: int = REPORT_PICTURES) -> list[tuple[str, bytes]]:
    """The first disagreeing images drawn (A left, B right) as JPEG, with captions; unreadable images skipped."""
    rows = document.get("disagreements", [])[:limit]
    if not rows:
        return []
    a, b = scored_sides(document)
    labels = (f"A · {document['a']['label']}", f"B · {document['b']['label']}")
    pictures = []
    for row in rows:
        try:
            picture = draw_disagreement(Path(document["dataset"]), a, b, row["index"], labels)
        except OSError:
            continue
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=82)
        better = "A" if row["better"] == "a" else "B"
        pictures.append(
            (f"{row['image']}: A {row['a_errors']} errors, B {row['b_errors']} · {better} better", buffer.getvalue())
        )
    return pictures


def save_comparison(document: dict[str, Any], settings: Settings) -> Path:
    """Write the comparison and its HTML report under comparisons/; the folder."""
    stem = f"{_slug(document['a']['label'])}_vs_{_slug(document['b']['label'])}"
    folder = stamped_folder(settings.outputs_root / paths.COMPARISONS_DIR, stem)
    document = {**document, "output_dir": str(folder)}
    write_atomically(folder / paths.REPORT_FILE, comparison_html(document, gallery_pictures(document)).encode())
    write_json_atomically(folder / paths.COMPARISON_FILE, document)
    return folder


def load_comparison(folder: Path) -> dict[str, Any]:
    try:
        document = json.loads((folder / paths.COMPARISON_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ComparisonError(
            f"{folder.name} has no readable {paths.COMPARISON_FILE} ({type(exc).__name__})."
        ) from None
    if not isinstance(document, dict) or "verdict" not in document:
        raise ComparisonError(f"{folder.name}/{paths.COMPARISON_FILE} is not a comparison.")
    return document


def list_comparisons(settings: Settings) -> list[ComparisonSummary]:
    """Every readable comparison, newest first."""
    root = settings.outputs_root / paths.COMPARISONS_DIR
    found = []
    for folder in root.iterdir() if root.is_dir() else []:
        try:
            found.append(ComparisonSummary(folder, load_comparison(folder)))
        except ComparisonError:
            continue
    return sorted(found, key=lambda c: c.document.get("created", 0), reverse=True)
