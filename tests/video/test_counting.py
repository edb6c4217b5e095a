"""Line and zone counts from track points alone: directions, a crossing of the line's extension that does not count,
entries, exits, time inside and the most at once, and the refusals of lines and zones that cannot be counted."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore.video.counting import CountingError, Line, Zone, count

NAMES = {0: "car", 1: "truck"}


def track(track_id: int, cls: int, frames: range, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.column_stack([list(frames), [track_id] * len(frames), [cls] * len(frames), xs, ys]).astype(float)


def test_a_line_counts_each_direction_by_class_and_not_its_extension() -> None:
    down = track(1, 0, range(0, 10), np.full(10, 50.0), np.linspace(30, 70, 10))  # left to right of (0,50)->(100,50)
    up = track(2, 1, range(3, 13), np.full(10, 20.0), np.linspace(70, 30, 10))
    beside = track(3, 0, range(0, 10), np.full(10, 150.0), np.linspace(30, 70, 10))  # crosses the extension only
    points = np.vstack([down, up, beside])
    (both,) = count(points, [Line((0, 50), (100, 50))], [], NAMES, fps=10).lines
    assert (both["in"], both["out"]) == (1, 1)
    assert both["by_class"] == {"car": {"in": 1, "out": 0}, "truck": {"in": 0, "out": 1}}
    only_in = count(points, [Line((0, 50), (100, 50), direction="in")], [], NAMES, fps=10)
    assert (only_in.lines[0]["in"], only_in.lines[0]["out"]) == (1, 0)
    (event,) = only_in.events
    assert event["track"] == 1 and event["class"] == "car" and event["what"] == "in"
    assert event["frame"] == 5 and event["time_s"] == pytest.approx(0.5)  # the first position past the line


def test_a_zone_counts_entries_exits_time_inside_and_the_most_at_once() -> None:
    zone = Zone(((10, 10), (60, 10), (60, 60), (10, 60)))
    through = track(1, 0, range(0, 20), np.linspace(2, 97, 20), np.full(20, 35.0))  # in past x=10, out past 60
    starts_inside = track(2, 1, range(0, 5), np.full(5, 30.0), np.full(5, 30.0))  # seen inside only: no exit
    result = count(np.vstack([through, starts_inside]), [], [zone], NAMES, fps=20)
    (z,) = result.zones
    assert (z["entries"], z["exits"], z["max_inside"]) == (2, 1, 2)
    inside_frames = [f for f, x in zip(range(20), np.linspace(2, 97, 20), strict=True) if 10 < x < 60]
    assert z["time_inside_s"]["1"] == pytest.approx((inside_frames[-1] - inside_frames[0]) / 20)
    assert z["time_inside_s"]["2"] == pytest.approx(4 / 20)
    assert z["by_class"] == {"car": {"entries": 1, "exits": 1}, "truck": {"entries": 1, "exits": 0}}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Line.parse("10,10"), "has 1 point"),
        (lambda: Line.parse("10,10,10,10"), "its two points are the same"),
        (lambda: Line.parse("a,b,c,d"), "is not a list of numbers"),
        (lambda: Line.parse("0,0,5,5", direction="up"), "direction 'up'"),
        (lambda: Zone.parse("0,0,10,10"), "has 2 point"),
        (lambda: Zone.parse("0,0,10,10,20"), "odd count of numbers"),
        (lambda: Zone.parse("0,0,10,10,20,20"), "has no area"),
    ],
)
def test_lines_and_zones_that_cannot_be_counted_are_refused_with_what_to_give(make, message: str) -> None:  # noqa: ANN001
    with pytest.raises(CountingError, match=message):
        make()


def test_no_tracks_count_nothing() -> None:
    result = count(np.zeros((0, 5)), [Line((0, 0), (1, 1))], [Zone(((0, 0), (1, 0), (0, 1)))], NAMES, fps=25)
    assert result.lines[0]["in"] == 0 and result.zones[0]["entries"] == 0 and result.events == []


def test_a_track_counts_as_the_class_it_was_seen_as_most() -> None:
    flicker = track(1, 0, range(0, 10), np.full(10, 50.0), np.linspace(30, 70, 10))
    flicker[4:6, 2] = 1  # called a truck for the two frames around the line
    (line,) = count(flicker, [Line((0, 50), (100, 50))], [], NAMES, fps=10).lines
    assert line["by_class"] == {"car": {"in": 1, "out": 0}}


def test_a_track_that_swaps_onto_another_object_keeps_the_class_it_was_counted_as() -> None:
    first = track(7, 0, range(0, 10), np.full(10, 50.0), np.linspace(30, 70, 10))  # a car crosses at frame 5
    later = track(7, 1, range(10, 40), np.full(30, 80.0), np.linspace(70, 90, 30))  # then the id follows a truck
    (line,) = count(np.vstack([first, later]), [Line((0, 50), (100, 50))], [], NAMES, fps=10).lines
    assert line["by_class"] == {"car": {"in": 1, "out": 0}}
