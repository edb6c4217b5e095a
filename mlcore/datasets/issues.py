"""One problem found in a dataset, and the closed set of issue codes (a contract for scripts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

# code -> what it means (shown in the page's filter and the README)
CODES: dict[str, str] = {
    "yaml_error": "data.yaml missing, unreadable, invalid, or missing names/train/val",
    "nc_mismatch": "nc differs from the number of names",
    "split_missing": "a split path that does not exist",
    "download_key": "data.yaml has a download: key (never run by the studio)",
    "path_resolution": "how a data.yaml path was resolved (Roboflow-style ../ paths)",
    "outside_roots": "a path:, split entry, list line, image or label leading outside the allowed folders (not read)",
    "unused_class": "a named class with no instance",
    "class_imbalance": "largest/smallest class ratio above the threshold",
    "few_samples": "a class with too few instances in train, or none in val",
    "corrupt_image": "unreadable, truncated, empty, too large, or not an image",
    "unsupported_format": "a file in an images folder that training ignores",
    "format_mismatch": "the extension disagrees with the content",
    "tiny_image": "an image side under 10 px",
    "exif_rotation": "EXIF orientation set: training sees the image rotated",
    "duplicate_image": "byte-identical images (across splits: leakage)",
    "near_duplicate": "visually near-identical images in different splits",
    "missing_label": "image without a label file (trained as background)",
    "orphan_label": "label file without an image",
    "background_image": "empty label file (a background image)",
    "bad_label_syntax": "a label line that cannot be read as a detection box",
    "class_out_of_range": "class id < 0 or >= nc",
    "coords_out_of_range": "cx, cy, w or h outside [0, 1]",
    "box_outside_image": "a box edge beyond the image border",
    "degenerate_box": "w or h <= 0",
    "tiny_box": "a box of a few pixels at the image's size or at the training imgsz",
    "duplicate_box": "identical label lines",
    "overlapping_boxes": "same-class boxes with IoU above 0.9",
    "segment_label": "polygon rows, converted to boxes for detection",
}


@dataclass(frozen=True)
class Issue:
    """A finding: `message` says what is wrong and what to do."""

    code: str
    severity: Severity
    split: str | None
    path: str | None
    """Relative to the dataset root (absolute only when outside it)."""
    line: int | None
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown issue code {self.code!r}; use one of {sorted(CODES)}")
        if self.severity not in SEVERITY_ORDER:
            raise ValueError(f"severity={self.severity!r}; use 'error', 'warning' or 'info'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def shown(text: str | None) -> str:
    """Text safe to display (file names that are not valid UTF-8 keep their bytes visible)."""
    return "" if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")


def issue_rows(issues: list[Issue]) -> list[dict[str, Any]]:
    """The issues as table rows, paths and messages safe to display."""
    return [
        {
            "severity": i.severity,
            "code": i.code,
            "split": i.split or "",
            "path": shown(i.path),
            "line": i.line,
            "message": shown(i.message),
        }
        for i in issues
    ]


def matches(row: dict[str, Any], severities: list[str], codes: list[str], splits: list[str], search: str = "") -> bool:
    """Whether a row of `issue_rows` passes the filters (empty codes or splits: all of them)."""
    found = not search or search.lower() in row["path"].lower() or search.lower() in row["message"].lower()
    return (
        row["severity"] in severities
        and (not codes or row["code"] in codes)
        and (not splits or row["split"] in splits)
        and found
    )
