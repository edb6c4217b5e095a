"""`python -m mlcore dataset version SRC ...`: a new version of a dataset with changes (the source is never written).

python -m mlcore dataset version SRC --apply-fixes fix_list.csv [--name N] [--json]
python -m mlcore dataset version SRC --remove LIST.txt|errors [--name N] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.core.settings import Settings


def _here(text: str | None) -> str | None:
    """A path typed in a terminal is relative to the terminal's folder."""
    return str(Path(text).expanduser().absolute()) if text and Path(text).expanduser().exists() else text


def add_dataset_parser(sub: Any) -> None:
    dataset = sub.add_parser("dataset", help="make a new version of a dataset with changes (fixes, removals)")
    actions = dataset.add_subparsers(dest="action", required=True, metavar="ACTION")
    version = actions.add_parser("version", help="write the next version of a dataset under ml_outputs/datasets/")
    version.add_argument("source", metavar="SRC", help="the dataset (or an earlier version) to start from")
    version.add_argument("--apply-fixes", metavar="CSV", help="a label audit's fix_list.csv (the rows you accept)")
    version.add_argument("--remove", metavar="LIST", help="a file of image paths to leave out, or 'errors'")
    version.add_argument("--name", help="the versions' name (default: the source's)")
    version.add_argument("--json", action="store_true", help="print the manifest as one JSON document")
    version.set_defaults(func=cmd_version)


def cmd_version(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.datasets.versions import REMOVE_ERRORS, make_version

    remove = args.remove if args.remove == REMOVE_ERRORS else _here(args.remove)
    try:
        manifest = make_version(
            _here(args.source) or "", settings, fixes=Path(_here(args.apply_fixes)) if args.apply_fixes else None,
            remove=remove, name=args.name,
        )  # fmt: skip
    except SubmitError as exc:
        return fail(str(exc), EXIT_USAGE)
    if args.json:
        print(json.dumps(manifest))
        return 0
    print(f"{manifest['name']} v{manifest['version']}: {manifest['path']}")
    for change in manifest["changes"]:
        details = ", ".join(f"{k} {v}" for k, v in change.items() if k not in ("kind", "removed", "file", "from"))
        print(f"  {change['kind']}: {details}")
    counts = manifest["validation"]
    print(f"  validated: {counts['error']} errors, {counts['warning']} warnings ({counts['report']})")
    return 0
