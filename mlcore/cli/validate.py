"""`python -m mlcore validate PATH`: every problem of a YOLO dataset, never modifying it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.cli.printing import print_report, progress_bar
from mlcore.core.settings import Settings


def add_validate_parser(sub: Any) -> None:
    from mlcore.datasets.validation.options import ValidationOptions  # the defaults, written once on the options

    check = sub.add_parser("validate", help="find every problem of a YOLO dataset (never modifies it)")
    check.add_argument("path", help="dataset folder or data.yaml (under ML_STUDIO_DATASET_ROOTS)")
    check.add_argument("--json", action="store_true", help="print exactly one JSON report on stdout")
    check.add_argument("--no-images", action="store_true", help="do not open images (labels and layout only)")
    check.add_argument("--no-labels", action="store_true", help="do not check label contents")
    check.add_argument("--no-format", action="store_true", help="do not check pairing, orphans and file formats")
    check.add_argument("--no-near-duplicates", action="store_true", help="skip perceptual hashing (faster)")
    check.add_argument(
        "--imgsz",
        type=int,
        default=ValidationOptions.imgsz,
        help=f"training image size for tiny-box checks ({ValidationOptions.imgsz})",
    )
    check.add_argument("--workers", type=int, default=0, help="processes reading images (0 = one per core)")
    check.add_argument("--no-save", action="store_true", help="do not save the report under dataset_reports/")
    check.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
    from mlcore.datasets.loader import DatasetError
    from mlcore.datasets.validation.options import ValidationOptions
    from mlcore.datasets.validation.saved_reports import save_report
    from mlcore.datasets.validation.validate import validate
    from mlcore.storage.datasets import dataset_from

    try:
        path = resolve_user_path(dataset_from(args.path, settings), settings.dataset_roots, base=Path.cwd())
        options = ValidationOptions(
            check_images=not args.no_images,
            check_labels=not args.no_labels,
            validate_format=not args.no_format,
            near_duplicates=not args.no_near_duplicates,
            imgsz=args.imgsz,
            workers=args.workers,
        )
        report = validate(path, options, progress=progress_bar, cache_path=settings.image_facts_cache)
    except (PathNotAllowed, DatasetError, ValueError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        return fail(f"validation stopped: {exc}; check that {settings.outputs_root} is writable.", EXIT_USAGE)
    folder = None
    if not args.no_save:
        try:
            folder = save_report(report, settings.outputs_root).folder
        except OSError as exc:
            print(f"mlcore: warning: the report could not be saved ({exc})", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print_report(report, folder)
    return 1 if report.severity_counts()["error"] else 0
