"""What dataset versions cost: a leak-free re-split of many images whose hashes are known, and making a version.

1. Re-split: N images (default 100,000) with synthetic 144-bit perceptual hashes, a tenth of them in groups of
   near copies (2-10 images, a few bits flipped), 1-4 boxes of five classes each, split 70/20/10 by
   `mlcore.datasets.resplit.resplit`. Beside it, the reference: scikit-learn's `train_test_split` (random,
   stratified by nothing, copies ignored) on the same images, and how many copy groups each leaves straddling
   splits. Goal: <= 10 s for 100,000 images.
2. A version: a generated dataset of M images (default 10,000, 64 px), one image removed, through `make_version`
   (hard links, labels written, data.yaml, its validation, the manifest), after one untimed warm-up version.
   Goal: <= 5 s when links are possible.

    python benchmarks/dataset_versions.py [--images 100000] [--version-images 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic(n: int, seed: int) -> tuple[list[int], list[dict[int, int]], list[int]]:
    """Hashes, classes per image, and each image's copy group (its own index when it has no copies)."""
    rng = random.Random(seed)
    hashes: list[int] = []
    group_of: list[int] = []
    while len(hashes) < n:
        base = rng.getrandbits(144)
        size = rng.randint(2, 10) if rng.random() < 0.1 / 6 * 1.0 else 1  # about a tenth of images in groups
        first = len(hashes)
        for _ in range(min(size, n - len(hashes))):
            h = base
            for bit in rng.sample(range(144), rng.randint(0, 3)):
                h ^= 1 << bit
            hashes.append(h)
            group_of.append(first)
    classes = [{rng.randrange(5): rng.randint(1, 4)} for _ in range(n)]
    return hashes, classes, group_of


def straddling(group_of: list[int], split_of: list[str]) -> int:
    splits: dict[int, set[str]] = {}
    for g, s in zip(group_of, split_of, strict=True):
        splits.setdefault(g, set()).add(s)
    return sum(1 for s in splits.values() if len(s) > 1)


def bench_resplit(n: int, seed: int) -> None:
    from sklearn.model_selection import train_test_split

    from mlcore.datasets.resplit import resplit

    hashes, classes, group_of = synthetic(n, seed)
    groups = len(set(group_of))
    wanted = {"train": 0.7, "val": 0.2, "test": 0.1}
    started = time.perf_counter()
    plan = resplit(hashes, [None] * n, classes, wanted, seed=seed)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    index = list(range(n))
    train, rest = train_test_split(index, train_size=0.7, random_state=seed)
    val, test = train_test_split(rest, train_size=2 / 3, random_state=seed)
    theirs = time.perf_counter() - started
    random_split = [""] * n
    for name, part in (("train", train), ("val", val), ("test", test)):
        for i in part:
            random_split[i] = name
    copies = sum(1 for g in set(group_of) if group_of.count(g) > 1) if n <= 20_000 else None
    print(f"Re-split of {n:,} images ({groups:,} groups of copies planted), 70/20/10:")
    print(
        f"  studio resplit: {ours:.2f} s (goal <= 10 s), {plan.groups:,} groups found, largest {plan.largest_group}; "
        f"shares " + ", ".join(f"{s} {v:.3f}" for s, v in plan.achieved.items())
    )
    print(
        f"  groups straddling splits: studio {straddling(group_of, plan.split_of)}, "
        f"train_test_split {straddling(group_of, random_split)}" + (f" of {copies}" if copies else "")
    )
    print(f"  scikit-learn train_test_split (random, copies ignored): {theirs:.3f} s; ratio {ours / theirs:.0f}x")


def bench_version(m: int, seed: int) -> None:
    from PIL import Image

    from mlcore.core.settings import load_settings
    from mlcore.datasets import versions

    work = Path(tempfile.mkdtemp(prefix="versions-bench-"))
    try:
        source = work / "data" / "many"
        rng = random.Random(seed)
        tile = Image.new("RGB", (64, 64), (120, 90, 60))
        for n in range(m):
            split = "train" if n % 10 < 7 else "val" if n % 10 < 9 else "test"
            (source / "images" / split).mkdir(parents=True, exist_ok=True)
            (source / "labels" / split).mkdir(parents=True, exist_ok=True)
            tile.putpixel((n % 64, (n // 64) % 64), (rng.randrange(256), 0, 0))
            tile.save(source / "images" / split / f"{n:06d}.jpg", quality=80)
            (source / "labels" / split / f"{n:06d}.txt").write_text(f"{n % 3} 0.5 0.5 0.2 0.2\n")
        (source / "data.yaml").write_text("train: images/train\nval: images/val\ntest: images/test\nnames: [a, b, c]\n")
        os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
        os.environ["ML_STUDIO_DATASET_ROOTS"] = str(work / "data")
        settings = load_settings()
        drop = work / "drop.txt"
        drop.write_text("images/train/000000.jpg\n")
        versions.make_version(str(source), settings, remove=drop, name="warm-up")  # imports, caches: not timed
        started = time.perf_counter()
        manifest = versions.make_version(str(source), settings, remove=drop)
        seconds = time.perf_counter() - started
        print(f"A version of {m:,} images (one removed), images linked by {manifest['links']}, validated when made:")
        print(f"  {seconds:.2f} s (goal <= 5 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--version-images", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bench_resplit(args.images, args.seed)
    bench_version(args.version_images, args.seed)


if __name__ == "__main__":
    main()
