"""Dataset validation: every problem a YOLO detection dataset can have, as a list of issues,
with the statistics and recommendations a user needs before training. Never writes to the dataset.

    report = validate(Path("ml_outputs/datasets/demo"), ValidationOptions(imgsz=640))
    python -m mlcore validate ml_outputs/datasets/demo [--json]

This module runs the steps and assembles the report; the checks live in image_checks (per image and
label line, run by parallel) and split_checks (per dataset), the advice in recommend.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcore.datasets.images import ImageFacts
from mlcore.datasets.issues import SEVERITY_ORDER, Issue
from mlcore.datasets.loader import Dataset, load_dataset
from mlcore.datasets.validation import split_checks
from mlcore.datasets.validation.cache import FactsCache
from mlcore.datasets.validation.fingerprint import cached_facts, dataset_fingerprint
from mlcore.datasets.validation.image_checks import Checker
from mlcore.datasets.validation.options import SPLIT_ORDER, ValidationOptions
from mlcore.datasets.validation.parallel import BatchResult, Progress, run_checks
from mlcore.datasets.validation.recommend import recommendations
from mlcore.datasets.validation.report import ValidationReport
from mlcore.datasets.validation.stats import Stats


def validate(
    source: Path,
    options: ValidationOptions | None = None,
    progress: Progress | None = None,
    cache_path: Path | None = None,
) -> ValidationReport:
    """Validate the dataset at `source` (resolved and allowed by the caller).

    Raises DatasetError when the dataset cannot be read at all; every other problem is an issue.
    """
    options = options or ValidationOptions()
    started = time.perf_counter()
    dataset = load_dataset(source)
    entries = [(split, image) for split, images in dataset.splits.items() for image in images]
    if progress:
        progress("Listing files", len(entries), len(entries))
    cache = FactsCache(cache_path) if cache_path else None
    try:
        fingerprint, stats = dataset_fingerprint(dataset, entries, options) if cache else ("", {})
        reused = cache.report(fingerprint) if cache else None
        if reused is not None:
            report = ValidationReport.from_dict(reused)
            report.created = datetime.now(UTC).isoformat(timespec="seconds")
            report.cache_hits = len(entries)
            report.seconds = round(time.perf_counter() - started, 3)
            if progress:
                progress("Checking images", len(entries), len(entries))
            return report
        known = (
            cached_facts([e[1] for e in entries], options, cache, stats)
            if cache and options.check_images
            else [None] * len(entries)
        )
        hits = sum(f is not None for f in known)
        items = [(split, image, f) for (split, image), f in zip(entries, known, strict=True)]
        checker, facts = _merge(dataset, options, run_checks(dataset, options, items, progress))
        report = _finish(dataset, options, entries, facts, checker, hits, started)
        if cache:
            cache.store(
                (image, f)
                for (_, image), f, k in zip(entries, facts, known, strict=True)
                if f is not None and (k is None or f.sha != k.sha)
            )
            cache.store_report(fingerprint, report.to_dict())
        return report
    finally:
        if cache:
            cache.close()


def _merge(
    dataset: Dataset, options: ValidationOptions, batches: list[BatchResult]
) -> tuple[Checker, list[ImageFacts | None]]:
    """One checker holding what every batch found, in batch order (so the result is deterministic),
    after the dataset's own issues; and the facts of every image, in `entries` order."""
    checker = Checker(dataset, options)
    checker.issues = list(dataset.issues)
    facts: list[ImageFacts | None] = []
    for batch in batches:
        facts += batch.facts
        checker.issues += batch.issues
        checker.stats.merge(batch.stats)
        for split, images in batch.missing.items():
            checker.missing[split] += images
        checker.max_class = max(checker.max_class, batch.max_class)
    if not dataset.names_known and checker.max_class >= 0:  # no names in data.yaml: number the ids seen
        dataset.names = {i: str(i) for i in range(checker.max_class + 1)}
        checker.nc = len(dataset.names)
    return checker, facts


def _finish(
    dataset: Dataset,
    options: ValidationOptions,
    entries: list[tuple[str, str]],
    facts: list[ImageFacts | None],
    checker: Checker,
    hits: int,
    started: float,
) -> ValidationReport:
    """Dataset-level checks on top of the per-image ones, then the report."""
    _dataset_checks(checker, options, entries, facts)
    issues = _sorted_issues(checker.issues)
    stats = checker.stats
    report = ValidationReport(
        dataset=dataset.describe(),
        options=asdict(options),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 3),
        counts={
            s: {
                k: stats.counts[s].get(k, 0)
                for k in ("images", "labelled", "backgrounds", "missing_labels", "boxes", "corrupt")
            }
            for s in dataset.splits
        },
        classes=[
            {
                "id": cid,
                "name": name,
                "instances": {s: stats.instances[s].get(cid, 0) for s in dataset.splits},
                "images": {s: stats.class_images[s].get(cid, 0) for s in dataset.splits},
            }
            for cid, name in dataset.names.items()
        ],
        image_sizes={
            "top": [[w, h, n] for (w, h), n in stats.sizes.most_common(50)],
            "distinct": len(stats.sizes),
            "sample": [list(s) for s in stats.size_sample],
        },
        boxes=_box_figures(stats),
        boxes_per_image={str(k): v for k, v in sorted(stats.per_image.items())},
        centre_heatmap=stats.heatmap,
        issues=issues,
        recommendations=[],
        cache_hits=hits,
    )
    report.recommendations = recommendations(issues, stats, dataset, options)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _dataset_checks(
    checker: Checker, options: ValidationOptions, entries: list[tuple[str, str]], facts: list[ImageFacts | None]
) -> None:
    """The split-level checks the options ask for, in a fixed order (issues with equal sort keys keep it)."""
    if options.validate_format:
        split_checks.missing_labels(checker)
        split_checks.unsupported_files(checker)
        split_checks.orphans(checker, entries)
    if options.check_images:
        split_checks.duplicates(checker, entries, facts)  # fills in content hashes where sizes collide
        if options.near_duplicates:
            split_checks.near_duplicates(checker, entries, facts)
    if options.check_labels:
        split_checks.class_checks(checker, options)


def _sorted_issues(issues: list[Issue]) -> list[Issue]:
    """Errors first, then by code, split, path and line."""
    return sorted(
        issues,
        key=lambda i: (
            SEVERITY_ORDER[i.severity],
            i.code,
            SPLIT_ORDER.get(i.split or "", 9),
            i.path or "",
            i.line or 0,
        ),
    )


def _box_figures(stats: Stats) -> dict[str, Any]:
    """Box totals and the sampled boxes as columns, for the charts."""
    return {
        "total": stats.boxes_seen,
        "sample_size": len(stats.box_sample),
        "small_at_imgsz": stats.small_at_imgsz,
        "sized": stats.sized_boxes,
        "sample": {
            **{
                k: [b[i] for b in stats.box_sample]
                for i, k in enumerate(("w_rel", "h_rel", "w_px", "h_px", "cls", "split"))
            },
            "area_rel": [b[0] * b[1] for b in stats.box_sample],
            "area_px": [None if b[2] is None or b[3] is None else b[2] * b[3] for b in stats.box_sample],
        },
    }
