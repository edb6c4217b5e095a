"""`python -m mlcore audit | select | drift`: know your data, each a job (queued; --wait follows it).

python -m mlcore audit --model PT --data PATH [--split val] [--kfold K] [--wait] [--json]
python -m mlcore select --model PT --images DIR [--top N] [--wait] [--json]
python -m mlcore drift --images DIR --data PATH [--model PT] [--wait] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, here, named_model, outcome
from mlcore.core.settings import Settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--imgsz", type=int, default=0, help="the size the model sees (default 0: its trained size)")
    parser.add_argument("--device", default="auto", help="auto, cpu or a GPU index")
    parser.add_argument("--wait", action="store_true", help="follow the job to its end and print its result")
    parser.add_argument("--json", action="store_true", help="with --wait: one JSON document on stdout")


def add_quality_parsers(sub: Any) -> None:
    from mlcore.quality.spec import AuditSpec, DriftSpec, SelectSpec  # the defaults, written once on the specs

    audit = sub.add_parser("audit", help="find label errors: overlooked objects, swapped classes, badly placed boxes")
    audit.add_argument("--model", required=True, help=f"{MODEL_HELP} (not an export)")
    audit.add_argument("--data", required=True, help="dataset folder or data.yaml")
    audit.add_argument("--nms-free", action="store_true", help="YOLO26: predict with its NMS-free head")
    audit.add_argument("--split", default=AuditSpec.split, help="val (default), test, or train (with --kfold)")
    audit.add_argument(
        "--kfold", type=int, default=AuditSpec.kfold, help="K short trainings so that every prediction is out of sample"
    )
    audit.add_argument(
        "--kfold-epochs",
        type=int,
        default=AuditSpec.kfold_epochs,
        help=f"epochs of each fold's training (default {AuditSpec.kfold_epochs})",
    )
    _common(audit)
    audit.set_defaults(func=cmd_audit)
    select = sub.add_parser("select", help="rank unlabelled images by how much a label would teach the model")
    select.add_argument("--model", required=True, help=MODEL_HELP)
    select.add_argument("--images", required=True, help="the folder of unlabelled images")
    select.add_argument(
        "--top", type=int, default=SelectSpec.top, help=f"how many to export with pre-labels (default {SelectSpec.top})"
    )
    _common(select)
    select.set_defaults(func=cmd_select)
    drift = sub.add_parser("drift", help="compare new images (and the model's predictions on them) with a dataset")
    drift.add_argument("--images", required=True, help="the folder of new images")
    drift.add_argument("--data", required=True, help="the dataset the model was trained on")
    drift.add_argument("--split", default=DriftSpec.split, help=f"the reference split (default {DriftSpec.split})")
    drift.add_argument("--model", help=f"also compare the predictions of this model: {MODEL_HELP}")
    _common(drift)
    drift.set_defaults(func=cmd_drift)


def _submit(args: argparse.Namespace, settings: Settings, build: Any, submit: Any, read: Any) -> dict | int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.engine.trained_size import SizeChoice
    from mlcore.quality.store import QualityUnreadable

    try:
        job = submit(build(), settings)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    if (size := SizeChoice.of(job.spec)) and size.warning:
        print(f"mlcore: warning: {size.warning}", file=sys.stderr)
    if job.spec.get("cost"):
        print(f"K-fold audit: {job.spec['cost']['sentence']}", file=sys.stderr)
    result = outcome(job, args.wait, settings, read, QualityUnreadable)
    if isinstance(result, dict):
        result["output_dir"] = job.run_dir
    return result


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.quality.spec import AuditSpec
    from mlcore.quality.store import audit_result
    from mlcore.quality.submit import submit_audit

    def build() -> AuditSpec:
        return AuditSpec(
            model_path=named_model(args.model, settings, True, "a label audit"),
            dataset_path=here(args.data) or "",
            split=args.split,
            kfold=args.kfold,
            kfold_epochs=args.kfold_epochs,
            imgsz=args.imgsz,
            device=args.device,
            nms_free=args.nms_free,
        )

    result = _submit(args, settings, build, submit_audit, audit_result)
    if isinstance(result, int):
        return result
    if args.json:
        print(json.dumps(result))
        return 0
    print_audit(result)
    return 0


def print_audit(result: dict[str, Any]) -> None:
    """An audit's document for a terminal: its warnings (on stderr), its counts, its first suspects, its fix list."""
    counts = result["counts"]
    if result.get("warning"):
        print(f"Warning: {result['warning']}", file=sys.stderr)
    if result.get("blind_spot"):
        print(f"Warning: {result['blind_spot']['warning']}", file=sys.stderr)
    print(
        f"Audited {counts['images']} images ({counts['labels']} labels) of {result['split']}: "
        f"{counts['suspects']} suspect boxes, {counts.get('likely', 0)} of them likely errors "
        f"({counts['overlooked']} overlooked, {counts['swapped']} swapped, {counts['badly_located']} badly located)."
    )
    if result.get("fold_check"):
        check = result["fold_check"]
        print(f"Fold models against the audited model on the {check['validated_on']} (mAP50, mAP50-95):")
        for row in check["folds"]:
            print(
                f"  fold {row['fold']}: {row['map50']:.2f}, {row['map50_95']:.2f} against "
                f"{row['source_map50']:.2f}, {row['source_map50_95']:.2f}"
            )
    for issue in result["issues"][:10]:
        where = f"{issue['label_file']}:{issue['line']}" if issue["line"] else f"{issue['path']} (no label)"
        chance = f"{1 - issue['score']:.0%}"
        print(f"  {chance:>4}  {issue['type']:<13} {where}  -> {issue['suggested'] or 'remove?'}")
    print(f"Fix list: {Path(result['output_dir']) / 'fix_list.csv'}")


def cmd_select(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.quality.spec import SelectSpec
    from mlcore.quality.store import selection_result
    from mlcore.quality.submit import submit_selection

    def build() -> SelectSpec:
        return SelectSpec(
            model_path=named_model(args.model, settings),
            images=here(args.images) or "",
            top=args.top,
            imgsz=args.imgsz,
            device=args.device,
        )

    result = _submit(args, settings, build, submit_selection, selection_result)
    if isinstance(result, int):
        return result
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"Ranked {result['counts']['images']} images; {result['counts']['near_duplicates']} near-duplicates left "
        f"out. The top {len(result['chosen'])}:"
    )
    for row in result["chosen"][:10]:
        print(f"  {row['score']:.3f}  {row['path']}")
    print(f"To label: {result['to_label']} (YOLO pre-labels; CVAT and Label Studio import it)")
    return 0


def cmd_drift(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.quality.spec import DriftSpec
    from mlcore.quality.store import drift_result
    from mlcore.quality.submit import submit_drift

    def build() -> DriftSpec:
        return DriftSpec(
            images=here(args.images) or "",
            dataset_path=here(args.data) or "",
            split=args.split,
            model_path=named_model(args.model, settings) if args.model else None,
            imgsz=args.imgsz,
            device=args.device,
        )

    result = _submit(args, settings, build, submit_drift, drift_result)
    if isinstance(result, int):
        return result
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["summary"])
    for feature in result["features"]:
        print(f"  {feature['verdict']:<7} {feature['sentence']}")
    return 0
