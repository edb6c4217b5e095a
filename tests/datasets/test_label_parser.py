import math

from hypothesis import given
from hypothesis import strategies as st

from mlcore.datasets.labels import parse_label

finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


@given(st.binary(max_size=400))
def test_any_bytes_give_rows_or_problems_never_an_exception(data: bytes) -> None:
    rows, problems = parse_label(data)
    for row in rows:
        assert all(math.isfinite(v) for v in (row.cx, row.cy, row.w, row.h))
        assert row.line >= 1
    for problem in problems:
        assert problem.code == "bad_label_syntax" and problem.message


@given(
    st.lists(st.tuples(st.integers(0, 999), finite, finite, finite, finite), max_size=20),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.booleans(),
)
def test_written_boxes_read_back_exactly(boxes, newline: str, bom: bool, final_newline: bool) -> None:
    text = newline.join(f"{c} {x!r} {y!r} {w!r}  {h!r} " for c, x, y, w, h in boxes)
    if final_newline and boxes:
        text += newline
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    rows, problems = parse_label(data)
    assert problems == []
    assert [(r.cls, r.cx, r.cy, r.w, r.h) for r in rows] == [(c, x, y, w, h) for c, x, y, w, h in boxes]
    assert [r.line for r in rows] == list(range(1, len(boxes) + 1))


@given(st.lists(finite, min_size=3, max_size=20).filter(lambda v: len(v) % 2 == 0 and len(v) >= 6))
def test_polygons_become_their_bounding_box(coords) -> None:
    rows, problems = parse_label(("1 " + " ".join(repr(v) for v in coords)).encode())
    assert not problems and rows[0].polygon
    xs, ys = coords[0::2], coords[1::2]
    assert math.isclose(rows[0].w, max(xs) - min(xs), abs_tol=1e-9)
    assert math.isclose(rows[0].cy, (max(ys) + min(ys)) / 2, abs_tol=1e-9)


def test_wrong_column_counts_name_the_count() -> None:
    _, problems = parse_label(b"0 0.5 0.5 0.1 0.1 0.9\n0 1\n")
    assert [p.line for p in problems] == [1, 2]
    assert "prediction with a confidence" in problems[0].message and "2 values" in problems[1].message


def test_huge_finite_values_are_numbers_not_syntax_errors() -> None:
    rows, problems = parse_label(b"0 1e308 1e308 1e308 1e308\n0 inf 0.5 0.5 0.5\n")
    assert [r.line for r in rows] == [1] and [p.line for p in problems] == [2]
