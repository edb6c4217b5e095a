"""`python -m mlcore dataset version SRC ...`: a new version of a dataset with changes (the source is never written).

python -m mlcore dataset version SRC --apply-fixes fix_list.csv [--name N] [--json]
python -m mlcore dataset version SRC --remove LIST.txt|errors [--name N] [--json]
python -m mlcore dataset version SRC --add DIR --split val   # labelled images: images/, labels/, classes.txt
python -m mlcore dataset version SRC --resplit 70/20/10 [--tolerance 0.05]    # copies never straddle splits
python -m mlcore dataset version SRC --merge OTHER [--map Logo=logo]           # classes joined by name or mapping
python -m mlcore dataset import-coco JSON --images DIR [--name N] [--json]     # or a Roboflow COCO export folder
python -m mlcore dataset export-coco PATH [--split S] [--out FILE]             # without --out: to stdout
python -m mlcore dataset repair SRC [--resplit 70/20/10] [--tolerance 0.05] [--name N] [--json]  # a layout fixed
python -m mlcore dataset repair SRC --check [--json]       # only say what a repaired version would fix
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail, here, typed_path
from mlcore.core.settings import Settings


def add_dataset_parser(sub: Any) -> None:
    dataset = sub.add_parser("dataset", help="make a new version of a dataset with changes (fixes, removals)")
    actions = dataset.add_subparsers(dest="action", required=True, metavar="ACTION")
    version = actions.add_parser("version", help="write the next version of a dataset under ml_outputs/datasets/")
    version.add_argument("source", metavar="SRC", help="the dataset (or an earlier version) to start from")
    version.add_argument("--apply-fixes", metavar="CSV", help="a label audit's fix_list.csv (the rows you accept)")
    version.add_argument("--remove", metavar="LIST", help="a file of image paths to leave out, or 'errors'")
    version.add_argument("--add", metavar="DIR", help="labelled images to add (a folder with images/ and labels/)")
    version.add_argument("--split", default="train", help="the split --add puts them in (default train)")
    version.add_argument("--merge", metavar="DIR", help="another dataset to merge in (its splits into the same splits)")
    version.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="THEIRS=OURS",
        help="merge: their class THEIRS becomes OURS (ours, or a new name); repeat",
    )
    version.add_argument("--resplit", metavar="70/20/10", help="assign train/val/test anew, copies kept together")
    version.add_argument("--tolerance", type=float, default=0.05, help="how far a split's share may miss (0.05)")
    version.add_argument("--name", help="the versions' name (default: the source's)")
    version.add_argument("--json", action="store_true", help="print the manifest as one JSON document")
    version.add_argument("--to", metavar="URL", help="also upload the new version to s3://BUCKET/PREFIX")
    version.set_defaults(func=cmd_version)
    coco_in = actions.add_parser("import-coco", help="a COCO detection dataset as a new YOLO dataset version")
    coco_in.add_argument("source", metavar="JSON", help="the instances JSON, or a Roboflow COCO export's folder")
    coco_in.add_argument("--images", help="the folder of the JSON's images (not needed for a Roboflow folder)")
    coco_in.add_argument("--name", help="the versions' name (default: the file's or folder's)")
    coco_in.add_argument("--json", action="store_true", help="print the manifest as one JSON document")
    coco_in.set_defaults(func=cmd_import_coco)
    coco_out = actions.add_parser("export-coco", help="write a dataset (or one split) as COCO detection JSON")
    coco_out.add_argument("source", metavar="PATH", help="dataset folder or data.yaml")
    coco_out.add_argument("--split", help="only this split (default: every split, in one file)")
    coco_out.add_argument("--out", help="the file to write (default: standard output)")
    coco_out.set_defaults(func=cmd_export_coco)
    repair = actions.add_parser("repair", help="a version of a dataset Ultralytics cannot read as it is, repaired")
    repair.add_argument("source", metavar="SRC", help="the dataset folder or data.yaml (a CVAT or Label Studio export)")
    repair.add_argument("--check", action="store_true", help="only say what a repaired version would fix")
    repair.add_argument("--resplit", metavar="70/20/10", help="assign train/val/test anew, copies kept together")
    repair.add_argument("--tolerance", type=float, default=0.05, help="how far a split's share may miss (0.05)")
    repair.add_argument("--name", help="the versions' name (default: the source folder's)")
    repair.add_argument("--json", action="store_true", help="print the manifest (or the diagnosis) as JSON")
    repair.set_defaults(func=cmd_repair)


def cmd_version(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.datasets.versions import REMOVE_ERRORS, make_version, parse_class_map
    from mlcore.storage.push import UPLOADED

    remove = args.remove if args.remove == REMOVE_ERRORS else here(args.remove)
    try:
        manifest = make_version(
            here(args.source) or "",
            settings,
            fixes=Path(typed_path(args.apply_fixes)) if args.apply_fixes else None,
            remove=remove,
            name=args.name,
            resplit=args.resplit,
            tolerance=args.tolerance,
            add=here(args.add),
            add_to=args.split,
            merge=here(args.merge),
            class_map=parse_class_map(args.map),
            to=args.to,
        )
    except SubmitError as exc:
        return fail(str(exc), EXIT_USAGE)
    code = _print_manifest(manifest, args.json)
    upload = manifest.get("upload")
    if upload is None:
        return code
    if upload["state"] != UPLOADED:
        return fail(f"the version is made, but not yet uploaded: {upload.get('error')} (it is tried again)", 1)
    print(f"uploaded to {upload['url']} ({upload['files']} files)", file=sys.stderr)
    return code


def _print_manifest(manifest: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(manifest))
        return 0
    print(f"{manifest['name']} v{manifest['version']}: {manifest['path']}")
    for change in manifest["changes"]:
        details = ", ".join(
            f"{k} {v}" for k, v in change.items() if k not in ("kind", "removed", "file", "from", "dropped", "repairs")
        )
        print(f"  {change['kind']}: {details}")
        for repair in change.get("repairs", []):
            print(f"    - {repair['message']}")
    counts = manifest["validation"]
    print(f"  validated: {counts['error']} errors, {counts['warning']} warnings ({counts['report']})")
    return 0


def cmd_import_coco(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.datasets.coco import import_coco

    try:
        manifest = import_coco(
            Path(here(args.source) or ""),
            Path(typed_path(args.images)) if args.images else None,
            settings,
            name=args.name,
        )
    except SubmitError as exc:
        return fail(str(exc), EXIT_USAGE)
    return _print_manifest(manifest, args.json)


def cmd_export_coco(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.datasets.coco import export_coco
    from mlcore.datasets.loader import usable_split

    try:
        _, dataset = usable_split(here(args.source) or "", settings, args.split or None, partial=True)
    except SubmitError as exc:
        return fail(str(exc), EXIT_USAGE)
    text = json.dumps(export_coco(dataset, args.split))
    if not args.out:
        print(text)
        return 0
    Path(args.out).write_text(text)
    print(f"COCO JSON: {args.out}", file=sys.stderr)
    return 0


def cmd_repair(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
    from mlcore.core.settings import PROJECT_ROOT
    from mlcore.datasets.repair import diagnose, repair_dataset

    try:
        if args.check:
            try:
                source = resolve_user_path(here(args.source) or "", settings.dataset_roots, base=PROJECT_ROOT)
            except PathNotAllowed as exc:
                return fail(f"the dataset cannot be used: {exc}", EXIT_USAGE)
            repairs = diagnose(source)
        else:
            manifest = repair_dataset(
                here(args.source) or "", settings, resplit=args.resplit, name=args.name, tolerance=args.tolerance
            )
    except SubmitError as exc:
        return fail(str(exc), EXIT_USAGE)
    if not args.check:
        return _print_manifest(manifest, args.json)
    if args.json:
        print(json.dumps({"path": str(source), "repairs": [r.to_dict() for r in repairs]}))
    else:
        print("\n".join(r.message for r in repairs) or "nothing to repair")
    return 0
