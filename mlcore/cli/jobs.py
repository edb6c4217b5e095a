"""`python -m mlcore jobs list | show | stop | cancel | logs`: the job queue from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.core.settings import Settings


def add_jobs_parser(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="list, show, stop, cancel jobs and read their logs")
    jobs.add_argument("action", choices=["list", "show", "stop", "cancel", "logs"])
    jobs.add_argument("job_id", nargs="?", help="the job (see 'jobs list')")
    jobs.add_argument("--json", action="store_true", help="list/show: JSON for scripts")
    jobs.add_argument("--follow", action="store_true", help="logs: keep printing until the job ends")
    jobs.set_defaults(func=cmd_jobs)


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
            return fail(f"'jobs {args.action}' needs a job id; see 'python -m mlcore jobs list'", EXIT_USAGE)
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
        return fail(str(exc).strip('"'), 1)
    return 0
