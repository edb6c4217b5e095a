"""Near copies across splits: the difference hash alone (the check before) against the hash confirmed by foreground
maps on mostly flat images (the check now), on the same images in one run.

Two datasets:

1. ../shared/datasets/logo_tdtu (346 webcam photos and posters, a Roboflow export): its 53 images in valid/ and
   test/ that are near copies of train/ images (bursts of the same scene) must all still be found.
2. A generated low-texture set like browser-game screenshots (tests/low_texture.py): N different white 640x360
   frames (default 686) with a ground line, the player and a score, and 2-4 small sprites of their own, split
   70/15/15, plus K near copies (default 40) of train frames in val and test (re-encoded, shifted by a few pixels,
   resized, brightened). No different frame may be called a copy; every planted copy must be found.

For each: near-copy pairs across splits found before and after, the real ones found, the false alarms; the
leak-free re-split's copy groups; the time per image, before and after (the best of --repeats runs by turns, files
already read), of the work done on every image (decode and hash; now also the foreground map of a flat image) and
of the pair search (now also comparing the maps of flat candidate pairs); and, for the generated set, a full
validation with a fresh facts cache and again after one label changed (image facts and maps from the cache).

    python benchmarks/near_duplicates.py [--frames 686] [--copies 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcore.datasets.images import inspect_image, near_copy_signature, perceptual_hash  # noqa: E402
from mlcore.datasets.loader import load_dataset  # noqa: E402
from mlcore.datasets.resplit import copy_groups  # noqa: E402
from mlcore.datasets.validation.options import ValidationOptions  # noqa: E402
from mlcore.datasets.validation.split_checks import near_pairs  # noqa: E402
from mlcore.datasets.validation.validate import validate  # noqa: E402
from tests.low_texture import game_dataset  # noqa: E402

LOGO = ROOT.parent / "shared" / "datasets" / "logo_tdtu"
LOGO_COPIES = 53


def best_of(repeats: int, before: Callable[[], object], after: Callable[[], object]) -> tuple[float, float]:
    """The shortest of `repeats` runs of each, in seconds, run by turns (on a shared machine: the least disturbed
    run of each, under the same load)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for work, spent in ((before, times[0]), (after, times[1])):
            start = time.perf_counter()
            work()
            spent.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def measure(name: str, root: Path, real: set[tuple[str, str]] | None, repeats: int) -> None:
    """Print before/after for the dataset at `root`; `real`: the (copy, original) pairs that are real copies
    (None: those the hash alone finds, as for the logo photos)."""
    dataset = load_dataset(root)
    entries = [(split, image) for split, images in dataset.splits.items() for image in images]
    data = [Path(image).read_bytes() for _, image in entries]
    facts = [inspect_image(image, with_phash=True) for _, image in entries]
    hash_only = [replace(f, foreground=None) for f in facts]  # what the check before knew of each image
    n = len(entries)

    def pairs(of: list) -> set[tuple[str, str]]:
        found = near_pairs(entries, of)
        return {(dataset.rel(entries[copy][1]), dataset.rel(entries[other][1])) for copy, (_, other) in found.items()}

    before, after = pairs(hash_only), pairs(facts)
    real = before if real is None else real
    per_image = best_of(
        repeats, lambda: [perceptual_hash(d) for d in data], lambda: [near_copy_signature(d) for d in data]
    )
    search = best_of(repeats, lambda: near_pairs(entries, list(hash_only)), lambda: near_pairs(entries, list(facts)))
    maps = [f.foreground for f in facts if f.foreground is not None]
    shas = [f.sha for f in facts]
    groups_before = len(copy_groups([f.phash for f in facts], shas))
    groups_after = len(copy_groups([f.phash for f in facts], shas, [f.foreground for f in facts]))
    print(
        f"\n{name}: {n} images, {len(maps)} of them flat (with a foreground map of "
        f"{sum(map(len, maps)) / max(1, len(maps)):.0f} bytes on average)"
    )
    rows = [
        ("near copies across splits", len(before), len(after), ""),
        ("real copies found", len(before & real), len(after & real), f"   of {len(real)}"),
        ("false alarms", len(before - real), len(after - real), ""),
        ("re-split copy groups", groups_before, groups_after, ""),
    ]
    for label, old, new, note in rows:
        print(f"  {label:<34}before {old:5d}   after {new:5d}{note}")
    steps = [
        ("per image: decode + hash (+ map)", *per_image),
        ("per image: pair search", *search),
        ("per image: both", per_image[0] + search[0], per_image[1] + search[1]),
    ]
    for label, was, now in steps:
        print(f"  {label:<34}before {1e3 * was / n:.3f} ms   after {1e3 * now / n:.3f} ms   (x{now / was:.2f})")


def validation_runs(root: Path) -> None:
    """A full validation with a fresh facts cache, then again after one label changed (image facts cached)."""
    with tempfile.TemporaryDirectory(prefix="near-cache-") as tmp:
        cache = Path(tmp) / "facts.sqlite"
        first = validate(root, ValidationOptions(), cache_path=cache)
        label = next((root / "labels" / "train").iterdir())
        label.write_text(label.read_text() + "\n")
        second = validate(root, ValidationOptions(), cache_path=cache)
    near = [sum(i.code == "near_duplicate" for i in r.issues) for r in (first, second)]
    images = sum(c["images"] for c in first.counts.values())
    print(
        f"  validation (near duplicates on): fresh cache {first.seconds:.2f} s ({near[0]} near copies), "
        f"one label changed {second.seconds:.2f} s ({second.cache_hits} of {images} images from the cache, "
        f"{near[1]} near copies)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=686, help="different generated frames (686)")
    parser.add_argument("--copies", type=int, default=40, help="near copies of train frames planted (40)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if LOGO.is_dir():
        measure(
            f"{LOGO.name} (its {LOGO_COPIES} near copies found by the hash are the real ones)", LOGO, None, args.repeats
        )
    else:
        print(f"{LOGO} is missing: the logo dataset is skipped")
    with tempfile.TemporaryDirectory(prefix="near-frames-") as tmp:
        root = Path(tmp) / "frames"
        start = time.perf_counter()
        planted = game_dataset(root, frames=args.frames, copies=args.copies)
        print(f"\ngenerated {args.frames} frames and {len(planted)} near copies in {time.perf_counter() - start:.1f} s")
        measure("low-texture frames", root, set(planted.items()), args.repeats)
        validation_runs(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
