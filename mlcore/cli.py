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

from mlcore import __version__, paths
from mlcore.settings import LOOPBACK_HOSTS, PROJECT_ROOT, Settings, SettingsError, load_settings

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that point to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def _fail(message: str, code: int = 1) -> int:
    print(f"mlcore: error: {message}", file=sys.stderr)
    return code


def _bar(pct: float, width: int = 20) -> str:
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    return "█" * filled + "·" * (width - filled)


def _print_status(data: dict) -> None:
    host = data["host"]
    print(
        f"CPU     {_bar(host['cpu_pct'])} {host['cpu_pct']:5.1f}%  ({host['cores_logical']} cores, "
        f"load {' '.join(f'{x:.2f}' for x in host['load_avg'])})"
    )
    print(
        f"Memory  {_bar(host['memory_pct'])} {host['memory_pct']:5.1f}%  "
        f"({host['memory_used_gb']:.1f} of {host['memory_total_gb']:.1f} GiB)"
    )
    print(
        f"Disk    {_bar(host['disk_pct'])} {host['disk_pct']:5.1f}%  "
        f"({host['disk_free_gb']:.1f} GiB free at {host['disk_path']})"
    )
    gpus = data["gpus"]
    if gpus["available"]:
        print(f"GPUs    driver {gpus['driver_version']}, CUDA {gpus['cuda_driver_version']}")
        for gpu in gpus["gpus"]:
            util = "n/a" if gpu["utilization_pct"] is None else f"{gpu['utilization_pct']:.0f}%"
            mem = (
                "n/a"
                if gpu["memory_pct"] is None
                else (f"{gpu['memory_used_mb'] / 1024:.1f}/{gpu['memory_total_mb'] / 1024:.1f} GiB")
            )
            temp = "n/a" if gpu["temperature_c"] is None else f"{gpu['temperature_c']:.0f} °C"
            power = "n/a" if gpu["power_w"] is None else f"{gpu['power_w']:.0f} W"
            print(
                f"  [{gpu['index']}] {gpu['name']}: util {util}, memory {mem}, {temp}, {power}, "
                f"{len(gpu['processes'])} process(es)"
            )
    else:
        print(f"GPUs    none: {gpus['error']}")
    torch = data["torch"]
    if torch is not None:
        if torch["ok"]:
            cuda = "yes" if torch["cuda_available"] else "no"
            print(
                f"PyTorch {torch['torch_version']} (CUDA build {torch['cuda_build'] or 'none'}); "
                f"sees CUDA: {cuda} {', '.join(torch['devices'])}"
            )
        else:
            print(f"PyTorch not usable: {torch['error']}")
    print(f"Training would run on: {data['training_device'].upper()}")
    print("Jobs    none running or queued" if not data["jobs"] else f"Jobs    {len(data['jobs'])}:")
    for job in data["jobs"]:
        where = f"queued #{job['queue_position']}" if job["queue_position"] else f"{job['state']} on {job['device']}"
        print(f"  {job['id']}  {job['run']}  {where}  {job['percent'] or 0:.0f}%")
    for notice in data["notices"]:
        print(f"! {notice['message']}")


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.system_status import collect_status

    status = collect_status(settings, include_torch=not args.no_torch)
    data = status.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_status(data)
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.demo_data import DemoDataError, make_demo_dataset

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


def _progress_bar(stage: str, done: int, total: int) -> None:
    if not sys.stderr.isatty() and done != total:
        return
    width = 30
    filled = round(width * done / total) if total else width
    end = "\n" if done == total else ""
    print(
        f"\r{stage:<16} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True
    )


def _print_report(report, folder: Path | None) -> None:
    from collections import Counter

    ds = report.dataset
    print(f"Dataset  {ds['source']}  ({ds['layout']}, {ds['nc']} classes)")
    for split, c in report.counts.items():
        print(
            f"  {split:<6} {c['images']:>7} images  {c['boxes']:>8} boxes  {c['backgrounds']:>6} backgrounds  "
            f"{c['missing_labels']:>6} without labels  {c['corrupt']:>5} unusable"
        )
    for cls in report.classes:
        per_split = "  ".join(f"{s} {n}" for s, n in cls["instances"].items())
        print(f"  class {cls['id']:>3} {cls['name'][:24]:<24} {per_split}")
    counts = report.severity_counts()
    print(f"Issues   {counts['error']} errors, {counts['warning']} warnings, {counts['info']} info")
    by_code = Counter((i.severity, i.code) for i in report.issues)
    for (severity, code), n in sorted(by_code.items(), key=lambda kv: (kv[0][0] != "error", -kv[1])):
        first = next(i for i in report.issues if i.code == code and i.severity == severity)
        where = f"{first.path}:{first.line}" if first.line else (first.path or first.split or "dataset")
        print(f"  {severity:<7} {code:<20} x{n:<6} e.g. {where}: {first.message[:140]}")
    print("Before training:")
    for line in report.recommendations:
        print(f"  - {line}")
    verdict = {
        "ready": "READY to train",
        "ready_with_warnings": "READY to train, with warnings",
        "not_ready": "NOT READY: fix the errors first",
    }[report.verdict]
    print(f"Verdict  {verdict}  ({report.seconds:.2f} s)")
    if folder:
        print(f"Report   {folder}")


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.dataset_reports import save_report
    from mlcore.datasets import DatasetError
    from mlcore.safe_paths import PathNotAllowed, resolve_user_path
    from mlcore.validation import ValidationOptions, validate

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
        report = validate(path, options, progress=_progress_bar, cache_path=settings.image_facts_cache)
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
        _print_report(report, folder)
    return 1 if report.severity_counts()["error"] else 0


def _follow(job_id: str, settings: Settings) -> int:
    """Advance the queue and show the job's progress until it ends; 0 when it completed."""
    import time

    from mlcore.jobs import JobState, JobStore
    from mlcore.scheduler import schedule
    from mlcore.worker import read_progress

    store = JobStore(settings.outputs_root / paths.JOBS_DB)
    try:
        while True:
            schedule(settings)
            job = store.get(job_id)
            progress = read_progress(Path(job.run_dir))
            if job.state is JobState.QUEUED:
                text = f"queued (position {store.queue_position(job_id)})"
            elif job.kind == "evaluation":
                text = f"{job.state.value}: batch {progress.get('batch', '-')}/{progress.get('batches', '-')}"
            else:
                text = f"{job.state.value}: epoch {progress.get('epoch', '-')}/{progress.get('epochs', '-')}"
            pct = float(progress.get("percent") or 0)
            print(f"\r{_bar(pct, 30)} {pct:5.1f}%  {text:<40}", end="", file=sys.stderr, flush=True)
            if job.state.is_final():
                print(file=sys.stderr)
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        print(f"\nThe job goes on; follow it with: python -m mlcore jobs logs {job_id} --follow", file=sys.stderr)
        return 130
    print(f"{job.id}: {job.state.value}" + (f" ({job.error.splitlines()[0]})" if job.error else ""))
    print(f"Run folder: {job.run_dir}")
    return 0 if job.state is JobState.COMPLETED else 1


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.train_spec import SpecError, TrainSpec
    from mlcore.training import SubmitError, resume_training, submit_training

    try:
        if args.resume:
            job = resume_training(args.resume, settings)
            print(job.id)
            return _follow(job.id, settings) if args.wait else 0
        if not args.data:
            return _fail("--data is required (or --resume RUN to continue a run)", EXIT_USAGE)
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
            base_model_path=args.base_model,
            workers=args.workers,
        )
        for warning in spec.warnings():
            print(f"mlcore: note: {warning}", file=sys.stderr)
        job = submit_training(spec, settings)
    except (SpecError, SubmitError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    print(job.id)
    return _follow(job.id, settings) if args.wait else 0


def cmd_extend(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.training import SubmitError, extend_training

    try:
        job = extend_training(args.run, args.epochs, settings)
    except SubmitError as exc:
        return _fail(str(exc), EXIT_USAGE)
    print(job.id)
    print(f"mlcore: training {args.run} up to epoch {job.spec['epochs']}", file=sys.stderr)
    return _follow(job.id, settings) if args.wait else 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.eval_spec import EvalSpec
    from mlcore.evaluation import submit_evaluation
    from mlcore.jobs import JobStore
    from mlcore.train_spec import SpecError
    from mlcore.training import SubmitError

    try:
        spec = EvalSpec(
            model_path=args.model, dataset_path=args.data, split=args.split, confidence_threshold=args.conf,
            iou_threshold=args.iou, imgsz=args.imgsz, device=args.device,
        )  # fmt: skip
        job = submit_evaluation(spec, settings)
    except (SpecError, SubmitError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    if not args.wait:
        print(job.id)
        return 0
    stdout, sys.stdout = sys.stdout, sys.stderr  # with --json, stdout carries the one JSON document only
    try:
        code = _follow(job.id, settings)
    finally:
        sys.stdout = stdout
    job = JobStore(settings.outputs_root / paths.JOBS_DB).get(job.id)
    metrics_path = Path(job.run_dir) / "metrics.json"
    if code != 0 or not metrics_path.exists():
        return _fail(f"the evaluation {job.state.value}: {job.error or 'see its log in ' + job.run_dir}", 1)
    data = json.loads(metrics_path.read_text())
    result = {key: data[key] for key in ("precision", "recall", "f1", "accuracy", "map50", "map50_95")}
    result |= {"per_class": data["per_class"], "error_types": data["error_types"], "by_size": data["by_size"]}
    result |= {"thresholds": data["thresholds"], "skipped": data["skipped"], "output_dir": job.run_dir}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"Evaluated on {data['images']} images at confidence {args.conf} and IoU {args.iou}:")
    print(
        "  " + "  ".join(f"{k} {result[k]:.3f}" for k in ("precision", "recall", "f1", "accuracy", "map50", "map50_95"))
    )
    print("  errors: " + ", ".join(f"{k} {v}" for k, v in result["error_types"].items()))
    print(f"Output: {job.run_dir}")
    return 0


def cmd_visualize(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.safe_paths import PathNotAllowed
    from mlcore.visualization_export import FLAGS, export_visualizations, find_run

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
    from mlcore.runs import attach_run, list_runs, run_states, runs_table
    from mlcore.safe_paths import PathNotAllowed
    from mlcore.training import SubmitError, compute_metrics
    from mlcore.visualization_export import find_run

    try:
        if args.action == "list":
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

    from mlcore.jobs import InvalidTransition, JobNotFound, JobStore
    from mlcore.training import cancel_job, stop_job
    from mlcore.worker import read_progress

    store = JobStore(settings.outputs_root / paths.JOBS_DB)
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
            log = Path(store.get(args.job_id).run_dir) / "train.log"
            offset = 0
            while True:
                text = log.read_text(errors="replace") if log.exists() else ""
                print(text[offset:], end="", flush=True)
                offset = len(text)
                if not args.follow or store.get(args.job_id).state.is_final():
                    return 0
                time.sleep(1.0)
    except (JobNotFound, InvalidTransition) as exc:
        return _fail(str(exc).strip('"'), 1)
    return 0


def cmd_app(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    if host not in LOOPBACK_HOSTS:
        from mlcore.access import login_configured

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
    from mlcore.access import api_token

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

    from mlcore.api import create_api

    api = create_api(settings, token=token, cors_origins=settings.api_cors_origins)
    needs = "a token (Authorization: Bearer ...)" if token else "no token (local use)"
    print(f"ML Studio API on http://{args.host}:{args.port} with {needs}; documentation at /docs", file=sys.stderr)
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcore", description="ML Studio: validate datasets, train and evaluate YOLO models.")
    parser.add_argument("--version", action="version", version=f"mlcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    check.add_argument("--imgsz", type=int, default=640, help="training image size for tiny-box checks (640)")
    check.add_argument("--workers", type=int, default=0, help="processes reading images (0 = one per core)")
    check.add_argument("--no-save", action="store_true", help="do not save the report under dataset_reports/")
    check.set_defaults(func=cmd_validate)

    train = sub.add_parser("train", help="start a YOLOv8 training (queued; detached from this terminal)")
    train.add_argument("--data", help="dataset folder or data.yaml")
    train.add_argument("--resume", metavar="RUN", help="continue an interrupted run (project/experiment)")
    train.add_argument("--arch", default="yolov8n", help="yolov8n|s|m|l|x (default yolov8n)")
    train.add_argument("--mode", default="full", help="full (from scratch) or transfer (from --base-model)")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--imgsz", type=int, default=640)
    train.add_argument("--batch", type=int, default=16, help="images per batch; -1 = automatic (one GPU)")
    train.add_argument("--lr", type=float, default=None, help="initial learning rate (with an explicit optimizer)")
    train.add_argument("--device", default="auto", help="auto, cpu, 0, or 0,1")
    train.add_argument("--workers", type=int, default=8, help="dataloader workers")
    train.add_argument("--project", default="default")
    train.add_argument("--experiment", default=None, help="run name (default: dated)")
    train.add_argument("--base-model", default=None, help="transfer: a run's weights/best.pt or a trusted .pt")
    train.add_argument("--wait", action="store_true", help="follow the job; exit 0 on success, 1 on failure")
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
    evaluate.add_argument("--model", required=True, help="a run's weights/best.pt or a .pt in a trusted folder")
    evaluate.add_argument("--data", required=True, help="dataset folder or data.yaml")
    evaluate.add_argument("--split", default="test", help="test (default), val or train")
    evaluate.add_argument("--conf", type=float, default=0.25, help="confidence threshold (0.25)")
    evaluate.add_argument("--iou", type=float, default=0.45, help="IoU a match needs (0.45)")
    evaluate.add_argument("--imgsz", type=int, default=640)
    evaluate.add_argument("--device", default="auto", help="auto, cpu or a GPU index")
    evaluate.add_argument("--json", action="store_true", help="with --wait: one JSON document on stdout")
    evaluate.add_argument("--wait", action="store_true", help="follow the job and print its metrics")
    evaluate.set_defaults(func=cmd_evaluate)

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
