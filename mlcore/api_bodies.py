"""Request bodies of the HTTP API, with the original system's field names.

Pydantic checks the JSON types and documents the fields in the OpenAPI schema; the studio's own
specs (TrainSpec, EvalSpec, ValidationOptions) then check the values, so the API, the app and the
command line refuse the same things with the same messages. Unknown fields are refused, so a typo
is reported instead of silently ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlcore.train_spec import ARCHITECTURES, MODES

Architecture = Literal[ARCHITECTURES]  # type: ignore[valid-type]
Mode = Literal[MODES]  # type: ignore[valid-type]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetValidateRequest(Body):
    """POST /api/v1/ml/dataset/validate"""

    dataset_path: str = Field(
        description="Dataset folder or data.yaml; a relative path is looked up in the dataset roots."
    )
    check_images: bool = Field(True, description="Open every image: corrupt, truncated, EXIF-rotated, tiny.")
    check_labels: bool = Field(True, description="Check label syntax, class ids and box ranges.")
    validate_format: bool = Field(True, description="Check image/label pairing, orphans and file formats.")
    near_duplicates: bool = Field(True, description="Look for near-duplicate images within and across splits.")
    imgsz: int = Field(640, description="Training image size, for the tiny-box checks.")


class TrainingStartRequest(Body):
    """POST /api/v1/ml/training/start"""

    mode: Mode = Field("full", description="full (from scratch), transfer (from base_model_path), resume or extend.")
    dataset_path: str = Field("", description="Dataset folder or data.yaml (full and transfer).")
    model_architecture: Architecture = "yolov8n"
    epochs: int = Field(100, description="Epochs in total; for extend, how many more.")
    batch_size: int = Field(16, description="Images per batch; -1 lets Ultralytics choose (one GPU).")
    learning_rate: float | None = Field(None, description="Initial learning rate (lr0); null keeps the default.")
    base_model_path: str | None = Field(None, description="transfer: a run's weights or a .pt in a trusted folder.")
    resume_from: str | None = Field(None, description="resume and extend: the run (project/experiment or its folder).")
    imgsz: int = 640
    device: str = Field("auto", description="auto, cpu, a GPU index ('0') or several ('0,1').")
    workers: int = Field(8, description="Data loader processes.")
    optimizer: str = "auto"
    patience: int = Field(100, description="Stop after this many epochs without improvement.")
    seed: int = 0
    project: str = "default"
    experiment: str = Field("", description="Run name under trainings/{project}/; empty: a dated one.")


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
    """POST /api/v1/ml/model/validate"""

    model_path: str = Field(description="A run's weights or a .pt in a trusted model folder.")
    test_dataset_path: str = Field(description="Dataset folder or data.yaml.")
    split: Literal["test", "val", "train"] = "test"
    confidence_threshold: float = 0.25
    iou_threshold: float = 0.45
    imgsz: int = 640
    device: str = "auto"
    save_predictions: bool = True
    analyze_errors: bool = True
