"""The export job, run by the worker process: convert, check, time, and write the model card last.

In `exports/{model_name}_{timestamp}/`:

    best.onnx, best_openvino_model/, best.torchscript ...   the exported models
    parity/source.npz, parity/{format}.npz                  both models' predictions on the checked split
    model_card.json   classes, imgsz, shapes, source sha256, run and dataset, the export arguments,
                      library versions, the CPU's capabilities, each format's precision, the precision
                      its runtime is told to compute at (`inference_precision`, OpenVINO's hint, which
                      every consumer compiles with) and the one it reported (`ran_at`), its parity
                      verdict and latency (its presence means the export is complete: a crashed or
                      cancelled job leaves none, and is not listed)
    export_config.yaml, export.log, progress.json

Conversions run in a staging folder and move in when they succeed. Stop ends after the current step:
what is done is kept and described.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.class_names import class_names
from mlcore.core.errors import TaskError
from mlcore.core.hashing import file_sha256
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.devices.leases import Lease
from mlcore.engine.heads import exported_head, head_label, ultralytics_head
from mlcore.engine.models import load_yolo
from mlcore.evaluation.task import predict_split
from mlcore.export.formats import FORMATS
from mlcore.export.latency import time_model
from mlcore.export.openvino_runtime import install, pin, ran_at
from mlcore.export.parity import ParityContext, compare
from mlcore.export.precision import INFERENCE_HINTS, cpu_capabilities
from mlcore.export.spec import ExportSpec
from mlcore.export.submit import format_precision
from mlcore.jobs.ending import run_to_end
from mlcore.jobs.store import Job, JobStore, ProgressState

LIBRARIES = ("ultralytics", "torch", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt")
LATENCY_IMAGES = 16
RECORDED = ("task", "names", "trained_imgsz")  # in the job's spec beside the ExportSpec fields


class ExportStopped(Exception):
    """Stop was asked for: what is done is kept."""


MAX_DET = 300  # boxes the NMS-free head's top-k keeps (Ultralytics' max_det default)


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def io_shapes(path: Path, name: str, imgsz: int, nc: int, nms_free: bool = False) -> dict[str, Any]:
    """Input and output shapes as the exported file declares them (Ultralytics' own for formats that do not)."""
    try:
        if name == "onnx":
            import onnx

            graph = onnx.load(str(path), load_external_data=False).graph

            def dims(value: Any) -> list:
                return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]

            return {"input": dims(graph.input[0]), "output": dims(graph.output[0])}
        if name == "openvino":
            import openvino as ov

            model = ov.Core().read_model(str(next(path.glob("*.xml"))))
            return {
                "input": str(model.inputs[0].get_partial_shape()),
                "output": str(model.outputs[0].get_partial_shape()),
            }
    except Exception as exc:  # the card says so; the export itself is fine
        return {"error": f"shapes not read: {type(exc).__name__}"}
    if nms_free:  # x1, y1, x2, y2, score, class for the top max_det boxes
        return {"input": [1, 3, imgsz, imgsz], "output": [1, MAX_DET, 6]}
    anchors = sum((imgsz // s) ** 2 for s in (8, 16, 32))
    return {"input": [1, 3, imgsz, imgsz], "output": [1, 4 + nc, anchors]}


class Progress:
    """progress.json for the page: the step being done, and the share of all steps done; and how long each
    step took (`timings`, seconds), for the model card."""

    def __init__(self, folder: RunFolder, steps: int) -> None:
        self.folder, self.steps, self.done = folder, max(1, steps), 0
        self.timings: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def finish(self) -> None:
        if self._current is not None:
            name, started = self._current
            self.timings[name] = round(time.perf_counter() - started, 3)
            self._current = None

    def step(self, text: str) -> None:
        self.finish()
        if self.folder.stop_request.exists():
            raise ExportStopped
        self._current = (text, time.perf_counter())
        write_json_atomically(
            self.folder.progress,
            {
                "state": ProgressState.RUNNING,
                "step": text,
                "percent": round(100 * self.done / self.steps, 1),
                "updated": time.time(),
            },
        )
        self.done += 1


def run(job: Job, settings: Settings, store: JobStore) -> int:
    """Export, check and time the job's model; the process exit code."""
    return run_to_end(store, job, lambda: export(job, settings))


def convert(source: Path, name: str, spec: ExportSpec, data_yaml: Path | None, device: str, into: Path) -> Path:
    """One conversion with Ultralytics' exporter, moved into `into` once it succeeded."""
    precision = format_precision(name, spec.precision)
    args: dict[str, Any] = {"format": name, "imgsz": spec.imgsz, "device": device, "batch": 1, "dynamic": spec.dynamic}
    if name == "onnx":
        args |= {"simplify": spec.simplify, **({"opset": spec.opset} if spec.opset else {})}
    if precision == "fp16":
        args["half"] = True
    if precision == "int8":
        args |= {"int8": True, "data": str(data_yaml)}  # calibrated on the staged view of the model's own dataset
    args |= ultralytics_head(spec.nms_free)
    try:
        made = Path(load_yolo(source).export(**args))
    except Exception as exc:
        raise TaskError(
            f"the {FORMATS[name].title} conversion failed ({type(exc).__name__}: {str(exc)[:300]}); the end of "
            "export.log says more. Nothing of it is kept."
        ) from exc
    if spec.nms_free and exported_head(made, name) is False:
        if made.is_dir():
            shutil.rmtree(made, ignore_errors=True)
        else:
            made.unlink(missing_ok=True)
        raise TaskError(
            f"{FORMATS[name].title} dropped the NMS-free head: Ultralytics exported the NMS head instead. Nothing of "
            "it is kept; turn NMS-free off for this format, or use onnx or openvino."
        )
    target = into / made.name
    if target.exists():
        raise TaskError(f"{target} exists already; the export folder was written by someone else.")
    shutil.move(str(made), str(target))
    return target


def export(job: Job, settings: Settings) -> None:
    folder = RunFolder(Path(job.run_dir))
    spec = ExportSpec.from_dict({k: v for k, v in job.spec.items() if k not in RECORDED})
    names = class_names(job.spec["names"])
    lease = Lease.parse(job.device)
    device = lease.ultralytics_device
    staging = settings.outputs_root / paths.STAGING_DIR / job.id
    work = staging / "convert"
    work.mkdir(parents=True, exist_ok=True)
    source = work / Path(spec.model_path).name  # the exporter writes beside its input: never beside the user's file
    shutil.copyfile(spec.model_path, source)
    progress = Progress(folder, steps=len(spec.formats) * (3 if spec.parity else 2) + (2 if spec.parity else 1))
    data_yaml, images, dataset, split = None, [], None, "val"
    if spec.dataset_path:
        dataset = load_dataset(Path(spec.dataset_path))
        split = spec.split if dataset.splits.get(spec.split) else "val"
        images = list(dataset.splits[split])
        dataset = replace(dataset, splits={**dataset.splits, split: images})
        data_yaml = stage_dataset(dataset, staging / "data")
    card: dict[str, Any] = {
        "classes": names,
        "imgsz": spec.imgsz,
        "nms_free": spec.nms_free,
        "head": head_label(spec.nms_free),
        "source": {"path": spec.model_path, "sha256": file_sha256(source), "run": _run_of(Path(spec.model_path))},
        "dataset": spec.dataset_path or None,
        "split": spec.split if spec.parity else None,
        "export_args": spec.to_dict(),
        "versions": versions(),
        "device": str(lease),
        "cpu_capabilities": list(cpu_capabilities()),  # OpenVINO's reading: BF16 there means bf16 can run
        "formats": [],
        "stopped": False,
    }
    made: dict[str, Path] = {}
    try:
        for name in spec.formats:
            progress.step(f"converting to {FORMATS[name].title}")
            made[name] = convert(source, name, spec, data_yaml, device, Path(folder.path))
            if (hint := inference_precision(name, spec.precision)) is not None:
                pin(made[name], hint)  # the checks and the timing compile at it (the card is written last)
        install()
        parity: dict[str, dict] = {}
        if spec.parity and dataset is not None and data_yaml is not None:
            checked = (dataset, split, images, data_yaml)
            parity = check_parity(spec, made, source, checked, job.spec.get("trained_imgsz"), device, folder, progress)
        latency_images = [str(i) for i in images[:LATENCY_IMAGES]] or [_blank(staging, spec.imgsz)]
        progress.step("timing the source model (PyTorch)")
        free = spec.nms_free  # the source is timed with the head it was exported with
        card["latency_source"] = time_model(str(source), latency_images, spec.imgsz, spec.timed_runs, nms_free=free)
        if not lease.is_cpu:  # the job has a GPU: PyTorch's figure there too, beside the CPU one
            card["latency_source_gpu"] = time_model(
                str(source), latency_images, spec.imgsz, spec.timed_runs, "0", nms_free=free
            )
        for name, path in made.items():
            progress.step(f"timing {FORMATS[name].title}")
            on = "0" if FORMATS[name].needs_gpu else "cpu"  # a TensorRT engine runs on its GPU only
            latency = time_model(str(path), latency_images, spec.imgsz, spec.timed_runs, on, dynamic=spec.dynamic)
            card["formats"].append(_format_entry(name, path, spec, names, parity.get(name)) | {"latency": latency})
    except ExportStopped:
        card["stopped"] = True
        done = {f["format"] for f in card["formats"]}
        card["formats"] += [_format_entry(n, p, spec, names, None) for n, p in made.items() if n not in done]
    progress.finish()
    card["timings_s"] = progress.timings
    if card["formats"]:
        write_json_atomically(folder.path / paths.MODEL_CARD, card)  # last: its presence means the export is usable
    state = ProgressState.STOPPED if card["stopped"] else ProgressState.COMPLETED
    write_json_atomically(folder.progress, {"state": state, "percent": 100.0, "updated": time.time()})
    shutil.rmtree(staging, ignore_errors=True)


def inference_precision(name: str, precision: str) -> str | None:
    """The INFERENCE_PRECISION_HINT an OpenVINO export compiles with; None for runtimes that have no such hint
    (they compute at the precision the model is stored at)."""
    return INFERENCE_HINTS[format_precision(name, precision)] if name == "openvino" else None


def _format_entry(name: str, path: Path, spec: ExportSpec, names: dict[int, str], parity: dict | None) -> dict:
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    return {
        "format": name,
        "path": str(path),
        "precision": format_precision(name, spec.precision),
        "inference_precision": inference_precision(name, spec.precision),
        "runtime": FORMATS[name].runtime,
        "bytes": size,
        "shapes": io_shapes(path, name, spec.imgsz, len(names), spec.nms_free),
        "parity": parity,
    }


def check_parity(
    spec: ExportSpec,
    made: dict[str, Path],
    source: Path,
    checked_on: tuple[Any, str, list[str], Path],
    trained_imgsz: int | None,
    device: str,
    folder: RunFolder,
    progress: Progress,
) -> dict[str, dict]:
    """Each export against the source, through the studio's evaluation on the same split
    (`checked_on`: the dataset, the split, its images and the staged data.yaml)."""
    dataset, split, images, data_yaml = checked_on
    runs = folder.path / paths.PARITY_DIR
    runs.mkdir(exist_ok=True)
    progress.step("evaluating the source model")
    # both at the same square letterbox, as a fixed-size export is served (a .pt's own validation pads its
    # batches to rectangles, so comparing with that would blame the export for a difference of inputs)
    reference, _ = predict_split(  # with the head the export holds: the two heads differ by design
        str(source),
        dataset,
        images,
        data_yaml,
        split,
        spec.imgsz,
        device,
        runs / "source_val",
        rect=False,
        nms_free=spec.nms_free,
    )
    reference.save(runs / "source.npz")
    checked: dict[str, dict] = {}
    calibration = len(dataset.splits.get("val") or [])
    for name, path in made.items():
        progress.step(f"evaluating {FORMATS[name].title}")
        imgsz = spec.check_imgsz or spec.imgsz
        predicted, _ = predict_split(
            str(path), dataset, images, data_yaml, split, imgsz, device, runs / f"{name}_val", rect=False
        )
        predicted.save(runs / f"{name}.npz")
        ran = ran_at(path) if name == "openvino" else None  # as the compile of this check reported it
        context = ParityContext(
            precision=format_precision(name, spec.precision),
            dynamic=spec.dynamic,
            export_imgsz=spec.imgsz,
            check_imgsz=imgsz,
            trained_imgsz=trained_imgsz,
            calibration_images=calibration,
            ran_at=ran,
        )
        checked[name] = compare(reference, predicted, context, spec.allowed_difference, spec.confidence_threshold)
    for leftover in runs.glob("*_val"):
        shutil.rmtree(leftover, ignore_errors=True)
    return checked


def _run_of(model: Path) -> str | None:
    """project/experiment when the model is a studio run's weights."""
    return "/".join(model.parts[-4:-2]) if model.parent.name == paths.WEIGHTS_DIR else None


def _blank(folder: Path, imgsz: int) -> str:
    """A grey image to time on, for an export made without a dataset."""
    from PIL import Image

    path = folder / "blank.jpg"
    Image.new("RGB", (imgsz, imgsz), (114, 114, 114)).save(path)
    return str(path)
