"""Names of every folder and file the studio writes, in one place.

The layout under the outputs root (see the README, "Where outputs go"):

    ml_outputs/
      trainings/{project}/{experiment}/   one training run
      validations/{model}_{timestamp}/    one model evaluation
      visualizations/{model}_{timestamp}/ exported charts
      dataset_reports/{dataset}_{timestamp}/ validation reports (report.json, issues.csv)
      datasets/demo/                      the generated demo dataset
      cache/                              image facts kept between validations
      models/                             trusted base models (e.g. yolov8n.pt) put there by users
      .ultralytics/                       the training engine's private settings and fonts
"""

from __future__ import annotations

OUTPUTS_DIR = "ml_outputs"

TRAININGS_DIR = "trainings"
VALIDATIONS_DIR = "validations"
VISUALIZATIONS_DIR = "visualizations"
DATASETS_DIR = "datasets"
UPLOADS_DIR = "uploads"  # under datasets/: datasets uploaded as zip files
MODELS_DIR = "models"
ENGINE_CONFIG_DIR = ".ultralytics"

JOBS_DB = "jobs.db"
STAGING_DIR = "staging"  # read-only dataset views that trainings read, one per job
DATASET_REPORTS_DIR = "dataset_reports"
CACHE_DIR = "cache"
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
