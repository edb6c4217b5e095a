"""`python -m mlcore evaluate --model M --data PATH`: metrics, error types and samples of a model on a split."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, outcome
from mlcore.core.settings import Settings


def add_evaluate_parser(sub: Any) -> None:
    from mlcore.evaluation.spec import EvalSpec  # the defaults, written once on the spec

    evaluate = sub.add_parser("evaluate", help="measure a model on a dataset split: metrics, error types, samples")
    evaluate.add_argument("--model", required=True, help=MODEL_HELP)
    evaluate.add_argument("--data", required=True, help="dataset folder or data.yaml")
    evaluate.add_argument("--split", default=EvalSpec.split, help="test (default), val or train")
    evaluate.add_argument(
        "--conf",
        type=float,
        default=EvalSpec.confidence_threshold,
        help=f"confidence threshold ({EvalSpec.confidence_threshold})",
    )
    evaluate.add_argument(
        "--iou", type=float, default=EvalSpec.match_iou, help=f"IoU a match needs ({EvalSpec.match_iou})"
    )
    evaluate.add_argument(
        "--imgsz", type=int, default=EvalSpec.imgsz, help="default 0: the size the model was trained at"
    )
    evaluate.add_argument("--device", default=EvalSpec.device, help="auto, cpu or a GPU index")
    evaluate.add_argument("--nms-free", action="store_true", help="YOLO26: predict with its NMS-free head")
    evaluate.add_argument("--json", action="store_true", help="with --wait: one JSON document on stdout")
    evaluate.add_argument("--wait", action="store_true", help="follow the job and print its metrics")
    evaluate.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.engine.trained_size import SizeChoice
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.evaluation.store import EvaluationUnreadable, evaluation_result
    from mlcore.evaluation.submit import submit_evaluation
    from mlcore.registry.references import resolve_reference

    try:
        model = resolve_reference(args.model, settings).path
        spec = EvalSpec(
            model_path=str(model),
            dataset_path=args.data,
            split=args.split,
            confidence_threshold=args.conf,
            match_iou=args.iou,
            imgsz=args.imgsz,
            device=args.device,
            nms_free=args.nms_free,
        )
        job = submit_evaluation(spec, settings, model=model)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    result = outcome(job, args.wait, settings, evaluation_result, EvaluationUnreadable)
    if isinstance(result, int):
        return result
    result["output_dir"] = job.run_dir
    if args.json:
        print(json.dumps(result))
        return 0
    size = SizeChoice.of(result)
    where = f", {size.describe()}" if size else ""
    print(f"Evaluated on {result['images']} images at confidence {args.conf} and IoU {args.iou}{where}:")
    if result.get("imgsz_warning"):
        print(f"mlcore: warning: {result['imgsz_warning']}", file=sys.stderr)
    print(
        "  " + "  ".join(f"{k} {result[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy", "map50", "map50_95"))
    )
    print("  errors: " + ", ".join(f"{k} {v}" for k, v in result["error_types"].items()))
    for line in leakage_lines(result.get("leakage")):
        print(line)
    print(f"Output: {job.run_dir}")
    return 0


def leakage_lines(leakage: dict | None) -> list[str]:
    """What `evaluate` prints of copies of training images: the sentence and the copy-free numbers, or why
    there are none (too few images left)."""
    if not leakage or not leakage.get("clean"):
        return []
    clean, said = leakage["clean"], f"Leakage: {leakage['sentence']}."
    if not clean["measured"]:
        return [f"{said} Without the copies: {clean['note']}."]
    numbers = "  ".join(f"{k} {clean[k]:.3f}" for k in ("precision", "recall", "f1", "map50", "map50_95"))
    return [f"{said} On the other {clean['images']} images:", f"  {numbers}"]
