"""`python -m mlcore models ...`: the registry (list, show, register, alias, archive), A/B comparisons, and the
base models (pretrained weights added to the trusted models folder, checked before they are trusted).

python -m mlcore models register trainings/logos/v2 --name logo-detector --reason "more data"
python -m mlcore models compare logo-detector@production logo-detector:2 --data DATA --json
python -m mlcore models alias logo-detector 2 production --reason "better on the test split"
python -m mlcore models add-base yolo26n.pt --json      # from ML_STUDIO_WEIGHTS_MIRROR (or ~/Downloads/yolo26n.pt)
python -m mlcore models bases
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import Any

from mlcore.cli.follow import fail, follow, typed_path
from mlcore.cli.printing import bar
from mlcore.core.settings import Settings


def add_models_parser(sub: Any) -> None:
    from mlcore.predict.profile import DEFAULT_CONFIDENCE, DEFAULT_IOU  # a comparison's common thresholds by default

    models = sub.add_parser("models", help="the model registry: versions, aliases, lineage, A/B comparisons")
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="registered models with their versions and aliases")
    listing.add_argument("--json", action="store_true", help="one JSON document on stdout")

    show = actions.add_parser("show", help="one model: versions, metrics, lineage, audit trail")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="one JSON document on stdout")

    register = actions.add_parser("register", help="copy a finished run's weights into a new version")
    register.add_argument("run", metavar="RUN", help="a run folder, project/experiment, or a weights file")
    register.add_argument("--name", required=True, help="the registered model's name, e.g. logo-detector")
    register.add_argument("--reason", default="", help="why (kept in the audit trail)")
    register.add_argument("--json", action="store_true", help="one JSON document on stdout")

    alias = actions.add_parser("alias", help="point an alias (production, candidate, ...) at a version")
    alias.add_argument("name", metavar="NAME")
    alias.add_argument("version", metavar="VERSION", help="the version number (3 or v3)")
    alias.add_argument("alias", metavar="ALIAS")
    alias.add_argument("--reason", default="", help="why (kept in the audit trail; needed with --override)")
    alias.add_argument("--override", action="store_true", help="move a gated alias although a check failed")

    unalias = actions.add_parser("unalias", help="remove an alias")
    unalias.add_argument("name", metavar="NAME")
    unalias.add_argument("alias", metavar="ALIAS")
    unalias.add_argument("--reason", default="")

    archive = actions.add_parser("archive", help="archive a version (kept, but no alias may point at it)")
    archive.add_argument("name", metavar="NAME")
    archive.add_argument("version", metavar="VERSION")
    archive.add_argument("--reason", default="")
    archive.add_argument("--restore", action="store_true", help="restore an archived version")

    compare = actions.add_parser("compare", help="A/B: two models on one split, with bootstrap intervals")
    compare.add_argument("a", metavar="A", help="NAME:VERSION, NAME@ALIAS, a run or a weights path")
    compare.add_argument("b", metavar="B", help="the same kinds as A")
    compare.add_argument("--data", required=True, help="dataset folder or data.yaml")
    compare.add_argument("--split", default="test", help="test (default), val or train")
    compare.add_argument("--imgsz", type=int, default=None, help="image size (default: the size A was trained at)")
    compare.add_argument("--thresholds", default="profile", help="profile (each model's, default) or common")
    compare.add_argument(
        "--conf", type=float, default=DEFAULT_CONFIDENCE, help="with --thresholds common: the confidence"
    )
    compare.add_argument("--iou", type=float, default=DEFAULT_IOU, help="with --thresholds common: the NMS IoU")
    compare.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    compare.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    compare.add_argument("--no-wait", action="store_true", help="queue missing evaluations and return")
    compare.add_argument("--json", action="store_true", help="one JSON document on stdout")

    add_base = actions.add_parser(
        "add-base", help="add pretrained weights to the trusted models folder, for transfer trainings"
    )
    add_base.add_argument(
        "source",
        metavar="FILE|URL",
        help="a .pt file on this machine (under the model or dataset roots), a file name on the weights mirror "
        "(yolo26n.pt) or a URL on it (ML_STUDIO_WEIGHTS_MIRROR)",
    )
    add_base.add_argument("--name", default=None, help="kept as NAME.pt (default: the source's file name)")
    add_base.add_argument("--json", action="store_true", help="one JSON document on stdout")

    bases = actions.add_parser("bases", help="the base models added, with their architecture and classes")
    bases.add_argument("--json", action="store_true", help="one JSON document on stdout")
    models.set_defaults(func=cmd_models)


def _number(text: str) -> int:
    value = text.lower().removeprefix("v")
    if not value.isdigit():
        raise ValueError(f"version {text!r} is not a number; give 3 or v3.")
    return int(value)


def _print(data: Any, as_json: bool, text: str) -> int:
    print(json.dumps(data, indent=2, default=str) if as_json else text)
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.compare.pairing import ComparisonError
    from mlcore.core.errors import SubmitError
    from mlcore.registry.store import RegistryError

    try:
        return ACTIONS[args.action](args, settings)
    except (RegistryError, ComparisonError, SubmitError, ValueError) as exc:
        return fail(str(exc))


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.views import models_table

    rows = models_table(settings)
    if args.json:
        return _print(rows, True, "")
    if not rows:
        print("No registered model yet: python -m mlcore models register RUN --name NAME")
    for row in rows:
        aliases = ", ".join(f"{a}={v}" for a, v in row["aliases"].items()) or "no aliases"
        print(f"{row['name']:<28} {row['versions']} version(s), latest {row['latest']}, {aliases}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.views import model_document

    doc = model_document(settings, args.name)
    if args.json:
        return _print(doc, True, "")
    print(f"{doc['name']} (created {doc['created']})")
    for v in doc["versions"]:
        score = f"mAP50-95 {v['map50_95']:.3f} ({v['measured_on']})" if v["map50_95"] is not None else "not measured"
        flags = ", ".join(v["aliases"]) + (" archived" if v["archived"] else "")
        print(f"  v{v['version']:<3} {score:<34} {flags:<22} run {v['run'] or '-'}  by {v['by']} {v['created']}")
        if v["problem"]:
            print(f"       ! {v['problem']}")
        for base in v["lineage"]["base_chain"]:
            print(f"       fine-tuned from {base['version'] or base['path']}")
    print("Audit trail:")
    for entry in doc["audit"]:
        print(f"  {entry.get('action')}: {json.dumps({k: v for k, v in entry.items() if k != 'action'})}")
    return 0


def _register(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.registration import register_model

    version = register_model(args.run, args.name, settings, getpass.getuser(), args.reason)
    data = {"name": args.name, "version": version.number, "sha256": version.sha256, "mlflow": version.mlflow}
    return _print(data, args.json, f"Registered {args.name} v{version.number} (sha256 {version.sha256[:12]}…).")


def _alias(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.promotion import GateRefused, set_alias

    try:
        model = set_alias(
            settings, args.name, args.alias, _number(args.version), getpass.getuser(), args.reason, args.override
        )
    except GateRefused as exc:
        for check in exc.checks:
            print(f"  {'ok ' if check.passed else 'NO '} {check.name}: {check.detail}", file=sys.stderr)
        return fail(str(exc))
    print(f"{args.alias} → {model.name} v{model.aliases[args.alias]}")
    return 0


def _unalias(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.promotion import unset_alias

    unset_alias(settings, args.name, args.alias, getpass.getuser(), args.reason)
    print(f"{args.alias} removed from {args.name}")
    return 0


def _archive(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.store import set_archived

    set_archived(settings, args.name, _number(args.version), not args.restore, getpass.getuser(), args.reason)
    print(f"{args.name} v{_number(args.version)} {'restored' if args.restore else 'archived'}")
    return 0


def _compare(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.registry.ab import ComparisonRequest, start_comparison

    data = typed_path(args.data)  # a path typed in a terminal: from its folder
    request = ComparisonRequest(
        args.a, args.b, data, args.split, args.imgsz, args.thresholds, args.conf, args.iou, args.resamples, args.seed
    )
    stdout, sys.stdout = sys.stdout, sys.stderr  # progress on stderr: stdout carries the one document
    try:
        outcome = start_comparison(request, settings, getpass.getuser())
        while outcome.pending and not args.no_wait:
            for job_id in outcome.pending:
                print(f"Evaluating for the comparison: job {job_id}")
                if follow(job_id, settings) != 0:
                    return fail(f"the evaluation {job_id} did not complete; see `python -m mlcore jobs show {job_id}`.")
            outcome = start_comparison(request, settings, getpass.getuser())
    finally:
        sys.stdout = stdout
    if outcome.pending:
        return _print({"pending": outcome.pending}, args.json, "Queued evaluations: " + " ".join(outcome.pending))
    doc = outcome.document or {}
    if args.json:
        return _print(doc, True, "")
    print(doc["summary"])
    for name, row in doc["metrics"].items():
        print(
            f"  {name:<9} A {row['a']:.3f}  B {row['b']:.3f}  B−A {row['delta']:+.3f} "
            f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
        )
    print(f"Report: {outcome.folder}/report.html")
    return 0


def _add_base(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.engine.base_weights import add_base

    shown = [0.0]

    def progress(done: int, total: int | None) -> None:  # on stderr: stdout carries the one document
        if time.monotonic() - shown[0] < 0.2 and done != total:
            return
        shown[0] = time.monotonic()
        pct = 100 * done / total if total else 0.0
        size = f"{done / 2**20:.1f}" + (f" of {total / 2**20:.1f} MB" if total else " MB")
        print(f"\r{bar(pct, 30)} {size:<24}", end="", file=sys.stderr, flush=True)

    try:
        base = add_base(typed_path(args.source), settings, args.name, progress, by=getpass.getuser())
    finally:
        if shown[0]:
            print(file=sys.stderr)
    already = " (already there: the same bytes)" if base.already_present else ""
    text = (
        f"Added {base.path}{already}: {base.architecture} ({base.family}), {len(base.classes)} classes, "
        f"imgsz {base.imgsz}, sha256 {base.sha256[:12]}…\n{base.licence}"
    )
    return _print(base.to_dict(), args.json, text)


def _bases(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.engine.base_weights import list_bases

    found = list_bases(settings)
    if args.json:
        return _print([b.to_dict() for b in found], True, "")
    if not found:
        print("No base model yet: python -m mlcore models add-base FILE|URL (e.g. a yolo26n.pt you brought)")
    for b in found:
        classes = f"{len(b.classes)} classes"
        print(f"{b.name:<24} {b.architecture:<11} {b.family:<7} {classes:>11}  imgsz {b.imgsz}  {b.source}")
    return 0


ACTIONS = {
    "list": _list,
    "show": _show,
    "register": _register,
    "alias": _alias,
    "unalias": _unalias,
    "archive": _archive,
    "compare": _compare,
    "add-base": _add_base,
    "bases": _bases,
}
