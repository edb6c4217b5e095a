"""The `python -m mlcore` command line: one subcommand per action of the studio.

python -m mlcore status [--json] [--no-torch]
python -m mlcore demo-data [--out DIR] [--images N] [--seed S] [--if-missing | --force]
python -m mlcore app [--host ADDRESS] [--port N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from mlcore import __version__
from mlcore.cli.augmentation import add_augmentation_parser
from mlcore.cli.cluster import add_cluster_parser
from mlcore.cli.datasets import add_dataset_parser
from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, named_model, outcome
from mlcore.cli.follow import fail as _fail
from mlcore.cli.follow import follow as _follow
from mlcore.cli.models import add_models_parser
from mlcore.cli.predict import add_predict_parser
from mlcore.cli.printing import print_report, print_status, progress_bar
from mlcore.cli.quality import add_quality_parsers
from mlcore.cli.tuning import add_tuning_parser
from mlcore.core import paths
from mlcore.core.settings import LOOPBACK_HOSTS, PROJECT_ROOT, Settings, SettingsError, load_settings


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that point to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


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
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"could not write {out}: {exc.strerror or exc}; choose a writable folder with --out.")
    counts = ", ".join(f"{split} {n}" for split, n in summary.images.items())
    print(f"Demo dataset written to {summary.root} ({counts} images; {sum(summary.boxes.values())} boxes)")
    print(f"Dataset file: {summary.data_yaml}")
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
    from mlcore.datasets.loader import DatasetError
    from mlcore.datasets.validation.options import ValidationOptions
    from mlcore.datasets.validation.saved_reports import save_report
    from mlcore.datasets.validation.validate import validate

    try:
        path = resolve_user_path(args.path, settings.dataset_roots, base=Path.cwd())
        options = ValidationOptions(
            check_images=not args.no_images,
            check_labels=not args.no_labels,
            validate_format=not args.no_format,
            near_duplicates=not args.no_near_duplicates,
            imgsz=args.imgsz,
            workers=args.workers,
        )
        report = validate(path, options, progress=progress_bar, cache_path=settings.image_facts_cache)
    except (PathNotAllowed, DatasetError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        return _fail(f"validation stopped: {exc}; check that {settings.outputs_root} is writable.", EXIT_USAGE)
    folder = None
    if not args.no_save:
        try:
            folder = save_report(report, settings.outputs_root).folder
        except OSError as exc:
            print(f"mlcore: warning: the report could not be saved ({exc})", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print_report(report, folder)
    return 1 if report.severity_counts()["error"] else 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.training.augmentation import parse_settings
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import start

    if not args.resume and not args.data:
        return _fail("--data is required (or --resume RUN to continue a run)", EXIT_USAGE)
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
        return _fail(str(exc), EXIT_USAGE)
    print(job.id)
    return _follow(job.id, settings) if args.wait else 0


def cmd_extend(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import start

    try:
        job = start(TrainSpec(mode="extend", resume_from=args.run, epochs=args.epochs), settings)
    except (SpecError, SubmitError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    print(job.id)
    print(f"mlcore: training {args.run} up to epoch {job.spec['epochs']}", file=sys.stderr)
    return _follow(job.id, settings) if args.wait else 0


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
            model_path=str(model), dataset_path=args.data, split=args.split, confidence_threshold=args.conf,
            match_iou=args.iou, imgsz=args.imgsz, device=args.device,
        )  # fmt: skip
        job = submit_evaluation(spec, settings, model=model)
    except (SpecError, SubmitError) as exc:
        return _fail(str(exc), EXIT_USAGE)
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


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.export.spec import ExportSpec
    from mlcore.export.store import ExportUnreadable, export_result
    from mlcore.export.submit import submit_export

    precision = "int8" if args.int8 else "fp16" if args.half else "bf16" if args.bf16 else "fp32"
    try:
        spec = ExportSpec(
            model_path=named_model(args.model, settings, True, "an export"), formats=tuple(args.format or ["onnx"]),
            precision=precision, imgsz=args.imgsz, dynamic=args.dynamic, opset=args.opset,
            simplify=not args.no_simplify, dataset_path=args.data or "", split=args.split, parity=not args.no_parity,
            tolerance=args.tolerance, device=args.device,
        )  # fmt: skip
        job = submit_export(spec, settings)
    except (SpecError, SubmitError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    result = outcome(job, args.wait, settings, export_result, ExportUnreadable)
    if isinstance(result, int):
        return result
    if args.json:
        print(json.dumps(result))
        return 0
    for entry in result["formats"]:
        parity = entry["parity"]
        check = "not checked" if parity is None else parity["verdict"]
        latency = entry["latency_ms"]
        runs = f" (runs at {entry['ran_at']})" if entry.get("ran_at") else ""
        print(f"{entry['format']:<12} {entry['precision']}{runs} {entry['path']}")
        print(f"{'':<12} latency {latency['export']:.1f} ms per image (source {latency['source']:.1f} ms); {check}")
    print(f"Output: {result['output_dir']}")
    return 0 if all(e["parity"] is None or e["parity"]["passed"] for e in result["formats"]) else 1


def cmd_visualize(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.charts.export import FLAGS, export_visualizations, find_run
    from mlcore.core.safe_paths import PathNotAllowed

    try:
        run = find_run(args.run, settings)
    except PathNotAllowed as exc:
        return _fail(str(exc), EXIT_USAGE)
    chosen = set(args.include or [f.removeprefix("include_") for f in FLAGS])
    export = export_visualizations(run, settings, **{f: f.removeprefix("include_") in chosen for f in FLAGS})
    for name, why in export.skipped.items():
        print(f"mlcore: skipped {name}: {why}", file=sys.stderr)
    print(export.folder)
    return 0


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.charts.export import find_run
    from mlcore.core.errors import SubmitError
    from mlcore.core.safe_paths import PathNotAllowed
    from mlcore.jobs.scheduler import refresh
    from mlcore.runs.measure import compute_metrics
    from mlcore.runs.store import attach_run, list_runs, run_states, runs_table

    try:
        if args.action == "list":
            if problem := refresh(settings):  # the runs' states come from their jobs
                print(f"mlcore: warning: {problem}", file=sys.stderr)
            runs = list_runs(settings)
            rows = runs_table(runs, run_states(settings))
            if args.json:
                print(json.dumps([{**row, "run_dir": str(r.path)} for row, r in zip(rows, runs, strict=True)]))
            elif not rows:
                print("No runs yet: start a training with python -m mlcore train --data PATH")
            for row in [] if args.json else rows:
                best = "-" if row["best mAP50-95"] is None else f"{row['best mAP50-95']:.3f}"
                name = f"{row['project']}/{row['experiment']}"
                print(f"{name:<32} {row['state']:<10} {row['epochs']:>9}  mAP50-95 {best}")
            return 0
        if not args.target:
            return _fail(f"'runs {args.action}' needs a run (or a folder to attach)", EXIT_USAGE)
        if args.action == "attach":
            print(attach_run(args.target, settings).name)
            return 0
        job = compute_metrics(find_run(args.target, settings), settings)
    except (PathNotAllowed, SubmitError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    print(job.id)
    return _follow(job.id, settings) if args.wait else 0


def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from mlcore.core.errors import JobRefused
    from mlcore.jobs.control import cancel_job, stop_job
    from mlcore.jobs.progress import read_progress
    from mlcore.jobs.scheduler import job_log, refresh
    from mlcore.jobs.store import open_store

    store = open_store(settings)
    if args.action in ("list", "show", "logs") and (problem := refresh(settings)):
        print(f"mlcore: warning: {problem}", file=sys.stderr)
    try:
        if args.action == "list":
            jobs = store.list()
            if args.json:
                print(json.dumps([j.to_dict() for j in jobs]))
            elif not jobs:
                print("No jobs yet: start one with python -m mlcore train --data PATH")
            for job in [] if args.json else jobs:
                run = "/".join(Path(job.run_dir).parts[-2:])
                print(f"{job.id}  {job.state.value:<10} {job.device or '-':<8} {run}")
            return 0
        if not args.job_id:
            return _fail(f"'jobs {args.action}' needs a job id; see 'python -m mlcore jobs list'", EXIT_USAGE)
        if args.action == "show":
            job = store.get(args.job_id)
            data = {
                **job.to_dict(),
                "run_dir": job.run_dir,
                "progress": read_progress(Path(job.run_dir)),
            }
            print(json.dumps(data, indent=None if args.json else 2))
        elif args.action == "stop":
            print(f"{stop_job(args.job_id, settings).id}: stopping after the current batch")
        elif args.action == "cancel":
            print(f"{cancel_job(args.job_id, settings).id}: cancelled")
        elif args.action == "logs":
            job = store.get(args.job_id)
            offset = 0
            while True:
                text = job_log(job, settings)
                print(text[offset:], end="", flush=True)
                offset = len(text)
                if not args.follow or store.get(args.job_id).state.is_final():
                    return 0
                time.sleep(1.0)
                refresh(settings)  # a worker that died ends the follow
    except JobRefused as exc:
        return _fail(str(exc).strip('"'), 1)
    return 0


def cmd_app(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    if host not in LOOPBACK_HOSTS:
        from mlcore.core.access import login_configured

        if login_configured():
            print(f"ML Studio listens on {host}: users log in, and only the allow-list gets in.", file=sys.stderr)
        elif not args.allow_unauthenticated:
            return _fail(
                f"refusing to listen on {host} without a login: anyone who can reach it could read datasets and "
                "start jobs on this server. Configure login ([auth] in .streamlit/secrets.toml and "
                "ML_STUDIO_ALLOWED_USERS; see the README's 'Deploying for a team'), bind to 127.0.0.1, or pass "
                "--allow-unauthenticated to accept the risk on a trusted network.",
                EXIT_USAGE,
            )
        else:
            print(
                "\n" + "!" * 78 + f"\n  WARNING: ML Studio will listen on {host} WITHOUT A LOGIN.\n"
                "  Anyone who can reach it can read datasets and start trainings on this server.\n"
                "  Bind to 127.0.0.1 for local use, or configure login (README: Deploying for a team).\n"
                + "!" * 78 + "\n",
                file=sys.stderr,
            )  # fmt: skip
    command = [
        sys.executable,
        str(PROJECT_ROOT / "serve_app.py"),
        "run",
        str(PROJECT_ROOT / "app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
    ]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)  # replaces this process; Ctrl+C stops the app
    return 0  # reached only where execv is replaced (tests)


MIN_TOKEN_CHARS = 16


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.access import api_token

    token = api_token(settings.api_token)
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        return _fail(
            f"the API token is {len(token)} characters long; use at least {MIN_TOKEN_CHARS} random ones "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))').",
            EXIT_USAGE,
        )
    if args.host not in LOOPBACK_HOSTS and token is None:
        return _fail(
            f"refusing to serve the API on {args.host} without a token: anyone who can reach it could read "
            "datasets and start jobs. Set ML_STUDIO_API_TOKEN (or [api] token in .streamlit/secrets.toml), "
            "or bind to 127.0.0.1.",
            EXIT_USAGE,
        )
    import uvicorn

    from mlcore.api.app import create_api

    api = create_api(settings, token=token, cors_origins=settings.api_cors_origins)
    needs = "a token (Authorization: Bearer ...)" if token else "no token (local use)"
    print(f"ML Studio API on http://{args.host}:{args.port} with {needs}; documentation at /docs", file=sys.stderr)
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcore", description="ML Studio: validate datasets, train and evaluate YOLO models.")
    parser.add_argument("--version", action="version", version=f"mlcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from mlcore.datasets.validation.options import ValidationOptions  # the defaults, written once on the specs
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.export.spec import ExportSpec
    from mlcore.training.spec import TrainSpec

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

    check = sub.add_parser("validate", help="find every problem of a YOLO dataset (never modifies it)")
    check.add_argument("path", help="dataset folder or data.yaml (under ML_STUDIO_DATASET_ROOTS)")
    check.add_argument("--json", action="store_true", help="print exactly one JSON report on stdout")
    check.add_argument("--no-images", action="store_true", help="do not open images (labels and layout only)")
    check.add_argument("--no-labels", action="store_true", help="do not check label contents")
    check.add_argument("--no-format", action="store_true", help="do not check pairing, orphans and file formats")
    check.add_argument("--no-near-duplicates", action="store_true", help="skip perceptual hashing (faster)")
    check.add_argument(
        "--imgsz",
        type=int,
        default=ValidationOptions.imgsz,
        help=f"training image size for tiny-box checks ({ValidationOptions.imgsz})",
    )
    check.add_argument("--workers", type=int, default=0, help="processes reading images (0 = one per core)")
    check.add_argument("--no-save", action="store_true", help="do not save the report under dataset_reports/")
    check.set_defaults(func=cmd_validate)

    train = sub.add_parser("train", help="start a YOLOv8 training (queued; detached from this terminal)")
    train.add_argument("--data", help="dataset folder or data.yaml")
    train.add_argument("--resume", metavar="RUN", help="continue an interrupted run (project/experiment)")
    train.add_argument(
        "--arch", default=TrainSpec.model_architecture, help=f"yolov8n|s|m|l|x (default {TrainSpec.model_architecture})"
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
    train.add_argument("--augment", action="append", default=[], metavar="NAME=VALUE",
                       help="an augmentation setting, e.g. mosaic=0.5 (repeat; see augment-preview)")  # fmt: skip
    train.add_argument("--wait", action="store_true", help="follow the job; exit 0 on success, 1 on failure")
    train.add_argument(
        "--estimate",
        action="store_true",
        help="start nothing: time a few batches here and print how long the training would take",
    )
    train.add_argument("--json", action="store_true", help="with --estimate: the timing as JSON")  # fmt: skip
    train.set_defaults(func=cmd_train)

    extend = sub.add_parser("extend", help="train N more epochs on a finished or stopped run, in the same folder")
    extend.add_argument("run", metavar="RUN", help="the run (project/experiment)")
    extend.add_argument("--epochs", type=int, required=True, help="how many more epochs")
    extend.add_argument("--wait", action="store_true", help="follow the job; exit 0 on success, 1 on failure")
    extend.set_defaults(func=cmd_extend)

    runs = sub.add_parser("runs", help="list runs, attach one made elsewhere, compute a run's metrics")
    runs.add_argument("action", choices=["list", "attach", "metrics"])
    runs.add_argument("target", nargs="?", help="attach: a run folder (results.csv + args.yaml); metrics: a run")
    runs.add_argument("--json", action="store_true", help="list: JSON for scripts")
    runs.add_argument("--wait", action="store_true", help="metrics: follow the job until it ends")
    runs.set_defaults(func=cmd_runs)

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
    evaluate.add_argument("--json", action="store_true", help="with --wait: one JSON document on stdout")
    evaluate.add_argument("--wait", action="store_true", help="follow the job and print its metrics")
    evaluate.set_defaults(func=cmd_evaluate)

    export = sub.add_parser("export", help="export a model (ONNX, OpenVINO, TorchScript) and check it against the .pt")
    export.add_argument("model", metavar="MODEL", help=f"{MODEL_HELP} (not an export)")
    export.add_argument("--format", action="append", help="onnx (default), openvino, torchscript, engine; repeatable")
    precision = export.add_mutually_exclusive_group()  # one precision a job; without any: fp32
    precision.add_argument("--int8", action="store_true", help="OpenVINO INT8, calibrated on the dataset's val images")
    precision.add_argument("--half", action="store_true", help="fp16 (OpenVINO on the CPU; ONNX and TensorRT on a GPU)")
    precision.add_argument("--bf16", action="store_true", help="OpenVINO in bfloat16 (CPUs with AVX512-BF16/AMX)")
    export.add_argument(
        "--imgsz", type=int, default=ExportSpec.imgsz, help="input size, a multiple of 32 (default: the trained size)"
    )
    export.add_argument("--dynamic", action="store_true", help="dynamic batch and image size")
    export.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the newest)")
    export.add_argument("--no-simplify", action="store_true", help="ONNX: keep the graph as exported")
    export.add_argument("--data", help="dataset for the parity check and INT8 (default: the one it was trained on)")
    export.add_argument(
        "--split", default=ExportSpec.split, help="split checked: auto (test, else val), test, val, train"
    )
    export.add_argument("--tolerance", type=float, default=None, help="mAP difference that passes (0.005; 0.02 int8)")
    export.add_argument("--no-parity", action="store_true", help="skip the parity check")
    export.add_argument("--device", default=ExportSpec.device, help="auto, cpu or a GPU index")
    export.add_argument("--json", action="store_true", help="with --wait: one JSON document on stdout")
    export.add_argument("--wait", action="store_true", help="follow the job; exit 1 if it fails or parity fails")
    export.set_defaults(func=cmd_export)

    visualize = sub.add_parser("visualize", help="export a run's charts as PNGs and a self-contained report.html")
    visualize.add_argument("run", metavar="RUN", help="project/experiment, the run folder, or its weights/best.pt")
    visualize.add_argument(
        "--include",
        nargs="+",
        choices=["training_history", "class_metrics", "confusion_matrix", "pr_curve", "f1_curve"],
        help="only these figures (default: all)",
    )
    visualize.set_defaults(func=cmd_visualize)

    jobs = sub.add_parser("jobs", help="list, show, stop, cancel jobs and read their logs")
    jobs.add_argument("action", choices=["list", "show", "stop", "cancel", "logs"])
    jobs.add_argument("job_id", nargs="?", help="the job (see 'jobs list')")
    jobs.add_argument("--json", action="store_true", help="list/show: JSON for scripts")
    jobs.add_argument("--follow", action="store_true", help="logs: keep printing until the job ends")
    jobs.set_defaults(func=cmd_jobs)

    app = sub.add_parser("app", help="start the web app (Streamlit)")
    app.add_argument("--host", help="address to bind (default ML_STUDIO_HOST or 127.0.0.1)")
    app.add_argument("--port", type=int, help="port (default ML_STUDIO_PORT or 8501)")
    app.add_argument(
        "--allow-unauthenticated", action="store_true",
        help="listen on a non-local address without a login (trusted networks only)",
    )  # fmt: skip
    app.set_defaults(func=cmd_app)

    add_predict_parser(sub)
    add_models_parser(sub)
    add_cluster_parser(sub)
    add_tuning_parser(sub)
    add_quality_parsers(sub)
    add_dataset_parser(sub)
    add_augmentation_parser(sub)

    serve = sub.add_parser("serve", help="start the HTTP API (FastAPI; OpenAPI documentation at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--quiet", action="store_true", help="log warnings only, not every request")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # file names that are not valid UTF-8 still print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return int(args.func(args, settings))
