"""Datasets named by a storage URL: wherever a dataset path is accepted, `s3://BUCKET/PREFIX` or `LOCATION:PREFIX`
is pulled into the cache and its folder used instead.

    path = dataset_from("s3://ml-data/logos/v3", settings)   # ml_outputs/datasets/s3/ml-data/logos/v3
    path = dataset_from("/data/logos", settings)             # a path is returned as it is
"""

from __future__ import annotations

from mlcore.core.settings import Settings
from mlcore.storage.locations import is_storage_text
from mlcore.storage.pull import Progress, pull


def dataset_from(text: str, settings: Settings, progress: Progress | None = None) -> str:
    if not is_storage_text(text, settings):
        return text
    return str(pull(text, settings, progress).path)
