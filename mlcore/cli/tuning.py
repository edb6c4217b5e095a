"""`python -m mlcore tune`: hyperparameter studies with Optuna, every trial an ordinary training job.

python -m mlcore tune --data PATH --arch yolov8n [--trials N] [--hours H] [--epochs E] [--imgsz N] [--batch N]
                      [--space FILE.yaml] [--parallel K] [--study NAME] [--wait] [--json]
python -m mlcore tune status STUDY [--json]     # trials, best so far
python -m mlcore tune stop STUDY                # no new trials; the running ones finish
python -m mlcore tune cancel STUDY              # end the study and its running trials now
python -m mlcore tune resume STUDY [--wait]     # go on where an interrupted study was
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

import yaml

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, named_model
from mlcore.core.settings import Settings
from mlcore.core.user_yaml import read_yaml_file, read_yaml_text

ACTIONS = ("status", "stop", "cancel", "resume")


def add_tuning_parser(sub: Any) -> None:
    from mlcore.tuning.spec import TuneSpec  # the defaults, written once on the spec

    tune = sub.add_parser(
        "tune", help="search hyperparameters with Optuna (each trial a training job, bad ones pruned)"
    )
    tune.add_argument("action", nargs="?", choices=ACTIONS, help="act on an existing study (leave out to start one)")
    tune.add_argument("name", nargs="?", metavar="STUDY", help="the study to act on")
    tune.add_argument("--data", help="dataset folder or data.yaml")
    tune.add_argument(
        "--arch",
        default=",".join(TuneSpec.architectures),
        help="architecture, or several comma-separated to choose from",
    )
    tune.add_argument("--base-model", help=f"start every trial from this model (transfer): {MODEL_HELP}")
    tune.add_argument(
        "--trials", type=int, help=f"at most this many trials (default {TuneSpec.trials} when --hours is not given)"
    )
    tune.add_argument("--hours", type=float, help="at most this many hours")
    tune.add_argument(
        "--epochs", type=int, default=TuneSpec.epochs, help=f"epochs per trial (default {TuneSpec.epochs})"
    )
    tune.add_argument("--imgsz", type=int, default=TuneSpec.imgsz)
    tune.add_argument("--batch", type=int, default=TuneSpec.batch_size)
    tune.add_argument("--device", default=TuneSpec.device, help="auto, cpu, or a GPU index")
    tune.add_argument("--workers", type=int, default=TuneSpec.workers, help="data loader processes per trial")
    tune.add_argument("--space", help="search space as YAML (name: {low, high[, log]} or name: [choices])")
    tune.add_argument("--objective", default=TuneSpec.objective, help="fitness (default), map50-95 or map50")
    tune.add_argument("--pruner", default=TuneSpec.pruner, help="median (default), hyperband or none")
    tune.add_argument("--sampler", default=TuneSpec.sampler, help="tpe (default) or random")
    tune.add_argument("--seed", type=int, default=TuneSpec.seed)
    tune.add_argument(
        "--parallel", type=int, default=TuneSpec.parallel, help="trials at once (default: as many as free devices)"
    )
    tune.add_argument(
        "--pruner-startup",
        type=int,
        default=TuneSpec.pruner_startup_trials,
        help="trials that finish before any is pruned",
    )
    tune.add_argument(
        "--pruner-warmup",
        type=int,
        default=TuneSpec.pruner_warmup_epochs,
        help="epochs of each trial before it may be pruned",
    )
    tune.add_argument("--first", help="YAML list of settings to try first, e.g. today's: [{lr0: 0.01}]")
    tune.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ARG=VALUE",
        help="an Ultralytics train argument every trial uses (repeatable), e.g. --set nbs=8",
    )
    tune.add_argument("--study", help="the study's name (default: dated)")
    tune.add_argument("--wait", action="store_true", help="follow the study to its end")
    tune.add_argument(
        "--json", action="store_true", help="print the study as one JSON document (at the end with --wait)"
    )
    tune.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import JobRefused, SubmitError
    from mlcore.core.spec import SpecError

    try:
        if args.action:
            if not args.name:
                return fail(
                    f"tune {args.action} needs the study's name (see `python -m mlcore tune status --help`)", EXIT_USAGE
                )
            return _act(args, settings)
        return _start(args, settings)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except JobRefused as exc:
        return fail(str(exc), 1)


def _start(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.tuning.space import load_space_file, space_to_dict
    from mlcore.tuning.spec import TuneSpec
    from mlcore.tuning.submit import start_study

    if not args.data:
        return fail("--data is required to start a study (or: tune status|stop|cancel|resume STUDY)", EXIT_USAGE)
    space = space_to_dict(load_space_file(args.space)) if args.space else {}
    fixed = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            return fail(f"--set {item!r}: write ARG=VALUE, e.g. --set nbs=8", EXIT_USAGE)
        try:
            fixed[key.strip()] = read_yaml_text(value, f"--set {key.strip()}")
        except yaml.YAMLError as exc:
            return fail(f"--set {item!r}: the value cannot be read ({str(exc).splitlines()[0]}).", EXIT_USAGE)
    first = _read_first(args.first) if args.first else ()
    spec = TuneSpec(
        study=args.study or f"study-{datetime.now():%Y%m%d-%H%M%S}",
        dataset_path=args.data,
        architectures=tuple(a.strip() for a in args.arch.split(",") if a.strip()),
        base_model_path=named_model(args.base_model, settings, True, "a study") if args.base_model else None,
        epochs=args.epochs,
        trials=args.trials if args.trials is not None or args.hours is not None else TuneSpec.trials,
        hours=args.hours,
        objective=args.objective,
        space=space,
        sampler=args.sampler,
        seed=args.seed,
        pruner=args.pruner,
        parallel=args.parallel,
        batch_size=args.batch,
        imgsz=args.imgsz,
        device=args.device,
        workers=args.workers,
        pruner_startup_trials=args.pruner_startup,
        pruner_warmup_epochs=args.pruner_warmup,
        advanced=fixed,
        first_trials=first,
    )
    job = start_study(spec, settings)
    print(f"mlcore: study {spec.study}, coordinator job {job.id}", file=sys.stderr)
    return _after(spec.study, args, settings)


def _read_first(path: str) -> tuple[dict[str, Any], ...]:
    from mlcore.core.spec import SpecError

    try:
        data = read_yaml_file(path, f"--first {path}")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"--first {path}: cannot be read as YAML ({str(exc).splitlines()[0]}).") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SpecError(f"--first {path}: give a list of settings, e.g. [{{lr0: 0.01, mosaic: 1.0}}].")
    return tuple(data)


def _act(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.tuning.submit import cancel_study, resume_study, stop_study

    name = args.name
    if args.action == "status":
        return _show(name, args.json, settings)
    if args.action == "stop":
        stop_study(name, settings)
        print(f"study {name}: stopping (no new trials; the running ones finish)")
        return 0
    if args.action == "cancel":
        cancel_study(name, settings)
        print(f"study {name}: cancelled")
        return 0
    job = resume_study(name, settings)
    print(f"mlcore: study {name} resumed, coordinator job {job.id}", file=sys.stderr)
    return _after(name, args, settings)


def _after(name: str, args: argparse.Namespace, settings: Settings) -> int:
    if args.wait:
        code = _follow(name, settings)
        _show(name, args.json, settings)
        return code
    if args.json:
        return _show(name, True, settings)
    print(name)
    return 0


def _follow(name: str, settings: Settings) -> int:
    """Advance the queue and show the study's progress on stderr until its coordinator ends."""
    from mlcore.cli.printing import bar
    from mlcore.jobs.scheduler import schedule
    from mlcore.tuning.submit import study_report

    try:
        while True:
            schedule(settings)
            report = study_report(name, settings)
            pct = float(report.get("percent") or 0)
            counts = report["counts"]
            best = report["best_value"]
            text = (
                f"{report['state']}: {len(report['trials'])} trials ({counts['running']} running, "
                f"{counts['pruned']} pruned, {counts['failed']} failed), best "
                + (f"{best:.4f}" if best is not None else "-")
            )
            print(f"\r{bar(pct, 30)} {pct:5.1f}%  {text:<70}", end="", file=sys.stderr, flush=True)
            if report["state"] in ("completed", "failed", "cancelled", "lost"):
                print(file=sys.stderr)
                if report["error"]:
                    print(f"mlcore: study {name} {report['state']}: {report['error'].splitlines()[0]}", file=sys.stderr)
                return 0 if report["state"] == "completed" else 1
            time.sleep(2.0)
    except KeyboardInterrupt:
        print(f"\nThe study goes on; see it with: python -m mlcore tune status {name}", file=sys.stderr)
        return 130


def _show(name: str, as_json: bool, settings: Settings) -> int:
    from mlcore.tuning.submit import study_report

    report = study_report(name, settings)
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    best = report["best_value"]
    print(
        f"study {report['study']}: {report['state']}, objective {report['objective']}, best "
        + (f"{best:.4f}" if best is not None else "-")
    )
    if report["best_params"]:
        print(
            "best params: "
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in report["best_params"].items()
            )
        )
        print(f"best run: {report['best_run']}")
    print(f"{'#':>3}  {'state':<9} {'value':>8} {'epochs':>6}  run")
    for row in report["trials"]:
        value = f"{row['value']:.4f}" if row["value"] is not None else "-"
        print(f"{row['number']:>3}  {row['state']:<9} {value:>8} {row['epochs']:>6}  {row['run'] or ''}")
    print(f"storage: {report['storage']}")
    return 0
