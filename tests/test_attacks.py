"""Crafted inputs that would run code or reach files through Ultralytics: none of them may.

Each payload, if it ever ran, would create a marker file; every test asserts that the marker was
never created. Where the studio hands the data to Ultralytics (a training), a real training runs.
"""

from __future__ import annotations

import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlcore.core.errors import SubmitError
from mlcore.core.settings import load_settings
from mlcore.datasets.loader import load_dataset
from mlcore.datasets.staging import stage_dataset
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.validation.validate import validate
from mlcore.engine.env import engine_environment
from mlcore.evaluation.spec import EvalSpec
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.store import JobState, JobStore
from mlcore.runs.measure import compute_metrics
from mlcore.runs.store import attach_run
from mlcore.training.submit import submit_training
from tests.test_cli import mlcore
from tests.test_evaluation import until_final
from tests.test_training import roots, tiny  # noqa: F401 (a fixture)


class Payload:
    """Unpickling this creates `marker`: the proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def download_payload(marker: Path) -> str:
    return f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


def test_a_download_key_is_reported_and_never_run(roots: dict, marker: Path) -> None:  # noqa: F811
    settings = load_settings()
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "crafted"
    shutil.copytree(data / "small", crafted)
    spec = yaml.safe_load((crafted / "data.yaml").read_text())
    spec |= {"val": "images/missing", "download": download_payload(marker)}  # Ultralytics runs it for a missing split
    (crafted / "data.yaml").write_text(yaml.safe_dump(spec))
    codes = {issue.code for issue in validate(crafted, ValidationOptions(near_duplicates=False)).issues}
    assert {"download_key", "split_missing"} <= codes
    with pytest.raises(SubmitError):
        submit_training(tiny(crafted), settings)
    staged = stage_dataset(load_dataset(crafted), settings.outputs_root / "staging" / "check")
    assert "download" not in yaml.safe_load(staged.read_text())
    check = "import sys; from ultralytics.data.utils import check_det_dataset as c; c(sys.argv[1], autodownload=True)"
    subprocess.run(  # what Ultralytics does first with a training's data.yaml (in a child: it patches Pillow)
        [sys.executable, "-c", check, str(staged)], env=engine_environment(settings), capture_output=True, timeout=120
    )
    assert not marker.exists()
    exec(spec["download"])  # the payload is live: what Ultralytics would have run
    assert marker.exists()


def test_weights_outside_the_trusted_folders_are_never_unpickled(roots: dict, marker: Path) -> None:  # noqa: F811
    settings = load_settings()
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    weights = data / "elsewhere" / "weights" / "best.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(SubmitError, match="pickle"):
        submit_training(tiny(data / "small", mode="transfer", base_model_path=str(weights)), settings)
    with pytest.raises(SubmitError, match="pickle"):
        submit_evaluation(EvalSpec(model_path=str(weights), dataset_path=str(data / "small")), settings)
    for through in ("..", "sym"):  # a path that climbs, or a link, out of the outputs' trainings folder
        trainings = settings.outputs_root / "trainings"
        trainings.mkdir(parents=True, exist_ok=True)
        if through == "sym":
            (trainings / "link.pt").symlink_to(weights)
            typed = str(trainings / "link.pt")
        else:
            typed = f"{trainings}/../../data/elsewhere/weights/best.pt"
        with pytest.raises(SubmitError, match="pickle"):
            submit_evaluation(EvalSpec(model_path=typed, dataset_path=str(data / "small")), settings)
    (weights.parent.parent / "results.csv").write_text("epoch,time\n1,1.0\n")
    (weights.parent.parent / "args.yaml").write_text(yaml.safe_dump({"data": str(data / "small" / "data.yaml")}))
    run = attach_run(str(weights.parent.parent), settings)  # a run made elsewhere may be attached, only read
    with pytest.raises(SubmitError, match="pickle"):
        compute_metrics(run, settings)
    cli = mlcore("evaluate", "--model", str(weights), "--data", str(data / "small"), extra_env=roots)
    assert cli.returncode == 2 and "pickle" in cli.stderr
    assert not marker.exists()
    pickle.loads(weights.read_bytes())  # the payload is live: what loading the file would have run
    assert marker.exists()


@pytest.mark.slow
def test_a_crafted_label_cache_and_a_download_key_do_not_run_during_a_training(
    roots: dict,  # noqa: F811
    marker: Path,
) -> None:
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "crafted"
    shutil.copytree(data / "small", crafted)
    for split in ("train", "val"):  # Ultralytics reads labels/{split}.cache with allow_pickle=True
        with (crafted / "labels" / f"{split}.cache").open("wb") as f:
            np.save(f, np.array(Payload(marker), dtype=object), allow_pickle=True)
    spec = yaml.safe_load((crafted / "data.yaml").read_text()) | {"download": download_payload(marker)}
    (crafted / "data.yaml").write_text(yaml.safe_dump(spec))
    before = sorted(p.relative_to(crafted) for p in crafted.rglob("*"))
    settings = load_settings()
    job = submit_training(tiny(crafted, experiment="crafted"), settings)
    until_final(job.id, settings, 600)
    final = JobStore(settings.outputs_root / "jobs.db").get(job.id)
    assert final.state is JobState.COMPLETED, final.error
    assert not marker.exists()
    assert sorted(p.relative_to(crafted) for p in crafted.rglob("*")) == before  # nothing written into the dataset
    np.load(crafted / "labels" / "train.cache", allow_pickle=True)  # the payload is live, as Ultralytics reads it
    assert marker.exists()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (a decompression bomb's header) with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_image_is_reported_not_decoded(roots: dict) -> None:  # noqa: F811
    data = Path(roots["ML_STUDIO_DATASET_ROOTS"])
    crafted = data / "bomb"
    shutil.copytree(data / "small", crafted)
    victim = sorted((crafted / "images" / "train").iterdir())[0]
    bomb = victim.with_suffix(".png")
    victim.unlink()
    bomb.write_bytes(_png_header_only(40_000, 40_000))  # 1.6 gigapixels, 6 GB if decoded
    report = validate(crafted, ValidationOptions(near_duplicates=True))
    found = [i for i in report.issues if i.code == "corrupt_image" and i.path.endswith(bomb.name)]
    assert found and "pixel" in found[0].message.lower()
    with pytest.raises(SubmitError, match="validation error"):
        submit_training(tiny(crafted), load_settings())


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{escape}"],
        ["train", "--data", "{escape}", "--epochs", "1"],
        ["evaluate", "--model", "{outputs}/trainings/../../escape/w.pt", "--data", "{data}/small"],
        ["evaluate", "--model", "{outputs}/trainings/x/weights/best.pt", "--data", "{data}/../escape"],
        ["runs", "attach", "{data}/link-out"],
        ["visualize", "{outputs}/trainings/../../escape"],
    ],
)
def test_every_path_field_refuses_climbing_and_links_out(roots: dict, command: list[str]) -> None:  # noqa: F811
    data, outputs = Path(roots["ML_STUDIO_DATASET_ROOTS"]), Path(roots["ML_STUDIO_OUTPUTS"])
    escape = data.parent / "escape"
    (escape / "images").mkdir(parents=True)
    (escape / "w.pt").write_bytes(b"x")
    (data / "link-out").symlink_to(escape)
    (outputs / "trainings" / "x" / "weights").mkdir(parents=True)
    (outputs / "trainings" / "x" / "weights" / "best.pt").write_bytes(b"x")
    filled = [a.format(escape=f"{data}/link-out", outputs=outputs, data=data) for a in command]
    proc = mlcore(*filled, extra_env=roots)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert any(reason in proc.stderr for reason in ("outside", "pickle", "no run"))  # visualize knows only runs
    assert "Traceback" not in proc.stderr
