"""`python -m mlcore predict MODEL SOURCE`: an image is answered at once by the predictor process; a folder
of images or a video becomes a batch prediction job (queued; --wait follows it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, here, named_model, outcome
from mlcore.core.settings import Settings


def add_predict_parser(sub: Any) -> None:
    predict = sub.add_parser("predict", help="detect objects in an image, a folder of images or a video")
    predict.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    predict.add_argument("source", metavar="SOURCE", help="an image, a folder of images, or a video (MP4, AVI, MOV)")
    predict.add_argument(
        "--conf", type=float, default=None, help="confidence threshold (default: the profile's, else 0.25)"
    )
    predict.add_argument("--iou", type=float, default=None, help="NMS IoU (default: the profile's, else 0.7)")
    predict.add_argument(
        "--profile", default="default", help="default (the model's saved one), none, or a profile.json"
    )
    predict.add_argument(
        "--nms-free",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="YOLO26: its NMS-free head (--iou has no effect); default: the profile's, else off",
    )
    predict.add_argument("--every", type=int, default=1, help="videos: predict on every N-th frame")
    predict.add_argument(
        "--to", default="", metavar="URL", help="a folder or video job: upload its results to s3://BUCKET/PREFIX"
    )
    predict.add_argument("--save-images", action="store_true", help="also write the images (or video) with boxes drawn")
    predict.add_argument("--device", default="auto", help="batch jobs: auto, cpu or a GPU index")
    predict.add_argument("--wait", action="store_true", help="folders and videos: follow the job to its end")
    predict.add_argument("--json", action="store_true", help="one JSON document on stdout")
    predict.set_defaults(func=cmd_predict)


def _profile_arg(text: str) -> str:
    """A profile file given on the command line is read here (the local user may name any file)."""
    path = Path(text).expanduser()
    if text not in ("default", "none") and not text.lstrip().startswith("{") and path.is_file():
        return path.read_text()
    return text


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.predict.images import SUFFIXES

    try:
        args.model = named_model(args.model, settings) if args.model else args.model  # none: the default model
    except SubmitError as exc:
        return fail(str(exc), EXIT_USAGE)
    args.source = here(args.source)
    source = Path(args.source)
    if source.is_file() and source.suffix.lower() in SUFFIXES:
        return _predict_image(args, source, settings)
    return _predict_job(args, settings)


def _predict_image(args: argparse.Namespace, source: Path, settings: Settings) -> int:
    from mlcore.core import paths
    from mlcore.core.errors import SubmitError
    from mlcore.core.folders import stamped_folder, write_request
    from mlcore.evaluation.submit import model_name
    from mlcore.predict.answers import answer_files
    from mlcore.predict.client import PredictorClient, PredictorUnavailable
    from mlcore.predict.outputs import PredictionWriter
    from mlcore.predict.profile import ProfileError

    client = PredictorClient(settings)
    try:
        model, profile, (answer,) = answer_files(
            client,
            settings,
            args.model,
            [(source.name, source.read_bytes(), None)],
            args.conf,
            args.iou,
            _profile_arg(args.profile),
            args.nms_free,
        )
    except (SubmitError, ProfileError, OSError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except PredictorUnavailable as exc:
        return fail(str(exc), 1)
    finally:
        client.close()
    if answer.error:
        return fail(answer.error, EXIT_USAGE)
    saved = None
    if args.save_images and answer.image is not None:
        saved = stamped_folder(settings.outputs_root / paths.PREDICTIONS_DIR, model_name(model))
        record = {
            "model_path": str(model),
            "source": str(source),
            "source_kind": "image",
            "thresholds": profile.to_dict(),
        }
        write_request(saved, paths.PREDICT_CONFIG, record)
        writer = PredictionWriter(saved, {d["class_id"]: d["class_name"] for d in answer.detections}, True)
        writer.add(source.name, answer.image, answer.detections)
        writer.close(
            {
                "source": str(source),
                "source_kind": "image",
                "model": str(model),
                "thresholds": profile.describe(),
                "stopped": False,
            }
        )
    if args.json:
        print(json.dumps(answer.to_dict(model) | ({"output_dir": str(saved)} if saved else {})))
        return 0
    print(f"{source.name}: {len(answer.detections)} detections ({profile.describe()}), {answer.time_ms:.0f} ms")
    for d in answer.detections:
        box = ", ".join(f"{v:.0f}" for v in d["box"])
        print(f"  {d['class_name']:<20} {d['confidence']:.3f}  [{box}]")
    if saved:
        print(f"Output: {saved}")
    return 0


def _predict_job(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.predict.spec import PredictSpec
    from mlcore.predict.store import prediction_result
    from mlcore.predict.submit import submit_predictions

    try:
        spec = PredictSpec(
            model_path=args.model,
            source=args.source,
            confidence_threshold=args.conf,
            nms_iou=args.iou,
            profile=_profile_arg(args.profile),
            every_nth_frame=args.every,
            save_images=args.save_images,
            device=args.device,
            nms_free=args.nms_free,
            output_url=args.to,
        )
        job = submit_predictions(spec, settings)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    result = outcome(job, args.wait, settings, prediction_result, OSError)
    if isinstance(result, int):
        return result
    if args.json:
        print(json.dumps(result))
        return 0
    summary = result["summary"]
    print(f"{summary['images']} images, {summary['detections']} detections, {summary['empty_images']} without any")
    for name, count in summary["per_class"].items():
        print(f"  {name:<20} {count}")
    for bad in summary["unreadable"][:10]:
        print(f"  skipped {bad['image']}: {bad['error']}", file=sys.stderr)
    print(f"Output: {result['output_dir']}")
    return 0
