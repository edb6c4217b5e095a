"""The view training reads: links and copies under the outputs root; the user's folder untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlcore.datasets.loader import load_dataset
from mlcore.datasets.staging import stage_dataset
from tests.conftest import engine_env_for
from tests.dataset_builder import clean_dataset, snapshot


def test_the_view_links_images_copies_labels_and_writes_its_own_yaml(tmp_path: Path) -> None:
    user = clean_dataset(tmp_path / "user")
    (user / "labels" / "train" / "train_0.txt").unlink()  # a background image
    with open(user / "data.yaml", "a") as f:
        f.write("download: bash get.sh\n")
    data_yaml = stage_dataset(load_dataset(user), tmp_path / "out" / "view")
    data = yaml.safe_load(data_yaml.read_text())
    assert "download" not in data and Path(data["path"]).is_absolute()
    assert data["train"] == "images/train" and data["names"] == {0: "cat", 1: "dog"} and data["nc"] == 2
    view = data_yaml.parent
    linked = view / "images" / "train" / "images__train__train_1.jpg"
    assert linked.is_symlink() and os.path.realpath(linked) == str((user / "images/train/train_1.jpg").resolve())
    copied = view / "labels" / "train" / "images__train__train_1.txt"
    assert not copied.is_symlink() and copied.read_text() == (user / "labels/train/train_1.txt").read_text()
    assert not (view / "labels" / "train" / "images__train__train_0.txt").exists()
    assert len(list((view / "images" / "val").iterdir())) == 4


def test_staging_again_replaces_the_old_view_and_names_stay_unique(tmp_path: Path) -> None:
    user = clean_dataset(tmp_path / "user")
    (user / "images" / "train" / "a b").mkdir()
    shutil.copy(user / "images/train/train_1.jpg", user / "images/train/a b/x.jpg")
    shutil.copy(user / "images/train/train_2.jpg", user / "images/train/a_b__x.jpg")
    target = tmp_path / "view"
    stage_dataset(load_dataset(user), target)
    (target / "stale.txt").write_text("old")
    stage_dataset(load_dataset(user), target)
    names = [p.name for p in (target / "images" / "train").iterdir()]
    assert not (target / "stale.txt").exists() and len(names) == len(set(names)) == 14


@pytest.mark.slow
def test_training_on_the_view_leaves_the_users_dataset_byte_identical(tmp_path: Path, small_dataset: Path) -> None:
    user = tmp_path / "user"
    shutil.copytree(small_dataset, user)
    jpeg = next((user / "images" / "train").iterdir())
    jpeg.write_bytes(jpeg.read_bytes()[:-2])  # no end marker: Ultralytics would rewrite this file in place
    before = snapshot(user)
    outputs = tmp_path / "ml_outputs"
    data_yaml = stage_dataset(load_dataset(user), outputs / "trainings" / "p" / "e" / "dataset")
    env = engine_env_for(outputs)
    code = (
        "import sys; from ultralytics import YOLO; "
        "YOLO('yolov8n.yaml').train(data=sys.argv[1], project=sys.argv[2], name='run', epochs=1, imgsz=64, "
        "batch=8, device='cpu', workers=0, plots=False)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(data_yaml), str(data_yaml.parent.parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert snapshot(user) == before  # no cache, no repaired image, nothing new
    assert not list(user.rglob("*.cache"))
    assert (data_yaml.parent / "labels" / "train.cache").exists()  # Ultralytics' cache went to the view
    assert (data_yaml.parent.parent / "run" / "weights" / "last.pt").exists()
