"""Readers and figure builders of the Runs page, on crafted run folders (no Streamlit)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from mlcore.charts.compare import overlay
from mlcore.charts.metrics import class_bars, confusion_matrix, curve
from mlcore.charts.report import export_visualizations, find_run
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import PathNotAllowed
from mlcore.core.settings import Settings, load_settings
from mlcore.runs.compare import config_diff, metrics_side_by_side
from mlcore.runs.measure import compute_metrics
from mlcore.runs.metrics import F1_CURVE, PR_CURVE, MetricsError, best_f1, class_table, read_metrics
from mlcore.runs.store import attach_run, list_runs, metrics_file, read_run, run_states, runs_table
from tests.conftest import mlcore
from tests.run_fixture import make_run, metrics_json, results_csv


def test_metrics_json_is_read_or_refused_with_a_reason(tmp_path: Path) -> None:
    assert read_metrics(tmp_path / "metrics.json") is None
    (tmp_path / "metrics.json").write_text('{"precision": 0.5,')  # half written
    with pytest.raises(MetricsError, match="compute the metrics again"):
        read_metrics(tmp_path / "metrics.json")
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(MetricsError, match="not a metrics file"):
        read_metrics(tmp_path / "metrics.json")


def test_per_class_rows_and_the_best_f1_threshold() -> None:
    metrics = metrics_json()
    rows = class_table(metrics)
    assert [r["class"] for r in rows] == ["solara", "aqualine", "verdant"]
    assert rows[0]["f1"] == pytest.approx(2 * 0.9 * 0.8 / 1.7) and rows[0]["images"] == 30
    confidence, score = best_f1(metrics)
    assert confidence == pytest.approx(0.5, abs=0.002) and score == pytest.approx(0.8, abs=0.01)


def test_confusion_matrix_counts_and_normalised_columns() -> None:
    metrics = metrics_json()
    counts = confusion_matrix(metrics).data[0]
    assert list(counts.x) == ["solara", "aqualine", "verdant", "background"] and counts.z[0][1] == 3
    assert "true aqualine<br>predicted solara<br>3 boxes" in counts.hovertext[0][1]
    normalised = confusion_matrix(metrics, normalised=True).data[0]
    for j in range(3):
        assert sum(row[j] for row in normalised.z) == pytest.approx(1.0)


def test_curves_per_class_and_for_all_with_the_best_f1_marked() -> None:
    metrics = metrics_json()
    pr = curve(metrics, PR_CURVE)
    assert [t.name for t in pr.data][-1] == "all classes (mAP50 0.750)" and len(pr.data) == 4
    assert "AP50 0.850" in pr.data[0].name and not pr.layout.shapes  # no threshold line on a PR curve
    f1 = curve(metrics, F1_CURVE, classes=["verdant"])
    assert [t.name for t in f1.data] == ["verdant", "all classes"] and len(f1.layout.shapes) == 1
    assert "best F1 0.80" in f1.layout.annotations[0].text
    assert [t.name for t in class_bars(metrics).data] == ["precision", "recall", "AP50", "AP50-95"]


def test_comparison_overlay_table_and_configuration_diff(settings: Settings) -> None:
    make_run(settings.outputs_root, "p/a", epochs=5)
    make_run(settings.outputs_root, "p/b", epochs=8, imgsz=320, advanced={"mosaic": 0.5})
    runs = {r.name: r for r in list_runs(settings)}
    frames = {name: pd.read_csv(run.path / "results.csv") for name, run in runs.items()}
    by_time = overlay(frames, "mAP50-95", against="time")
    assert {t.name for t in by_time.data} == {"p/a", "p/b"} and by_time.layout.xaxis.title.text == "training time (min)"
    assert max(by_time.data[0].x) == pytest.approx(len(by_time.data[0].x) * 10 / 60)
    table = metrics_side_by_side(list(runs.values()), frames)
    assert table.loc["epochs", "p/b"] == "8/8" and table.loc["best epoch", "p/a"] == "5"
    diff = config_diff({n: r.spec for n, r in runs.items()})
    differs = dict(zip(diff["setting"], diff["differs"], strict=True))
    assert differs["imgsz"] and differs["epochs"] and not differs["model_architecture"]
    assert differs["advanced.mosaic"]  # nested settings are compared one by one
    only = config_diff({n: r.spec for n, r in runs.items()}, only_differences=True)
    assert set(only["setting"]) == {"imgsz", "epochs", "experiment", "advanced.mosaic"}


def test_runs_are_read_again_only_when_their_files_change(settings: Settings) -> None:
    run_dir = make_run(settings.outputs_root, "p/a", epochs=3)
    first = read_run(run_dir)
    assert first is read_run(run_dir)  # cached on path, size and modification time
    (run_dir / "results.csv").write_text(results_csv(4))
    os.utime(run_dir / "results.csv", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert read_run(run_dir).epochs_done == 4
    shutil.rmtree(run_dir)
    assert read_run(run_dir) is None and list_runs(settings) == []


def test_a_run_with_zero_epochs_has_no_best(settings: Settings) -> None:
    run_dir = make_run(settings.outputs_root, "p/empty", epochs=3)
    (run_dir / "results.csv").write_text("")
    run = read_run(run_dir)
    assert run.epochs_done == 0 and run.best is None and run.seconds is None
    row = runs_table([run], {str(run_dir): "failed"})[0]
    assert row["state"] == "failed" and row["epochs"] == "0/3" and row["best mAP50-95"] is None


def test_attaching_a_run_made_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    elsewhere = data / "experiments" / "train7"
    elsewhere.mkdir(parents=True)
    (elsewhere / "results.csv").write_text(results_csv(5))
    (elsewhere / "args.yaml").write_text("model: yolov8s.pt\ndata: /data/coco.yaml\nepochs: 5\nimgsz: 320\n")
    (elsewhere / "weights").mkdir()
    (elsewhere / "weights" / "best.pt").write_bytes(b"a pickle from somewhere")
    monkeypatch.setenv("ML_STUDIO_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("ML_STUDIO_DATASET_ROOTS", str(data))
    settings = load_settings()
    run = attach_run(str(elsewhere), settings)
    assert run.attached and run.name == "experiments/train7" and run.spec["model_architecture"] == "yolov8s"
    assert run.spec["mode"] == "transfer" and run.epochs_done == 5
    assert [r.name for r in list_runs(settings)] == ["experiments/train7"]
    assert runs_table(list_runs(settings), run_states(settings))[0]["state"] == "attached"
    assert metrics_file(run, settings).is_relative_to(settings.outputs_root)  # never written into their folder
    with pytest.raises(PathNotAllowed, match="outside"):
        attach_run(str(tmp_path), settings)
    (data / "notarun").mkdir()
    with pytest.raises(PathNotAllowed, match="needs results.csv and args.yaml"):
        attach_run(str(data / "notarun"), settings)
    with pytest.raises(SubmitError, match="pickle"):
        compute_metrics(run, settings)  # its weights would be loaded from outside the trusted folders
    assert sorted(os.listdir(elsewhere)) == ["args.yaml", "results.csv", "weights"]


def test_computing_metrics_refuses_a_run_without_weights_or_a_dataset_outside_the_roots(settings: Settings) -> None:
    run_dir = make_run(settings.outputs_root, "p/a", metrics=False)
    with pytest.raises(SubmitError, match="dataset cannot be used"):
        compute_metrics(read_run(run_dir), settings)  # /data/logos is not under the allowed folders
    (run_dir / "weights" / "best.pt").unlink()
    with pytest.raises(SubmitError, match="no weights"):
        compute_metrics(read_run(run_dir), settings)


def test_export_writes_every_png_and_a_self_contained_report(settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1")
    run = find_run("logos/v1", settings)
    export = export_visualizations(run, settings)
    expected = ["training_curves.png", "class_metrics.png", "confusion_matrix.png", "pr_curve.png", "f1_curve.png"]
    assert export.files == [*expected, "report.html"] and not export.skipped
    for name in expected:
        data = (export.folder / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    report = (export.folder / "report.html").read_text()
    assert "<script src=" not in report and report.count('class="plotly-graph-div"') == 5
    assert export.folder.parent == settings.outputs_root / "visualizations"
    assert export.folder.name.startswith("v1_")
    assert json.loads((export.folder / "summary.json").read_text())["flags"]["include_pr_curve"] is True


def test_export_without_metrics_says_what_it_skipped(settings: Settings) -> None:
    run_dir = make_run(settings.outputs_root, "logos/old", metrics=False)
    run = find_run(str(run_dir / "weights" / "best.pt"), settings)  # found by its weights too
    export = export_visualizations(run, settings, include_confusion_matrix=True, include_pr_curve=False)
    assert export.files == ["training_curves.png", "report.html"]
    assert set(export.skipped) == {"class_metrics.png", "confusion_matrix.png", "f1_curve.png"}
    assert "compute its metrics" in export.skipped["confusion_matrix.png"]
    with pytest.raises(ValueError, match="unknown flag"):
        export_visualizations(run, settings, include_everything=True)
    with pytest.raises(PathNotAllowed, match="no run"):
        find_run("logos/nope", settings)


@pytest.mark.slow  # child processes or a real server: the full suite runs it
def test_visualize_and_runs_commands(settings: Settings) -> None:
    make_run(settings.outputs_root, "logos/v1")
    env = {"ML_STUDIO_OUTPUTS": str(settings.outputs_root)}
    proc = mlcore("visualize", "logos/v1", "--include", "confusion_matrix", "pr_curve", extra_env=env)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["confusion_matrix.png", "pr_curve.png", "report.html", "summary.json"]
    assert mlcore("visualize", "logos/none", extra_env=env).returncode == 2
    listed = json.loads(mlcore("runs", "list", "--json", extra_env=env).stdout)
    assert listed[0]["experiment"] == "v1" and listed[0]["best epoch"] == 6
    assert "logos/v1" in mlcore("runs", "list", extra_env=env).stdout
