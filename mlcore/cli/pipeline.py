"""`python -m mlcore pipeline`: train → evaluate → gate → export → register as one declared run, for CI jobs.

python -m mlcore pipeline run FILE [--set KEY=VALUE]... [--wait] [--json] [--results DIR]
python -m mlcore pipeline check FILE [--set KEY=VALUE]...   # every check of `run`, nothing queued
python -m mlcore pipeline status|stop|cancel|resume NAME [--wait] [--json]
python -m mlcore pipeline list [--json]
python -m mlcore pipeline to-dvc FILE [--out dvc.yaml] [--results DIR]

Exit codes (with --wait): 0 the gate passed, 1 it failed, 2 a bad file or a step that could not run. With
GITHUB_STEP_SUMMARY set, the report is appended there; --results DIR copies report.md, junit.xml, gate.json and
a flat metrics.json to a folder of fixed name (for CI artifacts and `dvc metrics`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.core.settings import Settings

ACTIONS = ("run", "check", "status", "stop", "cancel", "resume", "list", "to-dvc")
FOLLOW_S = 0.5  # how often --wait looks at the run
FINAL = ("passed", "gate failed", "failed", "stopped", "cancelled", "interrupted")


def add_pipeline_parser(sub: Any) -> None:
    p = sub.add_parser("pipeline", help="run a pipeline file: train, evaluate, gate, export, register (exit 0/1/2)")
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("target", nargs="?", metavar="FILE|NAME", help="the pipeline file (run, check, to-dvc) or run name")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a field, e.g. train.epochs=5"
    )
    p.add_argument("--wait", action="store_true", help="follow the run to its end; the exit code is the gate's")
    p.add_argument("--json", action="store_true", help="print the run as one JSON document")
    p.add_argument("--results", metavar="DIR", help="copy the report, JUnit file, gate and metrics into DIR at the end")
    p.add_argument("--out", default="dvc.yaml", help="to-dvc: the file to write (default dvc.yaml)")
    p.set_defaults(func=cmd_pipeline)


def cmd_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import JobRefused, SubmitError
    from mlcore.core.spec import SpecError

    if args.action != "list" and not args.target:
        return fail(
            f"pipeline {args.action} needs a {'file' if args.action in ('run', 'check', 'to-dvc') else 'name'}",
            EXIT_USAGE,
        )
    try:
        if args.action in ("run", "check", "to-dvc"):
            text = _read(args.target)
            if args.action == "check":
                return _check(text, args, settings)
            if args.action == "to-dvc":
                return _to_dvc(text, args, settings)
            return _run(text, args, settings)
        return _act(args, settings)
    except (SpecError, SubmitError, OSError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except JobRefused as exc:
        return fail(str(exc), EXIT_USAGE)


def _read(path: str) -> str:
    from mlcore.core.spec import SpecError

    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"the pipeline file {path} cannot be read ({exc}); give the path of a YAML file.") from None


def _check(text: str, args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.pipelines.submit import check_file

    spec = check_file(text, settings, args.set, base=Path.cwd())
    rules = spec.rules()
    print(f"pipeline {spec.name}: {' → '.join(spec.step_names)}; {len(rules)} gate rule(s) checked.")
    return 0


def _run(text: str, args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.pipelines.submit import start_pipeline

    job = start_pipeline(text, settings, sets=args.set, base=Path.cwd(), source=str(Path(args.target).absolute()))
    name = Path(job.run_dir).name
    print(f"mlcore: pipeline {name}, coordinator job {job.id}", file=sys.stderr)
    return _after(name, args, settings)


def _act(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.pipelines.submit import cancel_pipeline, find_pipeline, resume_pipeline, stop_pipeline

    if args.action == "list":
        return _list(args.json, settings)
    name = find_pipeline(args.target, settings).name
    if args.action == "status":
        return _after(name, args, settings) if args.wait else _show(name, args, settings)
    if args.action == "stop":
        stop_pipeline(name, settings)
        print(f"pipeline {name}: stopping (the running step finishes; the later steps are skipped)")
        return 0
    if args.action == "cancel":
        cancel_pipeline(name, settings)
        print(f"pipeline {name}: cancelled")
        return 0
    job = resume_pipeline(name, settings)
    print(f"mlcore: pipeline {name} resumed, coordinator job {job.id}", file=sys.stderr)
    return _after(name, args, settings)


def _after(name: str, args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.pipelines.submit import exit_code, pipeline_document

    if not args.wait:
        if args.json:
            print(json.dumps(pipeline_document(name, settings), indent=2, default=str))
        else:
            print(name)
        return 0
    if _follow(name, settings) == 130:
        return 130
    document = pipeline_document(name, settings)
    _finish(document, args, settings)
    _show(name, args, settings, document)
    return exit_code(document)


def _follow(name: str, settings: Settings) -> int:
    from mlcore.cli.printing import bar
    from mlcore.jobs.scheduler import schedule
    from mlcore.pipelines.submit import pipeline_document

    try:
        while True:
            schedule(settings)
            document = pipeline_document(name, settings)
            pct = float(document.get("percent") or 0)
            text = f"{document['state']}: {document.get('progress') or ''}"[:90]
            print(f"\r{bar(pct, 30)} {pct:5.1f}%  {text:<90}", end="", file=sys.stderr, flush=True)
            if document["state"] in FINAL:
                print(file=sys.stderr)
                return 0
            time.sleep(FOLLOW_S)
    except KeyboardInterrupt:
        print(f"\nThe pipeline goes on; see it with: python -m mlcore pipeline status {name}", file=sys.stderr)
        return 130


def _finish(document: dict[str, Any], args: argparse.Namespace, settings: Settings) -> None:
    """GitHub's step summary, and the --results folder."""
    from mlcore.pipelines.report import append_step_summary
    from mlcore.pipelines.results import copy_results

    if document.get("report") and append_step_summary(Path(document["report"]), settings.environment):
        print("mlcore: the report was added to the GitHub step summary", file=sys.stderr)
    if args.results:
        copy_results(document, Path(args.results))


def _show(name: str, args: argparse.Namespace, settings: Settings, document: dict | None = None) -> int:
    from mlcore.pipelines.submit import pipeline_document

    document = document or pipeline_document(name, settings)
    if args.json:
        print(json.dumps(document, indent=2, default=str))
        return 0
    print(f"pipeline {document['run']}: {document['state']}")
    for s in document["steps"]:
        line = f"  {s['step']:<9} {s['state']:<8} {s.get('job') or ''}"
        if s.get("error"):
            line += f"  {str(s['error']).splitlines()[0][:120]}"
        print(line)
    gate = document.get("gate")
    if gate:
        print("gate: " + ("passed" if gate["passed"] else "FAILED"))
        for r in gate["rules"]:
            print(
                f"  {'pass' if r['passed'] else 'FAIL'}  {r['rule']}  (value {r['value']}, threshold {r['threshold']})"
            )
    if document.get("report"):
        print(f"report: {document['report']}\njunit:  {document['junit']}")
    if document.get("error") and document["state"] not in ("passed", "gate failed"):
        print(f"mlcore: {document['error'].splitlines()[0]}", file=sys.stderr)
    return 0


def _list(as_json: bool, settings: Settings) -> int:
    from mlcore.pipelines.submit import pipeline_runs, pipeline_summary

    rows = [pipeline_summary(f, settings) for f in pipeline_runs(settings)]
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no pipeline runs yet; start one with: python -m mlcore pipeline run examples/pipelines/demo.yaml --wait")
    for r in rows:
        print(f"{r['run']:<48} {r['state']:<12} {r['steps']}")
    return 0


def _to_dvc(text: str, args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.pipelines.dvc import dvc_yaml

    out = Path(args.out)
    out.write_text(dvc_yaml(text, args.target, args.set, args.results or "results"))
    print(f"wrote {out}: run it with `dvc repro` (or `dvc exp run --set-param {args.target}:steps.train.epochs=20`)")
    return 0
