"""Counting tracked objects across lines and in zones, from the tracks alone (so new lines and zones can be counted
on a finished tracking job without running the model again).

    line = Line.parse("100,400,900,400")            # two points: from the first to the second
    zone = Zone.parse("100,100,500,100,500,400")    # three points or more
    counts = count(points, [line], [zone], names, fps=25.0)

A track's position in a frame is its box's centre, and its class the one it has been seen as most so far. A line
is crossed when the segment between a track's positions in two consecutive observations meets the line's segment;
"in" is a crossing from the line's left to its right, looking from its first point to its second (image coordinates:
y grows downwards), "out" the other way. A zone is entered when a track is outside in one observation and inside in
the next; a track first seen inside counts as an entry too (it came in unseen), and one last seen inside did not
exit. Time inside sums the time between consecutive observations inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcore.core.spec import SpecError

DIRECTIONS = ("both", "in", "out")


class CountingError(SpecError):
    """A line or zone that cannot be counted; the message says what to give."""


def _numbers(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise CountingError(f"{what} {text!r} is not a list of numbers; give x,y pairs in pixels.") from None


@dataclass(frozen=True)
class Line:
    start: tuple[float, float]
    end: tuple[float, float]
    name: str = ""
    direction: str = "both"
    """Which crossings count: both, in (left to right) or out."""

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise CountingError(f"line {self.label}: its two points are the same; give two different points.")
        if self.direction not in DIRECTIONS:
            raise CountingError(f"line {self.label}: direction {self.direction!r}; use one of {', '.join(DIRECTIONS)}.")

    @property
    def label(self) -> str:
        return self.name or f"{self.start[0]:g},{self.start[1]:g},{self.end[0]:g},{self.end[1]:g}"

    @classmethod
    def parse(cls, text: str, name: str = "", direction: str = "both") -> Line:
        values = _numbers(text, "line")
        if len(values) != 4:
            raise CountingError(
                f"line {text!r} has {len(values) // 2} point(s); give two points as x1,y1,x2,y2 in pixels."
            )
        return cls((values[0], values[1]), (values[2], values[3]), name, direction)

    def side(self, points: np.ndarray) -> np.ndarray:
        """-1 left of the line, +1 right, 0 on it (looking from the first point to the second; y down)."""
        (x1, y1), (x2, y2) = self.start, self.end
        cross = (x2 - x1) * (points[:, 1] - y1) - (y2 - y1) * (points[:, 0] - x1)
        return np.sign(cross)

    def crossings(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Per step (before[i] -> after[i]): +1 crossed in (left to right), -1 out, 0 not crossed."""
        a, b = self.side(before), self.side(after)
        changed = (a != b) & (a != 0) & (b != 0)
        # the step's segment must meet the line's segment, not only its extension: the line's two ends lie on either
        # side of the step
        dx, dy = after[:, 0] - before[:, 0], after[:, 1] - before[:, 1]

        def side_of_step(x: float, y: float) -> np.ndarray:
            return np.sign(dx * (y - before[:, 1]) - dy * (x - before[:, 0]))

        meets = changed & (side_of_step(*self.start) != side_of_step(*self.end))
        return np.where(meets, np.where(b > 0, 1, -1), 0)


@dataclass(frozen=True)
class Zone:
    points: tuple[tuple[float, float], ...]
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise CountingError(
                f"zone {self.label} has {len(self.points)} point(s); a zone needs three or more (x,y,x,y,x,y,...)."
            )
        area = 0.5 * abs(
            sum(
                x1 * y2 - x2 * y1
                for (x1, y1), (x2, y2) in zip(self.points, self.points[1:] + self.points[:1], strict=True)
            )
        )
        if area <= 0:
            raise CountingError(f"zone {self.label} has no area: its points lie on one line.")

    @property
    def label(self) -> str:
        return self.name or ",".join(f"{x:g},{y:g}" for x, y in self.points)

    @classmethod
    def parse(cls, text: str, name: str = "") -> Zone:
        values = _numbers(text, "zone")
        if len(values) % 2:
            raise CountingError(f"zone {text!r} has an odd count of numbers; give x,y pairs in pixels.")
        return cls(tuple((values[i], values[i + 1]) for i in range(0, len(values), 2)), name)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies inside the polygon (even-odd rule)."""
        x, y = points[:, 0], points[:, 1]
        inside = np.zeros(len(points), dtype=bool)
        corners = self.points
        for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1], strict=True):
            straddles = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                at = (x2 - x1) * (y - y1) / (y2 - y1) + x1
            inside ^= straddles & (x < at)
        return inside


def lines_from(values: list[Any]) -> list[Line]:
    """Lines as requests give them: "x1,y1,x2,y2" or {"points": [x1, y1, x2, y2], "name": "", "direction": "in"}."""
    found = []
    for k, value in enumerate(values or []):
        if isinstance(value, str):
            found.append(Line.parse(value, name=f"line {k + 1}"))
        elif isinstance(value, dict) and set(value) <= {"points", "name", "direction"}:
            points = value.get("points")
            text = ",".join(str(v) for v in points) if isinstance(points, list | tuple) else str(points or "")
            found.append(
                Line.parse(text, str(value.get("name") or f"line {k + 1}"), str(value.get("direction") or "both"))
            )
        else:
            raise CountingError(
                f"line {k + 1} is {str(value)[:80]!r}; give 'x1,y1,x2,y2' or {{\"points\": [x1, y1, x2, y2], "
                '"name": "gate", "direction": "both|in|out"}.'
            )
    return found


def zones_from(values: list[Any]) -> list[Zone]:
    """Zones as requests give them: "x,y,x,y,x,y,..." or {"points": [x, y, ...], "name": ""}."""
    found = []
    for k, value in enumerate(values or []):
        if isinstance(value, str):
            found.append(Zone.parse(value, name=f"zone {k + 1}"))
        elif isinstance(value, dict) and set(value) <= {"points", "name"}:
            points = value.get("points")
            text = ",".join(str(v) for v in points) if isinstance(points, list | tuple) else str(points or "")
            found.append(Zone.parse(text, str(value.get("name") or f"zone {k + 1}")))
        else:
            raise CountingError(
                f"zone {k + 1} is {str(value)[:80]!r}; give 'x,y,x,y,x,y' or "
                '{"points": [x, y, ...], "name": "dock"}.'
            )
    return found


def describe(lines: list[Line], zones: list[Zone]) -> dict[str, list[dict[str, Any]]]:
    """Lines and zones as records and answers write them (what lines_from and zones_from read back)."""
    return {
        "lines": [
            {"points": [*line.start, *line.end], "name": line.label, "direction": line.direction} for line in lines
        ],
        "zones": [{"points": [v for p in zone.points for v in p], "name": zone.label} for zone in zones],
    }


@dataclass
class Counts:
    lines: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """Each crossing, entry and exit: frame, time, track, class, where and what."""


def track_classes(p: np.ndarray) -> np.ndarray:
    """Each observation's class as its track's so far: the class the track has been seen as most up to then (ties:
    the lower id). A detector that calls a logo something else for a frame or two does not count it as another class
    at a line, and a track that swaps onto another object later does not change what it was counted as before.
    `p` is sorted by track, then frame."""
    if not len(p):
        return p[:, 2]
    classes = np.unique(p[:, 2])
    seen = np.cumsum(p[:, 2][:, None] == classes[None, :], axis=0)  # observations of each class so far
    starts = np.r_[0, np.nonzero(p[1:, 1] != p[:-1, 1])[0] + 1]
    before_track = np.repeat(np.vstack([np.zeros((1, len(classes))), seen[starts[1:] - 1]]),
                             np.diff(np.r_[starts, len(p)]), axis=0)  # fmt: skip
    return classes[np.argmax(seen - before_track, axis=1)]


def count(points: np.ndarray, lines: list[Line], zones: list[Zone], names: dict[int, str], fps: float) -> Counts:
    """Lines and zones counted on track points: rows of (frame, track id, class, x centre, y centre)."""
    result = Counts()
    if len(points) == 0:
        points = np.zeros((0, 5))
    order = np.lexsort((points[:, 0], points[:, 1]))
    p = points[order].copy()
    p[:, 2] = track_classes(p)
    same = p[1:, 1] == p[:-1, 1]  # consecutive observations of one track
    before, after = p[:-1][same], p[1:][same]
    seconds = 1.0 / fps if fps > 0 else 0.0

    def name(cls: float) -> str:
        return names.get(int(cls), str(int(cls)))

    for line in lines:
        crossed = line.crossings(before[:, 3:5], after[:, 3:5])
        counted = {"in": 0, "out": 0}
        by_class: dict[str, dict[str, int]] = {}
        for k in crossed.nonzero()[0]:
            way = "in" if crossed[k] > 0 else "out"
            if line.direction not in ("both", way):
                continue
            cls = name(after[k, 2])
            counted[way] += 1
            by_class.setdefault(cls, {"in": 0, "out": 0})[way] += 1
            result.events.append(
                {"frame": int(after[k, 0]), "time_s": round(after[k, 0] * seconds, 3), "track": int(after[k, 1]),
                 "class": cls, "where": line.label, "what": way}
            )  # fmt: skip
        result.lines.append({"line": line.label, **counted, "by_class": by_class})
    for zone in zones:
        inside = zone.contains(p[:, 3:5])
        first = np.r_[True, ~same]  # each track's first observation
        entered = inside & (first | np.r_[False, ~inside[:-1] & same])
        exited = ~inside & np.r_[False, inside[:-1] & same]
        per_class: dict[str, dict[str, int]] = {}
        dwell: dict[int, float] = {}
        steps_inside = inside[:-1] & inside[1:] & same
        for k in steps_inside.nonzero()[0]:
            dwell[int(p[k, 1])] = dwell.get(int(p[k, 1]), 0.0) + (p[k + 1, 0] - p[k, 0]) * seconds
        for k in (entered | exited).nonzero()[0]:
            cls = name(p[k, 2])
            what = "entry" if entered[k] else "exit"
            row = per_class.setdefault(cls, {"entries": 0, "exits": 0})
            row["entries" if entered[k] else "exits"] += 1
            result.events.append(
                {"frame": int(p[k, 0]), "time_s": round(p[k, 0] * seconds, 3), "track": int(p[k, 1]),
                 "class": cls, "where": zone.label, "what": what}
            )  # fmt: skip
        at_once = np.unique(p[inside, 0], return_counts=True)[1]  # tracks inside, per frame with any
        result.zones.append(
            {
                "zone": zone.label,
                "entries": int(entered.sum()),
                "exits": int(exited.sum()),
                "max_inside": int(at_once.max(initial=0)),
                "time_inside_s": {str(t): round(v, 3) for t, v in sorted(dwell.items())},
                "by_class": per_class,
            }
        )
    result.events.sort(key=lambda e: (e["frame"], e["track"]))
    return result
