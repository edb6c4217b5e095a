import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "allowed"
    (root / "ds").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "inside-link").symlink_to(root / "ds")
    (root / "loop").symlink_to(root / "loop")
    return root, outside


def test_paths_under_the_root_are_resolved(tree) -> None:
    root, _ = tree
    assert resolve_user_path(str(root / "ds"), [root]) == root / "ds"
    assert resolve_user_path(str(root / "inside-link"), [root]) == root / "ds"
    assert resolve_user_path("ds", [root], base=root) == root / "ds"
    assert resolve_user_path(f"  {root}/ds/../ds  ", [root]) == root / "ds"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("escape", "outside the allowed folders"),
        ("../outside", "outside the allowed folders"),
        ("loop", "symbolic link loop"),
        ("nope", "does not exist"),
        ("", "no dataset path"),
        ("ds\x00", "NUL byte"),
    ],
)
def test_bad_paths_are_refused_with_the_reason(tree, text: str, fragment: str) -> None:
    root, _ = tree
    with pytest.raises(PathNotAllowed, match=fragment):
        resolve_user_path(text, [root], base=root)


def test_a_prefix_is_not_a_parent(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data-other").mkdir()
    with pytest.raises(PathNotAllowed, match="outside"):
        resolve_user_path(str(tmp_path / "data-other"), [tmp_path / "data"])


@given(
    st.lists(
        st.sampled_from(["..", ".", "ds", "escape", "inside-link", "loop", "x", "//", "~", "é", "a" * 300]), max_size=6
    )
)
def test_whatever_is_typed_the_result_lies_under_the_root(tmp_path_factory, parts) -> None:
    base = tmp_path_factory.getbasetemp() / "fuzz-tree"
    if not base.exists():
        (base / "allowed" / "ds").mkdir(parents=True)
        (base / "outside").mkdir()
        (base / "allowed" / "escape").symlink_to(base / "outside")
        (base / "allowed" / "inside-link").symlink_to(base / "allowed" / "ds")
        (base / "allowed" / "loop").symlink_to(base / "allowed" / "loop")
    root = base / "allowed"
    try:
        result = resolve_user_path("/".join(parts), [root], base=root)
    except PathNotAllowed:
        return
    assert Path(os.path.realpath(result)).is_relative_to(root)
