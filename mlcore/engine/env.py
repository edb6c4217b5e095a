"""The environment of every process that imports Ultralytics: offline, private, and quiet.

Ultralytics reaches for the network in several places (a connectivity probe at import, a PyPI
version check, a font download on every train and val, telemetry, cloud callbacks, pip
auto-install). `engine_environment()` returns the variables that switch all of that off, and
`seed_engine_config()` writes the engine's private settings file and fonts once, so that a
training on a machine without internet makes no network attempt at all.

    env = engine_environment(load_settings())
    subprocess.run([sys.executable, "-m", "mlcore.worker", ...], env=env)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from pathlib import Path

from mlcore.core import paths
from mlcore.core.atomic_file import write_atomically
from mlcore.core.settings import Settings

SETTINGS_SCHEMA_VERSION = "0.0.8"  # the schema of ultralytics 8.4.190's SettingsManager
TRACKERS = ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb")
CLOUD_VARIABLES = ("ULTRALYTICS_API_KEY",)
TELEMETRY_MODULES = ("openvino_telemetry",)  # OpenVINO's converter and nncf send usage data through it


def silence_runtime_telemetry() -> None:
    """Keep the runtimes' own telemetry out of this process: OpenVINO's model converter and nncf send usage
    data to Google Analytics through `openvino_telemetry` unless a consent file in the user's home says no.
    Both fall back to a silent stub when it cannot be imported, so the worker blocks the module before any
    engine import (nothing is written into the user's home)."""
    for name in TELEMETRY_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # import now raises ImportError


def engine_settings(outputs_root: Path) -> dict[str, object]:
    """Ultralytics settings with sync and every tracker off and absolute folders."""
    engine_dir = outputs_root / paths.ENGINE_CONFIG_DIR
    return {
        "settings_version": SETTINGS_SCHEMA_VERSION,
        "datasets_dir": str(outputs_root / paths.DATASETS_DIR),
        "weights_dir": str(outputs_root / paths.MODELS_DIR),
        "runs_dir": str(engine_dir / "runs"),
        "uuid": hashlib.sha256(str(uuid.getnode()).encode()).hexdigest(),
        "sync": False,
        "api_key": "",
        "openai_api_key": "",
        **{tracker: False for tracker in TRACKERS},
        "vscode_msg": False,
        "openvino_msg": False,
    }


def _matplotlib_font() -> Path:
    """DejaVuSans.ttf as shipped by matplotlib (found without importing matplotlib)."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("matplotlib is not installed; run `make run` to install the requirements.")
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"


def seed_engine_config(outputs_root: Path) -> Path:
    """Write the engine's settings file and fonts if missing; return the engine user folder.

    Idempotent and safe to call from several processes: files are written to a temporary name
    and moved into place, and an existing file with the right content is left alone, so a
    running training never sees a half-written settings file.
    """
    user_dir = outputs_root / paths.ENGINE_CONFIG_DIR / paths.ENGINE_USER_DIR
    user_dir.mkdir(parents=True, exist_ok=True)
    settings_file = user_dir / paths.ENGINE_SETTINGS_FILE
    wanted = engine_settings(outputs_root)
    try:
        current = json.loads(settings_file.read_text())
    except (OSError, ValueError):
        current = None
    if current != wanted:
        write_atomically(settings_file, json.dumps(wanted, indent=2).encode())
    font = _matplotlib_font()
    for name in paths.ENGINE_FONT_FILES:
        target = user_dir / name
        if not target.exists():
            tmp = target.with_name(f".{name}.{os.getpid()}")
            shutil.copyfile(font, tmp)
            os.replace(tmp, target)
    return user_dir


def engine_environment(settings: Settings) -> dict[str, str]:
    """Variables for a child process that imports Ultralytics (and the config it needs, seeded).

    Starts from the environment the settings were read from, so PATH and the like survive.
    """
    seed_engine_config(settings.outputs_root)
    env = {k: v for k, v in settings.environment.items() if k not in CLOUD_VARIABLES}
    env.update(engine_variables(settings))
    return env


def engine_variables(settings: Settings) -> dict[str, str]:
    """The switches alone (what a worker on another machine is given, with that machine's own PATH and HOME)."""
    return dict(
        YOLO_OFFLINE="1",  # no connectivity probe, PyPI check, telemetry or download retries
        YOLO_AUTOINSTALL="0",  # never pip-install anything a checkpoint or export asks for
        YOLO_CONFIG_DIR=str(settings.outputs_root / paths.ENGINE_CONFIG_DIR),
        YOLO_VERBOSE=settings.environment.get("YOLO_VERBOSE", "1"),
        CUDA_DEVICE_ORDER="PCI_BUS_ID",  # GPU indices match nvidia-smi and NVML
        MPLBACKEND="Agg",  # plots are files; there is no screen
        PYTHONUNBUFFERED="1",  # logs reach train.log as they happen
        MLFLOW_DISABLE_TELEMETRY="true",  # read at `import mlflow`: the MLflow bridge (if on) sends no usage data
    )


PYTORCH_SUFFIXES = (".pt", ".torchscript")  # models PyTorch runs; ONNX Runtime and OpenVINO have threads of their own


def set_cpu_threads(device: str, model: str | Path | None = None) -> None:
    """The studio's one CPU-thread policy, set once Ultralytics has set the device up (it gives torch one core
    fewer, at most 8, which on a two-core machine halves PyTorch's speed): on the CPU, a model PyTorch runs (and
    every training) gets every core; ONNX Runtime and OpenVINO keep Ultralytics' setting, as their own thread
    pools would compete with torch's. `model`: the file being run; None for a training.

    The predictor serves with this policy and the export card's latency is timed under it, so the figure on the
    card describes how the predictor will run that format."""
    if device != "cpu":
        return
    import torch

    if model is None or Path(model).suffix in PYTORCH_SUFFIXES:
        torch.set_num_threads(os.cpu_count() or 1)
    else:  # set again, not left: the setting is the process's, and another model may have changed it
        from ultralytics.utils import NUM_THREADS

        torch.set_num_threads(NUM_THREADS)


def use_all_cpu_cores(trainer: object) -> None:
    """Trainer callback (on_train_start): the CPU-thread policy for a training (one per machine on the CPU)."""
    set_cpu_threads(getattr(getattr(trainer, "device", None), "type", ""))


def torch_threads() -> int:
    """The threads torch computes with in this process (what a CPU timing ran with)."""
    import torch

    return torch.get_num_threads()


def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA device in this process (imports torch: workers and the predictor only)."""
    import torch

    return bool(torch.cuda.is_available())


def restore_pillow_open() -> None:
    """Undo Ultralytics' wrapper of PIL.Image.open (call after importing Ultralytics). On the first file Pillow
    cannot identify, the wrapper tries to pip-install pi-heif and raises ModuleNotFoundError offline, where the
    studio expects Pillow's UnidentifiedImageError (an unreadable file to skip and list)."""
    from PIL import Image
    from ultralytics.utils import patches

    Image.open = patches._image_open
