"""Every GPU path of the studio checked once on a machine with an NVIDIA GPU, into one JSON summary.

Meant for a GPU machine lent for a few minutes (no internet, a fresh clone with the venv `make` builds). It
runs the studio's own code paths (submit functions, the job queue and its leases, the detached workers, the
HTTP API, a local Ray cluster) on a generated demo dataset at small sizes, and writes ONE JSON summary (--out,
and printed as the last line):

1. train: yolov8n and yolo26n trained through the queue on device "0" (the spec's `device`; the scheduler
   grants the lease "gpu:0"), with each epoch's time from results.csv, the training's own memory figure
   (progress.json's device_memory_gb) and NVML's readings while it ran (peak memory and utilisation, read with
   the studio's mlcore.devices.gpus.read_gpus every 0.5 s: the studio shows NVML live and records no history);
2. evaluate: the studio's evaluation job on the GPU against Ultralytics' own `YOLO(best).val(...)` on the same
   split and imgsz, in a process of its own (mAP50-95 difference <= 0.001 expected; both recorded);
3. export: ONNX exported on the GPU by the studio's export job with its parity check, ONNX at fp16 (made on the
   GPU only), and TensorRT ("engine", the studio offers it with parity) where `tensorrt` is importable
   ("skipped: tensorrt not installed" otherwise);
4. predict: `python -m mlcore serve` with its predictor process on the GPU: POST /predict p50 latency against a
   warm direct `model.predict` in a process of its own, and their ratio;
5. tune: a study of two trials with parallel=2 on one GPU: the leases must serialise them (their lease
   intervals, from the lease grant to the job's end, must not overlap; both recorded);
6. ray: a local Ray head on free ports of 127.0.0.1 declaring 1 GPU, the cluster's shared-outputs check, one
   training through the Ray executor on the GPU; the head's whole process group is stopped at the end.

Each check is independent (a timeout of its own, its own clean-up of jobs, servers and Ray; checks 2-4 train a
model of their own when check 1 left none), records passed/failed, its seconds and the first lines of an
error, and the next one runs. Exit code 0 when every check that ran passed, 1 otherwise. Without a CUDA GPU it
prints "no CUDA GPU here: nothing to check", writes {"gpu": null, "skipped": ...} and exits 0 at once.
Goal: all six pass in under 8 minutes on one H100 (a 450 s budget is enforced: a check that cannot start
within it fails as not run).

    .venv/bin/python benchmarks/gpu_check.py [--out gpu_check.json] [--checks 1 2 3 4 5 6] [--epochs 10]
        [--images 300] [--imgsz 320] [--budget 450] [--keep]

`--cpu-dry-run` (not in --help) runs checks 1-4 on device "cpu" at tiny sizes (40 images, imgsz 64, 1 epoch)
to prove the code paths on a machine without a GPU; `--checks` selects others (5 and 6 run on the CPU too).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from benchmarks.workspace import ultralytics_copy  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import Settings, load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.devices.gpus import read_gpus  # noqa: E402
from mlcore.devices.torch_probe import probe_torch  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.jobs.control import cancel_job  # noqa: E402
from mlcore.jobs.progress import read_progress, run_folder_log, tail  # noqa: E402
from mlcore.jobs.scheduler import schedule  # noqa: E402
from mlcore.jobs.store import Job, JobState, open_store  # noqa: E402
from mlcore.runs.results import MAP50_95, read_results  # noqa: E402

NO_GPU = "no CUDA GPU here: nothing to check"
CHECKS = ("train", "evaluate", "export", "predict", "tune", "ray")
DRY_RUN_CHECKS = CHECKS[:4]
TIMEOUT_S = {"train": 300, "evaluate": 150, "export": 360, "predict": 180, "tune": 240, "ray": 300}
DRY_RUN_SLOWER = 4  # the dry run's timeouts on a small CPU machine
MIN_START_S = 20  # a check is not started with less of the budget left
MAP_AGREEMENT = 0.001  # studio evaluation against Ultralytics' val, mAP50-95
TRAIN_ARCHS = ("yolov8n", "yolo26n")
ERROR_LINES = 6
LOG_LINES = 15
BEGAN = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - BEGAN:5.0f} s] {text}", flush=True)


class CheckTimeout(BaseException):
    """The check ran past its time (SIGALRM). A BaseException, so that no `except Exception` on the way swallows it."""


class CheckFailed(Exception):
    """A check's job or condition failed; the message says what."""


# -- what a run of the checks shares


@dataclass
class Sizes:
    device: str
    images: int
    imgsz: int
    epochs: int
    batch: int
    workers: int
    requests: int
    trial_epochs: int
    ray_epochs: int


@dataclass
class Context:
    sizes: Sizes
    work: Path
    dataset: Path
    data_yaml: Path
    """The copy of the dataset that direct Ultralytics runs use (they write label caches beside the labels)."""
    sampler: GpuSampler | None
    model: Path | None = None
    """check 1's yolov8n best.pt, the model checks 2-4 use."""
    jobs: list[tuple[Settings, str]] = field(default_factory=list)
    """The jobs the current check submitted (cancelled at its end when still open)."""

    @property
    def gpu(self) -> bool:
        return self.sizes.device != "cpu"

    @property
    def expected_lease(self) -> str:
        return "cpu" if self.sizes.device == "cpu" else f"gpu:{self.sizes.device}"


class GpuSampler:
    """NVML through the studio's own reader (read_gpus), every `every_s`, for the GPUs the checks use."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, int, float | None, float | None]] = []  # (time, index, util %, MiB used)
        self.errors: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="nvml-sampler", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            inventory = read_gpus()
            now = time.time()
            if not inventory.available:
                self.errors.add(str(inventory.error))
                continue
            with self._lock:
                for gpu in inventory.gpus:
                    self.samples.append((now, gpu.index, gpu.utilization_pct, gpu.memory_used_mb))

    def window(self, since: float, until: float, index: int = 0) -> dict[str, Any]:
        """Peak and mean readings of GPU `index` between two times (time.time())."""
        with self._lock:
            rows = [s for s in self.samples if since <= s[0] <= until and s[1] == index]
        utils = [s[2] for s in rows if s[2] is not None]
        memory = [s[3] for s in rows if s[3] is not None]
        return {
            "samples": len(rows),
            "peak_utilization_pct": max(utils, default=None),
            "mean_utilization_pct": round(statistics.fmean(utils), 1) if utils else None,
            "peak_memory_used_mb": round(max(memory), 1) if memory else None,
            "errors": sorted(self.errors)[:3],
        }

    def close(self) -> None:
        self._stop.set()


# -- jobs


def settings_now() -> Settings:
    return load_settings()


def wait_job(
    ctx: Context, job: Job, what: str, settings: Settings | None = None, tick: Callable[[Job], None] | None = None
) -> Job:
    """Take scheduling steps until the job has ended; CheckFailed (with its error and log tail) unless it
    completed. `tick` sees the job at every look."""
    settings = settings or settings_now()
    ctx.jobs.append((settings, job.id))
    store = open_store(settings)
    while True:
        current = store.get(job.id)
        if tick is not None:
            tick(current)
        if current.state.is_final():
            break
        schedule(settings)
        time.sleep(0.5)
    if current.state is not JobState.COMPLETED:
        error = "\n".join((current.error or "(no error recorded)").strip().splitlines()[:ERROR_LINES])
        raise CheckFailed(
            f"{what} (job {current.id}) ended {current.state.value}: {error}\n"
            f"log tail:\n{tail(run_folder_log(current), LOG_LINES)}"
        )
    return current


def cancel_open_jobs(ctx: Context) -> list[str]:
    """Cancel what the check left running (after a timeout or a failure); the ids cancelled."""
    cancelled = []
    for settings, job_id in ctx.jobs:
        try:
            if not open_store(settings).get(job_id).state.is_final():
                cancel_job(job_id, settings, grace_s=5)
                cancelled.append(job_id)
        except Exception as exc:  # clean-up is best effort; the next check must still run
            say(f"  could not cancel job {job_id}: {exc}")
    ctx.jobs.clear()
    return cancelled


def job_times(job: Job) -> dict[str, Any]:
    return {
        "job": job.id,
        "state": job.state.value,
        "lease": job.device,
        "executor": job.executor,
        "queued_to_end_s": round((job.ended or 0) - job.created, 2),
        "lease_to_end_s": round((job.ended or 0) - (job.started or 0), 2),
    }


def run_child(script: str, args: list[str], timeout_s: float) -> dict[str, Any]:
    """A Python child with the workers' offline environment; the JSON of its last line of output."""
    env = {**engine_environment(settings_now()), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise CheckFailed(f"the direct Ultralytics process exited {proc.returncode}:\n{proc.stderr[-1500:]}")
    return json.loads(lines[-1])


def submit_training_job(ctx: Context, arch: str, experiment: str, epochs: int, settings: Settings | None = None) -> Job:
    from mlcore.training.spec import TrainSpec
    from mlcore.training.submit import submit_training

    sizes = ctx.sizes
    spec = TrainSpec(
        dataset_path=str(ctx.dataset),
        model_architecture=arch,
        epochs=epochs,
        imgsz=sizes.imgsz,
        batch_size=sizes.batch,
        workers=sizes.workers,
        device=sizes.device,
        project="gpu-check",
        experiment=experiment,
        advanced={"nbs": sizes.batch, "warmup_epochs": 1},  # the demo recipe: every batch an optimizer step
    )
    return submit_training(spec, settings or settings_now())


def model_for(ctx: Context) -> Path:
    """Check 1's yolov8n, or (when it left none) a yolov8n trained now the same way."""
    if ctx.model is not None and ctx.model.exists():
        return ctx.model
    say("  no model from check 1: training a yolov8n for this check")
    job = submit_training_job(ctx, "yolov8n", f"model-{secrets.token_hex(2)}", ctx.sizes.epochs)
    done = wait_job(ctx, job, "the model's training")
    ctx.model = Path(done.run_dir) / "weights" / "best.pt"
    return ctx.model


def used_cuda(job: Job) -> bool:
    """Did Ultralytics report a CUDA device in the job's log (its banner: 'CUDA:0 (NVIDIA ...)')?"""
    return "CUDA:0" in run_folder_log(job)


# -- 1. trainings


def check_train(ctx: Context, details: dict[str, Any]) -> list[str]:
    problems = []
    for arch in TRAIN_ARCHS:
        say(f"  training {arch} on device {ctx.sizes.device!r}…")
        row: dict[str, Any] = details.setdefault(arch, {})
        began = time.time()
        peak = {"device_memory_gb": None, "first_progress_s": None}

        def tick(current: Job, peak: dict = peak, began: float = began) -> None:
            progress = read_progress(Path(current.run_dir))
            memory = progress.get("device_memory_gb")
            if memory is not None:
                peak["device_memory_gb"] = max(memory, peak["device_memory_gb"] or 0.0)
            if peak["first_progress_s"] is None and progress.get("epoch"):
                peak["first_progress_s"] = round(time.time() - began, 2)

        try:
            job = submit_training_job(ctx, arch, f"train-{arch}", ctx.sizes.epochs)
            done = wait_job(ctx, job, f"the {arch} training", tick=tick)
        except CheckFailed as exc:  # the other architecture still trains
            problems.append(f"{arch}: {exc}")
            continue
        except Exception as exc:  # a spec or submit refusal (SpecError, SubmitError)
            problems.append(f"{arch}: {type(exc).__name__}: {exc}")
            continue
        finally:
            row.update(peak)
            if ctx.sampler is not None:
                row["nvml"] = ctx.sampler.window(began, time.time())
        run = Path(done.run_dir)
        frame = read_results(run / paths.RESULTS_CSV)
        times = [float(t) for t in frame["time"]] if "time" in frame else []
        epochs = [round(b - a, 2) for a, b in zip([0.0, *times], times, strict=False)]
        row |= job_times(done)
        row |= {
            "wall_s": round(time.time() - began, 2),
            "epochs_done": len(frame),
            "epoch_s": epochs,
            "median_epoch_s": round(statistics.median(epochs), 2) if epochs else None,
            "best_map50_95": round(float(frame[MAP50_95].max()), 4) if MAP50_95 in frame else None,
            "cuda_in_log": used_cuda(done),
        }
        metrics = run / paths.METRICS_FILE
        if metrics.exists():
            row["final_map50_95"] = json.loads(metrics.read_text()).get("map50_95")
        if done.device != ctx.expected_lease:
            problems.append(f"{arch}: the job held lease {done.device!r}, expected {ctx.expected_lease!r}")
        if len(frame) != ctx.sizes.epochs:
            problems.append(f"{arch}: results.csv has {len(frame)} epochs, expected {ctx.sizes.epochs}")
        if ctx.gpu and not row["cuda_in_log"]:
            problems.append(f"{arch}: Ultralytics' log names no CUDA:0 device: it did not train on the GPU")
        if ctx.gpu and not (row.get("nvml") or {}).get("samples"):
            problems.append(f"{arch}: NVML gave no readings while it trained")
        if arch == "yolov8n":
            ctx.model = run / "weights" / "best.pt"
        say(f"  {arch}: {len(frame)} epochs, median {row['median_epoch_s']} s/epoch, lease {done.device}")
    return problems


# -- 2. evaluation


DIRECT_VAL = r"""
import json, sys
from ultralytics import YOLO
model, data, split, imgsz, device, project = sys.argv[1:7]
m = YOLO(model).val(data=data, split=split, imgsz=int(imgsz), batch=16, device=device, plots=False,
                    project=project, name="val", exist_ok=True, verbose=False)
print(json.dumps({"map50": float(m.box.map50), "map50_95": float(m.box.map)}))
"""


def check_evaluate(ctx: Context, details: dict[str, Any]) -> list[str]:
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.evaluation.submit import submit_evaluation

    model, split, imgsz = model_for(ctx), "val", ctx.sizes.imgsz
    spec = EvalSpec(
        model_path=str(model), dataset_path=str(ctx.dataset), split=split, imgsz=imgsz, device=ctx.sizes.device
    )
    began = time.time()
    done = wait_job(ctx, submit_evaluation(spec, settings_now()), "the evaluation")
    metrics = json.loads((Path(done.run_dir) / paths.METRICS_FILE).read_text())
    details["studio"] = job_times(done) | {
        "map50": metrics["map50"],
        "map50_95": metrics["map50_95"],
        "ultralytics_in_job_map50_95": metrics["ultralytics"]["map50_95"],
        "seconds": round(time.time() - began, 2),
    }
    say("  Ultralytics' own val in a process of its own…")
    began = time.time()
    project = ctx.work / "direct-val"
    direct = run_child(
        DIRECT_VAL, [str(model), str(ctx.data_yaml), split, str(imgsz), ctx.sizes.device, str(project)], 240
    )
    details["ultralytics"] = direct | {"seconds": round(time.time() - began, 2)}
    difference = abs(metrics["map50_95"] - direct["map50_95"])
    details |= {"split": split, "imgsz": imgsz, "map50_95_difference": round(difference, 6), "goal": MAP_AGREEMENT}
    problems = []
    if difference > MAP_AGREEMENT:
        problems.append(
            f"the studio's mAP50-95 {metrics['map50_95']:.5f} differs from Ultralytics' val {direct['map50_95']:.5f} "
            f"by {difference:.5f} (> {MAP_AGREEMENT})"
        )
    if done.device != ctx.expected_lease:
        problems.append(f"the evaluation held lease {done.device!r}, expected {ctx.expected_lease!r}")
    say(f"  studio {metrics['map50_95']:.5f} vs Ultralytics {direct['map50_95']:.5f} (mAP50-95)")
    return problems


# -- 3. exports


def export_job(ctx: Context, model: Path, formats: tuple[str, ...], precision: str) -> dict[str, Any]:
    from mlcore.export.spec import ExportSpec
    from mlcore.export.submit import submit_export

    spec = ExportSpec(
        model_path=str(model),
        formats=formats,
        precision=precision,
        imgsz=ctx.sizes.imgsz,
        dataset_path=str(ctx.dataset),
        parity=True,
        device=ctx.sizes.device,
    )
    began = time.time()
    done = wait_job(ctx, submit_export(spec, settings_now()), f"the {'+'.join(formats)} {precision} export")
    card = json.loads((Path(done.run_dir) / paths.MODEL_CARD).read_text())
    found: dict[str, Any] = job_times(done) | {"seconds": round(time.time() - began, 2), "card_device": card["device"]}
    found["pytorch_cpu_ms"] = card["latency_source"]["median_ms"]
    if "latency_source_gpu" in card:
        found["pytorch_gpu_ms"] = card["latency_source_gpu"]["median_ms"]
    for entry in card["formats"]:
        parity = entry.get("parity") or {}
        found[entry["format"]] = {
            "precision": entry["precision"],
            "bytes": entry["bytes"],
            "latency_ms": (entry.get("latency") or {}).get("median_ms"),
            "latency_device": (entry.get("latency") or {}).get("device"),
            "parity_passed": parity.get("passed"),
            "map50_95_source": parity.get("map50_95_source"),
            "map50_95_export": parity.get("map50_95_export"),
            "map50_95_delta": parity.get("map50_95_delta"),
        }
    return found


def check_export(ctx: Context, details: dict[str, Any]) -> list[str]:
    model, problems = model_for(ctx), []
    say(f"  ONNX fp32 on device {ctx.sizes.device!r} with the parity check…")
    onnx = details["onnx_fp32"] = export_job(ctx, model, ("onnx",), "fp32")
    if not onnx["onnx"]["parity_passed"]:
        problems.append(f"ONNX fp32 parity failed: mAP50-95 delta {onnx['onnx']['map50_95_delta']}")
    if onnx["lease"] != ctx.expected_lease:
        problems.append(f"the ONNX export held lease {onnx['lease']!r}, expected {ctx.expected_lease!r}")
    if not ctx.gpu:
        details["onnx_fp16"] = details["tensorrt"] = "skipped: CPU dry run (GPU only)"
        return problems
    say("  ONNX fp16 (made on the GPU only)…")
    try:
        fp16 = details["onnx_fp16"] = export_job(ctx, model, ("onnx",), "fp16")
        if not fp16["onnx"]["parity_passed"]:  # recorded, not failed: fp16 on a barely trained model may drift
            details.setdefault("notes", []).append(f"ONNX fp16 parity delta {fp16['onnx']['map50_95_delta']}")
    except CheckFailed as exc:
        problems.append(f"ONNX fp16: {str(exc).splitlines()[0]}")
        details["onnx_fp16"] = {"error": str(exc)[:1500]}
    if importlib.util.find_spec("tensorrt") is None:
        details["tensorrt"] = "skipped: tensorrt not installed"
        return problems
    say("  TensorRT engine with the parity check…")
    engine = details["tensorrt"] = export_job(ctx, model, ("engine",), "fp32")
    if not engine["engine"]["parity_passed"]:
        problems.append(f"TensorRT parity failed: mAP50-95 delta {engine['engine']['map50_95_delta']}")
    return problems


# -- 4. predictor


DIRECT_PREDICT = r"""
import json, statistics, sys, time
from ultralytics import YOLO
model, image, device, warmup, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
m = YOLO(model)
for _ in range(warmup):
    m.predict(image, device=device, verbose=False)[0].boxes.data.cpu()
times = []
for _ in range(runs):
    started = time.perf_counter()
    m.predict(image, device=device, verbose=False)[0].boxes.data.cpu()  # the boxes on the host, as an answer has them
    times.append(time.perf_counter() - started)
print(json.dumps({"p50_ms": statistics.median(times) * 1000, "runs": runs}))
"""


def check_predict(ctx: Context, details: dict[str, Any]) -> list[str]:
    from benchmarks.predict_speed import Caller, api_latency, api_server
    from mlcore.api.context import PREFIX

    model, sizes = model_for(ctx), ctx.sizes
    image = next(iter(sorted((ctx.dataset / "images" / "val").iterdir())))
    token = secrets.token_urlsafe(32)
    env = {**os.environ, "ML_STUDIO_API_TOKEN": token, "ML_STUDIO_PREDICTOR_DEVICE": sizes.device}
    say(f"  the studio's API with its predictor on device {sizes.device!r}…")
    with api_server(env, ctx.work / "api.log") as (_, url):
        caller = Caller(url, token, image.read_bytes())
        studio = api_latency(caller, model, 5, sizes.requests)
        answer = requests.get(f"{url}{PREFIX}/predictor", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        predictor = answer.json() if answer.ok else {"status": answer.status_code}
    details["studio"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in studio.items()}
    details["predictor"] = {k: predictor.get(k) for k in ("running", "device", "rss_bytes")}
    say("  direct warm model.predict in a process of its own…")
    direct = run_child(DIRECT_PREDICT, [str(model), str(image), sizes.device, "5", str(sizes.requests)], 180)
    details["direct"] = {"p50_ms": round(direct["p50_ms"], 3), "runs": direct["runs"]}
    details["ratio_p50"] = round(studio["p50_ms"] / direct["p50_ms"], 3)
    details["note"] = "POST /predict p50 (HTTP, decoding, the predictor's round trip) over model.predict p50"
    problems = []
    if str(predictor.get("device")) != sizes.device:
        problems.append(f"the predictor runs on {predictor.get('device')!r}, expected {sizes.device!r}")
    say(f"  POST /predict p50 {studio['p50_ms']:.1f} ms, direct {direct['p50_ms']:.1f} ms: {details['ratio_p50']}x")
    return problems


# -- 5. tuning trials serialised by the leases


def check_tune(ctx: Context, details: dict[str, Any]) -> list[str]:
    from mlcore.tuning.spec import TuneSpec
    from mlcore.tuning.submit import cancel_study, start_study, study_report

    sizes, settings = ctx.sizes, settings_now()
    spec = TuneSpec(
        study="gpu-check",
        dataset_path=str(ctx.dataset),
        epochs=sizes.trial_epochs,
        trials=2,
        parallel=2,  # both queued at once: only the GPU's lease keeps them apart
        pruner="none",
        imgsz=sizes.imgsz,
        batch_size=sizes.batch,
        workers=sizes.workers,
        device=sizes.device,
    )
    say(f"  a study of 2 trials, parallel=2, on device {sizes.device!r}…")
    try:
        coordinator = wait_job(ctx, start_study(spec, settings), "the study's coordinator")
    except BaseException:
        with contextlib.suppress(Exception):
            cancel_study("gpu-check", settings)  # its coordinator and the trials it queued
        raise
    report = study_report("gpu-check", settings)
    store = open_store(settings)
    trials = [store.get(row["job"]) for row in report["trials"] if row.get("job")]
    details["counts"] = report["counts"]
    details["coordinator"] = job_times(coordinator)
    origin = min((j.created for j in trials), default=0.0)
    details["trials"] = [
        job_times(j)
        | {"lease_from_s": round((j.started or 0) - origin, 2), "lease_until_s": round((j.ended or 0) - origin, 2)}
        for j in sorted(trials, key=lambda j: j.started or 0)
    ]
    problems = []
    if len(trials) != 2 or any(j.state is not JobState.COMPLETED for j in trials):
        problems.append(f"expected 2 completed trials, got {[j.state.value for j in trials]} ({report['counts']})")
    leases = {j.device for j in trials}
    if leases != {ctx.expected_lease}:
        problems.append(f"the trials held leases {sorted(map(str, leases))}, expected {ctx.expected_lease!r}")
    ordered = sorted(trials, key=lambda j: j.started or 0)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if (second.started or 0) < (first.ended or 0):
            problems.append(
                f"the lease intervals overlap: trial job {second.id} got {second.device} at {second.started:.2f}, "
                f"before {first.id} ended at {first.ended:.2f}"
            )
    details["serialised"] = not any("overlap" in p for p in problems)
    say(f"  lease intervals: {[(t['lease_from_s'], t['lease_until_s']) for t in details['trials']]}")
    return problems


# -- 6. a one-node Ray cluster holding the GPU


def ray_processes(folder: Path) -> list[Any]:
    """Processes still running from the cluster in `folder` (its temp dir is in their command lines)."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if str(folder) in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


def check_ray(ctx: Context, details: dict[str, Any]) -> list[str]:
    import psutil

    from mlcore.cluster.probe import cluster_check
    from tests.ray_cluster import LocalRayCluster

    # Ray's sockets live under its temp dir, and an AF_UNIX path has at most 107 bytes: a short folder of its own
    folder = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp" if Path("/tmp").is_dir() else None))
    base = {k: v for k, v in os.environ.items() if not k.startswith("ML_STUDIO_")}
    say("  starting a local Ray head (1 GPU declared) on free ports of 127.0.0.1…")
    began = time.time()
    cluster = LocalRayCluster(folder)
    problems: list[str] = []
    try:
        cluster.start(workers=0)
        details["head_start_s"] = round(time.time() - began, 2)
        env = {
            **base,
            "ML_STUDIO_OUTPUTS": str(ctx.work / "ray-outputs"),
            "ML_STUDIO_DATASET_ROOTS": os.environ["ML_STUDIO_DATASET_ROOTS"],
            "ML_STUDIO_RAY_ADDRESS": cluster.address,
        }
        settings = load_settings(env)
        check = cluster_check(settings, force=True)
        details["cluster_check"] = {"ok": check.ok, "message": check.message}
        if not check.ok:
            raise CheckFailed(f"the local cluster did not pass the studio's check: {check.message}")
        began = time.time()
        job = submit_training_job(ctx, "yolov8n", "ray-yolov8n", ctx.sizes.ray_epochs, settings)
        done = wait_job(ctx, job, "the training on Ray", settings)
        details["training"] = job_times(done) | {"wall_s": round(time.time() - began, 2), "node": done.node}
        details["training"]["cuda_in_log"] = used_cuda(done)
        if ctx.sampler is not None:
            details["training"]["nvml"] = ctx.sampler.window(began, time.time())
        if done.executor != "ray":
            problems.append(f"the training ran on the {done.executor!r} executor, not on Ray")
        if done.device != ctx.expected_lease:
            problems.append(f"the Ray job held {done.device!r}, expected {ctx.expected_lease!r}")
        if ctx.gpu and not details["training"]["cuda_in_log"]:
            problems.append("Ultralytics' log on the Ray node names no CUDA:0 device: it did not train on the GPU")
    finally:
        cancel_open_jobs(ctx)  # a job left running on the cluster goes with it
        cluster.stop()
        left = ray_processes(folder)
        for process in left:
            try:
                process.kill()
            except psutil.Error:
                pass
        details["processes_left_after_stop"] = len(left)
        shutil.rmtree(folder, ignore_errors=True)
    if left:
        problems.append(f"{len(left)} Ray process(es) outlived the stop of the head's group (killed)")
    return problems


# -- running the checks


@dataclass
class Budget:
    seconds: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """CheckTimeout in this (the main) thread after `seconds`."""

    def ring(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"the check ran past its {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(max(1, int(seconds)))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def error_text(exc: BaseException) -> str:
    """The error's first lines and where it was raised."""
    lines = (str(exc) or repr(exc)).strip().splitlines()
    text = f"{type(exc).__name__}: " + "\n".join(lines[:ERROR_LINES])
    if len(lines) > ERROR_LINES:  # a log's tail, or a child's traceback: its end says the most
        text += "\n…\n" + "\n".join(lines[max(ERROR_LINES, len(lines) - LOG_LINES) :])
    if not isinstance(exc, CheckFailed | CheckTimeout):
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        text += "\n  at " + " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    return text


FUNCTIONS: dict[str, Callable[[Context, dict[str, Any]], list[str]]] = {
    "train": check_train,
    "evaluate": check_evaluate,
    "export": check_export,
    "predict": check_predict,
    "tune": check_tune,
    "ray": check_ray,
}


def run_check(number: int, name: str, ctx: Context, timeout_s: int, budget: Budget) -> dict[str, Any]:
    result: dict[str, Any] = {"number": number, "name": name, "status": "failed", "seconds": 0.0}
    left = budget.left()
    if left < MIN_START_S:
        result["error"] = f"not run: only {left:.0f} s of the {budget.seconds:.0f} s budget were left"
        say(f"{number} {name}: {result['error']}")
        return result
    limit = int(min(timeout_s, left))
    say(f"{number} {name} (at most {limit} s)…")
    details: dict[str, Any] = {}
    started = time.monotonic()
    try:
        with alarm(limit):
            problems = FUNCTIONS[name](ctx, details)
        result["status"] = "failed" if problems else "passed"
        if problems:
            result["error"] = "; ".join(problems)
    except (Exception, SystemExit, CheckTimeout) as exc:  # every failure is recorded and the next check runs
        result["error"] = error_text(exc)
    finally:
        result["seconds"] = round(time.monotonic() - started, 1)
        cancelled = cancel_open_jobs(ctx)
        if cancelled:
            details["cancelled_jobs"] = cancelled
        if ctx.gpu:
            details["gpu_processes_after"] = gpu_processes()
        result["details"] = details
    say(
        f"{number} {name}: {result['status']} in {result['seconds']} s"
        + (f": {result['error']}" if "error" in result else "")
    )
    return result


def gpu_processes(wait_s: float = 1.0) -> list[dict[str, Any]]:
    """The processes that hold memory on the GPUs a moment after a check (none of the check's should be left)."""
    time.sleep(wait_s)
    return [
        {"gpu": gpu.index, "pid": p.pid, "name": p.name, "used_memory_mb": p.used_memory_mb}
        for gpu in read_gpus().gpus
        for p in gpu.processes
    ]


def gpu_header() -> dict[str, Any]:
    """The GPU(s) as NVML and nvidia-smi report them, and the software that drives them."""
    inventory = read_gpus()
    header: dict[str, Any] = {
        "driver": inventory.driver_version,
        "cuda_driver": inventory.cuda_driver_version,
        "gpus": [
            {"index": g.index, "name": g.name, "memory_total_mb": g.memory_total_mb, "memory_used_mb": g.memory_used_mb}
            for g in inventory.gpus
        ],
    }
    if inventory.gpus:
        header["name"] = inventory.gpus[0].name
        header["memory_total_mb"] = inventory.gpus[0].memory_total_mb
    smi = shutil.which("nvidia-smi")
    if smi:
        query = "--query-gpu=index,name,driver_version,memory.total,memory.used,power.limit"
        try:
            out = subprocess.run([smi, query, "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
            header["nvidia_smi"] = out.stdout.strip().splitlines()
        except (OSError, subprocess.TimeoutExpired) as exc:
            header["nvidia_smi"] = f"failed: {exc}"
    versions = {}
    for package in ("torch", "ultralytics", "onnxruntime", "onnxruntime-gpu", "tensorrt", "ray", "nvidia-ml-py"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    header["versions"] = versions
    try:
        import onnxruntime

        header["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        header["onnxruntime_providers"] = None
    return header


def write(out: Path, summary: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    os.replace(tmp, out)


def selected(values: list[str] | None, dry_run: bool) -> list[str]:
    if not values:
        return list(DRY_RUN_CHECKS if dry_run else CHECKS)
    chosen = []
    for value in values:
        name = CHECKS[int(value) - 1] if value.isdigit() and 1 <= int(value) <= len(CHECKS) else value
        if name not in CHECKS:
            raise SystemExit(f"--checks {value!r}: use numbers 1-{len(CHECKS)} or names ({', '.join(CHECKS)})")
        chosen.append(name)
    return [c for c in CHECKS if c in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="the JSON summary")
    parser.add_argument("--checks", nargs="+", help=f"numbers or names of the checks to run (default all: {CHECKS})")
    parser.add_argument("--images", type=int, help="demo dataset size (default 300)")
    parser.add_argument("--imgsz", type=int, help="image size (default 320)")
    parser.add_argument("--epochs", type=int, help="epochs of check 1's trainings (default 10)")
    parser.add_argument("--budget", type=float, help="seconds for all checks (default 450)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed) instead of removing it")
    parser.add_argument("--cpu-dry-run", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    dry = options.cpu_dry_run
    for name in [k for k in os.environ if k.startswith("ML_STUDIO_")]:  # the checks' own folders, nothing else
        del os.environ[name]
    work = Path(tempfile.mkdtemp(prefix="ml-studio-gpu-check-"))
    os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
    os.environ["ML_STUDIO_DATASET_ROOTS"] = str(work / "data")
    summary: dict[str, Any] = {"gpu": None}
    try:
        return run(options, dry, work, summary)
    finally:
        summary["seconds"] = round(time.monotonic() - BEGAN, 1)
        write(options.out, summary)
        print(json.dumps(summary, default=str))
        if options.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(options: argparse.Namespace, dry: bool, work: Path, summary: dict[str, Any]) -> int:
    if not dry:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1")
        inventory = None if hidden else read_gpus()
        probe = None if hidden or not inventory.available else probe_torch(settings_now())
        if probe is None or not probe.cuda_available:
            why = (
                "CUDA_VISIBLE_DEVICES hides every GPU"
                if hidden
                else (inventory.error if not inventory.available else probe.error or "PyTorch sees no CUDA device")
            )
            print(NO_GPU, flush=True)
            summary["skipped"] = f"{NO_GPU} ({why})"
            return 0
        summary["gpu"] = gpu_header() | {"torch": probe.to_dict()}
    else:
        summary["dry_run"] = "cpu"
    sizes = Sizes(
        device="cpu" if dry else "0",
        images=options.images or (40 if dry else 300),
        imgsz=options.imgsz or (64 if dry else 320),
        epochs=options.epochs or (1 if dry else 10),
        batch=8 if dry else 16,
        workers=0 if dry else 2,
        requests=20 if dry else 50,
        trial_epochs=1 if dry else 2,
        ray_epochs=1 if dry else 3,
    )
    budget = Budget(options.budget or (1800.0 if dry else 450.0))
    names = selected(options.checks, dry)
    summary |= {
        "settings": {**sizes.__dict__, "budget_s": budget.seconds, "checks": names},
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "checks": [],
    }
    say(f"{'CPU dry run' if dry else summary['gpu'].get('name')}: checks {', '.join(names)}; work folder {work}")
    dataset = make_demo_dataset(work / "data" / "demo", images=sizes.images, imgsz=sizes.imgsz, seed=0).root
    sampler = None if dry else GpuSampler()
    ctx = Context(sizes=sizes, work=work, dataset=dataset, data_yaml=ultralytics_copy(dataset, work), sampler=sampler)
    try:
        for number, name in enumerate(CHECKS, start=1):
            if name not in names:
                continue
            timeout = TIMEOUT_S[name] * (DRY_RUN_SLOWER if dry else 1)
            summary["checks"].append(run_check(number, name, ctx, timeout, budget))
            write(options.out, summary)  # what is done survives a kill of the rest
    finally:
        if sampler is not None:
            sampler.close()
    statuses = [c["status"] for c in summary["checks"]]
    summary["passed"], summary["failed"] = statuses.count("passed"), statuses.count("failed")
    summary["ok"] = summary["failed"] == 0
    say(f"{summary['passed']} passed, {summary['failed']} failed")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
