"""Runs the per-image checks over a dataset: inline for small ones, else in a process pool (fork, or
spawn under a bare `__main__` in a threaded process). Worker code lives here, importable by path."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace

from mlcore.datasets.images import ImageFacts, inspect_image
from mlcore.datasets.issues import Issue
from mlcore.datasets.loader import Dataset
from mlcore.datasets.validation.image_checks import Checker
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.stats import Stats

Progress = Callable[[str, int, int], None]

PARALLEL_FROM = 64  # fewer images to read than this: no process pool


@dataclass
class BatchResult:
    """What one batch found, sent back from its worker: facts (for the cache), issues and statistics."""

    facts: list[ImageFacts | None]
    issues: list[Issue]
    stats: Stats
    missing: dict[str, list[str]]
    max_class: int


def _check_batch(
    dataset: Dataset, options: ValidationOptions, items: list[tuple[str, str, ImageFacts | None]]
) -> BatchResult:
    """Checks of a batch of images and their labels; runs in a worker process (or inline)."""
    checker = Checker(dataset, options)
    out: list[ImageFacts | None] = []
    for split, image, facts in items:
        if options.check_images and facts is None:
            facts = inspect_image(image, options.near_duplicates)
        out.append(facts)
        checker.label(split, image, checker.image(split, image, facts))
    return BatchResult(out, checker.issues, checker.stats, dict(checker.missing), checker.max_class)


@contextmanager
def _bare_main() -> Iterator[None]:
    """Start worker processes without re-running the caller's main script in them.

    multiprocessing's spawn re-imports `__main__` in every worker; in the web app that is the
    running page, which must not run again there. A bare module stands in while workers start.
    """
    original = sys.modules.get("__main__")
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in and original is not None:
            sys.modules["__main__"] = original


def run_checks(
    dataset: Dataset,
    options: ValidationOptions,
    items: list[tuple[str, str, ImageFacts | None]],
    progress: Progress | None,
) -> list[BatchResult]:
    """Every image checked, in batches: inline for small datasets, else in one process per core."""
    total = len(items)
    workers = options.workers or os.cpu_count() or 1
    slim = replace(dataset, splits={}, unsupported={}, issues=[])  # what workers need, small to send
    to_read = sum(1 for item in items if item[2] is None) if options.check_images else 0
    if workers == 1 or total < PARALLEL_FROM or (to_read < PARALLEL_FROM and total < 20 * PARALLEL_FROM):
        inline: list[BatchResult] = []
        for start in range(0, total, 500):
            inline.append(_check_batch(slim, options, items[start : start + 500]))
            if progress:
                progress("Checking images", min(total, start + 500), total)
        return inline
    size = max(32, min(512, total // (workers * 6) or 32))
    batches = [items[i : i + size] for i in range(0, total, size)]
    results: list[BatchResult | None] = [None] * len(batches)
    # fork starts workers in milliseconds but is unsafe in a threaded process (the web app):
    # there, spawn with a bare __main__.
    method = "fork" if threading.active_count() == 1 else "spawn"
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        with _bare_main():  # all workers start on the first submissions
            futures = {pool.submit(_check_batch, slim, options, batch): n for n, batch in enumerate(batches)}
        for future in as_completed(futures):
            n = futures[future]
            results[n] = future.result()
            done += len(batches[n])
            if progress:
                progress("Checking images", done, total)
    return [r for r in results if r is not None]  # every batch is done once the pool has closed
