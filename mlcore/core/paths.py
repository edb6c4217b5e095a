"""Names of every folder and file the studio writes, in one place, and `RunFolder`, the one owner
of a run folder's layout.

The layout under the outputs root (see the README, "Where outputs go"):

    ml_outputs/
      trainings/{project}/{experiment}/   one training run
      validations/{model}_{timestamp}/    one model evaluation
      visualizations/{model}_{timestamp}/ exported charts
      exports/{model}_{timestamp}/        a model exported for deployment, its parity check and latency
      predictions/{model}_{timestamp}/    a batch prediction over a folder of images or a video
      registry/{name}/v{n}/               a registered model version: its weights (sha256), lineage, audit trail
      comparisons/{a}_vs_{b}_{timestamp}/ an A/B comparison of two models on one split, its HTML report
      profiles/{model}-{hash}/            deployment profiles of models kept outside the outputs root
      dataset_reports/{dataset}_{timestamp}/ validation reports (report.json, issues.csv)
      audits/{model}_{split}_{timestamp}/ a label-error audit: audit.json, suspects.csv, fix_list.csv, gallery/
      selections/{model}_{timestamp}/     the images to label next: selection.json/.csv, to_label/ with pre-labels
      drift/{folder}_{timestamp}/         a drift report of new images against a dataset: drift.json, tails/
      explanations/{image}_{method}_{timestamp}/ per-box saliency maps of one image
      tracks/{model}_{timestamp}/         objects tracked through a video, counted on lines and in zones
      datasets/demo/                      the generated demo dataset
      cache/                              image facts kept between validations
      models/                             trusted base models (e.g. yolov8n.pt) put there by users
      .ultralytics/                       the training engine's private settings and fonts
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OUTPUTS_DIR = "ml_outputs"

TRAININGS_DIR = "trainings"
VALIDATIONS_DIR = "validations"
VISUALIZATIONS_DIR = "visualizations"
EXPORTS_DIR = "exports"
PREDICTIONS_DIR = "predictions"
PROFILES_DIR = "profiles"
REGISTRY_DIR = "registry"
COMPARISONS_DIR = "comparisons"
TUNING_DIR = "tuning"  # one folder per hyperparameter study
AUDITS_DIR = "audits"
SELECTIONS_DIR = "selections"
DRIFT_DIR = "drift"
PIPELINES_DIR = "pipelines"  # one folder per pipeline run: pipelines/{name}_{timestamp}/
EXPLANATIONS_DIR = "explanations"  # one folder per explanation job: explanations/{image}_{method}_{timestamp}/
TRACKS_DIR = "tracks"  # one folder per tracking job: tracks/{model}_{timestamp}/
DATASETS_DIR = "datasets"
UPLOADS_DIR = "uploads"  # under datasets/: datasets uploaded as zip files
UPLOADED_VIDEOS_DIR = "videos"  # under datasets/uploads/: videos sent to track, and the demo video
MODELS_DIR = "models"
ENGINE_CONFIG_DIR = ".ultralytics"

JOBS_DB = "jobs.db"
CLUSTER_PROBE_DIR = ".cluster-probe"  # token files of the shared-outputs probe (studio and node side)
CLUSTER_CHECK_FILE = ".cluster-check.json"  # the last check of the Ray cluster: address, versions, verdict
STAGING_DIR = "staging"  # read-only dataset views that trainings read, one per job
DATASET_REPORTS_DIR = "dataset_reports"
CACHE_DIR = "cache"
AUGMENTATION_PREVIEWS_DIR = "augmentation_previews"  # one folder per dataset: its view, then one folder per draw
AUGMENTATION_VIEW_DIR = "view"  # the dataset's read-only view the previews read (Ultralytics caches its labels there)
AUGMENTATION_PREVIEW = "preview.json"  # a draw: its settings, seed, samples and where they came from
AUGMENTATION_GRID = "grid.png"  # the draw's samples with their boxes, side by side
AUGMENTATION_SAMPLES = "samples.npz"  # the samples as Ultralytics' pipeline returned them (images, boxes, classes)
BATCH_TIMING = "timing.json"  # a time estimate's timed batches (under staging/timing-*/, removed after)
IMAGE_FACTS_CACHE = "image_facts.sqlite"

DEMO_DATASET_NAME = "demo"
DEMO_MARKER_FILE = ".ml-studio-demo"

DATA_YAML = "data.yaml"
IMAGES_DIR = "images"
LABELS_DIR = "labels"
SPLITS = ("train", "val", "test")

# Inside the engine config dir (Ultralytics appends "Ultralytics" to YOLO_CONFIG_DIR).
ENGINE_USER_DIR = "Ultralytics"
ENGINE_SETTINGS_FILE = "settings.json"
ENGINE_FONT_FILES = ("Arial.ttf", "Arial.Unicode.ttf")

# Inside a training run folder (Ultralytics writes the first five; the studio the rest).
WEIGHTS_DIR = "weights"
BEST_WEIGHTS = "best.pt"
LAST_WEIGHTS = "last.pt"
RESULTS_CSV = "results.csv"
ARGS_FILE = "args.yaml"  # the arguments Ultralytics records in every run folder
CONFIG_FILE = "training_config.yaml"  # the spec as submitted
PROGRESS_FILE = "progress.json"  # written by the worker (atomic replace), read by the UI
METRICS_FILE = "metrics.json"  # the final numbers: per-class P/R/AP, curves, confusion matrix
STOP_FILE = "stop.request"  # asks the worker to stop after the current batch (Stop)
RESUMABLE = "resumable.pt"  # under weights/: last.pt with its optimizer, kept so a stopped run can resume
MLFLOW_FILE = "mlflow_run.json"  # the MLflow run this folder logs to (and why logging failed); also in evaluations

# Inside a study folder (tuning/{study}/); its trials' runs are trainings/{TRIAL_PROJECT_PREFIX}{study}/trial-{n}/.
STUDY_JOURNAL = "journal.log"  # Optuna's journal file storage: safe for several processes and nodes on shared disks
TUNE_CONFIG = "tune_config.yaml"  # the study's spec as submitted, its space written out
TRIAL_PROJECT_PREFIX = "tune-"
PRUNED_FILE = "pruned.json"  # in a trial's run folder: the epoch and value at which the pruner stopped it

# Inside an evaluation folder (validations/{model}_{timestamp}/), besides METRICS_FILE.
EVAL_CONFIG = "eval_config.yaml"
PREDICTIONS_FILE = "predictions.npz"

# Inside an export folder (exports/{model}_{timestamp}/), besides the exported files and export.log.
EXPORT_CONFIG = "export_config.yaml"
MODEL_CARD = "model_card.json"  # classes, shapes, source sha256, parity verdicts, latency: written last
PARITY_DIR = "parity"  # the predictions of the source and of each export on the checked split

# Inside a comparison folder (comparisons/{a}_vs_{b}_{timestamp}/).
COMPARISON_FILE = "comparison.json"
REPORT_FILE = "report.html"  # the comparison as one self-contained page

# Inside a pipeline run's folder (pipelines/{name}_{timestamp}/).
PIPELINE_FILE = "pipeline.yaml"  # the file as given (with --set applied), what a resume runs again
PIPELINE_STATE = "steps.json"  # each step's state, job, times and output: what a resume reads
GATE_FILE = "gate.json"  # every rule with its value, threshold and verdict
PIPELINE_REPORT = "report.md"  # what ran, the gate table, the metrics beside the baseline's: written last
JUNIT_FILE = "junit.xml"  # one test case per gate rule, for GitLab's, Jenkins' and GitHub's test views

# Inside the registry (registry/{name}/): the model's versions, aliases and audit trail; v{n}/ per version.
REGISTRY_FILE = "model.json"
AUDIT_TRAIL = "audit.jsonl"  # every change: who, when, why (one JSON object per line)
AUDIT_TRAIL_BEFORE = "audit.json"  # where it went while a label audit's file name shadowed this one
REGISTRY_LOCK = ".lock"

# Beside a model (a run's weights, an export folder): the thresholds it is deployed with.
PROFILE_FILE = "profile.json"

# Inside a batch prediction folder (predictions/{model}_{timestamp}/).
PREDICT_CONFIG = "predict_config.yaml"
PREDICTED_LABELS_DIR = "labels"  # YOLO txt per image or frame, with confidences
COCO_PREDICTIONS = "predictions_coco.json"
DETECTIONS_CSV = "detections.csv"
SUMMARY_FILE = "summary.json"  # images, detections per class, empty images: written last
ANNOTATED_DIR = "annotated"  # images with their boxes drawn (when asked for)
ANNOTATED_VIDEO = "annotated.mp4"  # a batch prediction's video with boxes (mp4v), a tracking job's (H.264)

# Runs made elsewhere that the user attached (under the outputs root).
ATTACHED_FILE = "attached_runs.json"
ATTACHED_METRICS_DIR = "attached_metrics"  # their computed metrics (their own folders stay untouched)

LOG_FILE = "train.log"  # a training's log; other kinds of job log to {kind}.log


def log_name(kind: str) -> str:
    """The log file of a job of this kind, in its run folder."""
    return LOG_FILE if kind == "training" else f"{kind}.log"


@dataclass(frozen=True)
class RunFolder:
    """The files of one job's folder, by name: a training run, an evaluation, or a metrics job's target.

    folder = RunFolder(Path(job.run_dir))
    folder.progress, folder.best, folder.log(job.kind)
    """

    path: Path

    @property
    def progress(self) -> Path:
        return self.path / PROGRESS_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def results_csv(self) -> Path:
        return self.path / RESULTS_CSV

    @property
    def stop_request(self) -> Path:
        return self.path / STOP_FILE

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS_DIR

    @property
    def best(self) -> Path:
        return self.weights / BEST_WEIGHTS

    @property
    def last(self) -> Path:
        return self.weights / LAST_WEIGHTS

    @property
    def mlflow(self) -> Path:
        """The MLflow run record of a training or an evaluation (only with the MLflow bridge on)."""
        return self.path / MLFLOW_FILE

    @property
    def predictions(self) -> Path:
        """An evaluation's stored predictions and ground truth."""
        return self.path / PREDICTIONS_FILE

    def resumable_checkpoint(self) -> Path:
        """The checkpoint a resume or an extension starts from: the kept resumable copy, else last.pt."""
        kept = self.weights / RESUMABLE
        return kept if kept.exists() else self.last

    def log(self, kind: str) -> Path:
        """The log of the job of `kind` that wrote into this folder."""
        return self.path / log_name(kind)


# Inside a data-quality job's folder (audits/, selections/, drift/).
QUALITY_CONFIG = "quality_config.yaml"  # the spec as submitted, with what the submit checked
AUDIT_FILE = "audit.json"  # images worst first, typed suspect boxes worst first, counts, timings
SUSPECTS_CSV = "suspects.csv"
FIX_LIST_CSV = "fix_list.csv"  # each suspect's label line as it is and as the model suggests (the next version's input)
GALLERY_DIR = "gallery"  # the worst suspects drawn: the label's box and the model's suggestion
FOLDS_DIR = "folds"  # K-fold audits: one data.yaml per fold (train on the others, predict this one)
SELECTION_FILE = "selection.json"
SELECTION_CSV = "selection.csv"
PREVIEWS_DIR = "previews"  # the chosen images to label with their pre-labels drawn
TO_LABEL_DIR = "to_label"  # the top N with pre-labels in YOLO format (images/, labels/, classes.txt)
DRIFT_FILE = "drift.json"
EXPLAIN_CONFIG = "explain_config.yaml"  # an explanation job's request, with the model and image it checked
EXPLANATION_FILE = "explanation.json"  # each box's class, score, energy share and files: written last
EXPLAINED_IMAGE = "image.png"  # in an explanation job's folder: the image explained (an upload, or a copy)
TRACK_CONFIG = "track_config.yaml"  # a tracking job's request: model, source, tracker, thresholds, lines, zones
TRACKER_FILE = "tracker.yaml"  # the tracker's settings the job ran with (Ultralytics' YAML with the user's changes)
TRACKS_CSV = "tracks.csv"  # one row per track and frame: frame, time, track id, class, confidence, box
MOT_TRACKS = "tracks.txt"  # the same in the MOT challenge's format (frame from 1, id, left, top, width, height, ...)
EVENTS_CSV = "events.csv"  # each line crossing and zone entry or exit: frame, time, track, class, where, what
LIVE_COUNTS = "live.json"  # while a tracking job runs: its counts so far, rewritten about once a second
TAILS_DIR = "tails"  # example new images from the drifted end of each feature
