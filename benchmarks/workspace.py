"""What the benchmarks that compare the studio with Ultralytics share: a scratch outputs root, and a
copy of a dataset for the direct Ultralytics runs (which write label caches beside the labels)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml


@contextmanager
def studio_workspace(prefix: str) -> Iterator[Path]:
    """A temporary folder whose ml_outputs/ and data/ the studio uses (set in this process's environment)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["ML_STUDIO_OUTPUTS"] = str(work / "ml_outputs")
    os.environ["ML_STUDIO_DATASET_ROOTS"] = str(work / "data")
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ultralytics_copy(dataset: Path, work: Path) -> Path:
    """A copy of `dataset` for direct Ultralytics runs, with an absolute path in its data.yaml; returns that file."""
    copy = work / "direct-data"
    shutil.copytree(dataset, copy)
    data_yaml = copy / "data.yaml"
    spec = yaml.safe_load(data_yaml.read_text())
    spec["path"] = str(copy)
    data_yaml.write_text(json.dumps(spec))
    return data_yaml
