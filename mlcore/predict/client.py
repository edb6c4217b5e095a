"""The app's and the API's side of the predictor process: start it, send it predictions, restart it.

    client = PredictorClient(settings)
    results = client.predict(model_path, [decoded_image], profile)   # one dict per image
    client.close()

Requests wait in a bounded queue (settings.predict.queue); when it is full, PredictorBusy says how
long to wait. One dispatcher thread sends everything waiting as one message, so concurrent requests
for the same model, thresholds and image size run as one batch, and a lone request waits for no one.
When the process dies or stops answering, the requests in flight get PredictorUnavailable and the
next one starts a new process.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

import numpy as np

from mlcore.core.paths import log_name
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.engine.env import engine_environment
from mlcore.jobs.progress import log_tail
from mlcore.predict.images import DecodedImage
from mlcore.predict.profile import DeploymentProfile

PREDICTOR = "predictor"  # its log is <outputs>/predictor.log
START_TIMEOUT_S = 180.0  # importing the engine on a cold disk
REPLY_TIMEOUT_S = 300.0  # the slowest answer: loading a large model, then a batch on the CPU
MAX_BATCH_IMAGES = 16


class PredictorBusy(Exception):
    """The queue is full; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PredictorUnavailable(Exception):
    """The predictor process died or did not answer; the request can be sent again."""


@dataclass(eq=False)
class _Pending:
    tasks: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    results: list[dict[str, Any]] | None = None
    error: Exception | None = None


class PredictorClient:
    def __init__(self, settings: Settings, reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.settings, self.reply_timeout_s = settings, reply_timeout_s
        self._queue: queue.Queue[_Pending] = queue.Queue(maxsize=settings.predict.queue)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._dispatcher: threading.Thread | None = None
        self._closed = False
        self._folder: Path | None = None
        self._seconds_per_batch = 0.5
        self.starts = 0
        """Processes started so far (more than one: the predictor was restarted)."""

    # -- the callers' side
    def predict(
        self, model: Path, images: list[DecodedImage], profile: DeploymentProfile, imgsz: int | None = None
    ) -> list[dict[str, Any]]:
        """One result per image, in order: {"detections", "inference_ms", ...} or {"error", "status", "code"}."""
        tasks = [{"model": str(model), "image": i.pixels, "profile": profile.to_dict(), "imgsz": imgsz} for i in images]
        return self._answered(tasks)

    def explain(
        self,
        model: Path,
        image: np.ndarray,
        imgsz: int,
        targets: list[dict[str, Any]] | None = None,
        pick: list[int] | None = None,
        conf: float = 0.25,
        nms_free: bool = False,
        as_class: int | str | None = None,
    ) -> dict[str, Any]:
        """Gradient maps of boxes of `image` (BGR) by the warm predictor: {"boxes": [summary + "map"], ...} or
        {"error", "status", "code"}. `targets`: boxes to explain ({"box", "class_id", "role"}); else the model's
        detections at `conf` (`pick`: those indices)."""
        task = {"op": "explain", "model": str(model), "image": image, "imgsz": imgsz, "targets": targets}
        return self._answered([{**task, "pick": pick, "conf": conf, "nms_free": nms_free, "as_class": as_class}])[0]

    def _answered(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queue `tasks` for the dispatcher and wait for their answers (PredictorBusy when the queue is full)."""
        if self._closed:
            raise PredictorUnavailable("the predictor is shut down: the app or the API is stopping.")
        pending = _Pending(tasks)
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            wait = max(1, round(self._queue.qsize() * self._seconds_per_batch / 2))
            raise PredictorBusy(
                f"the predictor has {self._queue.qsize()} requests waiting, its limit (ML_STUDIO_PREDICT_QUEUE); "
                f"send this one again in {wait} s.",
                wait,
            ) from None
        self._start_dispatcher()
        if not pending.done.wait(self.reply_timeout_s + START_TIMEOUT_S):
            raise PredictorUnavailable("the predictor did not answer in time; send the request again.")
        if pending.error is not None:
            raise pending.error
        assert pending.results is not None
        return pending.results

    def status(self) -> dict[str, Any]:
        """What the predictor process holds ({"running": False} when it is not started)."""
        with self._lock:
            if self._connection is None or self._process is None or self._process.poll() is not None:
                return {"running": False}
        probe = _Pending([{"op": "status"}])
        try:
            self._queue.put_nowait(probe)
        except queue.Full:
            return {"running": True, "pid": self.pid, "busy": True}
        self._start_dispatcher()
        probe.done.wait(30)
        return {"running": True, "pid": self.pid, **((probe.results or [{}])[0])}

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_Pending([]))  # wakes the dispatcher
        self._stop_process()

    # -- the dispatcher thread
    def _start_dispatcher(self) -> None:
        with self._lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._dispatch, name="predictor-client", daemon=True)
                self._dispatcher.start()

    def _dispatch(self) -> None:
        while not self._closed:
            batch = [self._queue.get()]
            if self._closed:
                break
            images = len(batch[0].tasks)
            while images < MAX_BATCH_IMAGES:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                images += len(batch[-1].tasks)
            self._send(batch)
        for pending in batch:
            pending.error = PredictorUnavailable("the predictor is shutting down.")
            pending.done.set()

    def _send(self, batch: list[_Pending]) -> None:
        status = [p for p in batch if p.tasks and p.tasks[0].get("op") == "status"]
        explaining = [p for p in batch if p.tasks and p.tasks[0].get("op") == "explain"]
        work = [p for p in batch if p.tasks and p not in status and p not in explaining]
        started = time.perf_counter()
        try:
            connection = self._connect()
            for probe in status:
                connection.send({"op": "status"})
                probe.results = [self._receive(connection, 30)]
            for asked in explaining:
                connection.send(asked.tasks[0])
                asked.results = [self._receive(connection, self.reply_timeout_s)]
            if work:
                connection.send({"op": "predict", "tasks": [t for p in work for t in p.tasks]})
                results = self._receive(connection, self.reply_timeout_s)["results"]
                for p in work:
                    p.results, results = results[: len(p.tasks)], results[len(p.tasks) :]
                self._seconds_per_batch = 0.8 * self._seconds_per_batch + 0.2 * (time.perf_counter() - started)
        except (PredictorUnavailable, EOFError, OSError) as exc:
            code = self._stop_process()
            error = (
                exc
                if isinstance(exc, PredictorUnavailable)
                else PredictorUnavailable(
                    f"the predictor process stopped while answering (exit code {code}); it is restarted with the next "
                    "request: send this one again."
                )
            )
            for p in batch:
                p.error = error
        finally:
            for p in batch:
                p.done.set()

    def _receive(self, connection: Connection, timeout: float) -> Any:
        if not connection.poll(timeout):
            raise PredictorUnavailable(f"the predictor gave no answer in {timeout:.0f} s; it is restarted.")
        return connection.recv()

    # -- the process
    def _connect(self) -> Connection:
        with self._lock:
            if self._connection is not None and self._process is not None and self._process.poll() is None:
                return self._connection
        self._stop_process()
        folder = Path(tempfile.mkdtemp(prefix="ml-studio-predictor-"))
        address, key = str(folder / "socket"), secrets.token_bytes(32)
        env = engine_environment(self.settings)
        env["PYTHONPATH"] = str(PROJECT_ROOT)
        self.settings.outputs_root.mkdir(parents=True, exist_ok=True)
        log = open(self.settings.outputs_root / log_name(PREDICTOR), "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(
            [sys.executable, "-m", "mlcore.predict.service", address],
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.settings.outputs_root,
        )
        log.close()
        assert process.stdin is not None
        process.stdin.write(key.hex().encode() + b"\n")
        process.stdin.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                shutil.rmtree(folder, ignore_errors=True)
                tail = log_tail(str(self.settings.outputs_root), 10, kind=PREDICTOR)
                raise PredictorUnavailable(
                    f"the predictor process could not start (exit code {process.returncode}): {tail}"
                )
            if os.path.exists(address):
                try:
                    connection = Client(address, family="AF_UNIX", authkey=key)
                    break
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
            if time.monotonic() > deadline:
                process.kill()
                raise PredictorUnavailable(f"the predictor process did not start in {START_TIMEOUT_S:.0f} s.")
            time.sleep(0.05)
        self._receive(connection, START_TIMEOUT_S)  # {"ready": True, ...} once the engine is imported
        with self._lock:
            self._process, self._connection, self._folder = process, connection, folder
        self.starts += 1
        return connection

    def _stop_process(self) -> int | None:
        """End the process (if any); its exit code."""
        with self._lock:
            process, connection, self._process, self._connection = self._process, self._connection, None, None
            folder, self._folder = self._folder, None
        if connection is not None:
            connection.close()
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return process.returncode
