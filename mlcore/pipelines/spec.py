"""A pipeline file: what a good model is, as a YAML file in the team's repository, checked before anything runs.

    name: logos                          # the run's folder is ml_outputs/pipelines/logos_{timestamp}/
    dataset: ml_outputs/datasets/logos   # a dataset folder, its data.yaml, or a dataset version: logos@v3
    model: logos@production              # optional: the model the steps use when there is no train step
    steps:                               # run in the order written
      validate: {}
      train: {model_architecture: yolo26n, epochs: 50, imgsz: 640, base_model_path: logos@production}
      evaluate: {split: test}
      compare: {against: logos@production}
      gate:
        rules: ["map50_95 >= production - 0.005", "recall[cactus] >= 0.8", "leakage.copies == 0"]
      export: {formats: [onnx], parity: true}
      register: {name: logos, alias_on_pass: staging}

    spec = PipelineSpec.from_text(text, sets=["steps.train.epochs=5"])   # PipelineError naming the field

Each step's settings are the fields of the studio's own request for it (TrainSpec, EvalSpec, AuditSpec,
ExportSpec, the A/B ComparisonRequest), checked by those specs; the pipeline fills in the dataset and the model.
When the gate fails, the steps after it are skipped: nothing is exported, registered or promoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from mlcore.compare.pairing import ComparisonError
from mlcore.core.spec import SpecError, one_of
from mlcore.core.user_yaml import UnsafeYaml, read_yaml_text
from mlcore.pipelines.rules import Rule, RuleContext, RuleError, parse_rules
from mlcore.training.spec import NAME_PATTERN

STEPS = ("validate", "train", "evaluate", "audit", "compare", "gate", "export", "register")
NEEDS_MODEL = ("evaluate", "audit", "compare", "export", "register")
TOP_LEVEL = ("name", "dataset", "model", "steps")
MODEL_FIELD = "model_path"
FILLED_IN = {  # a step's request fields the pipeline sets itself (others: the model and the dataset)
    "train": (MODEL_FIELD, "dataset_path", "project", "experiment", "trial"),
    "export": (MODEL_FIELD,),  # an export may check parity on another dataset
}
VALIDATE_FIELDS = {"fail_on": "error", "near_duplicates": True, "check_images": True}
FAIL_ON = ("error", "warning")
COMPARE_FIELDS = ("against", "split", "imgsz", "thresholds", "confidence", "iou", "resamples", "seed")
REGISTER_FIELDS = ("name", "alias_on_pass", "reason")
DATASET_VERSION = re.compile(r"^(?P<name>[A-Za-z0-9][\w.-]{0,63})@(?P<version>v\d+)$")
PLACEHOLDER_MODEL = "model.pt"  # what a step's fields are checked with before the pipeline has a model
EXAMPLE = "examples/pipelines/demo.yaml"
MAX_NAME = 55  # its training's project, pipeline-{name}, stays within a run name's 64 characters


class PipelineError(SpecError):
    """The file is not a pipeline the studio can run; the message names the field and how to fix it."""


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    dataset: str
    steps: tuple[tuple[str, dict[str, Any]], ...]
    model: str = ""
    text: str = field(default="", compare=False)
    """The file as given, with its overrides applied (what the run's folder keeps)."""

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.steps)

    def settings(self, step: str) -> dict[str, Any]:
        return dict(self.steps[self.step_names.index(step)][1])

    def rules(self, classes: tuple[str, ...] = ()) -> list[Rule]:
        """The gate's rules, checked against what the steps before the gate measure (none without a gate)."""
        if "gate" not in self.step_names:
            return []
        before = self.step_names[: self.step_names.index("gate")]
        export = self.settings("export") if "export" in self.step_names else {}
        named = export.get("formats") or ("onnx",)
        formats = ((named,) if isinstance(named, str) else tuple(named)) if export else ()
        baseline = None
        if "compare" in before:
            against = str(self.settings("compare")["against"])
            baseline = against.split("@", 1)[1] if "@" in against else against
        context = RuleContext(
            before,
            classes,
            formats if "export" in before else (),
            baseline,
            parity=export.get("parity", True) is not False,
        )
        try:
            return parse_rules(self.settings("gate").get("rules"), context)
        except RuleError as exc:
            raise PipelineError(str(exc)) from None

    @classmethod
    def from_text(cls, text: str, sets: list[str] | tuple[str, ...] = ()) -> PipelineSpec:
        try:
            data = read_yaml_text(text, "the pipeline file")
        except (UnsafeYaml, yaml.YAMLError) as exc:
            raise PipelineError(f"the pipeline file is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise PipelineError(f"a pipeline file is a mapping with {', '.join(TOP_LEVEL)} (see {EXAMPLE}).")
        for assignment in sets:
            apply_override(data, assignment)
        spec = cls.from_dict(data)
        return cls(spec.name, spec.dataset, spec.steps, spec.model, yaml.safe_dump(data, sort_keys=False))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSpec:
        unknown = sorted(set(data) - set(TOP_LEVEL), key=str)
        if unknown:
            raise PipelineError(f"unknown field(s) {unknown}; a pipeline file has {', '.join(TOP_LEVEL)}.")
        name = data.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > MAX_NAME:
            raise PipelineError(
                f"name={name!r}; name the pipeline with up to {MAX_NAME} letters, digits, '_', '-', '.' (e.g. logos)."
            )
        dataset = data.get("dataset")
        if not isinstance(dataset, str) or not dataset.strip():
            raise PipelineError(
                "dataset is missing; give a dataset folder, its data.yaml, or a version (e.g. dataset: logos@v3)."
            )
        model = data.get("model") or ""
        if not isinstance(model, str):
            raise PipelineError(f"model={model!r}; name a model as text (a run, NAME@ALIAS, NAME:N or a weights file).")
        raw = data.get("steps")
        if not isinstance(raw, dict) or not raw:
            raise PipelineError(
                f"steps is empty; give the steps in the order they run, from {', '.join(STEPS)} (see {EXAMPLE})."
            )
        steps: list[tuple[str, dict[str, Any]]] = []
        for step, settings in raw.items():
            if not isinstance(step, str) or step not in STEPS:
                raise PipelineError(f"steps: {step!r} is not a step; use {', '.join(STEPS)}.")
            settings = {} if settings is None else settings
            if not isinstance(settings, dict):
                raise PipelineError(
                    f"steps.{step}: give its settings as a mapping (e.g. {step}: {{}}), not {settings!r}."
                )
            if any(not isinstance(key, str) for key in settings):
                raise PipelineError(f"steps.{step}: every setting is named by a word, not {list(settings)!r}.")
            try:
                check_step(step, settings, dataset.strip())
            except (SpecError, ComparisonError, ValueError, TypeError) as exc:
                raise PipelineError(f"steps.{step}: {exc}") from None
            steps.append((step, settings))
        spec = cls(name, dataset.strip(), tuple(steps), model.strip())
        check_order(spec)
        spec.rules()  # every rule parses and reads what a step before the gate measures (classes: at submission)
        return spec


def check_order(spec: PipelineSpec) -> None:
    names = spec.step_names
    if not spec.model and "train" not in names and any(s in names for s in NEEDS_MODEL):
        first = next(s for s in names if s in NEEDS_MODEL)
        raise PipelineError(
            f"steps.{first} needs a model: add a train step before it, or name one with model: (e.g. logos@production)."
        )
    if "train" in names:
        late = [s for s in names[: names.index("train")] if s in NEEDS_MODEL]
        if late:
            raise PipelineError(
                f"steps.{late[0]} comes before train; it would not use the trained model. Move it after."
            )
    register = spec.settings("register") if "register" in names else {}
    if register.get("alias_on_pass"):
        if "gate" not in names:
            raise PipelineError("steps.register.alias_on_pass moves the alias when the gate passes: add a gate step.")
        if names.index("register") < names.index("gate"):
            raise PipelineError("steps.register with alias_on_pass must come after the gate step it waits for.")


def check_step(step: str, settings: dict[str, Any], dataset: str) -> None:
    """SpecError (or ComparisonError) naming the field when the step's settings are not a request the studio takes."""
    from mlcore.evaluation.spec import EvalSpec
    from mlcore.export.spec import ExportSpec
    from mlcore.quality.spec import AuditSpec
    from mlcore.registry.ab import ComparisonRequest
    from mlcore.registry.store import check_alias, check_name

    filled = [k for k in settings if k in FILLED_IN.get(step, (MODEL_FIELD, "dataset_path"))]
    if filled:
        raise SpecError(f"{filled[0]} is set by the pipeline (its dataset, its model and its run's name); remove it.")
    if step == "validate":
        _known(settings, tuple(VALIDATE_FIELDS))
        one_of("fail_on", settings.get("fail_on", "error"), FAIL_ON)
    elif step == "train":
        train_spec(settings, dataset, "pipeline", "check")
    elif step == "evaluate":
        EvalSpec.from_dict({"model_path": PLACEHOLDER_MODEL, "dataset_path": dataset, **settings})
    elif step == "audit":
        AuditSpec.from_dict({"model_path": PLACEHOLDER_MODEL, "dataset_path": dataset, **settings})
    elif step == "export":
        ExportSpec.from_dict({"model_path": PLACEHOLDER_MODEL, "dataset_path": dataset, **settings})
    elif step == "compare":
        _known(settings, COMPARE_FIELDS)
        if not str(settings.get("against") or "").strip():
            raise SpecError("against is missing; name the model to beat (e.g. against: logos@production).")
        ComparisonRequest(a=str(settings["against"]), b=PLACEHOLDER_MODEL, dataset_path=dataset, **_without(settings))
    elif step == "gate":
        _known(settings, ("rules",))
    elif step == "register":
        _known(settings, REGISTER_FIELDS)
        check_name(str(settings.get("name") or ""))
        if settings.get("alias_on_pass"):
            check_alias(settings["alias_on_pass"])


def train_spec(settings: dict[str, Any], dataset: str, project: str, experiment: str) -> Any:
    """The TrainSpec of the train step: its settings, the pipeline's dataset, a transfer when a base is named."""
    from mlcore.training.spec import TrainSpec

    fields = {"dataset_path": dataset, "project": project, "experiment": experiment, **settings}
    if settings.get("base_model_path") and "mode" not in settings:
        fields["mode"] = "transfer"
    return TrainSpec.from_dict(fields)


def _known(settings: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(settings) - set(known), key=str)
    if unknown:
        raise SpecError(f"unknown field(s) {unknown}; known fields are {list(known)}.")


def _without(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k != "against"}


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """`--set steps.train.epochs=5` (or `train.epochs=5`, `dataset=...`): the value read as YAML."""
    key, sep, text = str(assignment).partition("=")
    key = key.strip()
    if not sep or not key:
        raise PipelineError(f"--set {assignment!r}; write KEY=VALUE (e.g. --set steps.train.epochs=5).")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    parts = key.split(".")
    if parts[0] in STEPS:
        parts = ["steps", *parts]
    if parts[0] not in TOP_LEVEL:
        raise PipelineError(f"--set {key}: {parts[0]!r} is no field; use {', '.join(TOP_LEVEL)} or a step's setting.")
    target = data
    for part in parts[:-1]:
        if target.get(part) is None:
            target[part] = {}
        if not isinstance(target[part], dict):
            raise PipelineError(f"--set {key}: {part} is not a mapping in the file.")
        target = target[part]
    target[parts[-1]] = value
