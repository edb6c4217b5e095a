"""The runs on disk: trainings under ml_outputs/trainings/{project}/{experiment}/, Ultralytics run
folders made elsewhere and attached by path, and the weights that may seed a transfer. Read from
the files, never from torch, so the pages can list them; each run is read again only when its
files change (cached on path, size and modification time).

    for run in list_runs(settings):
        print(run.name, run.epochs_done, run.epochs_total, run.best_map50_95)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.atomic_file import write_atomically
from mlcore.core.paths import (
    ARGS_FILE,
    ATTACHED_FILE,
    ATTACHED_METRICS_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    RESUMABLE,
    RunFolder,
)
from mlcore.core.safe_paths import PathNotAllowed, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.core.user_yaml import read_yaml_file
from mlcore.datasets.versions import dataset_label
from mlcore.engine.architectures import family_label
from mlcore.jobs.kinds import JobKind
from mlcore.jobs.store import jobs_of
from mlcore.runs.results import MAP50, MAP50_95, best_epoch, read_results

ARCH_PATTERN = re.compile(r"yolo(?:v8|11|26)[nsmlx](?:-p2)?")


@dataclass(frozen=True)
class RunSummary:
    """One training run folder, as its files describe it."""

    path: Path
    project: str
    experiment: str
    spec: dict[str, Any]
    """training_config.yaml for a studio run; the main fields of args.yaml for an attached one."""
    epochs_done: int
    seconds: float | None
    """Training time of the epochs done, from results.csv's `time` column."""
    best: int | None = None
    """The best epoch (as Ultralytics keeps best.pt), None before anything was detected."""
    best_map50_95: float | None = None
    best_map50: float | None = None
    started: float = 0.0
    attached: bool = False

    @property
    def name(self) -> str:
        return f"{self.project}/{self.experiment}"

    @property
    def epochs_total(self) -> int:
        return int(self.spec.get("epochs") or 0)

    @property
    def resumable(self) -> bool:
        """A kept checkpoint with its optimizer: the run can be resumed or extended."""
        return not self.attached and (RunFolder(self.path).weights / RESUMABLE).is_file()

    @property
    def weights(self) -> list[Path]:
        folder = RunFolder(self.path)
        return [w for w in (folder.best, folder.last) if w.is_file()]

    def resolved_args(self) -> dict[str, Any] | None:
        """args.yaml: every argument as Ultralytics resolved it; None until the training has started."""
        try:
            return read_yaml_file(self.path / ARGS_FILE) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
        return info.st_mtime_ns, info.st_size
    except OSError:
        return 0, -1


def _spec_from_args(args: dict[str, Any]) -> dict[str, Any]:
    model = str(args.get("model") or "")
    found = ARCH_PATTERN.search(Path(model).name)
    return {
        "mode": "transfer" if model.endswith(".pt") else "full",
        "dataset_path": str(args.get("data") or ""),
        "model_architecture": found.group(0) if found else Path(model).stem or "?",
        "epochs": args.get("epochs"),
        "batch_size": args.get("batch"),
        "imgsz": args.get("imgsz"),
        "optimizer": args.get("optimizer"),
        "device": str(args.get("device")),
    }


@lru_cache(maxsize=4096)
def _read_run(
    path: str, attached: bool, config_stamp: tuple[int, int], results_stamp: tuple[int, int]
) -> RunSummary | None:
    """Keyed on both files' (mtime, size): a run is read again when either changes."""
    folder = Path(path)
    try:
        raw = read_yaml_file(folder / (ARGS_FILE if attached else CONFIG_FILE))  # args.yaml: made elsewhere
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(raw, dict):
        return None
    spec = _spec_from_args(raw) if attached else raw
    frame = read_results(RunFolder(folder).results_csv)
    best = best_epoch(frame)
    row = frame[frame["epoch"] == best].iloc[0] if best is not None else None
    try:
        started = (folder / (ARGS_FILE if attached else CONFIG_FILE)).stat().st_mtime
    except OSError:
        started = 0.0
    return RunSummary(
        path=folder,
        project=folder.parent.name,
        experiment=folder.name,
        spec=spec,
        epochs_done=len(frame),
        seconds=float(frame["time"].iloc[-1]) if "time" in frame and len(frame) else None,
        best=best,
        best_map50_95=None if row is None else float(row[MAP50_95]),
        best_map50=None if row is None else float(row[MAP50]),
        started=started,
        attached=attached,
    )


def read_run(path: Path, attached: bool = False) -> RunSummary | None:
    """One run folder, or None when it is gone or not a run; read again only when its files changed."""
    config = path / (ARGS_FILE if attached else CONFIG_FILE)
    return _read_run(str(path), attached, _stamp(config), _stamp(RunFolder(path).results_csv))


def attached_paths(settings: Settings) -> list[Path]:
    try:
        return [Path(p) for p in json.loads((settings.outputs_root / ATTACHED_FILE).read_text())]
    except (OSError, ValueError, TypeError):
        return []


def list_runs(settings: Settings) -> list[RunSummary]:
    """Studio runs (they hold training_config.yaml) and attached runs, newest first."""
    base = settings.outputs_root / paths.TRAININGS_DIR
    found = [read_run(config.parent) for config in base.glob(f"*/*/{CONFIG_FILE}")]
    found += [read_run(folder, attached=True) for folder in attached_paths(settings)]
    return sorted((r for r in found if r is not None), key=lambda r: r.started, reverse=True)


def attach_run(text: str, settings: Settings) -> RunSummary:
    """Add an Ultralytics run folder made elsewhere (results.csv + args.yaml) to the runs; nothing is written there."""
    roots = (*settings.dataset_roots, *settings.model_roots, settings.outputs_root)
    try:
        folder = resolve_user_path(text, roots, base=PROJECT_ROOT, what="run folder")
    except PathNotAllowed as exc:
        raise PathNotAllowed(f"{exc} Runs can be attached from the dataset, model and outputs folders.") from None
    if not folder.is_dir() or not RunFolder(folder).results_csv.is_file() or not (folder / ARGS_FILE).is_file():
        raise PathNotAllowed(
            f"{folder} is not an Ultralytics run folder: it needs results.csv and args.yaml (as `yolo train` writes)."
        )
    run = read_run(folder, attached=not (folder / CONFIG_FILE).is_file())
    if run is None:
        raise PathNotAllowed(f"{folder}/{ARGS_FILE} cannot be read as YAML.")
    if run.attached:
        kept = [p for p in attached_paths(settings) if p != folder] + [folder]
        settings.outputs_root.mkdir(parents=True, exist_ok=True)
        write_atomically(settings.outputs_root / ATTACHED_FILE, json.dumps([str(p) for p in kept]).encode())
    return run


def metrics_file(run: RunSummary, settings: Settings) -> Path:
    """Where a run's metrics.json is: in its folder, or under the outputs root for an attached run."""
    if not run.attached:
        return run.path / METRICS_FILE
    slug = re.sub(r"[^\w.-]+", "_", f"{run.project}_{run.experiment}")[:80]
    digest = hashlib.sha1(str(run.path).encode(errors="surrogateescape")).hexdigest()[:8]
    return settings.outputs_root / ATTACHED_METRICS_DIR / f"{slug}-{digest}" / METRICS_FILE


def run_states(settings: Settings) -> dict[str, str]:
    """The state of each run folder's latest training job ("finished" for a run without one)."""
    return {job.run_dir: job.state.value for job in jobs_of(settings, JobKind.TRAINING)}  # never creates the database


def runs_table(runs: list[RunSummary], states: dict[str, str]) -> list[dict[str, Any]]:
    """The runs browser's rows."""
    return [
        {
            "project": r.project,
            "experiment": r.experiment,
            "state": states.get(str(r.path), "attached" if r.attached else "finished"),
            "mode": r.spec.get("mode"),
            "architecture": r.spec.get("model_architecture"),
            "family": family_label(r.spec.get("model_architecture")),
            "dataset": dataset_label(str(r.spec.get("dataset_path") or "")),
            "epochs": f"{r.epochs_done}/{r.epochs_total or '?'}",
            "best mAP50-95": r.best_map50_95,
            "best epoch": r.best,
            "duration (min)": None if r.seconds is None else round(r.seconds / 60, 1),
            "started": datetime.fromtimestamp(r.started).strftime("%Y-%m-%d %H:%M") if r.started else "",
        }
        for r in runs
    ]


def seed_weights(settings: Settings) -> list[Path]:
    """Weights a transfer may start from: studio runs' best/last.pt, then .pt files in the trusted model folders."""
    found = [w for run in list_runs(settings) if not run.attached for w in run.weights]
    for root in settings.model_roots:
        found += sorted(p for p in root.glob("*.pt") if p.is_file())
    return found


def trained_on(weights: Path) -> str:
    """The `dataset_path` of the studio run that wrote `weights` ('' for a loose .pt file or a run made elsewhere)."""
    if weights.parent.name != paths.WEIGHTS_DIR:
        return ""
    run = read_run(weights.parent.parent)
    return str(run.spec.get("dataset_path") or "") if run else ""


def epoch_seconds(runs: list[RunSummary], architecture: str, imgsz: int) -> tuple[float, int] | None:
    """Mean seconds per epoch of earlier runs with this architecture and image size, and how many runs."""
    times = [
        r.seconds / r.epochs_done
        for r in runs
        if r.seconds
        and r.epochs_done
        and r.spec.get("model_architecture") == architecture
        and r.spec.get("imgsz") == imgsz
    ]
    return (sum(times) / len(times), len(times)) if times else None


def folder_files(run: RunSummary) -> list[tuple[str, int]]:
    """The run's files (relative path, bytes), weights first."""
    files = []
    for root, _dirs, names in os.walk(run.path):
        for name in names:
            path = Path(root) / name
            try:
                files.append((str(path.relative_to(run.path)), path.stat().st_size))
            except OSError:
                continue
    return sorted(files, key=lambda f: (not f[0].startswith("weights/"), f[0]))


def continuable(runs: list[RunSummary], mode: str, busy: set[str]) -> list[RunSummary]:
    """Runs that `mode` can continue: resume needs an interrupted run (epochs left), extend any run with a
    resumable checkpoint; runs in `busy` (folders of queued or running jobs) are left out."""
    return [
        r
        for r in runs
        if r.resumable and str(r.path) not in busy and (mode == "extend" or r.epochs_done < r.epochs_total)
    ]


def weights_label(weights: Path) -> str:
    """project/experiment/weights/best.pt for a run's weights; the file name and its folder otherwise."""
    if weights.parent.name == paths.WEIGHTS_DIR:
        return "/".join(weights.parts[-4:])
    return f"{weights.name}  ({weights.parent})"
