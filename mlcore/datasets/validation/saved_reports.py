"""Validation reports on disk: ml_outputs/dataset_reports/{dataset_name}_{timestamp}/.

Each folder holds `report.json` (the whole report), `issues.csv` and `summary.json` (a few
figures and the dataset path, so the latest report of a dataset is found without reading them all).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.core.atomic_file import write_atomically
from mlcore.core.folders import stamped_folder
from mlcore.core.paths import DATASET_REPORTS_DIR as REPORTS_DIR
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.validation.report import ValidationReport

REPORT_FILE = "report.json"
ISSUES_FILE = "issues.csv"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class SavedReport:
    folder: Path
    summary: dict[str, Any]

    @property
    def report_file(self) -> Path:
        return self.folder / REPORT_FILE

    @property
    def issues_file(self) -> Path:
        return self.folder / ISSUES_FILE


def _write(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8", errors="backslashreplace"))  # odd file names stay visible


def save_report(report: ValidationReport, outputs_root: Path) -> SavedReport:
    """Write the report's three files into a new timestamped folder."""
    name = re.sub(r"[^\w.-]+", "_", report.dataset.get("name") or "dataset")[:60]
    folder = stamped_folder(outputs_root / REPORTS_DIR, name)
    summary = {
        "source": report.dataset["source"],
        "created": report.created,
        "verdict": report.verdict,
        "severity_counts": report.severity_counts(),
        "options": report.options,
        "images": sum(c["images"] for c in report.counts.values()),
    }
    _write(folder / REPORT_FILE, json.dumps(report.to_dict()))
    _write(folder / ISSUES_FILE, report.issues_csv())
    _write(folder / SUMMARY_FILE, json.dumps(summary, indent=2))
    return SavedReport(folder, summary)


def list_reports(outputs_root: Path, source: str | None = None) -> list[SavedReport]:
    """Saved reports, newest first (of one dataset when `source` is given)."""
    base = outputs_root / REPORTS_DIR
    found = []
    for folder in base.iterdir() if base.is_dir() else []:
        try:
            summary = json.loads((folder / SUMMARY_FILE).read_text())
        except (OSError, ValueError):
            continue
        if source is None or summary.get("source") == source:
            found.append(SavedReport(folder, summary))
    return sorted(found, key=lambda r: (r.summary.get("created", ""), r.folder.name), reverse=True)


def load_report(saved: SavedReport) -> ValidationReport:
    return ValidationReport.from_dict(json.loads(saved.report_file.read_text()))


def latest_verdict(settings: Settings, dataset: str) -> tuple[str | None, str]:
    """The dataset's last validation verdict (None when never validated) and a sentence about it."""
    try:
        resolved = str(resolve_user_path(dataset, settings.dataset_roots, base=PROJECT_ROOT))
    except PathNotAllowed as exc:
        return "not_ready", str(exc)
    reports = list_reports(settings.outputs_root, source=resolved)
    if not reports:
        return None, "Not validated yet: it is checked for errors when you start (open Dataset validation to see more)."
    summary = reports[0].summary
    counts = summary.get("severity_counts", {})
    when = str(summary.get("created", ""))[:16].replace("T", " ")
    return summary.get("verdict"), (
        f"Last validated {when}: {counts.get('error', 0)} error(s), {counts.get('warning', 0)} warning(s)."
    )
