"""Submitting a batch prediction: the model, the source and the thresholds are checked before a process starts.

job = submit_predictions(PredictSpec(model_path=..., source="/data/new_photos"), settings)
# ml_outputs/predictions/{model_name}_{timestamp}/: labels/, predictions_coco.json, detections.csv, summary.json
"""

from __future__ import annotations

from mlcore.core.errors import SubmitError
from mlcore.core.folders import stamped_folder, write_request
from mlcore.core.safe_paths import PathNotAllowed, resolve_model, resolve_user_path
from mlcore.core.settings import PROJECT_ROOT, Settings
from mlcore.engine.trained_size import image_size
from mlcore.evaluation.submit import model_name
from mlcore.jobs.kinds import KINDS, JobKind, JobTask
from mlcore.jobs.queue import enqueue
from mlcore.jobs.store import Job
from mlcore.predict.profile import ProfileError, choose_profile, with_overrides
from mlcore.predict.sources import SourceError, describe_source
from mlcore.predict.spec import PredictSpec
from mlcore.storage.datasets import dataset_from
from mlcore.storage.locations import parse_target


def submit_predictions(spec: PredictSpec, settings: Settings, owner: str = "local") -> Job:
    """Check everything, write predict_config.yaml, queue the job and run a scheduling step."""
    model = resolve_model(spec.model_path, settings)
    if spec.output_url:
        parse_target(spec.output_url, settings)  # a StorageError (a SubmitError) when no location allows it
    try:
        source = resolve_user_path(
            dataset_from(spec.source, settings), settings.dataset_roots, base=PROJECT_ROOT, what="source"
        )
        kind, count = describe_source(source)
        saved = choose_profile(model, settings, spec.profile)
    except (PathNotAllowed, SourceError, ProfileError) as exc:
        raise SubmitError(str(exc)) from None
    profile = with_overrides(saved, spec.confidence_threshold, spec.nms_iou, spec.nms_free)
    folder = stamped_folder(settings.outputs_root / KINDS[JobKind.PREDICTION].folder, model_name(model))
    expected = count if kind == "folder" else -(-count // spec.every_nth_frame)
    size = image_size(spec.imgsz, model, settings)  # 0: the model's own, which Ultralytics' predictor takes too
    record = {
        **spec.to_dict(),
        "imgsz": size.used,
        "trained_imgsz": size.trained,
        "model_path": str(model),
        "source": str(source),
        "source_kind": kind,
        "expected_items": expected,
        "thresholds": profile.to_dict(),  # what the job uses: the profile chosen, with the thresholds given
    }
    write_request(folder, KINDS[JobKind.PREDICTION].request, record)
    return enqueue(settings, JobKind.PREDICTION, {"task": JobTask.PREDICT, **record}, folder, owner, made=folder)
