"""What the validation cache may reuse: a fingerprint of everything a report depends on, and the
remembered facts of the images whose files have not changed."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from mlcore.datasets.images import ImageFacts
from mlcore.datasets.loader import Dataset, label_path, load_dataset
from mlcore.datasets.validation.cache import FactsCache
from mlcore.datasets.validation.options import ValidationOptions

REPORT_SCHEMA = "1"  # bump when checks change, so stored reports are not reused


def dataset_fingerprint(
    dataset: Dataset, entries: list[tuple[str, str]], options: ValidationOptions
) -> tuple[str, dict[str, tuple[int, int]]]:
    """A hash of everything a report depends on: which images are in which split, every file of their
    image and label folders (name, size, mtime), data.yaml and the options; and the (size, mtime) of
    each of those files, so that nothing is stat'ed twice."""
    stats: dict[str, tuple[int, int]] = {}
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{REPORT_SCHEMA}|{dataset.source}|{sorted(asdict(options).items())}".encode())
    if dataset.yaml_path is not None:
        try:
            digest.update(dataset.yaml_path.read_bytes())
        except OSError:
            digest.update(b"unreadable yaml")
    listing = "\n".join(f"{split}\t{image}" for split, image in entries)
    digest.update(listing.encode("utf-8", "surrogateescape"))
    folders = {os.path.dirname(image) for _, image in entries}
    folders |= {os.path.dirname(label_path(os.path.join(folder, "x.jpg"))) for folder in folders}  # label folders
    for folder in sorted(folders):
        parts = [folder]
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    try:
                        st = entry.stat()
                    except OSError:  # a dangling or looping link: noted, and the listing goes on
                        parts.append(f"{entry.name}:-")
                        continue
                    stats[entry.path] = (st.st_size, st.st_mtime_ns)
                    parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
        digest.update("\n".join(sorted(parts)).encode("utf-8", "surrogateescape"))
    for split, files in sorted(dataset.unsupported.items()):
        digest.update("|".join([split, *files]).encode("utf-8", "surrogateescape"))
    return digest.hexdigest(), stats


def cached_facts(
    images: list[str], options: ValidationOptions, cache: FactsCache, stats: dict[str, tuple[int, int]]
) -> list[ImageFacts | None]:
    """Facts remembered for images whose size and mtime (from `stats`) are unchanged (None where not)."""
    facts: list[ImageFacts | None] = [None] * len(images)
    if not images:
        return facts
    cached = cache.under(Path(os.path.commonpath([os.path.dirname(p) for p in images])))
    for index, image in enumerate(images):
        hit = cached.get(image)
        if hit is not None and stats.get(image) == hit[:2]:
            known = ImageFacts.from_row(json.loads(hit[2]))
            if not options.near_duplicates or known.phash is not None or known.error:
                facts[index] = known
    return facts


def fingerprint_of(source: Path) -> str:
    """The fingerprint of the dataset at `source` as a default validation sees it: what evaluations and
    registered versions record, so that results on the same files can be recognised. DatasetError when
    the dataset cannot be read."""
    return fingerprint_of_dataset(load_dataset(source))


def fingerprint_of_dataset(dataset: Dataset) -> str:
    """`fingerprint_of` for a dataset already read."""
    entries = [(split, image) for split, images in dataset.splits.items() for image in images]
    return dataset_fingerprint(dataset, entries, ValidationOptions())[0]
