"""How long a training will take before it starts, for a first training on a dataset (earlier runs of the same
architecture and size give the estimate otherwise, runs/store.epoch_seconds): a few batches timed in a child
process on the device the training would use.

    timing = time_a_few_batches(spec, settings)   # BatchTiming(seconds_per_batch=2.4, batches_per_epoch=22, ...)
    timing.sentence(spec.epochs)                  # "about 2.4 s per batch × 22 batches: about 53 s per epoch, ..."

It reads the dataset's staged view (nothing is written into the user's folder) and writes only under
outputs/staging/timing-*/, removed afterwards. It refuses while a job uses that device: both would be slower
and the figure wrong.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass

from mlcore.core import paths
from mlcore.core.errors import SubmitError
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.datasets.loader import usable_split
from mlcore.datasets.staging import stage_dataset
from mlcore.devices.gpus import read_gpus
from mlcore.devices.leases import CPU
from mlcore.engine.env import engine_environment
from mlcore.jobs.progress import duration
from mlcore.jobs.store import JobState, open_store
from mlcore.training.spec import CONTINUING_MODES, TrainSpec

TIMED_BATCHES = 3
TIMEOUT_S = 600
_EXCEPTION = re.compile(r"^[\w.]+(Error|Exception): ")


@dataclass(frozen=True)
class BatchTiming:
    seconds_per_batch: float
    batches_per_epoch: int
    timed_batches: int
    startup_s: float
    device: str
    """'cpu' or the GPU's index, as the training would use it."""

    @property
    def epoch_seconds(self) -> float:
        """The training batches of one epoch (validation adds to it)."""
        return self.seconds_per_batch * self.batches_per_epoch

    def sentence(self, epochs: int) -> str:
        where = "the CPU" if self.device == CPU else f"GPU {self.device}"
        return (
            f"about {self.seconds_per_batch:.1f} s per batch × {self.batches_per_epoch} batches: about "
            f"{duration(self.epoch_seconds)} per epoch, {duration(self.epoch_seconds * epochs)} for {epochs} epochs "
            f"on {where}, validation not included (from {self.timed_batches} timed batches)"
        )

    def to_dict(self) -> dict:
        return {
            "seconds_per_batch": self.seconds_per_batch,
            "batches_per_epoch": self.batches_per_epoch,
            "timed_batches": self.timed_batches,
            "startup_s": self.startup_s,
            "device": self.device,
            "epoch_seconds": self.epoch_seconds,
        }


def _device(spec: TrainSpec) -> str:
    """'cpu' or one GPU index: what the training would get ('auto': the first GPU, else the CPU)."""
    if spec.device == CPU:
        return CPU
    if spec.device != "auto":
        return spec.device.split(",")[0]
    gpus = read_gpus().gpus
    return str(gpus[0].index) if gpus else CPU


def _busy(device: str, settings: Settings) -> bool:
    if not (settings.outputs_root / paths.JOBS_DB).exists():
        return False
    running = open_store(settings).list({JobState.STARTING, JobState.RUNNING, JobState.STOPPING})
    return any(device in (j.device or "").split(",") or (device == CPU and j.device == CPU) for j in running)


def time_a_few_batches(spec: TrainSpec, settings: Settings, batches: int = TIMED_BATCHES) -> BatchTiming:
    """Time `batches` batches of `spec` (after one to warm up); SubmitError saying why when it cannot."""
    if spec.mode in CONTINUING_MODES:
        raise SubmitError("a resumed or extended run is estimated from its own epochs; see its run on this page.")
    _, dataset = usable_split(spec.dataset_path, settings)
    if not dataset.splits.get("train"):
        raise SubmitError("the dataset has no train split to time; pick a dataset with training images.")
    device = _device(spec)
    if _busy(device, settings):
        where = "the CPU" if device == CPU else f"GPU {device}"
        raise SubmitError(
            f"a job is using {where} now: batches timed beside it would be slower than the training "
            "will be. Time them when it has finished."
        )
    folder = settings.outputs_root / paths.STAGING_DIR / f"timing-{uuid.uuid4().hex[:12]}"
    try:
        data_yaml = stage_dataset(dataset, folder / "view")
        model = spec.base_model_path if spec.mode == "transfer" else f"{spec.model_architecture}.yaml"
        args = {**spec.to_ultralytics(), "device": "cpu" if device == CPU else "0"}
        request = {"model": model, "data_yaml": str(data_yaml), "args": args, "batches": batches}
        (folder / "request.json").write_text(json.dumps(request))
        env = engine_environment(settings) | {"PYTHONPATH": str(PROJECT_ROOT)}
        env |= {"CUDA_VISIBLE_DEVICES": "" if device == CPU else device, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "mlcore.training.batch_timer", str(folder / "request.json")],
                env=env,
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise SubmitError(
                f"timing took more than {TIMEOUT_S} s: a batch of this size is very slow here; try a "
                "smaller batch or image size."
            ) from None
        try:
            timing = json.loads((folder / paths.BATCH_TIMING).read_text())
        except (OSError, ValueError):
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            last = next((x for x in reversed(lines) if _EXCEPTION.match(x)), lines[-1] if lines else "no message")
            raise SubmitError(f"the batches could not be timed: {last[:300]}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not timing.get("seconds_per_batch") or not timing.get("batches_per_epoch"):
        raise SubmitError("no batch finished, so nothing was timed; check the dataset's train split.")
    return BatchTiming(
        float(timing["seconds_per_batch"]),
        int(timing["batches_per_epoch"]),
        int(timing["timed_batches"]),
        float(timing["startup_s"]),
        device,
    )
