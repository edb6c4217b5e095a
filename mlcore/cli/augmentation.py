"""`python -m mlcore augment-preview`: training samples as Ultralytics' pipeline draws them with given settings.

python -m mlcore augment-preview --data PATH [--set mosaic=0.5 --set degrees=10] [--seed 3] [--out grid.png] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail, here
from mlcore.core.settings import Settings


def add_augmentation_parser(sub: Any) -> None:
    preview = sub.add_parser("augment-preview", help="draw training samples with augmentation settings (a picture)")
    preview.add_argument("--data", required=True, help="dataset folder or data.yaml (its train split is sampled)")
    preview.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="e.g. mosaic=0.5 (repeat; the others keep Ultralytics' defaults)",
    )
    preview.add_argument("--seed", type=int, default=0, help="the same seed gives the same draw (0)")
    preview.add_argument("--samples", type=int, default=9, help="how many samples (9)")
    preview.add_argument("--imgsz", type=int, default=320, help="size of each sample (320)")
    preview.add_argument("--out", help="also copy the grid picture (PNG) here")
    preview.add_argument("--json", action="store_true", help="print the preview as one JSON document")
    preview.set_defaults(func=cmd_augment_preview)


def cmd_augment_preview(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.training.augment_preview import preview_augmentation
    from mlcore.training.augmentation import parse_settings

    try:
        chosen = parse_settings(args.set)
        preview = preview_augmentation(
            here(args.data) or "", settings, chosen, seed=args.seed, count=args.samples, imgsz=args.imgsz
        )
    except (ValueError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    if args.out:
        shutil.copyfile(preview.grid, here(args.out) or args.out)
    if args.json:
        print(json.dumps({k: str(v) if k in ("folder", "grid") else v for k, v in asdict(preview).items()}))
        return 0
    print(f"{len(preview.samples)} samples, seed {preview.seed}: {preview.grid}")
    for sample in preview.samples:
        print(f"  {sample['boxes']} boxes ({', '.join(sample['classes']) or 'background'}) from {sample['file']}")
    return 0
