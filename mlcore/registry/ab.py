"""A/B comparison of two models on one split of a dataset, from their evaluations.

An evaluation is reused when its model's sha256, the dataset's fingerprint, the split and the image
size all match; the missing ones are queued as ordinary evaluation jobs (the GPU leases and the queue
apply), and the comparison is made once they have finished:

    outcome = start_comparison(ComparisonRequest(a="logo-detector@production", b="trainings/logos/v3",
                                                 dataset_path="/data/logos"), settings, owner="ana")
    if outcome.pending: wait for outcome.pending (job ids), then call again
    else: outcome.document["verdict"], outcome.folder / "report.html"
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlcore.compare.bootstrap import RESAMPLES, SEED
from mlcore.compare.comparison import Side, compare_evaluations
from mlcore.compare.pairing import ComparisonError, class_difference
from mlcore.compare.store import save_comparison
from mlcore.core.errors import SubmitError
from mlcore.core.safe_paths import is_export
from mlcore.core.settings import Settings
from mlcore.core.spec import DEFAULT_IMGSZ, SpecError, one_of, whole
from mlcore.datasets.loader import usable_split
from mlcore.datasets.validation.fingerprint import fingerprint_of
from mlcore.engine.heads import HeadRefused, head_of
from mlcore.engine.trained_size import SizeChoice, trained_imgsz
from mlcore.evaluation.spec import SPLITS, EvalSpec
from mlcore.evaluation.store import EvaluationSummary
from mlcore.evaluation.submit import submit_evaluation
from mlcore.jobs.kinds import JobKind, JobTask
from mlcore.jobs.store import Job, JobState, jobs_of
from mlcore.predict.profile import DEFAULT_CONFIDENCE, DEFAULT_IOU, DeploymentProfile, ProfileError, read_profile
from mlcore.registry.lineage import evaluations_of
from mlcore.registry.references import ModelRef, resolve_reference

THRESHOLD_MODES = ("profile", "common")  # each model's deployment profile, or the same thresholds for both


@dataclass(frozen=True)
class ComparisonRequest:
    a: str
    b: str
    dataset_path: str
    split: str = "test"
    imgsz: int | None = None
    """None = each model at the size it was trained or exported at (what it is deployed with)."""
    thresholds: str = "profile"
    confidence: float = DEFAULT_CONFIDENCE
    """With thresholds='common': the confidence both models are held to."""
    iou: float = DEFAULT_IOU
    """With thresholds='common': the NMS IoU of both."""
    resamples: int = RESAMPLES
    seed: int = SEED

    def __post_init__(self) -> None:
        one_of("split", self.split, SPLITS, ComparisonError)
        one_of("thresholds", self.thresholds, THRESHOLD_MODES, ComparisonError)
        whole(
            "resamples",
            self.resamples,
            100,
            100_000,
            use=f"use 100 to 100000 ({RESAMPLES} is the default)",
            error=ComparisonError,
        )


@dataclass(frozen=True)
class Outcome:
    a: ModelRef
    b: ModelRef
    pending: list[str] = field(default_factory=list)
    """Job ids of evaluations still to finish (empty when the comparison is made)."""
    document: dict[str, Any] | None = None
    folder: Path | None = None


def _same_classes(a: ModelRef, b: ModelRef) -> None:
    if a.names and b.names and a.names != b.names:
        raise ComparisonError(class_difference(a.names, b.names, a.label, b.label))


def _matching(
    ref: ModelRef, fingerprint: str, split: str, imgsz: int, nms_free: bool, settings: Settings
) -> EvaluationSummary | None:
    for item in evaluations_of(ref.sha256, settings):
        spec = item.spec
        if (
            spec.get("dataset_fingerprint") == fingerprint
            and item.split == split
            and spec.get("imgsz") == imgsz
            and bool(spec.get("nms_free")) == nms_free
        ):
            return item
    return None


def _last_job(
    ref: ModelRef, fingerprint: str, split: str, imgsz: int, nms_free: bool, settings: Settings
) -> Job | None:
    """The newest evaluation job of this model, dataset, split, size and head, whatever its state."""
    for job in reversed(jobs_of(settings, JobKind.EVALUATION, JobTask.EVALUATE)):
        spec = job.spec
        if (
            spec.get("model_sha256") == ref.sha256
            and spec.get("split") == split
            and spec.get("dataset_fingerprint") == fingerprint
            and spec.get("imgsz") == imgsz
            and bool(spec.get("nms_free")) == nms_free
        ):
            return job
    return None


def _thresholds(ref: ModelRef, request: ComparisonRequest, settings: Settings) -> DeploymentProfile:
    if request.thresholds == "common":
        try:
            return DeploymentProfile(confidence=request.confidence, iou=request.iou, objective="common thresholds")
        except ProfileError as exc:
            raise ComparisonError(str(exc)) from None
    try:
        return read_profile(ref.path, settings) or DeploymentProfile(objective="no profile saved: defaults")
    except ProfileError:
        return DeploymentProfile(objective="profile unreadable: defaults")


def _size(ref: ModelRef, request: ComparisonRequest, settings: Settings) -> SizeChoice:
    """The size `ref` is evaluated at: the request's, else the one it was trained (an export: exported) at."""
    trained = ref.imgsz or trained_imgsz(ref.path, settings)
    return SizeChoice(int(request.imgsz or trained or DEFAULT_IMGSZ), trained)


def start_comparison(request: ComparisonRequest, settings: Settings, owner: str = "local") -> Outcome:
    """Resolve both models, reuse or queue their evaluations, and compare when both are there."""
    a, b = resolve_reference(request.a, settings), resolve_reference(request.b, settings)
    _same_classes(a, b)
    dataset, _ = usable_split(
        request.dataset_path,
        settings,
        request.split,
        partial=True,
        advice="compare on one of those",
        error=ComparisonError,
    )
    fingerprint = fingerprint_of(dataset)
    sizes = {ref.sha256: _size(ref, request, settings) for ref in (a, b)}
    for key, ref in (("A", a), ("B", b)):
        imgsz = sizes[ref.sha256].used
        if is_export(ref.path) and ref.imgsz and int(ref.imgsz) != imgsz:
            raise ComparisonError(
                f"model {key} ({ref.label}) is an export with a fixed input of {ref.imgsz} px; compare at that size "
                f"(--imgsz {ref.imgsz}), or export it again at {imgsz}."
            )
    heads: dict[str, bool] = {}
    for key, ref in (("a", a), ("b", b)):
        try:  # each model runs with the head it is deployed with (its profile's; an export's own)
            heads[key] = head_of(ref.path, _thresholds(ref, request, settings).nms_free)
        except HeadRefused as exc:
            raise ComparisonError(f"model {key.upper()} ({ref.label}): {exc}") from None
    found: dict[tuple[str, bool], EvaluationSummary] = {}  # one weights file may be compared with itself per head
    pending: list[str] = []
    for key, ref in (("a", a), ("b", b)):
        nms_free = heads[key]
        if (ref.sha256, nms_free) in found:
            continue
        imgsz = sizes[ref.sha256].used
        item = _matching(ref, fingerprint, request.split, imgsz, nms_free, settings)
        if item is not None:
            found[(ref.sha256, nms_free)] = item
            continue
        last = _last_job(ref, fingerprint, request.split, imgsz, nms_free, settings)
        if last is not None and last.state.is_final() and last.state is not JobState.COMPLETED:
            # not queued again by itself: a page or a script waiting for the comparison would loop
            raise ComparisonError(
                f"the evaluation of model {key.upper()} ({ref.label}) {last.state.value}: "
                f"{(last.error or 'see its log').splitlines()[0]} (job {last.id}). Evaluate it again on the Model "
                "evaluation page or with `python -m mlcore evaluate`, then compare."
            )
        if last is not None and not last.state.is_final():
            job_id = last.id
        else:
            try:
                spec = EvalSpec(
                    model_path=str(ref.path),
                    dataset_path=str(dataset),
                    split=request.split,
                    imgsz=imgsz,
                    nms_free=nms_free,
                )
                job_id = submit_evaluation(spec, settings, owner, model=ref.path).id
            except (SpecError, SubmitError) as exc:
                raise ComparisonError(f"model {key.upper()} ({ref.label}) cannot be evaluated: {exc}") from None
        if job_id not in pending:
            pending.append(job_id)
    if pending:
        return Outcome(a, b, pending)
    sides = [
        Side(
            ref.label,
            found[(ref.sha256, heads[key])].path,
            replace(_thresholds(ref, request, settings), nms_free=heads[key]),
            str(ref.path),
            ref.sha256,
            ref.text,
        )
        for key, ref in (("a", a), ("b", b))
    ]
    document = compare_evaluations(sides[0], sides[1], request.resamples, request.seed)
    document["dataset_fingerprint"] = fingerprint
    document["sizes"] = {side: sizes[ref.sha256].to_dict() for side, ref in (("a", a), ("b", b))}
    folder = save_comparison(document, settings)
    return Outcome(a, b, [], {**document, "output_dir": str(folder)}, folder)
