import json
import subprocess
import sys
from pathlib import Path

from mlcore.core.settings import load_settings
from mlcore.engine.env import engine_environment, engine_settings, seed_engine_config
from tests.conftest import PROJECT_ROOT, engine_env_for


def test_environment_is_offline_private_and_keyless(outputs_root: Path) -> None:
    settings = load_settings(
        {"ML_STUDIO_OUTPUTS": str(outputs_root), "ULTRALYTICS_API_KEY": "ul_secret", "PATH": "/usr/bin"}
    )
    env = engine_environment(settings)
    assert env["YOLO_OFFLINE"] == "1"
    assert env["YOLO_AUTOINSTALL"] == "0"
    assert env["YOLO_CONFIG_DIR"] == str(outputs_root / ".ultralytics")
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "ULTRALYTICS_API_KEY" not in env
    assert env["PATH"] == "/usr/bin"  # the rest of the environment is passed on


def test_seeding_writes_settings_and_fonts_once(outputs_root: Path) -> None:
    user_dir = seed_engine_config(outputs_root)
    assert user_dir == outputs_root / ".ultralytics" / "Ultralytics"
    settings_file = user_dir / "settings.json"
    data = json.loads(settings_file.read_text())
    assert data["sync"] is False and data["api_key"] == ""
    assert not any(data[k] for k in ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb"))
    assert all(Path(data[k]).is_absolute() for k in ("datasets_dir", "weights_dir", "runs_dir"))
    for font in ("Arial.ttf", "Arial.Unicode.ttf"):
        assert (user_dir / font).read_bytes()[:4] == b"\x00\x01\x00\x00"  # a TrueType file
    before = {p.name: p.stat().st_mtime_ns for p in user_dir.iterdir()}
    seed_engine_config(outputs_root)
    assert {p.name: p.stat().st_mtime_ns for p in user_dir.iterdir()} == before


def test_a_changed_settings_file_is_restored(outputs_root: Path) -> None:
    user_dir = seed_engine_config(outputs_root)
    (user_dir / "settings.json").write_text('{"sync": true}')
    seed_engine_config(outputs_root)
    assert json.loads((user_dir / "settings.json").read_text()) == engine_settings(outputs_root)


def test_ultralytics_accepts_the_settings_without_rewriting_them(outputs_root: Path) -> None:
    """The schema matches the pinned Ultralytics: loading it neither migrates nor resets the file."""
    env = engine_environment(load_settings({"ML_STUDIO_OUTPUTS": str(outputs_root)}))
    settings_file = outputs_root / ".ultralytics" / "Ultralytics" / "settings.json"
    before = settings_file.read_bytes()
    code = "from ultralytics.utils import SETTINGS, USER_CONFIG_DIR; print(USER_CONFIG_DIR); print(SETTINGS['sync'])"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(settings_file.parent), "False"]
    assert "updated to the latest schema" not in proc.stdout + proc.stderr
    assert settings_file.read_bytes() == before


THREADS_SEEN = """
import json, os
from pathlib import Path
import numpy as np, torch
from ultralytics.utils import NUM_THREADS
from mlcore.predict.detector import detect
from mlcore.predict.profile import DeploymentProfile

class Model:  # what load_detector gives, as far as detect looks
    names = {0: "logo"}
    studio_device = "cpu"
    def __init__(self, path):
        self.studio_path, self.seen = Path(path), []
    def predict(self, images, **_):
        self.seen.append(torch.get_num_threads())
        return []

pt, onnx = Model("best.pt"), Model("best.onnx")
torch.set_num_threads(1)
for model in (pt, onnx, pt):
    detect(model, [np.zeros((8, 8, 3), np.uint8)], DeploymentProfile())
print(json.dumps({"pt": pt.seen, "onnx": onnx.seen, "cores": os.cpu_count(), "ultralytics": NUM_THREADS}))
"""


def test_each_prediction_runs_with_its_own_models_cpu_threads_whatever_model_ran_before(tmp_path: Path) -> None:
    """The thread count is the process's: a predictor holding a .pt and an ONNX export served the .pt with the
    ONNX model's setting once that model had been warmed after it."""
    proc = subprocess.run(
        [sys.executable, "-c", THREADS_SEEN],
        env=engine_env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["pt"] == [seen["cores"], seen["cores"]] and seen["onnx"] == [seen["ultralytics"]], seen
