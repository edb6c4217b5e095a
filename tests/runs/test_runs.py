"""The runs on disk and the weights a transfer may start from, read without torch."""

from __future__ import annotations

from pathlib import Path

from mlcore.core.settings import Settings
from mlcore.runs.store import epoch_seconds, list_runs, seed_weights
from tests import run_fixture


def make_run(settings: Settings, name: str, done: int, seconds_per_epoch: float, imgsz: int = 640) -> Path:
    return run_fixture.make_run(
        settings.outputs_root,
        name,
        epochs=10,
        metrics=False,
        done=done,
        seconds_per_epoch=seconds_per_epoch,
        imgsz=imgsz,
    )


def test_runs_are_read_from_their_files_and_odd_folders_are_skipped(settings: Settings) -> None:
    make_run(settings, "logos/a", 4, 10.0)
    make_run(settings, "logos/b", 2, 30.0)
    odd = settings.outputs_root / "trainings" / "logos" / "broken"
    odd.mkdir()
    (odd / "training_config.yaml").write_text("- not: a mapping\n")
    runs = {r.name: r for r in list_runs(settings)}
    assert set(runs) == {"logos/a", "logos/b"}
    assert runs["logos/a"].epochs_done == 4 and runs["logos/a"].epochs_total == 10
    assert runs["logos/a"].seconds == 40.0 and not runs["logos/a"].resumable


def test_epoch_time_comes_from_runs_of_the_same_architecture_and_size(settings: Settings) -> None:
    make_run(settings, "p/a", 4, 10.0)
    make_run(settings, "p/b", 2, 30.0)
    make_run(settings, "p/c", 2, 99.0, imgsz=1280)
    runs = list_runs(settings)
    assert epoch_seconds(runs, "yolov8n", 640) == (20.0, 2)
    assert epoch_seconds(runs, "yolov8s", 640) is None


def test_seed_weights_are_runs_weights_then_trusted_model_files(settings: Settings) -> None:
    run = make_run(settings, "p/a", 1, 5.0)
    models = settings.model_roots[0]
    models.mkdir(parents=True)
    (models / "yolov8n.pt").write_bytes(b"w")
    (models / "notes.txt").write_text("not weights")
    assert seed_weights(settings) == [run / "weights" / "best.pt", models / "yolov8n.pt"]


def test_the_resolved_arguments_are_none_until_args_yaml_is_written_and_then_read(settings: Settings) -> None:
    run = make_run(settings, "p/a", 1, 5.0)
    (run / "args.yaml").unlink()
    (summary,) = list_runs(settings)
    assert summary.resolved_args() is None
    (run / "args.yaml").write_text("imgsz: 320\nbatch: 8\n")
    assert summary.resolved_args() == {"imgsz": 320, "batch": 8}
    (run / "args.yaml").write_text("imgsz: [unclosed\n")
    assert summary.resolved_args() is None
