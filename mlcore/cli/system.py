"""`python -m mlcore status | demo-data`: this machine's state, and the synthetic demo dataset.

python -m mlcore status [--json] [--no-torch]
python -m mlcore demo-data [--out DIR] [--images N] [--seed S] [--if-missing | --force]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import fail
from mlcore.cli.printing import print_status
from mlcore.core import paths
from mlcore.core.settings import Settings


def add_system_parsers(sub: Any) -> None:
    status = sub.add_parser("status", help="CPU, memory, disk, GPUs, PyTorch and jobs of this machine")
    status.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    status.add_argument("--no-torch", action="store_true", help="skip the PyTorch probe (a few seconds)")
    status.set_defaults(func=cmd_status)

    demo = sub.add_parser("demo-data", help="write the synthetic logo dataset (YOLO format)")
    demo.add_argument("--out", help="output folder (default: <outputs>/datasets/demo)")
    demo.add_argument("--images", type=int, default=400, help="number of images (default 400)")
    demo.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same files")
    demo.add_argument("--imgsz", type=int, default=256, help="image side in pixels (default 256)")
    once = demo.add_mutually_exclusive_group()
    once.add_argument("--if-missing", action="store_true", help="do nothing when the dataset exists")
    once.add_argument("--force", action="store_true", help="replace an existing demo dataset")
    demo.set_defaults(func=cmd_demo_data)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.system.status import collect_status

    status = collect_status(settings, include_torch=not args.no_torch)
    data = status.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_status(data)
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.datasets.demo import DemoDataError, make_demo_dataset

    out = Path(args.out).resolve() if args.out else settings.demo_dataset_dir
    if args.if_missing and (out / paths.DATA_YAML).exists():
        print(f"Demo dataset already present at {out}")
        return 0

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total:
            print(f"\rWriting images: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    try:
        summary = make_demo_dataset(
            out, images=args.images, seed=args.seed, imgsz=args.imgsz, force=args.force, progress=progress
        )
    except DemoDataError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"could not write {out}: {exc.strerror or exc}; choose a writable folder with --out.")
    counts = ", ".join(f"{split} {n}" for split, n in summary.images.items())
    print(f"Demo dataset written to {summary.root} ({counts} images; {sum(summary.boxes.values())} boxes)")
    print(f"Dataset file: {summary.data_yaml}")
    return 0
