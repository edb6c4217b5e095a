"""`python -m mlcore train | extend`: queue a training, or more epochs of a finished one.

python -m mlcore train --data PATH [--arch yolo26n] [--epochs N] [--wait] [--estimate]
python -m mlcore train --resume RUN
python -m mlcore extend RUN --epochs N [--wait]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, follow, named_model
from mlcore.core.settings import Settings


def add_train_parsers(sub: Any) -> None:
    from mlcore.engine.architectures import ARCHITECTURES
    from mlcore.training.spec import TrainSpec  # the defaults, written once on the spec

    train = sub.add_parser("train", help="start a YOLO training (queued; detached from this terminal)")
    train.add_argument("--data", help="dataset folder or data.yaml")
    train.add_argument("--resume", metavar="RUN", help="continue an interrupted run (project/experiment)")
    train.add_argument(
        "--arch",
        default=TrainSpec.model_architecture,
        choices=ARCHITECTURES,
        metavar="ARCH",
        help=f"{', '.join(ARCHITECTURES)} (default {TrainSpec.model_architecture})",
    )
    train.add_argument("--mode", default=TrainSpec.mode, help="full (from scratch) or transfer (from --base-model)")
    train.add_argument("--epochs", type=int, default=TrainSpec.epochs)
    train.add_argument("--imgsz", type=int, default=TrainSpec.imgsz)
    train.add_argument(
        "--batch", type=int, default=TrainSpec.batch_size, help="images per batch; -1 = automatic (one GPU)"
    )
    train.add_argument("--lr", type=float, default=None, help="initial learning rate (with an explicit optimizer)")
    train.add_argument("--device", default=TrainSpec.device, help="auto, cpu, 0, or 0,1")
    train.add_argument("--workers", type=int, default=TrainSpec.workers, help="dataloader workers")
    train.add_argument("--project", default=TrainSpec.project)
    train.add_argument("--experiment", default=None, help="run name (default: dated)")
    train.add_argument("--base-model", default=None, help=f"transfer: the model to start from: {MODEL_HELP}")
    train.add_argument(
        "--augment",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an augmentation setting, e.g. mosaic=0.5 (repeat; see augment-preview)",
    )
    train.add_argument(
        "--no-plots",
        action="store_true",
        help="skip Ultralytics' plots (label histograms, batch mosaics, curves, confusion matrix): seconds less per "
        "training; the studio's own charts and metrics are kept",
    )
    train.add_argument("--wait", action="store_true", help="follow the job; exit 0 on success, 1 on failure")
    train.add_argument(
        "--estimate",
        action="store_true",
        help="start nothing: time a few batches here and print how long the training would take",
    )
    train.add_argument("--json", action="store_true", help="with --estimate: the timing as JSON")
    train.set_defaults(func=cmd_train)

    extend = sub.add_parser("extend", help="train N more epochs on a finished or stopped run, in the same folder")
    extend.add_argument("run", metavar="RUN", help="the run (project/experiment)")
    extend.add_argument("--epochs", type=int, required=True, help="how many more epochs")
    extend.add_argument("--wait", action="store_true", help="follow the job; exit 0 on success, 1 on failure")
    extend.set_defaults(func=cmd_extend)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.training.augmentation import parse_settings
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import start

    if not args.resume and not args.data:
        return fail("--data is required (or --resume RUN to continue a run)", EXIT_USAGE)
    try:
        if args.resume:
            spec = TrainSpec(mode="resume", resume_from=args.resume)
        else:
            spec = TrainSpec(
                mode=args.mode,
                dataset_path=args.data,
                model_architecture=args.arch,
                epochs=args.epochs,
                batch_size=args.batch,
                imgsz=args.imgsz,
                learning_rate=args.lr,
                device=args.device,
                project=args.project,
                experiment=args.experiment or "",
                base_model_path=named_model(args.base_model, settings, True, "a transfer training")
                if args.base_model
                else None,
                workers=args.workers,
                augmentation=parse_settings(args.augment),
                advanced={"plots": False} if args.no_plots else {},
            )
            for warning in spec.warnings():
                print(f"mlcore: note: {warning}", file=sys.stderr)
        if args.estimate:
            from mlcore.training.estimate import time_a_few_batches

            timing = time_a_few_batches(spec, settings)
            sentence = timing.sentence(spec.epochs)
            print(json.dumps(timing.to_dict() | {"sentence": sentence}) if args.json else f"Training {sentence}.")
            return 0
        job = start(spec, settings)
    except (ValueError, SubmitError) as exc:  # SpecError is a ValueError, as a bad --augment is
        return fail(str(exc), EXIT_USAGE)
    print(job.id)
    return follow(job.id, settings) if args.wait else 0


def cmd_extend(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import start

    try:
        job = start(TrainSpec(mode="extend", resume_from=args.run, epochs=args.epochs), settings)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    print(job.id)
    print(f"mlcore: training {args.run} up to epoch {job.spec['epochs']}", file=sys.stderr)
    return follow(job.id, settings) if args.wait else 0
