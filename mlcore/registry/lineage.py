"""Where a model came from and what was made for it, read from the files (never from torch).

At registration the lineage of the weights is recorded: the training run and its spec, the dataset
(path, classes, and the fingerprint its validation sees) and, for a transfer, the base model with its
sha256. What was made for a model later (evaluations, exports, its deployment profile) is found by the
model's sha256, so it shows up whichever copy of the file it was made from.

    lineage = lineage_of(Path("trainings/logos/v2/weights/best.pt"), settings)
    chain = base_chain(model, version, settings)   # [{"sha256", "path", "version": "logo-detector:v1"}, ...]
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.core.hashing import file_sha256
from mlcore.core.settings import Settings
from mlcore.datasets.loader import DatasetError, load_dataset
from mlcore.datasets.validation.fingerprint import fingerprint_of
from mlcore.datasets.versions import version_of
from mlcore.evaluation.store import EvaluationSummary, list_evaluations
from mlcore.export.store import ExportSummary, list_exports
from mlcore.registry.store import RegisteredModel, Version, list_models
from mlcore.runs.store import read_run
from mlcore.storage.pull import pulled_from

CHAIN_LIMIT = 50


def _sha(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError:
        return ""


def run_of(weights: Path) -> Path | None:
    """The run folder of a run's weights (…/weights/best.pt), else None."""
    folder = weights.parent.parent
    return folder if weights.parent.name == paths.WEIGHTS_DIR and (folder / paths.CONFIG_FILE).is_file() else None


def dataset_facts(path: str) -> dict[str, Any]:
    """Path, classes and fingerprint of a dataset (what is known when it cannot be read)."""
    if not path:
        return {}
    try:
        dataset = load_dataset(Path(path))
        return {
            "path": path,
            "names": {str(k): v for k, v in dataset.names.items()},
            "fingerprint": fingerprint_of(Path(path)),
            "version": version_of(path),
            "pulled_from": pulled_from(Path(path)),  # a dataset from a bucket: its URL and listing's fingerprint
        }
    except (DatasetError, OSError) as exc:
        return {"path": path, "names": {}, "fingerprint": "", "unreadable": str(exc)[:200]}


def lineage_of(weights: Path, settings: Settings) -> dict[str, Any]:
    """What the weights were made from, as far as the files say."""
    folder = run_of(weights)
    run = read_run(folder) if folder else None
    if run is None:
        return {"run": None, "dataset": {}, "base_model": None}
    spec = run.spec
    base = None
    if spec.get("mode") == "transfer" and spec.get("base_model_path"):
        base_path = Path(str(spec["base_model_path"]))
        base = {"path": str(base_path), "sha256": _sha(base_path)}
    return {
        "run": str(folder),
        "run_name": run.name,
        "spec": spec,
        "epochs_done": run.epochs_done,
        "best_map50_95": run.best_map50_95,
        "dataset": dataset_facts(str(spec.get("dataset_path") or "")),
        "base_model": base,
    }


def version_index(settings: Settings) -> dict[str, tuple[RegisteredModel, Version]]:
    """sha256 -> the first registered version with those weights."""
    index: dict[str, tuple[RegisteredModel, Version]] = {}
    for model in list_models(settings):
        for version in model.versions:
            index.setdefault(version.sha256, (model, version))
    return index


def base_chain(version: Version, settings: Settings) -> list[dict[str, Any]]:
    """The models this one was fine-tuned from, nearest first: each registered version found by sha256,
    else the base's own run folder when it still exists; ends at a model trained from scratch or unknown."""
    index = version_index(settings)
    chain: list[dict[str, Any]] = []
    base, seen = version.lineage.get("base_model"), {version.sha256}
    while base and base.get("sha256") not in seen and len(chain) < CHAIN_LIMIT:
        seen.add(base.get("sha256"))
        found = index.get(base.get("sha256", ""))
        entry = {**base, "version": f"{found[0].name}:v{found[1].number}" if found else None}
        if found:
            lineage = found[1].lineage
        else:
            lineage = lineage_of(Path(base["path"]), settings) if Path(base["path"]).is_file() else {}
        entry["run_name"] = lineage.get("run_name")
        chain.append(entry)
        base = lineage.get("base_model")
    return chain


@lru_cache(maxsize=4096)
def _evaluated_sha(config_path: str, mtime: float) -> str:
    try:
        config = yaml.safe_load(Path(config_path).read_text())
    except (OSError, yaml.YAMLError):
        return ""
    if not isinstance(config, dict):
        return ""
    return str(config.get("model_sha256") or _sha(Path(str(config.get("model_path", "")))))


def evaluation_sha(item: EvaluationSummary) -> str:
    """The sha256 of the model an evaluation measured (recorded since evaluations record it, else hashed now)."""
    return str(item.spec.get("model_sha256") or "") or _evaluated_sha(str(item.path / paths.EVAL_CONFIG), item.created)


def evaluations_of(sha256: str, settings: Settings) -> list[EvaluationSummary]:
    """Finished evaluations of the model with this sha256, newest first."""
    return [e for e in list_evaluations(settings) if e.finished and evaluation_sha(e) == sha256]


def exports_of(sha256: str, settings: Settings) -> list[ExportSummary]:
    """Completed exports made from the model with this sha256, newest first."""
    return [x for x in list_exports(settings) if x.card and (x.card.get("source") or {}).get("sha256") == sha256]
