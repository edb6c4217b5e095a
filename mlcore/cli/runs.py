"""`python -m mlcore runs | visualize`: list, attach and measure runs; a run's charts as PNGs and report.html."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail, follow
from mlcore.core.settings import Settings


def add_runs_parser(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list runs, attach one made elsewhere, compute a run's metrics")
    runs.add_argument("action", choices=["list", "attach", "metrics"])
    runs.add_argument("target", nargs="?", help="attach: a run folder (results.csv + args.yaml); metrics: a run")
    runs.add_argument("--json", action="store_true", help="list: JSON for scripts")
    runs.add_argument("--wait", action="store_true", help="metrics: follow the job until it ends")
    runs.set_defaults(func=cmd_runs)


def add_visualize_parser(sub: Any) -> None:
    visualize = sub.add_parser("visualize", help="export a run's charts as PNGs and a self-contained report.html")
    visualize.add_argument("run", metavar="RUN", help="project/experiment, the run folder, or its weights/best.pt")
    visualize.add_argument(
        "--include",
        nargs="+",
        choices=["training_history", "class_metrics", "confusion_matrix", "pr_curve", "f1_curve"],
        help="only these figures (default: all)",
    )
    visualize.set_defaults(func=cmd_visualize)


def cmd_visualize(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.charts.report import FLAGS, export_visualizations, find_run
    from mlcore.core.safe_paths import PathNotAllowed

    try:
        run = find_run(args.run, settings)
    except PathNotAllowed as exc:
        return fail(str(exc), EXIT_USAGE)
    chosen = set(args.include or [f.removeprefix("include_") for f in FLAGS])
    export = export_visualizations(run, settings, **{f: f.removeprefix("include_") in chosen for f in FLAGS})
    for name, why in export.skipped.items():
        print(f"mlcore: skipped {name}: {why}", file=sys.stderr)
    print(export.folder)
    return 0


def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.charts.report import find_run
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
            return fail(f"'runs {args.action}' needs a run (or a folder to attach)", EXIT_USAGE)
        if args.action == "attach":
            print(attach_run(args.target, settings).name)
            return 0
        job = compute_metrics(find_run(args.target, settings), settings)
    except (PathNotAllowed, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    print(job.id)
    return follow(job.id, settings) if args.wait else 0
