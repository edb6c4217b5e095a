import json
from pathlib import Path

import pytest

from tests.conftest import mlcore


def test_help_lists_every_subcommand_and_each_has_help() -> None:
    proc = mlcore("--help")
    assert proc.returncode == 0
    for command in ("status", "demo-data", "validate", "train", "extend", "jobs", "app"):
        assert command in proc.stdout
        sub = mlcore(command, "--help")
        assert sub.returncode == 0 and "usage: mlcore " + command in sub.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["status", "--bogus"], ["demo-data", "--images", "many"], []])
def test_unknown_input_exits_2_with_one_line(args: list[str]) -> None:
    proc = mlcore(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlcore") and "--help" in lines[0]


def test_bad_configuration_exits_2_with_the_variable_named(tmp_path: Path) -> None:
    proc = mlcore("status", "--no-torch", extra_env={"ML_STUDIO_PORT": "eighty"})
    assert proc.returncode == 2 and "ML_STUDIO_PORT" in proc.stderr and "Traceback" not in proc.stderr


def test_status_json_is_one_object(tmp_path: Path) -> None:
    proc = mlcore("status", "--json", env_outputs=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["host"]["memory_total_gb"] > 0
    assert data["torch"]["ok"] and data["torch"]["torch_version"].startswith("2.14.1")
    assert data["training_device"] in {"cpu", "gpu"}


def test_status_text(tmp_path: Path) -> None:
    proc = mlcore("status", "--no-torch", env_outputs=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("CPU ") and "Training would run on:" in proc.stdout


def test_demo_data_writes_then_skips_when_present(tmp_path: Path) -> None:
    proc = mlcore("demo-data", "--images", "12", "--imgsz", "64", env_outputs=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "datasets" / "demo" / "data.yaml").exists()
    assert "12 images" not in proc.stdout and "train 8, val 2, test 2 images" in proc.stdout
    again = mlcore("demo-data", "--if-missing", env_outputs=tmp_path)
    assert again.returncode == 0 and "already present" in again.stdout


def test_demo_data_refuses_a_users_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    proc = mlcore("demo-data", "--out", str(tmp_path), "--force")
    assert proc.returncode == 1 and "not a demo dataset" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _captured_app_launch(monkeypatch: pytest.MonkeyPatch, *args: str) -> list[str]:
    import os

    from mlcore.cli import main as cli

    launched: list[str] = []
    monkeypatch.setattr(os, "execv", lambda exe, argv: launched.extend(argv))
    monkeypatch.setattr(os, "chdir", lambda path: None)
    cli.main(["app", *args])
    return launched


def test_app_binds_to_loopback_by_default(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("ML_STUDIO_HOST", raising=False)
    monkeypatch.delenv("ML_STUDIO_PORT", raising=False)
    argv = _captured_app_launch(monkeypatch)
    assert argv[1].endswith("serve_app.py") and argv[2] == "run" and argv[3].endswith("app.py")
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8501"
    assert "WARNING" not in capsys.readouterr().err


def test_app_on_another_address_needs_a_login_or_an_explicit_opt_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import os

    from mlcore.cli import main as cli

    monkeypatch.setenv("ML_STUDIO_HOST", "0.0.0.0")
    monkeypatch.setattr("mlcore.core.access.login_configured", lambda: False)
    launched: list = []
    monkeypatch.setattr(os, "execv", lambda *a: launched.append(a))
    assert cli.main(["app"]) == 2 and not launched
    assert "refusing to listen on 0.0.0.0 without a login" in capsys.readouterr().err
    argv = _captured_app_launch(monkeypatch, "--port", "8600", "--allow-unauthenticated")
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert argv[argv.index("--server.port") + 1] == "8600"
    err = capsys.readouterr().err
    assert "WARNING" in err and "WITHOUT A LOGIN" in err and "127.0.0.1" in err
    monkeypatch.setattr("mlcore.core.access.login_configured", lambda: True)
    argv = _captured_app_launch(monkeypatch)
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0" and "allow-list" in capsys.readouterr().err


def test_validate_prints_a_summary_and_exits_0_for_a_clean_dataset(tmp_path: Path) -> None:
    from tests.dataset_builder import clean_dataset

    root = clean_dataset(tmp_path / "ds")
    proc = mlcore(
        "validate",
        str(root),
        "--no-near-duplicates",
        env_outputs=tmp_path / "out",
        extra_env={"ML_STUDIO_DATASET_ROOTS": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "READY to train" in proc.stdout and "Checking images" in proc.stderr
    assert list((tmp_path / "out" / "dataset_reports").glob("ds_*/report.json"))


def test_validate_json_is_one_report_and_errors_exit_1(tmp_path: Path) -> None:
    from tests.dataset_builder import clean_dataset

    root = clean_dataset(tmp_path / "ds")
    (root / "labels" / "train" / "train_0.txt").write_text("7 0.5 0.5 0.2 0.2\n")
    proc = mlcore(
        "validate",
        str(root),
        "--json",
        env_outputs=tmp_path / "out",
        extra_env={"ML_STUDIO_DATASET_ROOTS": str(tmp_path)},
    )
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["verdict"] == "not_ready"
    assert any(i["code"] == "class_out_of_range" and i["line"] == 1 for i in report["issues"])


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("missing", "does not exist"),
        ("file.txt", "not a dataset"),
        ("/etc", "outside the allowed folders"),
        ("empty", "no data.yaml"),
    ],
)
def test_validate_unreadable_exits_2_with_the_message(tmp_path: Path, target: str, fragment: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    path = target if target.startswith("/") else str(tmp_path / target)
    proc = mlcore("validate", path, env_outputs=tmp_path / "out", extra_env={"ML_STUDIO_DATASET_ROOTS": str(tmp_path)})
    assert proc.returncode == 2 and fragment in proc.stderr and "Traceback" not in proc.stderr


def test_validate_with_an_unwritable_outputs_folder_is_a_message(tmp_path: Path) -> None:
    from tests.dataset_builder import clean_dataset

    root = clean_dataset(tmp_path / "ds")
    blocker = tmp_path / "out"
    blocker.write_text("a file where the outputs folder should be")
    proc = mlcore("validate", str(root), env_outputs=blocker, extra_env={"ML_STUDIO_DATASET_ROOTS": str(tmp_path)})
    assert proc.returncode == 2 and "writable" in proc.stderr and "Traceback" not in proc.stderr


def test_jobs_logs_reads_the_log_of_the_jobs_own_kind(tmp_path: Path) -> None:
    """An evaluation logs to evaluation.log; a run-metrics job writes into its run's folder beside the
    training's train.log. `jobs logs` once printed train.log for every job."""
    from mlcore.core.paths import RunFolder
    from mlcore.core.settings import load_settings
    from mlcore.jobs.store import JobState, open_store

    store = open_store(load_settings({"ML_STUDIO_OUTPUTS": str(tmp_path)}))
    run = tmp_path / "trainings" / "p" / "e"
    run.mkdir(parents=True)
    RunFolder(run).log("training").write_text("epoch 3/3 of the training\n")
    RunFolder(run).log("evaluation").write_text("measuring best.pt on val\n")
    evaluation = tmp_path / "validations" / "e_best_1"
    evaluation.mkdir(parents=True)
    RunFolder(evaluation).log("evaluation").write_text("evaluating on test\n")
    logs = {}
    for name, folder, task in (("metrics", run, "run_metrics"), ("evaluation", evaluation, "evaluate")):
        job = store.submit("evaluation", {"task": task}, str(folder))
        store.transition(job.id, JobState.CANCELLED)
        proc = mlcore("jobs", "logs", job.id, env_outputs=tmp_path)
        assert proc.returncode == 0, proc.stderr
        logs[name] = proc.stdout
    assert logs["evaluation"] == "evaluating on test\n"
    assert logs["metrics"] == "measuring best.pt on val\n"  # not the training's log
