"""Pipelines the studio writes for a user to review and run: the original system's continuous-improvement cycle
(collect the errors → fix them in a new dataset version → re-validate → transfer-learn → A/B → promote).

    text = improvement_pipeline("trainings/logos/v3/weights/best.pt", "/data/logos", "test", settings)

The draft retrains from the evaluated model on the newest version made from its dataset (the one with the fixes),
compares the result with the registered model's production version when there is one, and promotes it only when
the gate passes. Every choice it made is written as a comment in the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mlcore.core.settings import Settings
from mlcore.core.spec import DEFAULT_IMGSZ
from mlcore.datasets.versions import list_versions
from mlcore.engine.trained_size import trained_imgsz
from mlcore.registry.lineage import version_index
from mlcore.registry.store import PRODUCTION

RETRAIN_EPOCHS = 30
MARGIN = 0.005  # how much worse than production the new model may measure and still be promoted (the noise)


def _file_hash(path: Path) -> str:
    from mlcore.core.hashing import file_sha256

    return file_sha256(path)


def newest_version_of(dataset: str, settings: Settings) -> dict[str, Any] | None:
    """The newest dataset version made from `dataset` (or from a version of it), if any."""
    real = Path(dataset).resolve()
    real = real.parent if real.is_file() else real
    for manifest in list_versions(settings):
        parent = Path(str(manifest.get("parent", {}).get("path", ""))).resolve()
        if parent == real or parent.parent == real.parent and manifest.get("name") == real.parent.name:
            return manifest
    return None


def improvement_pipeline(model: str, dataset: str, split: str, settings: Settings) -> str:
    """A pipeline file (YAML, with comments) for the next turn of the improvement cycle from this evaluation."""
    weights = Path(model)
    notes = [f"# Continuous improvement of {weights.name}, written from its evaluation on the {split} split."]
    version = newest_version_of(dataset, settings)
    if version is not None:
        data = str(version["path"])
        notes.append(f"# Dataset: {version['name']} v{version['version']}, the newest version made from {dataset}.")
    else:
        data = dataset
        notes.append(
            "# Dataset: no version with fixes exists yet; make one on the Data quality page (audit → fix list →"
            " new version) and put its path here."
        )
    registered = version_index(settings).get(_file_hash(weights)) if weights.is_file() else None
    name = (
        registered[0].name
        if registered
        else re.sub(r"[^a-z0-9._-]+", "-", weights.parent.parent.name.lower()) or "model"
    )
    name = name.strip("-._") or "model"
    production = f"{name}@{PRODUCTION}" if registered and PRODUCTION in registered[0].aliases else None
    imgsz = trained_imgsz(weights, settings) or DEFAULT_IMGSZ
    steps: dict[str, Any] = {
        "validate": {},
        "train": {
            "mode": "transfer",
            "base_model_path": str(weights),
            "epochs": RETRAIN_EPOCHS,
            "imgsz": int(imgsz),
        },
        "evaluate": {"split": split},
    }
    rules = ["leakage.copies == 0"]
    if production:
        steps["compare"] = {"against": production, "split": split}
        rules = [f"map50_95 >= {PRODUCTION} - {MARGIN}", "compare.verdict != a_better", *rules]
        notes.append(f"# Gate: not worse than {production} (within {MARGIN}), and the A/B test does not favour it.")
    else:
        notes.append(f"# Gate: no version of {name} carries '{PRODUCTION}' yet; set a floor for mAP50-95 below.")
        rules = ["map50_95 >= 0.5", *rules]
    steps["export"] = {"formats": ["onnx"]}
    rules.append("export.onnx.parity == passed")
    steps["gate"] = {"rules": rules}
    steps["register"] = {"name": name, "alias_on_pass": PRODUCTION if production else "candidate"}
    notes.append("# Review, then run it: the steps after a failed gate are skipped and nothing is promoted.")
    body = {"name": f"{name}-improve", "dataset": data, "steps": steps}
    return "\n".join(notes) + "\n" + yaml.safe_dump(body, sort_keys=False, width=1000)
