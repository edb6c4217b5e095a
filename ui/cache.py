"""Cached readers the pages share: readings that take time, and files read again only when they change.

Caching lives here, in the UI layer (mlcore's own readers of runs and evaluations cache on path and
modification time so that the CLI and the API benefit too).
"""

from pathlib import Path

import pandas as pd
import streamlit as st

from mlcore.core.settings import Settings
from mlcore.devices import torch_probe
from mlcore.devices.gpus import GpuInventory, read_gpus
from mlcore.engine.trained_size import trained_imgsz
from mlcore.predict.client import PredictorClient
from mlcore.runs.results import read_results


@st.cache_data(ttl=5, show_spinner=False)
def gpu_inventory() -> GpuInventory:
    """The GPUs, read at most every five seconds however many fragments ask."""
    return read_gpus()


@st.cache_data(show_spinner=False)
def torch_probe_answer(_settings: Settings) -> torch_probe.TorchProbe:
    """The probe takes seconds (it imports torch in a child), so its answer is kept until refreshed."""
    return torch_probe.probe_torch(_settings)


@st.cache_data(show_spinner=False, max_entries=64)
def _results(path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    """`stamp` (modification time, size) is part of the cache key: a grown file is read again. Streamlit leaves
    parameters whose names start with an underscore out of the key, so it must not start with one."""
    return read_results(Path(path))


def results(path: Path) -> pd.DataFrame:
    """A run's results.csv as a table, read again only when the file changes (empty while there is none)."""
    try:
        info = path.stat()
    except OSError:
        return pd.DataFrame()
    return _results(str(path), (info.st_mtime_ns, info.st_size))


@st.cache_data(show_spinner=False, max_entries=256)
def _trained_size(_settings: Settings, path: str, stamp: tuple[int, int]) -> int | None:
    return trained_imgsz(Path(path), _settings)


def trained_size(model: Path, settings: Settings) -> int | None:
    """The size a model was trained at (read again when the file changes); None when nothing says."""
    try:
        info = model.stat()
    except OSError:
        return None
    return _trained_size(settings, str(model), (info.st_mtime_ns, info.st_size))


@st.cache_resource(show_spinner=False)
def _predictor(_settings: Settings, outputs: str) -> PredictorClient:
    return PredictorClient(_settings)


def predictor(settings: Settings) -> PredictorClient:
    """One predictor client (and process) for every session of this app: models stay loaded between them."""
    return _predictor(settings, str(settings.outputs_root))
