"""Dataset-level checks, run once all images are checked: missing and orphan labels, unsupported
files, exact and near duplicates, and the class balance of the splits."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mlcore.datasets.images import ImageFacts, content_hash
from mlcore.datasets.loader import Dataset, label_path
from mlcore.datasets.near_copies import near_copies
from mlcore.datasets.validation.image_checks import Checker
from mlcore.datasets.validation.options import SPLIT_ORDER, ValidationOptions


def missing_labels(checker: Checker) -> None:
    """Images without a label file: one error for a split with none at all, else one warning each."""
    dataset = checker.ds
    for split, images in dataset.splits.items():
        missing = checker.missing.get(split, [])
        if images and len(missing) == len(images):
            hint = _labels_hint(dataset, images)
            checker.error(
                "missing_label",
                split,
                dataset.rel(os.path.dirname(label_path(images[0]))),
                f"no label file for any of the {len(images)} {split} images. {hint}",
            )
        else:
            for image in missing:
                checker.warning(
                    "missing_label",
                    split,
                    dataset.rel(image),
                    f"no label file ({dataset.rel(label_path(image))}): training treats the image as "
                    "background (no objects). Add the labels, or an empty .txt if that is intended.",
                )


def unsupported_files(checker: Checker) -> None:
    """Files in the image folders that training ignores."""
    dataset = checker.ds
    for split, files in dataset.unsupported.items():
        for path in files:
            checker.warning(
                "unsupported_format",
                split,
                dataset.rel(path),
                f"training ignores .{path.rpartition('.')[2].lower()} files; convert it to JPEG or PNG "
                "if it should be used.",
            )


def orphans(checker: Checker, entries: list[tuple[str, str]]) -> None:
    """Label files in the label folders that belong to no image."""
    expected = {label_path(image) for _, image in entries}
    image_dirs: dict[str, str] = {}
    for split, image in entries:
        image_dirs.setdefault(image.rpartition(os.sep)[0], split)
    folders = {os.path.dirname(label_path(os.path.join(d, "x.jpg"))): split for d, split in image_dirs.items()}
    for folder, split in sorted(folders.items()):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.endswith(".txt") and name != "classes.txt" and path not in expected:
                checker.warning(
                    "orphan_label",
                    split,
                    checker.ds.rel(path),
                    "label file without an image: training never reads it. Add its image or delete it.",
                )


def _labels_hint(dataset: Dataset, images: list[str]) -> str:
    """Where the labels of a split probably are, when none is where Ultralytics looks."""
    expected = Path(label_path(images[0])).parent
    stems = {Path(p).stem for p in images}  # all of them: the count the hint gives is the count that match
    candidates: list[tuple[int, Path]] = []
    for parent in {expected.parent, expected.parent.parent}:
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():
            if not folder.is_dir() or folder == expected or folder.name == "images":
                continue
            try:
                hits = sum(1 for f in folder.iterdir() if f.suffix == ".txt" and f.stem in stems)
            except OSError:
                continue
            if hits:
                candidates.append((hits, folder))
    where = (
        f"Ultralytics looks for them in {dataset.rel(expected)}/ (the image path with its last /images/ "
        "replaced by /labels/ and .txt as extension)."
    )
    if candidates:
        hits, best = max(candidates)
        return (
            f"{where} Found {hits} matching label files in {dataset.rel(best)}/: move them to {dataset.rel(expected)}/."
        )
    return f"{where} Put one .txt per image there."


def duplicates(checker: Checker, entries: list[tuple[str, str]], facts: list[ImageFacts | None]) -> None:
    """Byte-identical images. Only files whose sizes collide can be identical, so only those are hashed
    (their content hashes are filled in, in `facts`, for the cache)."""
    ds = checker.ds
    by_size: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for index, f in enumerate(facts):
        if f is not None and f.size_bytes and f.mtime_ns:
            by_size[(f.size_bytes, f.crc)].append(index)
    by_sha: dict[str, list[int]] = defaultdict(list)
    for group in by_size.values():
        if len(group) < 2:
            continue
        for index in group:
            f = facts[index]
            if f is None:  # unreadable files are in no group
                continue
            if f.sha is None:
                try:
                    f = facts[index] = replace(f, sha=content_hash(entries[index][1]))
                except OSError:
                    continue
            by_sha[str(f.sha)].append(index)
    for group in by_sha.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda i: (SPLIT_ORDER.get(entries[i][0], 9), str(entries[i][1])))
        first_split, first = entries[group[0]]
        for index in group[1:]:
            split, image = entries[index]
            if split != first_split:
                checker.error(
                    "duplicate_image",
                    split,
                    ds.rel(image),
                    f"identical to {ds.rel(first)} in {first_split}: the same image in two splits leaks "
                    f"training data into evaluation. Remove it from {split}.",
                )
            else:
                checker.warning(
                    "duplicate_image",
                    split,
                    ds.rel(image),
                    f"identical to {ds.rel(first)} in the same split: it counts twice; remove one copy.",
                )


def near_pairs(entries: list[tuple[str, str]], facts: Sequence[ImageFacts | None]) -> dict[int, tuple[int, int]]:
    """Images in different splits that are near copies (near_copies: difference hashes at most NEAR_DUPLICATE_BITS
    bits apart and, for mostly flat images, the same foreground map) and whose bytes differ: {index of the copy in
    the later split: (hash bits apart, index of its closest image in an earlier one)}."""
    hashed = [i for i, f in enumerate(facts) if f is not None and f.phash is not None and not f.error]
    known: list[ImageFacts] = [facts[i] for i in hashed]  # type: ignore[misc]

    def apart(x: int, y: int) -> bool:
        return entries[hashed[x]][0] != entries[hashed[y]][0] and known[x].sha != known[y].sha

    best: dict[int, tuple[int, int]] = {}
    for x, y, bits in near_copies([f.phash for f in known], [f.foreground for f in known], apart):
        i, j = hashed[x], hashed[y]
        later, other = (j, i) if SPLIT_ORDER.get(entries[j][0], 9) > SPLIT_ORDER.get(entries[i][0], 9) else (i, j)
        if later not in best or bits < best[later][0]:
            best[later] = (bits, other)
    return best


def near_duplicates(checker: Checker, entries: list[tuple[str, str]], facts: list[ImageFacts | None]) -> None:
    """Near copies in different splits (near_pairs)."""
    ds = checker.ds
    for later, (bits, other) in sorted(near_pairs(entries, facts).items()):
        split, image = entries[later]
        other_split, other_image = entries[other]
        checker.warning(
            "near_duplicate",
            split,
            ds.rel(image),
            f"looks nearly identical to {ds.rel(other_image)} in {other_split} ({bits} of 144 hash bits "
            f"differ): a near copy in another split inflates evaluation. Check both, remove one.",
        )


def class_checks(checker: Checker, options: ValidationOptions) -> None:
    """Unused classes, classes with too few train (or no val) instances, and train class imbalance."""
    ds, stats = checker.ds, checker.stats
    train = stats.instances.get("train", Counter())
    val = stats.instances.get("val", Counter())
    total: Counter[int] = Counter()
    for counter in stats.instances.values():
        total.update(counter)
    for cid, name in ds.names.items():
        if total[cid] == 0:
            checker.warning(
                "unused_class",
                None,
                None,
                f"class {cid} '{name}' has no instance in any split: add labelled examples, or remove it "
                "from names (ids after it shift).",
            )
            continue
        if "train" in ds.splits and train[cid] < options.min_instances:
            checker.warning(
                "few_samples",
                "train",
                None,
                f"class {cid} '{name}' has only {train[cid]} instance(s) in train (fewer than "
                f"{options.min_instances}): too few to learn; add examples.",
            )
        if "val" in ds.splits and val[cid] == 0 and train[cid] > 0:
            checker.warning(
                "few_samples",
                "val",
                None,
                f"class {cid} '{name}' has no instance in val: its accuracy cannot be measured; move or add "
                "some examples to val.",
            )
    present = {c: n for c, n in train.items() if n > 0 and c in ds.names}
    if len(present) >= 2:
        big, small = max(present, key=present.get), min(present, key=present.get)  # type: ignore[arg-type]
        ratio = present[big] / present[small]
        if ratio > options.imbalance_ratio:
            checker.warning(
                "class_imbalance",
                "train",
                None,
                f"'{ds.names[big]}' has {present[big]} train instances and '{ds.names[small]}' only "
                f"{present[small]} (ratio {ratio:.0f}:1, above {options.imbalance_ratio:g}:1): the rare class "
                "will be learned poorly. Add examples of it.",
            )
