"""A run's results in a folder of fixed name, for a CI job's artifacts and for `dvc metrics`/`dvc exp show`.

copy_results(document, Path("results"))   # report.md, junit.xml, gate.json, metrics.json, pipeline.json
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.pipelines.gate import measured

METRICS = "metrics.json"  # flat: every number the gate can read, and the gate's verdict
DOCUMENT = "pipeline.json"  # the run as `pipeline status --json` prints it


def flat_metrics(document: dict[str, Any]) -> dict[str, Any]:
    outputs = {s["step"]: s.get("output") or {} for s in document["steps"] if s.get("output")}
    values = {k: v for k, v in measured(outputs).items() if isinstance(v, int | float) and not isinstance(v, bool)}
    gate = document.get("gate")
    return {**values, "gate_passed": None if gate is None else bool(gate["passed"])}


def copy_results(document: dict[str, Any], into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    folder = Path(document["folder"])
    for name in (paths.PIPELINE_REPORT, paths.JUNIT_FILE, paths.GATE_FILE):
        if (folder / name).is_file():
            shutil.copyfile(folder / name, into / name)
    (into / METRICS).write_text(json.dumps(flat_metrics(document), indent=2, sort_keys=True) + "\n")
    (into / DOCUMENT).write_text(json.dumps(document, indent=2, default=str) + "\n")
    return into
