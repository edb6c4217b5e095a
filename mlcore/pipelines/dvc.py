"""`pipeline to-dvc`: a dvc.yaml whose stage calls the studio, for teams that drive experiments with DVC.

    text = dvc_yaml(Path("pipeline.yaml").read_text(), "pipeline.yaml", sets=[], results="results")

The stage runs the whole pipeline through the studio (its queue, leases and run folders), so DVC tracks what
goes in (the file, the dataset, each step's settings as params) and what comes out (the report, the JUnit file,
the gate, and a flat metrics.json for `dvc metrics diff` and `dvc exp show`). The studio's steps stay one stage:
they hand each other files in the studio's outputs that DVC need not cache. `dvc exp run --set-param
FILE:steps.train.epochs=20` edits the file and runs it again. Ultralytics' DVCLive callback stays off in the
studio's workers either way (mlcore.engine.env).
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from mlcore.core import paths
from mlcore.pipelines.results import METRICS
from mlcore.pipelines.spec import DATASET_VERSION, PipelineSpec

HEADER = "# Written by `python -m mlcore pipeline to-dvc {file}`: run it with `dvc repro` or `dvc exp run`.\n"


def dvc_yaml(text: str, file: str, sets: list[str] | tuple[str, ...] = (), results: str = "results") -> str:
    spec = PipelineSpec.from_text(text, sets)
    out = f"{results.rstrip('/')}/{spec.name}"
    cmd = ["python", "-m", "mlcore", "pipeline", "run", file, "--wait", "--results", out]
    for assignment in sets:
        cmd += ["--set", assignment]
    deps = [file] + ([] if DATASET_VERSION.match(spec.dataset) else [spec.dataset])
    params = [f"steps.{name}" for name, settings in spec.steps if settings]
    stage: dict[str, Any] = {
        "cmd": shlex.join(cmd),
        "deps": deps,
        "params": [{file: params}],
        "outs": [
            {f"{out}/{name}": {"cache": False}} for name in (paths.PIPELINE_REPORT, paths.JUNIT_FILE, paths.GATE_FILE)
        ],
        "metrics": [{f"{out}/{METRICS}": {"cache": False}}],
    }
    if not params:
        del stage["params"]
    return HEADER.format(file=file) + yaml.safe_dump({"stages": {spec.name: stage}}, sort_keys=False, width=1000)
