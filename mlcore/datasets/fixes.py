"""The fix list: label changes as the label audit writes them (fix_list.csv) and a dataset version applies them.

One row per change: `label_file` (relative to the dataset root), `line` (1-based; empty for a new box), `type`,
`score`, `as_is` (the line as the file had it when the list was made), `suggested` (the line to write; empty
removes the line). A user accepts fixes by keeping their rows and deleting the others.

    fixes = read_fix_list(Path("fix_list.csv"))
    new_labels = apply_fixes(labels, fixes)   # labels: {label_file: text}; FixListMismatch when lines moved on
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

FIX_COLUMNS = ("label_file", "line", "type", "score", "as_is", "suggested")


class FixListError(ValueError):
    """The fix list cannot be applied to this dataset; the message says which rows and why."""


@dataclass(frozen=True)
class Fix:
    label_file: str
    line: int | None
    type: str
    as_is: str
    suggested: str


def read_fix_list(path: Path) -> list[Fix]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FixListError(f"{path} cannot be read as a fix list ({exc}); give a label audit's fix_list.csv.") from None
    missing = [c for c in ("label_file", "line", "as_is", "suggested") if rows and c not in rows[0]]
    if not rows or missing:
        what = "has no rows" if not rows else f"has no column {', '.join(missing)}"
        raise FixListError(
            f"{path} {what}; a fix list has the columns {', '.join(FIX_COLUMNS)} (an audit's fix_list.csv)."
        )
    fixes = []
    for n, row in enumerate(rows, start=2):
        line = (row.get("line") or "").strip()
        if line and not line.isdigit():
            raise FixListError(
                f"row {n} of {path.name}: line {line!r} is not a line number; leave it empty for a new box."
            )
        fixes.append(
            Fix(
                row["label_file"].strip(),
                int(line) if line else None,
                (row.get("type") or "").strip(),
                (row.get("as_is") or "").strip(),
                (row.get("suggested") or "").strip(),
            )
        )
    return fixes


def apply_fixes(labels: dict[str, str], fixes: list[Fix]) -> tuple[dict[str, str], dict[str, int]]:
    """The label files with the fixes applied, and how many lines were changed, removed and added.

    Every fix is checked first: its label file must be one of `labels` (else the list is for another dataset),
    and the line it changes must still read as it did (else the dataset changed since the list was made).
    Nothing is applied unless every fix fits."""
    problems = []
    for fix in fixes:
        if fix.label_file not in labels:
            problems.append(f"{fix.label_file} is not a label file of this dataset")
        elif fix.line is not None:
            lines = labels[fix.label_file].splitlines()
            now = lines[fix.line - 1].strip() if 0 < fix.line <= len(lines) else None
            if now != fix.as_is:
                problems.append(f"{fix.label_file} line {fix.line} reads {now!r}, not {fix.as_is!r}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise FixListError(
            f"{len(problems)} of {len(fixes)} fixes do not match this dataset ({shown}). The list was made for "
            "another dataset, or the labels changed since: audit the dataset again for a fresh list."
        )
    counts = {"changed": 0, "removed": 0, "added": 0}
    result = dict(labels)
    by_file: dict[str, list[Fix]] = {}
    for fix in fixes:
        by_file.setdefault(fix.label_file, []).append(fix)
    for name, mine in by_file.items():
        lines = result[name].splitlines()
        replaced = {f.line: f.suggested for f in mine if f.line is not None}
        kept = []
        for n, text in enumerate(lines, start=1):
            if n not in replaced:
                kept.append(text)
            elif replaced[n]:
                kept.append(replaced[n])
                counts["changed"] += 1
            else:
                counts["removed"] += 1
        added = [f.suggested for f in mine if f.line is None and f.suggested]
        counts["added"] += len(added)
        result[name] = "".join(f"{t}\n" for t in [*kept, *added])
    return result, counts
