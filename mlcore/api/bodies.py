"""Request bodies of the HTTP API, with the original system's field names.

Pydantic checks the JSON types and documents the fields in the OpenAPI schema; the studio's own
specs (TrainSpec, EvalSpec, ValidationOptions) then check the values, so the API, the app and the
command line refuse the same things with the same messages. Unknown fields are refused, so a typo
is reported instead of silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlcore.core import paths
from mlcore.datasets.validation.options import ValidationOptions
from mlcore.datasets.versions import RESPLIT_TOLERANCE
from mlcore.engine.heads import NMS_FREE_HELP
from mlcore.evaluation.spec import SPLITS, EvalSpec
from mlcore.export.formats import PRECISIONS
from mlcore.export.spec import AUTO_SPLIT, ExportSpec
from mlcore.predict.spec import PredictSpec
from mlcore.quality.spec import AUDIT_SPLITS, AuditSpec, DriftSpec, SelectSpec
from mlcore.registry.references import MODEL_FORMS
from mlcore.training.spec import ARCHITECTURES, MODES, TrainSpec
from mlcore.tuning.spec import OBJECTIVES, PRUNERS, SAMPLERS, TuneSpec

MODEL_NAME = "A" + MODEL_FORMS.removeprefix("Name a model as a")  # "A weights file or an export ..."

Architecture = Literal[ARCHITECTURES]  # type: ignore[valid-type]
Mode = Literal[MODES]  # type: ignore[valid-type]
Split = Literal[SPLITS]  # type: ignore[valid-type]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetValidateRequest(Body):
    """POST /api/v1/ml/dataset/validate (defaults: ValidationOptions')"""

    dataset_path: str = Field(
        description="Dataset folder or data.yaml; a relative path is looked up in the dataset roots."
    )
    check_images: bool = Field(
        ValidationOptions.check_images, description="Open every image: corrupt, truncated, EXIF-rotated, tiny."
    )
    check_labels: bool = Field(
        ValidationOptions.check_labels, description="Check label syntax, class ids and box ranges."
    )
    validate_format: bool = Field(
        ValidationOptions.validate_format, description="Check image/label pairing, orphans and file formats."
    )
    near_duplicates: bool = Field(
        ValidationOptions.near_duplicates, description="Look for near-duplicate images within and across splits."
    )
    imgsz: int = Field(ValidationOptions.imgsz, description="Training image size, for the tiny-box checks.")


class TrainingStartRequest(Body):
    """POST /api/v1/ml/training/start (defaults: TrainSpec's)"""

    mode: Mode = Field(
        TrainSpec.mode, description="full (from scratch), transfer (from base_model_path), resume or extend."
    )
    dataset_path: str = Field(TrainSpec.dataset_path, description="Dataset folder or data.yaml (full and transfer).")
    model_architecture: Architecture = TrainSpec.model_architecture
    epochs: int = Field(TrainSpec.epochs, description="Epochs in total; for extend, how many more.")
    batch_size: int = Field(TrainSpec.batch_size, description="Images per batch; -1 lets Ultralytics choose (one GPU).")
    learning_rate: float | None = Field(
        TrainSpec.learning_rate, description="Initial learning rate (lr0); null keeps the default."
    )
    base_model_path: str | None = Field(
        TrainSpec.base_model_path, description=f"transfer: the model to start from. {MODEL_NAME}"
    )
    resume_from: str | None = Field(
        TrainSpec.resume_from, description="resume and extend: the run (project/experiment or its folder)."
    )
    imgsz: int = TrainSpec.imgsz
    device: str = Field(TrainSpec.device, description="auto, cpu, a GPU index ('0') or several ('0,1').")
    workers: int = Field(TrainSpec.workers, description="Data loader processes.")
    optimizer: str = TrainSpec.optimizer
    patience: int = Field(TrainSpec.patience, description="Stop after this many epochs without improvement.")
    seed: int = TrainSpec.seed
    project: str = TrainSpec.project
    experiment: str = Field(
        TrainSpec.experiment, description="Run name under trainings/{project}/; empty: a dated one."
    )
    augmentation: dict[str, float] = Field(
        default_factory=dict,
        description="Augmentation settings that differ from Ultralytics' defaults, e.g. "
        '{"mosaic": 0.5}: hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective, flipud, fliplr, '
        "mosaic, mixup, copy_paste, erasing.",
    )


class AugmentationPreviewRequest(Body):
    """POST /api/v1/ml/training/augmentation-preview"""

    dataset_path: str = Field(description="Dataset folder or data.yaml; its train split is sampled.")
    augmentation: dict[str, float] = Field(default_factory=dict, description="As in /training/start.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="The same seed gives the same draw.")
    samples: int = Field(9, ge=1, le=36)
    imgsz: int = Field(320, ge=32, le=1280)


class VisualizeRequest(Body):
    """POST /api/v1/ml/model/visualize"""

    model_path: str = Field(
        description="The run: its weights (e.g. .../weights/best.pt), its folder, or project/experiment."
    )
    include_confusion_matrix: bool = True
    include_pr_curve: bool = True
    include_f1_curve: bool = True
    include_training_history: bool = True
    include_class_metrics: bool = True


class ModelValidateRequest(Body):
    """POST /api/v1/ml/model/validate (defaults: EvalSpec's)"""

    model_path: str = Field(description=MODEL_NAME)
    test_dataset_path: str = Field(description="Dataset folder or data.yaml.")
    split: Split = EvalSpec.split
    confidence_threshold: float = EvalSpec.confidence_threshold
    iou_threshold: float = EvalSpec.match_iou
    imgsz: int = EvalSpec.imgsz
    device: str = EvalSpec.device
    save_predictions: bool = EvalSpec.save_predictions
    analyze_errors: bool = EvalSpec.analyze_errors
    nms_free: bool = Field(EvalSpec.nms_free, description=NMS_FREE_HELP)


class ModelExportRequest(Body):
    """POST /api/v1/ml/model/export (defaults: ExportSpec's)"""

    model_path: str = Field(description=f"{MODEL_NAME} Not an export: its .pt.")
    formats: list[str] = Field(
        list(ExportSpec.formats), description="onnx, openvino, torchscript, engine (TensorRT, with a GPU)."
    )
    precision: Literal[PRECISIONS] = Field(  # type: ignore[valid-type]
        ExportSpec.precision, description="fp32, fp16, int8 or bf16 (OpenVINO in bfloat16, where the CPU has it)."
    )
    imgsz: int = Field(ExportSpec.imgsz, description="A multiple of 32; 0 = the size the model was trained at.")
    dynamic: bool = ExportSpec.dynamic
    simplify: bool = ExportSpec.simplify
    opset: int | None = ExportSpec.opset
    dataset_path: str = Field(
        ExportSpec.dataset_path, description="For the parity check and INT8; empty = the model's own dataset."
    )
    split: Literal[(AUTO_SPLIT, *SPLITS)] = ExportSpec.split  # type: ignore[valid-type]
    parity: bool = ExportSpec.parity
    nms_free: bool = Field(ExportSpec.nms_free, description=NMS_FREE_HELP)
    tolerance: float | None = ExportSpec.tolerance
    device: str = ExportSpec.device


class PredictionsRequest(Body):
    """POST /api/v1/ml/predictions (defaults: PredictSpec's)"""

    model_path: str = Field(
        PredictSpec.model_path, description="A run's weights, a trusted .pt or an export; empty = the default model."
    )
    source: str = Field(description="A folder of images or a video (MP4, AVI, MOV) under the dataset roots.")
    confidence_threshold: float | None = Field(None, description="Empty = the model's profile (or 0.25).")
    iou_threshold: float | None = Field(None, description="NMS IoU; empty = the model's profile (or 0.7).")
    profile: str = Field(
        PredictSpec.profile, description="default (the model's saved one), none, a JSON object or a profile.json path."
    )
    every_nth_frame: int = Field(PredictSpec.every_nth_frame, description="Videos: every N-th frame.")
    save_images: bool = Field(PredictSpec.save_images, description="Also write annotated images or an annotated video.")
    imgsz: int = Field(PredictSpec.imgsz, description="0 = the model's own size.")
    device: str = PredictSpec.device
    nms_free: bool | None = Field(None, description=NMS_FREE_HELP + " Empty = the model's profile (or false).")
    output_url: str = Field("", description="s3://BUCKET/PREFIX the job's results are uploaded to; empty = none.")


class ModelRegisterRequest(Body):
    """POST /api/v1/ml/models/register"""

    run: str = Field(description="A finished run's folder (or project/experiment), or a weights file.")
    name: str = Field(description="The registered model's name, e.g. logo-detector.")
    reason: str = Field("", description="Why (kept in the audit trail).")


class BaseModelAddRequest(Body):
    """POST /api/v1/ml/models/bases (an upload: POST /api/v1/ml/models/bases/upload)"""

    source: str = Field(
        description="A .pt file on the server (under the model or dataset roots), a file name on the weights mirror "
        "(yolo26n.pt: <ML_STUDIO_WEIGHTS_MIRROR>/yolo26n.pt), or a URL on the mirror's scheme, host and port."
    )
    name: str | None = Field(
        None, description="Kept as <name>.pt in the trusted models folder (default: the source's file name)."
    )


class AliasRequest(Body):
    """POST /api/v1/ml/models/{name}/aliases"""

    alias: str = Field(description="production, candidate or any name; one version at a time.")
    version: int = Field(description="The version number.")
    reason: str = Field("", description="Why (kept in the audit trail; needed to override the gate).")
    override: bool = Field(False, description="Move a gated alias although a check failed (with a reason).")


class ArchiveRequest(Body):
    """POST /api/v1/ml/models/{name}/versions/{version}/archive"""

    archived: bool = Field(True, description="true archives the version, false restores it.")
    reason: str = ""


class CompareRequest(Body):
    """POST /api/v1/ml/models/compare"""

    a: str = Field(description="NAME:VERSION, NAME@ALIAS, a run or a weights path.")
    b: str = Field(description="The same kinds as a.")
    dataset_path: str = Field(description="Dataset folder or data.yaml.")
    split: Split = "test"
    imgsz: int | None = Field(None, description="Image size (default: the size model a was trained at).")
    thresholds: Literal["profile", "common"] = "profile"
    confidence: float = Field(0.25, description="With thresholds=common: the confidence of both models.")
    iou: float = Field(0.7, description="With thresholds=common: the NMS IoU of both models.")
    resamples: int = Field(1000, description="Bootstrap resamples (100 to 100000).")
    seed: int = 0


class PipelineStartRequest(Body):
    """POST /api/v1/ml/pipelines: a pipeline file's content (examples/pipelines/demo.yaml shows one)"""

    content: str = Field(max_length=1 << 20, description="The pipeline file (YAML): name, dataset, model, steps.")
    set: list[str] = Field(
        [], max_length=100, description="Overrides as KEY=VALUE, like the CLI's --set (e.g. train.epochs=5)."
    )


class TuningStartRequest(Body):
    """POST /api/v1/ml/tuning/start (defaults: TuneSpec's)"""

    study: str = Field("", description="The study's name; empty = a dated one.")
    dataset_path: str = Field(description="Dataset folder or data.yaml.")
    architectures: list[Architecture] = Field(
        list(TuneSpec.architectures), description="One, or several to choose from."
    )
    base_model_path: str | None = Field(None, description=f"Start every trial from this model. {MODEL_NAME}")
    epochs: int = Field(TuneSpec.epochs, description="Epochs per trial.")
    trials: int | None = Field(TuneSpec.trials, description="At most this many trials.")
    hours: float | None = Field(TuneSpec.hours, description="At most this many hours.")
    objective: Literal[tuple(OBJECTIVES)] = TuneSpec.objective  # type: ignore[valid-type]
    space: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameter -> {low, high[, log]} or a list of choices; empty = the default space.",
    )
    sampler: Literal[SAMPLERS] = TuneSpec.sampler  # type: ignore[valid-type]
    seed: int = TuneSpec.seed
    pruner: Literal[PRUNERS] = TuneSpec.pruner  # type: ignore[valid-type]
    pruner_startup_trials: int = TuneSpec.pruner_startup_trials
    pruner_warmup_epochs: int = TuneSpec.pruner_warmup_epochs
    parallel: int = Field(TuneSpec.parallel, description="Trials at once; 0 = one per free device.")
    batch_size: int = TuneSpec.batch_size
    imgsz: int = TuneSpec.imgsz
    device: str = TuneSpec.device
    workers: int = TuneSpec.workers
    advanced: dict[str, Any] = Field(default_factory=dict, description="Ultralytics train arguments every trial uses.")
    first_trials: list[dict[str, Any]] = Field(default_factory=list, description="Settings to try first.")


AuditSplit = Literal[AUDIT_SPLITS]  # type: ignore[valid-type]


class AuditRequest(Body):
    """POST /api/v1/ml/audits (defaults: AuditSpec's)"""

    model_path: str = Field(description=f"{MODEL_NAME} Not an export: its .pt.")
    dataset_path: str = Field(description="Dataset folder or data.yaml.")
    split: AuditSplit = AuditSpec.split
    kfold: int = Field(AuditSpec.kfold, description="0: predict with the model; K >= 2: K short trainings (train).")
    kfold_epochs: int = AuditSpec.kfold_epochs
    imgsz: int = AuditSpec.imgsz
    device: str = AuditSpec.device
    nms_free: bool = Field(AuditSpec.nms_free, description=NMS_FREE_HELP)


class SelectionRequest(Body):
    """POST /api/v1/ml/selections (defaults: SelectSpec's)"""

    model_path: str = Field(description=MODEL_NAME)
    images: str = Field(description="The folder of unlabelled images.")
    top: int = Field(SelectSpec.top, description="How many to export with pre-labels.")
    imgsz: int = SelectSpec.imgsz
    device: str = SelectSpec.device


class DriftRequest(Body):
    """POST /api/v1/ml/drift (defaults: DriftSpec's)"""

    images: str = Field(description="The folder of new images.")
    dataset_path: str = Field(description="The dataset the model was trained on.")
    split: AuditSplit = DriftSpec.split
    model_path: str | None = Field(None, description=f"Also compare the model's predictions. {MODEL_NAME}")
    imgsz: int = DriftSpec.imgsz
    device: str = DriftSpec.device


VersionSplit = Literal[paths.SPLITS]  # type: ignore[valid-type]


def _resplit() -> Any:
    return Field(None, description='Assign train/val/test anew, e.g. "70/20/10" or "80/20"; copies stay together.')


def _tolerance() -> Any:
    return Field(
        RESPLIT_TOLERANCE,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="How far each split's share may miss the requested one (0.05: 5 points).",
    )


class DatasetVersionRequest(Body):
    """POST /api/v1/ml/datasets/versions (`python -m mlcore dataset version`); at least one change."""

    source: str = Field(description="The dataset (or an earlier version) to start from; it is never written.")
    apply_fixes: str | None = Field(
        None, description="A label audit's fix_list.csv (the rows you accept), under the dataset roots or the outputs."
    )
    remove: str | None = Field(
        None,
        description="A file of image paths to leave out (one a line, relative to the dataset root), under the "
        'dataset roots or the outputs; or "errors": every image with a validation error.',
    )
    add: str | None = Field(None, description="Labelled images to add: a folder with images/, labels/ and classes.txt.")
    add_to: VersionSplit = Field("train", description="The split the added images go to.")
    merge: str | None = Field(None, description="Another dataset to merge in; classes of the same name become one.")
    class_map: dict[str, str] | None = Field(
        None, description='With merge: {their class: ours or a new name}, e.g. {"Logo": "logo"}.'
    )
    resplit: str | None = _resplit()
    tolerance: float = _tolerance()
    name: str | None = Field(None, description="The versions' name (default: the source's).")
    to: str | None = Field(
        None,
        description="Also upload the version to a bucket (s3://BUCKET/PREFIX or LOCATION:PREFIX), under "
        "datasets/NAME/vN/; the answer's `upload` says where it went, or why not yet (it is tried again).",
    )


class CocoImportRequest(Body):
    """POST /api/v1/ml/datasets/import-coco (`python -m mlcore dataset import-coco`)"""

    source: str = Field(
        description="A COCO instances JSON, or a Roboflow COCO export's folder (train/, valid/, test/)."
    )
    images: str | None = Field(None, description="The folder of the JSON's images (not needed for a Roboflow folder).")
    name: str | None = Field(None, description="The versions' name (default: the file's or folder's).")


class DatasetRepairRequest(Body):
    """POST /api/v1/ml/datasets/repair (`python -m mlcore dataset repair`)"""

    source: str = Field(description="The dataset folder or data.yaml (e.g. a CVAT or Label Studio export).")
    check: bool = Field(False, description="Only say what a repaired version would fix; write nothing.")
    resplit: str | None = _resplit()
    tolerance: float = _tolerance()
    name: str | None = Field(None, description="The versions' name (default: the source folder's).")


class DatasetCompareRequest(Body):
    """POST /api/v1/ml/datasets/compare"""

    a: str = Field(description="A dataset folder or data.yaml (e.g. a version's parent).")
    b: str = Field(description="The dataset to compare it with (e.g. the version).")


class StoragePullRequest(Body):
    """POST /api/v1/ml/storage/pull (`python -m mlcore storage pull URL`)"""

    url: str = Field(description="s3://BUCKET/PREFIX or LOCATION:PREFIX: a dataset folder in a bucket.")


class StorageTrimRequest(Body):
    """POST /api/v1/ml/storage/cache/trim (`python -m mlcore storage cache --trim [--forget URL]`)"""

    forget: list[str] = Field(
        default_factory=list, description="Pulled datasets (their URLs) to remove first; they are pulled again in full."
    )


class TrackRequest(Body):
    """POST /api/v1/ml/tracks (defaults: TrackSpec's)"""

    model_path: str = Field(description="A run's weights, NAME@ALIAS, NAME:N, a trusted .pt or an export.")
    source: str = Field(
        description="A video file or a folder of frames under the dataset roots (relative: looked up there), or an "
        "rtsp:// or http(s):// stream from a host in ML_STUDIO_STREAM_HOSTS (without a login: the setting holds it)."
    )
    tracker: str = Field("", description="One of GET /trackers (empty: Ultralytics' default) or a tracker YAML file.")
    tracker_settings: dict[str, Any] = Field(
        default_factory=dict, description='Changes to the tracker\'s settings, e.g. {"track_buffer": 60}.'
    )
    confidence_threshold: float | None = Field(None, description="Empty = the model's profile (or 0.25).")
    iou_threshold: float | None = Field(None, description="NMS IoU; empty = the model's profile (or 0.7).")
    profile: str = Field("default", description="default (the model's saved one), none, a JSON object or a path.")
    every_nth_frame: int = Field(1, description="Track on every N-th frame (above 1 weakens tracking).")
    lines: list[Any] = Field(
        default_factory=list,
        description='Counting lines: "x1,y1,x2,y2" or {"points": [x1, y1, x2, y2], "name": "gate", "direction": '
        '"both|in|out"} in pixels; "in" is the crossing from its left to its right, looking from its first point.',
    )
    zones: list[Any] = Field(
        default_factory=list,
        description='Counting zones: "x,y,x,y,x,y,..." or {"points": [...], "name": "dock"} (three points or more).',
    )
    fps: float = Field(0.0, description="The frames' rate: 0 = the video's own (a folder of frames: 25).")
    max_frames: int = Field(0, description="Stop after this many frames (0: to the end; a stream until stopped).")
    save_video: bool = Field(True, description="Write annotated.mp4 (boxes, ids, trails).")
    imgsz: int = Field(0, description="0 = the model's own size.")
    device: str = "auto"
    nms_free: bool | None = Field(None, description=NMS_FREE_HELP + " Empty = the model's profile (or false).")


class RecountRequest(Body):
    """POST /api/v1/ml/tracks/{track_id}/recount"""

    lines: list[Any] = Field(default_factory=list, description="Counting lines, as in POST /tracks.")
    zones: list[Any] = Field(default_factory=list, description="Counting zones, as in POST /tracks.")
