"""What the studio's prediction paths cost against Ultralytics called directly, measured in the same run.

A yolov8n is trained for one epoch at 640 px on a small demo dataset by the studio's training job (its
weights are nearly random, but compute does not depend on what a model learned), exported to ONNX by
the studio's export job, and a folder of 640x480 JPEGs is written. Then, one after the other (never at
the same time, so neither competes with the other for the cores):

- the direct reference, in a child process of its own that imports Ultralytics and keeps the models warm:
  `YOLO(model).predict(path)` on one 640x480 JPEG, --requests times after a warm-up, for the .pt and the
  ONNX (p50, p95); `YOLO(pt).predict([image] * 8)` on the decoded image, repeated; and
  `for p in files: model.predict(p)` over the folder. All of it twice: with PyTorch as Ultralytics sets it
  up (on the CPU its device set-up leaves one core idle: 1 thread of 2), then with every core, as the
  studio's predictor and batch jobs run it; each goal is judged on the stricter of the two ratios, so that
  it shows the studio's own overhead;
- the studio: `python -m mlcore serve` on a free port of 127.0.0.1 (its own process group), and
  1. POST /api/v1/ml/predict with that JPEG, --requests times after a warm-up, for the .pt and the ONNX
     (p50, p95 of the client's wall time); goal p50 <= 1.15x the direct call's;
  2. 8 concurrent clients (threads, one HTTP connection each) sending the .pt model --per-client requests
     each: images per second; goal >= 0.8x direct batches of 8;
  3. the API process's resident memory once both models have been loaded through it (the models live in
     its predictor child, whose memory is printed too); goal <= 300 MB (MiB, as the other benchmarks);
  4. a batch prediction job (submit_predictions) over the folder: images per second by the job's own
     timing (summary.json) and by its wall time (worker start to end); goal >= 0.9x the direct loop.

It prints a table (figure, references, ratios, goal met or not) and, as stdout's last line, the numbers as
JSON (also written to --json PATH). The CPU that other processes (not this benchmark's) take during each
phase is measured; above 0.1 core the figures are flagged as unreliable. About 8 minutes with the defaults
on 2 quiet CPU cores.

    python benchmarks/predict_speed.py [--images 1000] [--requests 100] [--per-client 16] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.workspace import studio_workspace, wait  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import make_demo_dataset  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402
from mlcore.export.spec import ExportSpec  # noqa: E402
from mlcore.export.store import export_result  # noqa: E402
from mlcore.export.submit import submit_export  # noqa: E402
from mlcore.predict.spec import PredictSpec  # noqa: E402
from mlcore.predict.submit import submit_predictions  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import start  # noqa: E402

PREDICT = "/api/v1/ml/predict"
CLIENTS = 8
WIDTH, HEIGHT = 640, 480
GOALS = {"latency": 1.15, "throughput": 0.8, "memory_mb": 300.0, "batch": 0.9}
REFERENCES = ("ultralytics", "all_cores")  # the direct process's PyTorch threads: as Ultralytics sets them, all
OTHER_LOAD_LIMIT = 0.1  # cores other processes may take during a phase before its figures are flagged
BEGAN = time.perf_counter()


def say(text: str) -> None:
    print(f"[{time.perf_counter() - BEGAN:5.0f} s] {text}", flush=True)


class OtherLoad:
    """CPU used by processes outside this benchmark's own tree (someone's tests, say) while each phase runs:
    on a shared machine they slow every figure down, so each phase reports how many cores they took."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s, self.began = every_s, time.time()
        self.phases: dict[str, float] = {}
        self._busy, self._seen = 0.0, {}
        self._lock, self._stop = threading.Lock(), threading.Event()
        threading.Thread(target=self._run, name="other-load", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def _sample(self) -> None:
        infos = {p.pid: p.info for p in psutil.process_iter(["ppid", "cpu_times", "create_time"], ad_value=None)}
        me, mine = os.getpid(), set()
        for pid in infos:
            chain, up = [], pid
            while up and up not in chain and up != me and up not in mine:
                chain.append(up)
                up = (infos.get(up) or {}).get("ppid")
            if up == me or up in mine:
                mine.update(chain)
        busy = 0.0
        for pid, info in infos.items():
            times = info.get("cpu_times")
            if pid == me or pid in mine or times is None:
                continue
            total = times.user + times.system
            before = self._seen.get(pid, 0.0 if (info.get("create_time") or 0) >= self.began else total)
            busy += max(0.0, total - before)
            self._seen[pid] = total
        with self._lock:
            self._busy += busy

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._sample()
        with self._lock:
            busy, started = self._busy, time.perf_counter()
        try:
            yield
        finally:
            self._sample()
            with self._lock:
                self.phases[name] = round((self._busy - busy) / max(time.perf_counter() - started, 1e-6), 3)

    def close(self) -> None:
        self._stop.set()


# -- the studio's jobs: a model, its ONNX export, a batch prediction


def train(dataset: Path, device: str) -> Path:
    spec = TrainSpec(
        dataset_path=str(dataset),
        model_architecture="yolov8n",
        epochs=1,
        imgsz=640,
        batch_size=8,
        workers=0,
        device=device,
        project="bench",
        experiment="predict-yolov8n-640",
        advanced={"val": False},
    )
    say("training yolov8n at 640 for 1 epoch…")
    job = start(spec, load_settings())
    wait(job.id)
    return Path(job.run_dir) / "weights" / "best.pt"


def export_onnx(model: Path, dataset: Path, device: str) -> Path:
    say("exporting it to ONNX…")
    spec = ExportSpec(model_path=str(model), formats=("onnx",), dataset_path=str(dataset), parity=False, device=device)
    done = wait(submit_export(spec, load_settings()).id)
    (onnx,) = [Path(f["path"]) for f in export_result(done["folder"])["formats"] if f["format"] == "onnx"]
    return onnx


def batch_job(model: Path, folder: Path, device: str) -> dict:
    say(f"batch prediction job over {folder.name}/ (the API is stopped)…")
    job = submit_predictions(PredictSpec(model_path=str(model), source=str(folder), device=device), load_settings())
    done = wait(job.id)
    summary = json.loads((done["folder"] / paths.SUMMARY_FILE).read_text())
    images = int(summary["images"])
    return {
        "images": images,
        "job_seconds": summary["seconds"],
        "job_images_per_second": images / summary["seconds"],
        "wall_seconds": round(done["seconds"], 2),
        "wall_images_per_second": images / done["seconds"],
    }


def image_folder(dataset: Path, folder: Path, count: int) -> list[Path]:
    """`count` 640x480 JPEGs made from the demo images (resized, every other round mirrored)."""
    sources = sorted(p for p in (dataset / "images").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    folder.mkdir(parents=True)
    written = []
    for n in range(count):
        with Image.open(sources[n % len(sources)]) as opened:
            picture = opened.convert("RGB").resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
        if (n // len(sources)) % 2:
            picture = ImageOps.mirror(picture)
        written.append(folder / f"image_{n:05d}.jpg")
        picture.save(written[-1], quality=90)
    return written


# -- the direct reference (a child process: python predict_speed.py --direct CONFIG OUT)


def direct_reference(config: dict) -> dict:
    """Ultralytics called directly, models kept loaded: what the studio's paths are measured against. Twice:
    as Ultralytics sets PyTorch up (on the CPU, its device set-up leaves one core idle), then with every core
    (as the studio's predictor and batch jobs run it), so that a ratio shows the studio's overhead alone."""
    import cv2
    import torch
    from ultralytics import YOLO

    models = {name: YOLO(config[name], task="detect") for name in ("pt", "onnx")}
    found = {}
    for mode in REFERENCES:
        if mode == "all_cores":  # after the first mode every model's predictor is set up: nothing resets it
            torch.set_num_threads(os.cpu_count() or 1)
        found[mode] = reference_figures(models, cv2.imread(config["image"]), config)
        found[mode]["torch_threads"] = torch.get_num_threads()
    return found


def reference_figures(models: dict, decoded: object, config: dict) -> dict:
    device, image, warmup, repeats = config["device"], config["image"], config["warmup"], config["requests"]
    found: dict = {}
    for name, model in models.items():
        for _ in range(warmup):
            model.predict(image, device=device, verbose=False)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model.predict(image, device=device, verbose=False)
            times.append(time.perf_counter() - started)
        found[f"latency_{name}"] = percentiles(times)
    model, batch = models["pt"], [decoded] * CLIENTS
    model.predict(batch, device=device, verbose=False)
    started = time.perf_counter()
    for _ in range(config["per_client"]):
        model.predict(batch, device=device, verbose=False)
    seconds = time.perf_counter() - started
    found["batched"] = {
        "images": CLIENTS * config["per_client"],
        "seconds": round(seconds, 2),
        "images_per_second": CLIENTS * config["per_client"] / seconds,
    }
    files = config["files"]
    model.predict(files[0], device=device, verbose=False)
    started = time.perf_counter()
    for path in files:
        model.predict(path, device=device, verbose=False)
    seconds = time.perf_counter() - started
    found["loop"] = {"images": len(files), "seconds": round(seconds, 2), "images_per_second": len(files) / seconds}
    return found


def run_direct(config: dict, work: Path) -> dict:
    say("direct Ultralytics reference (its own process; the API is not running)…")
    config_file, out = work / "direct-config.json", work / "direct-result.json"
    config_file.write_text(json.dumps(config))
    env = {**engine_environment(load_settings()), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, __file__, "--direct", str(config_file), str(out)], env=env, cwd=work, check=True)
    return json.loads(out.read_text())


def percentiles(seconds: list[float]) -> dict:
    """p50 and p95 in milliseconds (inclusive quantiles)."""
    if len(seconds) < 2:
        return {"p50_ms": seconds[0] * 1000, "p95_ms": seconds[0] * 1000, "n": len(seconds)}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000, "n": len(seconds)}


# -- the studio's API


@contextmanager
def api_server(env: dict[str, str], log: Path, timeout_s: float = 120) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m mlcore serve` on a free port of 127.0.0.1 in a session of its own; yields (process, url).
    Its whole process group (the predictor with it) is stopped afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(log, "ab") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlcore", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the API server exited ({server.returncode}): {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/openapi.json", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API server was not up within {timeout_s:.0f} s; see {log}")
            time.sleep(0.3)
        yield server, url
    finally:
        stop_group(server)


def stop_group(server: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        try:  # the group may outlive its leader a moment (the predictor)
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)


class Caller:
    """One client: an HTTP connection of its own, sending one JPEG to POST /predict."""

    def __init__(self, url: str, token: str, image: bytes) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.url, self.image, self.retries = f"{url}{PREDICT}", image, 0
        self.server_ms: list[float] = []
        """The answers' time_ms: the API's own time on each (decoding, the predictor's round trip)."""

    def predict(self, model: Path) -> float:
        """Seconds from sending to the parsed answer (429 answers are waited out and sent again)."""
        started = time.perf_counter()
        while True:
            answer = self.session.post(
                self.url,
                files={"file": ("image.jpg", self.image, "image/jpeg")},
                data={"model_path": str(model)},
                timeout=600,
            )
            if answer.status_code != 429:
                break
            self.retries += 1
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        body = answer.json()
        if answer.status_code != 200 or "detections" not in body:
            raise SystemExit(f"POST {PREDICT} answered {answer.status_code}: {body}")
        self.server_ms.append(float(body.get("time_ms") or 0))
        return time.perf_counter() - started


def api_latency(caller: Caller, model: Path, warmup: int, repeats: int) -> dict:
    for _ in range(warmup):  # the first starts the predictor and loads the model
        caller.predict(model)
    caller.server_ms.clear()
    found = percentiles([caller.predict(model) for _ in range(repeats)])
    return {**found, "server_p50_ms": statistics.median(caller.server_ms)}


def api_throughput(url: str, token: str, image: bytes, model: Path, per_client: int) -> dict:
    callers = [Caller(url, token, image) for _ in range(CLIENTS)]
    errors: list[BaseException] = []

    def crowd(count: int) -> float:
        gate = threading.Barrier(CLIENTS + 1)

        def client(caller: Caller) -> None:
            gate.wait()
            try:
                for _ in range(count):
                    caller.predict(model)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(c,)) for c in callers]
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        if errors:
            raise SystemExit(f"a client failed: {errors[0]!r}")
        return time.perf_counter() - started

    crowd(2)  # warm-up: every connection open, batches formed once
    seconds = crowd(per_client)
    images = CLIENTS * per_client
    return {
        "images": images,
        "seconds": round(seconds, 2),
        "images_per_second": images / seconds,
        "retries_429": sum(c.retries for c in callers),
    }


def memory(server: subprocess.Popen) -> dict:
    """Resident memory of the API process alone, and of its predictor child (for information)."""
    api = psutil.Process(server.pid)
    predictors = [p for p in api.children(recursive=True) if "mlcore.predict.service" in " ".join(p.cmdline())]
    rss = sum(p.memory_info().rss for p in predictors)
    return {
        "api_mb": api.memory_info().rss / 2**20,
        "predictor_mb": rss / 2**20 if predictors else None,
        "predictor_pids": [p.pid for p in predictors],
    }


def run_studio(pt: Path, onnx: Path, image: Path, options: argparse.Namespace, work: Path) -> dict:
    token = secrets.token_urlsafe(32)
    env = {**os.environ, "ML_STUDIO_API_TOKEN": token, "ML_STUDIO_PREDICTOR_DEVICE": options.device}
    data = image.read_bytes()
    found: dict = {}
    say("the studio's API…")
    with api_server(env, work / "api.log") as (server, url):
        caller = Caller(url, token, data)
        for name, model in (("pt", pt), ("onnx", onnx)):
            found[f"latency_{name}"] = api_latency(caller, model, options.warmup, options.requests)
            got = found[f"latency_{name}"]
            say(f"  POST {PREDICT} {name}: p50 {got['p50_ms']:.1f} ms (the API's time_ms: {got['server_p50_ms']:.1f})")
        found["memory"] = memory(server)
        found["throughput"] = api_throughput(url, token, data, pt, options.per_client)
        say(f"  {CLIENTS} clients: {found['throughput']['images_per_second']:.1f} images/s")
        found["memory_after_clients"] = memory(server)
    if found["memory"]["predictor_pids"] != found["memory_after_clients"]["predictor_pids"]:
        print("warning: the predictor process was restarted during the concurrent clients; see its log", flush=True)
    return found


# -- the report


def report(direct: dict, studio: dict, batch: dict, options: argparse.Namespace, others: dict[str, float]) -> dict:
    """The table; a goal is judged on the stricter of the two references' ratios."""
    rows = []

    def row(figure: str, value: float, unit: str, references: tuple | None = None, goal: tuple | None = None) -> None:
        entry: dict = {"figure": figure, "value": round(value, 2), "unit": unit}
        for mode, reference in zip(REFERENCES, references, strict=True) if references else ():
            entry[f"reference_{mode}"], entry[f"ratio_{mode}"] = round(reference, 2), round(value / reference, 3)
        entry["goal"], entry["met"] = "-", None
        if goal is not None:
            text, limit, lower_is_better = goal
            ratios = [entry[f"ratio_{m}"] for m in REFERENCES] if references else [value]
            judged = max(ratios) if lower_is_better else min(ratios)
            entry["goal"], entry["met"] = text, judged <= limit if lower_is_better else judged >= limit
        rows.append(entry)

    def refs(part: str, key: str) -> tuple:
        return tuple(direct[mode][part][key] for mode in REFERENCES)

    for name, label in (("pt", ".pt"), ("onnx", "ONNX")):
        ours = studio[f"latency_{name}"]
        row(
            f"POST /predict {label} p50",
            ours["p50_ms"],
            "ms",
            refs(f"latency_{name}", "p50_ms"),
            ("<= 1.15x", GOALS["latency"], True),
        )
        row(f"POST /predict {label} p95", ours["p95_ms"], "ms", refs(f"latency_{name}", "p95_ms"))
    row(
        f"{CLIENTS} clients, .pt",
        studio["throughput"]["images_per_second"],
        "img/s",
        refs("batched", "images_per_second"),
        (">= 0.8x", GOALS["throughput"], False),
    )
    row("API process RSS, 2 models", studio["memory"]["api_mb"], "MiB", None, ("<= 300 MB", GOALS["memory_mb"], True))
    row(f"API process RSS after {CLIENTS} clients", studio["memory_after_clients"]["api_mb"], "MiB")
    if studio["memory"]["predictor_mb"] is not None:
        row("predictor process RSS", studio["memory"]["predictor_mb"], "MiB")
    for key, label in (("job_images_per_second", "job's timing"), ("wall_images_per_second", "wall time")):
        row(
            f"batch job, {batch['images']} images ({label})",
            batch[key],
            "img/s",
            refs("loop", "images_per_second"),
            (">= 0.9x", GOALS["batch"], False),
        )

    threads = ", ".join(f"{m} {direct[m]['torch_threads']}" for m in REFERENCES)
    print(
        f"\nML Studio's prediction paths against direct Ultralytics calls ({options.device}, {os.cpu_count()} cores, "
        f"yolov8n 640, {WIDTH}x{HEIGHT} JPEGs, {options.requests} requests; PyTorch threads of the direct "
        f"process: {threads})"
    )
    print(
        f"{'figure':<38} {'studio':>8} {'unit':<5} {'direct':>8} {'ratio':>6} {'all cores':>9} {'ratio':>6}  "
        f"{'goal':<10} verdict"
    )
    for r in rows:
        cells = []
        for mode in REFERENCES:
            reference = r.get(f"reference_{mode}")
            width = 9 if mode == "all_cores" else 8
            cells += (
                [f"{'-':>{width}}", f"{'-':>6}"]
                if reference is None
                else [f"{reference:>{width}.2f}", f"{r[f'ratio_{mode}']:>5.2f}x"]
            )
        verdict = "-" if r["met"] is None else "met" if r["met"] else "NOT MET"
        print(f"{r['figure']:<38} {r['value']:>8.2f} {r['unit']:<5} {' '.join(cells)}  {r['goal']:<10} {verdict}")
    print(
        f"direct: YOLO(model).predict(path) per image; predict([decoded image] * {CLIENTS}); a predict(path) loop over "
        "the folder; 'direct' as Ultralytics sets PyTorch up, 'all cores' with torch.set_num_threads(every core). "
        f"Goals are judged on the stricter ratio. 429 answers waited out: {studio['throughput']['retries_429']}."
    )
    print("cores used by other processes meanwhile: " + ", ".join(f"{k} {v:.2f}" for k, v in others.items()))
    if max(others.values(), default=0) > OTHER_LOAD_LIMIT:
        print(
            f"WARNING: other processes took more than {OTHER_LOAD_LIMIT} of a core during a phase; its figures "
            "are not reliable: run it again on a quiet machine."
        )
    settings = {
        "images": options.images,
        "requests": options.requests,
        "per_client": options.per_client,
        "warmup": options.warmup,
        "device": options.device,
        "cpus": os.cpu_count(),
    }
    return {
        "rows": rows,
        "direct": direct,
        "studio": studio,
        "batch_job": batch,
        "other_processes_cores": others,
        "settings": settings,
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--direct":  # the reference's child process
        result = direct_reference(json.loads(Path(sys.argv[2]).read_text()))
        Path(sys.argv[3]).write_text(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="640x480 JPEGs in the batch job's folder")
    parser.add_argument("--requests", type=int, default=100, help="timed single-image requests per model")
    parser.add_argument("--per-client", type=int, default=16, help=f"requests each of the {CLIENTS} clients sends")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests before the timed ones")
    parser.add_argument("--device", default="cpu", help="cpu (default) or a GPU index, for every path")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    options = parser.parse_args()
    with studio_workspace("ml-studio-predict-bench-") as work:
        demo = make_demo_dataset(work / "data" / "demo", images=24, imgsz=640, seed=3).root
        pt = train(demo, options.device)
        onnx = export_onnx(pt, demo, options.device)
        say(f"writing {options.images} {WIDTH}x{HEIGHT} JPEGs…")
        files = image_folder(demo, work / "data" / "predict", options.images)
        config = {
            "pt": str(pt),
            "onnx": str(onnx),
            "image": str(files[0]),
            "files": [str(f) for f in files],
            "warmup": options.warmup,
            "requests": options.requests,
            "per_client": options.per_client,
            "device": options.device,
        }
        others = OtherLoad()
        with others.phase("direct reference"):
            direct = run_direct(config, work)
        with others.phase("API"):
            studio = run_studio(pt, onnx, files[0], options, work)
        with others.phase("batch job"):
            batch = batch_job(pt, files[0].parent, options.device)
        others.close()
        result = report(direct, studio, batch, options, others.phases)
    result["seconds"] = round(time.perf_counter() - BEGAN, 1)
    print(f"whole benchmark: {result['seconds']:.0f} s")
    if options.json:
        options.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
