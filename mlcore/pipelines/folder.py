"""A pipeline run's folder, ml_outputs/pipelines/{name}_{timestamp}/, and the state of its steps.

    folder = PipelineFolder(path)
    folder.spec()                       # the file as given (pipeline.yaml)
    folder.steps()                      # [{"step", "state", "job", "started", "ended", "output", "error"}, ...]
    folder.update("train", state=RUNNING, job=job.id)

steps.json is the truth a resumed coordinator reads: a passed step is not run again, a step whose job is still
running is waited for, and any other step runs (again).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcore.core import paths
from mlcore.core.atomic_file import write_json_atomically
from mlcore.core.paths import RunFolder
from mlcore.core.settings import Settings
from mlcore.pipelines.spec import PipelineSpec

PENDING, RUNNING, PASSED, FAILED, SKIPPED = "pending", "running", "passed", "failed", "skipped"
STEP_STATES = (PENDING, RUNNING, PASSED, FAILED, SKIPPED)


@dataclass(frozen=True)
class PipelineFolder:
    path: Path

    @classmethod
    def root(cls, settings: Settings) -> Path:
        return settings.outputs_root / paths.PIPELINES_DIR

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def file(self) -> Path:
        return self.path / paths.PIPELINE_FILE

    @property
    def state_file(self) -> Path:
        return self.path / paths.PIPELINE_STATE

    @property
    def gate(self) -> Path:
        return self.path / paths.GATE_FILE

    @property
    def report(self) -> Path:
        return self.path / paths.PIPELINE_REPORT

    @property
    def junit(self) -> Path:
        return self.path / paths.JUNIT_FILE

    @property
    def stop_request(self) -> Path:
        return RunFolder(self.path).stop_request

    def created(self) -> float:
        """When the run was started (steps.json is rewritten at every step; its facts keep the start)."""
        try:
            return float(self.facts().get("created") or self.file.stat().st_mtime)
        except OSError:
            return 0.0

    def exists(self) -> bool:
        return self.file.is_file() and self.state_file.is_file()

    def spec(self) -> PipelineSpec:
        return PipelineSpec.from_text(self.file.read_text())

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {"steps": []}

    def steps(self) -> list[dict[str, Any]]:
        return list(self.read().get("steps") or [])

    def step(self, name: str) -> dict[str, Any]:
        return next((s for s in self.steps() if s["step"] == name), {"step": name, "state": PENDING})

    def start(self, spec: PipelineSpec, facts: dict[str, Any]) -> None:
        """The first steps.json: every step pending, and what the pipeline was given (its dataset, its model)."""
        steps = [{"step": s, "state": PENDING, "job": None, "output": None, "error": None} for s in spec.step_names]
        write_json_atomically(self.state_file, {"pipeline": self.name, **facts, "steps": steps})

    def gate_result(self) -> dict[str, Any] | None:
        """What the gate step found (gate.json's document), once it has run."""
        return self.step("gate").get("output")

    def facts(self) -> dict[str, Any]:
        return {k: v for k, v in self.read().items() if k != "steps"}

    def update(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change one step's record (a state change stamps when it started or ended); the record as it is now."""
        data = self.read()
        now = round(time.time(), 3)
        for record in data["steps"]:
            if record["step"] != name:
                continue
            if changes.get("state") == RUNNING and record.get("state") != RUNNING:
                changes.setdefault("started", now)
                changes.setdefault("ended", None)
            if changes.get("state") in (PASSED, FAILED, SKIPPED):
                changes.setdefault("ended", now)
            record.update(changes)
            write_json_atomically(self.state_file, data)
            return record
        raise KeyError(name)
