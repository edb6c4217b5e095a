"""What a validation found (`ValidationReport`): counts, issues, statistics and recommendations, as
report.json and issues.csv store them."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from mlcore.datasets.issues import SEVERITY_ORDER, Issue


@dataclass
class ValidationReport:
    """Everything validation found; JSON round-trips through to_dict/from_dict."""

    dataset: dict[str, Any]
    options: dict[str, Any]
    created: str
    seconds: float
    counts: dict[str, dict[str, int]]
    classes: list[dict[str, Any]]
    image_sizes: dict[str, Any]
    boxes: dict[str, Any]
    boxes_per_image: dict[str, int]
    centre_heatmap: list[list[int]]
    issues: list[Issue]
    recommendations: list[str]
    cache_hits: int = 0

    def severity_counts(self) -> dict[str, int]:
        counts: Counter[str] = Counter(i.severity for i in self.issues)
        return {s: counts.get(s, 0) for s in SEVERITY_ORDER}

    @property
    def verdict(self) -> str:
        """'ready', 'ready_with_warnings' or 'not_ready' (any error)."""
        counts = self.severity_counts()
        if counts["error"]:
            return "not_ready"
        return "ready_with_warnings" if counts["warning"] else "ready"

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["issues"] = [i.to_dict() for i in self.issues]
        data["severity_counts"] = self.severity_counts()
        data["verdict"] = self.verdict
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["issues"] = [Issue(**i) for i in data["issues"]]
        return cls(**values)

    def issues_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code", "severity", "split", "path", "line", "message"])
        for i in self.issues:
            writer.writerow(
                [i.code, i.severity, i.split or "", i.path or "", "" if i.line is None else i.line, i.message]
            )
        return out.getvalue()


def skipped_files(report: ValidationReport, split: str) -> list[str]:
    """The files of `split` that a measurement leaves out: those with an error (sorted, each once)."""
    return sorted({i.path for i in report.issues if i.severity == "error" and i.split == split and i.path})
