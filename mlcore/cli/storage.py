"""`python -m mlcore storage`: the storage locations, and datasets pulled from buckets.

python -m mlcore storage locations [--json]        # the configured locations (never a credential)
python -m mlcore storage check [LOCATION] [--json] # can each location be listed with the credentials here?
python -m mlcore storage pull URL [--json]         # s3://BUCKET/PREFIX or LOCATION:PREFIX into the cache
python -m mlcore storage cache [--trim] [--forget URL ...] [--json]  # what the cache holds; free what is unused
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.cli.printing import bar
from mlcore.core.settings import Settings

ACTIONS = ("locations", "check", "pull", "cache")


def add_storage_parser(sub: Any) -> None:
    p = sub.add_parser("storage", help="S3-compatible storage: locations, reachability, pulling a dataset")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("target", nargs="?", metavar="URL|LOCATION", help="pull: s3://BUCKET/PREFIX or LOCATION:PREFIX")
    p.add_argument("--trim", action="store_true", help="cache: remove the objects no pulled dataset uses")
    p.add_argument("--forget", action="append", default=[], metavar="URL", help="cache: remove this pulled copy first")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=cmd_storage)


def cmd_storage(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.storage.locations import StorageError

    try:
        if args.action == "locations":
            return _locations(args, settings)
        if args.action == "check":
            return _check(args, settings)
        if args.action == "cache":
            return _cache(args, settings)
        if not args.target:
            return fail("storage pull needs a URL: s3://BUCKET/PREFIX or LOCATION:PREFIX", EXIT_USAGE)
        return _pull(args, settings)
    except StorageError as exc:
        return fail(str(exc), EXIT_USAGE)


def _locations(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.storage.check import location_rows

    rows = location_rows(settings)
    if args.json:
        print(json.dumps(rows, indent=2))
    for r in rows if not args.json else []:
        place = (r["bucket"] or "(any bucket)") + (f"/{r['prefix']}" if r["prefix"] else "")
        print(f"{r['name']:<12} {r['endpoint']:<40} {place}")
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.storage.check import check_locations

    rows = check_locations(settings, args.target)
    if args.json:
        print(json.dumps(rows, indent=2))
    for r in rows if not args.json else []:
        print(f"{r['name']:<12} {'reachable' if r['ok'] else 'NOT reachable':<14} {r['detail']}")
    return 0 if all(r["ok"] for r in rows) else 1


def _pull(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.datasets.loader import DatasetError, load_dataset
    from mlcore.storage.pull import pull

    def progress(done: int, total: int) -> None:
        pct = 100 * done / max(1, total)
        print(f"\r{bar(pct, 30)} {pct:5.1f}%  {done}/{total} objects", end="", file=sys.stderr, flush=True)

    pulled = pull(args.target, settings, progress)
    print(file=sys.stderr)
    for warning in pulled.warnings:
        print(f"mlcore: warning: {warning}", file=sys.stderr)
    try:
        load_dataset(pulled.path, settings.dataset_roots)
    except DatasetError as exc:
        return fail(f"{pulled.url} was pulled to {pulled.path} but holds no YOLO dataset: {exc}", EXIT_USAGE)
    if args.json:
        print(json.dumps(pulled.to_dict(), indent=2))
    else:
        print(
            f"{pulled.url} → {pulled.path}: {pulled.objects} objects, {pulled.fetched} fetched "
            f"({pulled.bytes_fetched / 2**20:.1f} MiB), {pulled.reused} already here, in {pulled.seconds:.1f} s"
        )
    return 0


def _cache(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.storage.cache import cache_usage, trim_cache

    trimmed = trim_cache(settings, args.forget) if args.trim or args.forget else None
    usage = cache_usage(settings)
    if args.json:
        print(json.dumps({"usage": usage, "trimmed": trimmed}, indent=2))
        return 0
    if trimmed:
        for folder in trimmed["forgotten"]:
            print(f"forgot {folder}")
        print(f"removed {trimmed['objects_removed']} unused objects ({trimmed['bytes_freed'] / 2**20:.1f} MiB)")
    print(
        f"{usage['folder']}: {usage['objects']} objects ({usage['bytes'] / 2**20:.1f} MiB), "
        f"{usage['unused_objects']} unused ({usage['unused_bytes'] / 2**20:.1f} MiB: --trim removes them)"
    )
    for row in usage["datasets"]:
        print(f"  {row['url']} → {row['path']} ({row['objects']} objects)")
    return 0
