"""What every job command shares: the error line, following a job's progress, reading its result at the end."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlcore.cli.printing import bar
from mlcore.core.settings import Settings

EXIT_USAGE = 2
MODEL_HELP = "a run (PROJECT/EXPERIMENT), NAME:N or NAME@ALIAS of the registry, a weights file or an export"


def here(text: str | None) -> str | None:
    """A path typed in a terminal is relative to the terminal's folder (a text naming nothing stays as it is)."""
    if not text:
        return text
    return typed_path(text)


def typed_path(text: str) -> str:
    """A path typed in a terminal, from the terminal's folder when something is there."""
    path = Path(text).expanduser()
    return str(path.absolute()) if path.exists() else text


def named_model(text: str | None, settings: Settings, weights_only: bool = False, purpose: str = "this") -> str:
    """The model a command names (registry/references: a path, a run, NAME:N, NAME@ALIAS or an export folder);
    ModelNameError, a SubmitError that lists those forms, when it names none."""
    from mlcore.registry.references import model_path

    return model_path(text or "", settings, weights_only, purpose)


def fail(message: str, code: int = 1) -> int:
    print(f"mlcore: error: {message}", file=sys.stderr)
    return code


def follow(job_id: str, settings: Settings) -> int:
    """Advance the queue and show the job's progress until it ends; 0 when it completed."""
    import time

    from mlcore.jobs.progress import describe, read_progress
    from mlcore.jobs.scheduler import schedule
    from mlcore.jobs.store import JobState, open_store

    store = open_store(settings)
    try:
        while True:
            schedule(settings)
            job = store.get(job_id)
            progress = read_progress(Path(job.run_dir))
            text = describe(job, progress, store.queue_position(job_id))
            pct = float(progress.get("percent") or 0)
            print(f"\r{bar(pct, 30)} {pct:5.1f}%  {text:<60}", end="", file=sys.stderr, flush=True)
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


def result_of(
    job_id: str, settings: Settings, read: Callable[[Path], dict[str, Any] | None], unreadable: type[Exception]
) -> tuple[Any, dict[str, Any] | None]:
    """Follow the job on stderr (with --json, stdout carries the one JSON document only), then read its result
    from its folder; (the job as it ended, its result or None when it did not complete)."""
    from mlcore.jobs.store import open_store

    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        code = follow(job_id, settings)
    finally:
        sys.stdout = stdout
    job = open_store(settings).get(job_id)
    try:
        return job, read(Path(job.run_dir)) if code == 0 else None
    except unreadable:
        return job, None


def outcome(
    job: Any,
    wait: bool,
    settings: Settings,
    read: Callable[[Path], dict[str, Any] | None],
    unreadable: type[Exception],
) -> dict[str, Any] | int:
    """What a job command shows: without --wait the job id is printed (exit code 0); with it, the job is
    followed to its end and its result returned, or the exit code 1 after saying why it has none."""
    from mlcore.core.paths import log_name

    if not wait:
        print(job.id)
        return 0
    job, result = result_of(job.id, settings, read, unreadable)
    if result is None:
        return fail(f"the {job.kind} {job.state.value}: {job.error or f'see {log_name(job.kind)} in {job.run_dir}'}", 1)
    return result
