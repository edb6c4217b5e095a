"""What a tuning study is asked to do: TuneSpec, validated when it is built, JSON in and out.

    spec = TuneSpec(study="logos-lr", dataset_path="ml_outputs/datasets/demo", trials=20, epochs=10)

Every trial is an ordinary training of `epochs` epochs with the study's base settings and the trial's values;
the study ends when its budget (`trials`, `hours`, or the first of both) is spent, or when it is stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from mlcore.core.spec import (
    DEFAULT_IMGSZ,
    MAX_IMGSZ,
    STRIDE,
    SpecError,
    at_most,
    device,
    non_empty,
    one_of,
    refuse_unknown,
    whole,
)
from mlcore.training.spec import ARCHITECTURES, DATASET_HINT, NAME_PATTERN, TrainSpec, check_advanced
from mlcore.tuning.space import Param, parse_space, space_to_dict

# The objective of a trial, from a row of its results.csv; the value of a finished trial is its best epoch's.
OBJECTIVES = {
    "fitness": {"metrics/mAP50(B)": 0.1, "metrics/mAP50-95(B)": 0.9},  # Ultralytics' own fitness
    "map50-95": {"metrics/mAP50-95(B)": 1.0},
    "map50": {"metrics/mAP50(B)": 1.0},
}
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
ARCHITECTURE_PARAM = "model_architecture"  # the trial parameter that picks an architecture from a list


@dataclass(frozen=True)
class TuneSpec:
    """A study as submitted. Validated on construction; `to_dict`/`from_dict` round-trip."""

    study: str = ""
    """The study's name: its folder is ml_outputs/tuning/{study}/ and its trials' runs trainings/tune-{study}/."""
    dataset_path: str = ""
    architectures: tuple[str, ...] = ("yolov8n",)
    """One architecture, or several for the study to choose from (a parameter of every trial)."""
    base_model_path: str | None = None
    """Start every trial from these weights (transfer) instead of from scratch."""
    epochs: int = 10
    """Epochs per trial."""
    trials: int | None = 20
    """At most this many trials (None: as many as `hours` allow)."""
    hours: float | None = None
    """At most this many hours of the study's own running time (None: until `trials` are done)."""
    objective: str = "fitness"
    """fitness (0.1 mAP50 + 0.9 mAP50-95, Ultralytics' own), map50-95 or map50; maximised."""
    space: dict[str, Any] = field(default_factory=dict)
    """Parameter -> range or choices (see tuning.space); empty means the default space."""
    sampler: str = "tpe"
    seed: int = 0
    pruner: str = "median"
    """median (a trial worse than the median of earlier trials at the same epoch stops), hyperband, or none."""
    pruner_startup_trials: int = 3
    """Trials that always finish before the pruner judges any."""
    pruner_warmup_epochs: int = 1
    """Epochs of every trial before the pruner may stop it."""
    parallel: int = 0
    """Trials at once; 0 means as many as there are devices (GPUs free now, else 1)."""
    batch_size: int = TrainSpec.batch_size
    imgsz: int = TrainSpec.imgsz
    device: str = TrainSpec.device
    workers: int = TrainSpec.workers
    advanced: dict[str, Any] = field(default_factory=dict)
    """Other Ultralytics train arguments every trial uses (e.g. {"nbs": 8}); the trial's own values win."""
    first_trials: tuple[dict[str, Any], ...] = ()
    """Settings to try first (e.g. today's), each a mapping of parameter values, before the sampler's own."""

    def __post_init__(self) -> None:
        if not self.study or not NAME_PATTERN.match(self.study):
            raise SpecError(
                f"study={self.study!r}; name the study with letters, digits, '_', '-' and '.' (e.g. 'logos-lr')."
            )
        non_empty("dataset_path", self.dataset_path, DATASET_HINT)
        architectures = tuple(self.architectures) if not isinstance(self.architectures, str) else (self.architectures,)
        object.__setattr__(self, "architectures", architectures)
        object.__setattr__(self, "first_trials", tuple(self.first_trials))
        if not architectures:
            raise SpecError("architectures is empty; give at least one, e.g. ['yolov8n'].")
        unknown = [a for a in architectures if a not in ARCHITECTURES]
        if unknown:
            raise SpecError(f"architecture(s) {unknown} unknown; use {', '.join(ARCHITECTURES)}.")
        whole("epochs", self.epochs, 1)
        if self.trials is None and self.hours is None:
            raise SpecError("the study has no budget; give trials (e.g. 20) or hours (e.g. 8), or both.")
        if self.trials is not None:
            whole("trials", self.trials, 1, use="a budget of 0 trials runs nothing; give at least 1 (e.g. 20)")
        if self.hours is not None and (
            isinstance(self.hours, bool) or not isinstance(self.hours, int | float) or not self.hours > 0
        ):
            raise SpecError(f"hours={self.hours!r}; a budget of 0 hours runs nothing; give a positive number (e.g. 8).")
        one_of("objective", self.objective, tuple(OBJECTIVES))
        one_of("sampler", self.sampler, SAMPLERS)
        one_of("pruner", self.pruner, PRUNERS)
        if whole("seed", self.seed, 0) >= 2**32:
            raise SpecError(f"seed={self.seed}; use a whole number below 2**32 (e.g. 0).")
        whole("pruner_startup_trials", self.pruner_startup_trials, 0)
        whole("pruner_warmup_epochs", self.pruner_warmup_epochs, 0)
        whole("parallel", self.parallel, 0)
        whole("batch_size", self.batch_size, 1)
        whole("imgsz", self.imgsz, STRIDE)
        at_most("imgsz", self.imgsz, MAX_IMGSZ, DEFAULT_IMGSZ)
        whole("workers", self.workers, 0)
        device("device", self.device, several=True)
        if self.space:
            parse_space(self.space)  # raises SpaceError with the parameter's name
        space = self.parsed_space()
        check_advanced(self.advanced)
        for values in self.first_trials:
            if not isinstance(values, dict):
                raise SpecError(f"first_trials: {values!r} is not a mapping of parameter values.")
            extra = sorted(set(values) - set(space) - {ARCHITECTURE_PARAM})
            if extra:
                raise SpecError(f"first_trials: {extra} are not parameters of the space ({', '.join(space)}).")

    def parsed_space(self) -> dict[str, Param]:
        from mlcore.tuning.space import default_space

        return parse_space(self.space) if self.space else default_space()

    def with_default_space(self) -> TuneSpec:
        """The spec with its space written out (what the study folder records)."""
        from dataclasses import replace

        return replace(self, space=space_to_dict(self.parsed_space()))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["architectures"] = list(self.architectures)
        data["first_trials"] = [dict(t) for t in self.first_trials]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuneSpec:
        refuse_unknown(cls, data)
        values = dict(data)
        if isinstance(values.get("architectures"), list):
            values["architectures"] = tuple(values["architectures"])
        if isinstance(values.get("first_trials"), list):
            values["first_trials"] = tuple(values["first_trials"])
        return cls(**values)
