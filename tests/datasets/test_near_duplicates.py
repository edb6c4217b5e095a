"""Near copies on low-texture images: different game-like frames (mostly white, small sprites at other places) are
not called copies, real copies of them (re-encoded, shifted, resized, brightened) still are, in validation (first
run and from the facts cache), the leak-free re-split and the images-to-label-next ranking; and the shared logo
dataset keeps its 53 near copies across splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mlcore.core.settings import PROJECT_ROOT
from mlcore.datasets import images
from mlcore.datasets.images import ImageFacts, inspect_image, near_copy_signature
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.near_copies import (
    GRID,
    MAX_UNMATCHED_CELLS,
    Prepared,
    candidate_pairs,
    foreground_map,
    prepare,
    unmatched_cells,
)
from mlcore.datasets.resplit import copy_groups
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.report import ValidationReport
from mlcore.datasets.validation.validate import validate
from mlcore.datasets.versions import make_version
from mlcore.quality.selection import rank_diverse
from tests.dataset_builder import jpeg_bytes, noise_image, png_bytes
from tests.low_texture import COPY_KINDS, frame, game_dataset, near_copy, screenshot

SHARED = PROJECT_ROOT.parent / "shared" / "datasets" / "logo_tdtu"
FAST = ValidationOptions(workers=1)


def _near(report: ValidationReport) -> dict[str, str]:
    """{image called a near copy: the image it copies, as the message names it}."""
    return {
        i.path: i.message.split(" in ")[0].removeprefix("looks nearly identical to ")
        for i in report.issues
        if i.code == "near_duplicate"
    }


def _facts(root: Path) -> tuple[list[tuple[str, str]], list[ImageFacts]]:
    dataset = load_dataset(root)
    entries = [(split, dataset.rel(p)) for split, images in dataset.splits.items() for p in images]
    return entries, [inspect_image(root / p, with_phash=True) for _, p in entries]


@pytest.fixture(scope="module")
def game(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """80 different frames and 8 near copies of train frames in val and test (read-only: copy before writing)."""
    root = tmp_path_factory.mktemp("game") / "game"
    return root, game_dataset(root, frames=80, copies=8)


def test_the_difference_hash_alone_calls_different_frames_copies(game) -> None:
    """The defect's premise, on the generated frames: most of them hash within 8 bits of another frame."""
    root, planted = game
    entries, facts = _facts(root)
    hashed_alike = {n for i, j, _ in candidate_pairs([f.phash for f in facts]) for n in (i, j)}
    frames = [n for n, (_, p) in enumerate(entries) if Path(p).name.startswith("frame_")]
    assert len(hashed_alike & set(frames)) > len(frames) / 2
    assert all(f.foreground is not None for f in facts)  # every frame is mostly background: each has a map


def test_validation_calls_only_the_real_copies_of_low_texture_frames_near_copies(game) -> None:
    root, planted = game
    report = validate(root, FAST)
    assert _near(report) == planted
    kinds = {Path(p).stem.split("_", 2)[2] for p in _near(report)}
    assert kinds == set(COPY_KINDS)  # re-encoded, shifted, resized and brightened copies are all found


def test_the_facts_cache_keeps_the_foreground_maps(game, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(shutil.copytree(game[0], tmp_path / "game"))
    cache = tmp_path / "facts.sqlite"
    first = validate(root, FAST, cache_path=cache)
    label = next((root / "labels" / "train").iterdir())
    label.write_text(label.read_text() + "\n")  # a changed label: the report is made again, the image facts reused
    facts = inspect_image(next((root / "images" / "val").glob("frame_*")), with_phash=True)
    assert facts.foreground is not None and ImageFacts.from_row(facts.to_row()) == facts

    def no_decoding(data: bytes) -> None:
        raise AssertionError("an image was decoded again although its facts and its map are cached")

    monkeypatch.setattr(images, "_grey", no_decoding)
    second = validate(root, FAST, cache_path=cache)
    assert second.cache_hits == sum(c["images"] for c in second.counts.values())
    assert _near(second) == _near(first) == game[1]  # with the maps: no different frame called a copy


def test_the_shared_logo_dataset_keeps_its_53_near_copies() -> None:
    """Photos (a textured background): the hash decides as before; 34 val and 19 test images copy train images."""
    report = validate(SHARED, ValidationOptions())
    near = _near(report)
    assert len(near) == 53
    assert sum(p.startswith("valid/") for p in near) == 34 and sum(p.startswith("test/") for p in near) == 19


def test_a_textured_image_has_no_foreground_map_and_a_flat_one_has() -> None:
    assert near_copy_signature(jpeg_bytes(noise_image(1, (320, 240))))[1] is None  # fine texture everywhere
    image, _ = frame(1)
    sums, _ = prepare(near_copy_signature(png_bytes(image))[1])  # type: ignore[arg-type]
    assert 0 < np.count_nonzero(sums) < GRID * GRID / 10  # a few sprites on white
    blank = foreground_map(Image.new("L", (640, 360), 255))
    assert blank is not None and not prepare(blank)[0].any()


def _map(image: Image.Image) -> Prepared:
    return prepare(near_copy_signature(png_bytes(image))[1])  # type: ignore[arg-type]


def test_foreground_maps_match_for_copies_and_not_for_a_sprite_elsewhere() -> None:
    image, _ = frame(2)
    original = _map(image)
    assert unmatched_cells(original, original) == 0
    for kind in COPY_KINDS:
        copy = prepare(near_copy_signature(near_copy(image, kind))[1])  # type: ignore[arg-type]
        assert unmatched_cells(original, copy) <= MAX_UNMATCHED_CELLS, kind
        assert unmatched_cells(copy, original) <= MAX_UNMATCHED_CELLS, kind
    for dx, dy in ((-8, -4), (8, 4), (-8, 4), (8, -4)):  # a cell's shift either way is a copy
        moved = Image.new("RGB", image.size, "white")
        moved.paste(image, (dx, dy))
        assert unmatched_cells(original, _map(moved)) <= MAX_UNMATCHED_CELLS, (dx, dy)
    for x in (200, 420):  # one more sprite, at either place: not the same frame
        other = image.copy()
        ImageDraw.Draw(other).rectangle((x, 260, x + 20, 300), fill=(90, 90, 90))
        assert unmatched_cells(original, _map(other)) > MAX_UNMATCHED_CELLS
        assert unmatched_cells(_map(other), original) > MAX_UNMATCHED_CELLS
    lighter = image.copy()
    ImageDraw.Draw(lighter).rectangle((60, 250, 92, 300), fill=(200, 200, 200))  # the player, pale: not a copy
    assert unmatched_cells(original, _map(lighter)) > MAX_UNMATCHED_CELLS


def test_the_resplit_groups_real_copies_of_flat_frames_only(game) -> None:
    root, planted = game
    entries, facts = _facts(root)
    index = {p: n for n, (_, p) in enumerate(entries)}
    hashes, shas, maps = [f.phash for f in facts], [f.sha for f in facts], [f.foreground for f in facts]
    groups = sorted(sorted(g) for g in copy_groups(hashes, shas, maps) if len(g) > 1)
    assert groups == sorted(sorted((index[c], index[o])) for c, o in planted.items())
    assert len(copy_groups(hashes, shas)) < len(entries) - len(planted) - 10  # the hash alone: frames merged


def test_a_resplit_version_of_game_frames_keeps_the_frames_apart(data_studio, game) -> None:
    settings, source = data_studio
    root = Path(shutil.copytree(game[0], source.parent / "game"))
    manifest = make_version(str(root), settings, resplit="70/15/15")
    change = manifest["changes"][0]
    assert change["groups"] == 80 and change["largest_group"] == 2  # 80 frames, 8 of them with one copy each
    assert not _near(validate(Path(manifest["path"]), FAST))


def test_the_images_to_label_next_keep_different_flat_frames() -> None:
    """rank_diverse drops a near copy of a kept frame, not a different frame whose hash is as close."""
    images = [frame(n)[0] for n in range(40)]
    keys = [near_copy_signature(screenshot(image, n)[1]) for n, image in enumerate(images)]
    keys.append(near_copy_signature(near_copy(images[0], "shifted")))
    hashes, maps = [k[0] for k in keys], [k[1] for k in keys]
    scores = [1.0 - n / 100 for n in range(len(keys))]
    kept, dropped = rank_diverse(scores, hashes, maps=maps)
    assert dropped == {40: 0}
    old_kept, _ = rank_diverse(scores, hashes)
    assert len(old_kept) < len(kept) - 5  # by the hash alone, different frames were left out as duplicates
