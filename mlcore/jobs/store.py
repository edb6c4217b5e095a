"""The job database: one row per job of any kind (jobs/kinds.py: training, evaluation, export, prediction, ...).

SQLite under the outputs root (WAL on one machine, a rollback journal when workers on a cluster's
nodes share it), short transactions, and a busy timeout, so the app, the CLI and finishing workers
can all read and write it at once. States form a small closed set; a
transition is a compare-and-set inside one `BEGIN IMMEDIATE` transaction, so two schedulers can
never both start the same job.

    store = open_store(settings)
    job = store.submit(JobKind.TRAINING, spec.to_dict(), run_dir)
    store.transition(job.id, JobState.STARTING)
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.errors import InvalidTransition, JobNotFound
from mlcore.core.settings import Settings
from mlcore.jobs.kinds import JobKind, JobTask


class JobState(StrEnum):
    """Where a job is in its life. `str` so that it reads and writes as plain text."""

    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    def is_final(self) -> bool:
        """A final state never changes again."""
        return self in FINAL_STATES


class ProgressState(StrEnum):
    """The state a worker writes in its job's progress.json. Not a JobState: "stopped" is a job that completed
    early at the user's request (it kept its work), and the database knows it as completed."""

    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.LOST})
ACTIVE_STATES = frozenset({JobState.STARTING, JobState.RUNNING, JobState.STOPPING})
OPEN_STATES = ACTIVE_STATES | {JobState.QUEUED}  # a job that may still change: queued or active, not final
ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.STARTING, JobState.CANCELLED}),
    JobState.STARTING: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED, JobState.LOST}),
    JobState.RUNNING: frozenset(
        {JobState.STOPPING, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.LOST}
    ),
    JobState.STOPPING: frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.LOST}),
    **{state: frozenset() for state in FINAL_STATES},
}
UPDATABLE = ("pid", "pid_started", "device", "error", "executor", "node")
LOCAL_EXECUTOR = "local"
# columns added after the first release, added to an older database when it is opened
ADDED_COLUMNS = {"executor": f"TEXT NOT NULL DEFAULT '{LOCAL_EXECUTOR}'", "node": "TEXT"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    owner TEXT NOT NULL,
    pid INTEGER,
    pid_started REAL,
    device TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    executor TEXT NOT NULL DEFAULT 'local',
    node TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created);
CREATE TABLE IF NOT EXISTS job_events (
    job_id TEXT NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events (job_id, at);
"""


@dataclass(frozen=True)
class Job:
    """One row of the job database."""

    id: str
    kind: JobKind
    state: JobState
    spec: dict[str, Any]
    run_dir: str
    owner: str
    pid: int | None
    pid_started: float | None
    """Process start time (seconds since the epoch), so a reused pid is not mistaken for the worker."""
    device: str | None
    error: str | None
    created: float
    started: float | None
    ended: float | None
    executor: str = LOCAL_EXECUTOR
    """Which executor started the worker: "local" (a process on this machine) or "ray" (a Ray job)."""
    node: str | None = None
    """With Ray: the id of the node the worker runs on (once it started)."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state.value}


def _row(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["kind"] = JobKind(data["kind"])
    data["state"] = JobState(data["state"])
    data["spec"] = json.loads(data["spec"])
    return Job(**data)


class JobStore:
    """Jobs in one SQLite file. Each call uses a short transaction; instances are cheap."""

    def __init__(self, path: Path, timeout_s: float = 30.0, shared: bool | None = None) -> None:
        """`shared=True` when processes on other machines open the file too (workers on a Ray cluster's
        nodes, over NFS): SQLite's WAL needs every process on one host, so the database then keeps a
        rollback journal and relies on the file system's POSIX locks. False: WAL (one machine). None:
        the mode the file has (WAL for a new one), for readers that do not know the settings."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._timeout = timeout_s
        new = not path.exists()
        with closing(self._connect()) as db:
            if shared is not None or new:
                try:
                    db.execute(f"PRAGMA journal_mode={'DELETE' if shared else 'WAL'}")
                except sqlite3.OperationalError:
                    pass  # another process has it open in the other mode: the next open switches it
            db.executescript(SCHEMA)
            present = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
            for name, declaration in ADDED_COLUMNS.items():
                if name not in present:
                    try:
                        db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")
                    except sqlite3.OperationalError as exc:  # another process added it just now
                        if "duplicate column" not in str(exc):
                            raise

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def submit(self, kind: JobKind | str, spec: dict[str, Any], run_dir: str, owner: str = "local") -> Job:
        """A new queued job."""
        if kind not in list(JobKind):
            raise ValueError(f"kind={kind!r}; use one of {', '.join(JobKind)}.")
        now = time.time()
        job_id = f"{datetime.fromtimestamp(now):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO jobs (id, kind, state, spec, run_dir, owner, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, str(kind), JobState.QUEUED.value, json.dumps(spec, sort_keys=True), run_dir, owner, now),
            )
            db.execute("INSERT INTO job_events VALUES (?, ?, ?, ?)", (job_id, now, owner, "submitted"))
            db.execute("COMMIT")
        return self.get(job_id)

    def record(self, job_id: str, actor: str, action: str) -> None:
        """Add to the audit trail: who did what to the job (started, stopped, cancelled...)."""
        with closing(self._connect()) as db:
            db.execute("INSERT INTO job_events VALUES (?, ?, ?, ?)", (job_id, time.time(), actor, action))

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's audit trail, oldest first: at, actor, action."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT at, actor, action FROM job_events WHERE job_id = ? ORDER BY at", (job_id,))
            return [dict(r) for r in rows]

    def get(self, job_id: str) -> Job:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return _row(row)

    def list(
        self, states: set[JobState] | frozenset[JobState] | None = None, kind: JobKind | str | None = None
    ) -> list[Job]:
        """Jobs oldest first, optionally only in `states` and of one `kind`."""
        query, params = "SELECT * FROM jobs WHERE 1=1", []
        if states is not None:
            query += f" AND state IN ({','.join('?' * len(states))})"
            params += [s.value for s in states]
        if kind is not None:
            query += " AND kind = ?"
            params.append(str(kind))
        with closing(self._connect()) as db:
            return [_row(r) for r in db.execute(query + " ORDER BY created, id", params)]

    def latest(self, run_dir: Path | str, kind: JobKind | str) -> Job | None:
        """The newest job of `kind` that wrote into `run_dir` (a run is resumed and extended by several)."""
        jobs = [j for j in self.list(kind=kind) if Path(j.run_dir) == Path(run_dir)]
        return jobs[-1] if jobs else None

    def open_folders(self) -> set[str]:
        """Folders of the jobs that are queued or running: a run there cannot be continued now."""
        return {j.run_dir for j in self.list(OPEN_STATES)}

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job to start; None when the job is not queued."""
        queued = [j.id for j in self.list({JobState.QUEUED})]
        return queued.index(job_id) + 1 if job_id in queued else None

    def update(self, job_id: str, **updates: Any) -> Job:
        """Set pid, pid_started, device, error, executor or node without changing the state."""
        unknown = set(updates) - set(UPDATABLE)
        if unknown or not updates:
            raise ValueError(f"cannot update {sorted(unknown) or 'nothing'}; only {', '.join(UPDATABLE)}.")
        with closing(self._connect()) as db:
            cursor = db.execute(
                f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in updates)} WHERE id = ?", (*updates.values(), job_id)
            )
        if cursor.rowcount == 0:
            raise JobNotFound(job_id)
        return self.get(job_id)

    def transition(self, job_id: str, to: JobState, expect: JobState | None = None, **updates: Any) -> Job:
        """Move a job to `to` (and set pid, pid_started, device or error) if that move is allowed.

        `expect` makes it a compare-and-set: the move happens only if the job is in that state now.
        Timestamps follow the state: `started` on STARTING, `ended` on any final state.
        """
        unknown = set(updates) - set(UPDATABLE)
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; only {', '.join(UPDATABLE)}.")
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    raise JobNotFound(job_id)
                current = JobState(row["state"])
                if expect is not None and current != expect:
                    raise InvalidTransition(f"job {job_id} is {current.value}, not {expect.value}.")
                if to not in ALLOWED[current]:
                    raise InvalidTransition(f"job {job_id} is {current.value}; it cannot become {to.value}.")
                now = time.time()
                columns = {"state": to.value, **updates}
                if to == JobState.STARTING:
                    columns["started"] = now
                if to.is_final():
                    columns["ended"] = now
                assignments = ", ".join(f"{name} = ?" for name in columns)
                db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*columns.values(), job_id))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return self.get(job_id)


def open_store(settings: Settings) -> JobStore:
    """The studio's job database under its outputs root (created on first use); shared between machines
    when a Ray cluster is configured."""
    return JobStore(settings.outputs_root / paths.JOBS_DB, shared=bool(settings.ray_address))


def jobs_of(settings: Settings, kind: JobKind, task: JobTask | None = None) -> list[Job]:
    """The jobs of `kind` (and, given one, of the spec's `task`), oldest first; [] before any job exists (the
    database is not created by a page that only looks)."""
    if not (settings.outputs_root / paths.JOBS_DB).exists():
        return []
    jobs = open_store(settings).list(kind=kind)
    return jobs if task is None else [j for j in jobs if j.spec.get("task") == task]
