"""Reading one YOLO detection label file, line by line, into boxes and problems.

Legal and silent: a UTF-8 BOM, CRLF line endings, blank lines, trailing spaces, no final newline.
Polygon rows (class + 3 or more x y pairs) are converted to their bounding box, as Ultralytics does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


class LabelRow(NamedTuple):
    """One box: class id and normalised centre/size, with the file's line number.

    A NamedTuple rather than a dataclass: datasets have millions of boxes, and it is built fastest."""

    line: int
    cls: int
    cx: float
    cy: float
    w: float
    h: float
    polygon: bool = False

    @property
    def key(self) -> tuple[int, float, float, float, float]:
        return (self.cls, self.cx, self.cy, self.w, self.h)


@dataclass(frozen=True)
class LineProblem:
    """A line that is not a usable box: an issue code and a message naming the bad value."""

    line: int | None
    code: str
    message: str


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_label(data: bytes) -> tuple[list[LabelRow], list[LineProblem]]:
    """Boxes and syntax problems of one label file's bytes (ranges are checked by the validator)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [
            LineProblem(None, "bad_label_syntax", f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8.")
        ]
    rows: list[LabelRow] = []
    problems: list[LineProblem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        n = len(parts)
        polygon = n >= 7 and n % 2 == 1
        if n != 5 and not polygon:
            hint = " (6 values look like a prediction with a confidence)" if n == 6 else ""
            problems.append(
                LineProblem(
                    number,
                    "bad_label_syntax",
                    f"{n} values{hint}; a detection line has 5: 'class cx cy w h' (e.g. '0 0.5 0.5 0.2 0.3').",
                )
            )
            continue
        try:
            values = [float(p) for p in parts]
            # One test per line: nan or inf anywhere makes the sum non-finite (so can an overflow).
            if not math.isfinite(sum(values)) and not all(math.isfinite(v) for v in values):
                raise ValueError
        except ValueError:
            bad = next(p for p in parts if not _is_finite_number(p))
            problems.append(
                LineProblem(number, "bad_label_syntax", f"{bad!r} is not a finite number; every value must be one.")
            )
            continue
        if not values[0].is_integer():
            problems.append(
                LineProblem(number, "bad_label_syntax", f"class id {parts[0]!r} is not a whole number (e.g. 0, 1, 2).")
            )
            continue
        if polygon:
            xs, ys = values[1::2], values[2::2]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
            rows.append(LabelRow(number, int(values[0]), (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, True))
        else:
            rows.append(LabelRow(number, int(values[0]), values[1], values[2], values[3], values[4]))
    return rows, problems


def _is_finite_number(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def read_label_file(path: Path | None) -> tuple[list[LabelRow], list[str]]:
    """The boxes of a label file and its lines as text; ([], []) when there is no such file."""
    if path is None or not path.is_file():
        return [], []
    data = path.read_bytes()
    return parse_label(data)[0], data.decode("utf-8", "replace").splitlines()


def label_text(path: str | Path | None) -> str | None:
    """A label file's text as a new dataset version keeps it; None when it cannot be opened (no label: a background
    image). Undecodable bytes become U+FFFD, so that the version's validation still reports the line."""
    if path is None:
        return None
    try:
        return Path(path).read_bytes().decode("utf-8-sig", errors="replace")
    except OSError:
        return None
