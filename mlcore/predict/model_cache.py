"""The models the predictor process keeps loaded: least recently used first out, within a memory limit.

    cache = ModelCache(limit_bytes=2 * 2**30, device="cpu")
    model = cache.get(Path(".../best.pt"))     # loaded once, then kept
    cache.status()                              # what is loaded and how much memory each took

A model's memory is what the process grew by when it was loaded and warmed up (at least its file
size). The model just asked for always stays, even alone above the limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from mlcore.predict.detector import load_detector, warm_up


@dataclass
class Loaded:
    model: Any
    bytes: int
    last_used: float


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


class ModelCache:
    def __init__(self, limit_bytes: int, device: str) -> None:
        self.limit_bytes, self.device = limit_bytes, device
        self._models: OrderedDict[str, Loaded] = OrderedDict()
        self._process = psutil.Process()

    def get(self, path: Path) -> Any:
        key = str(path)
        if key in self._models:
            self._models.move_to_end(key)
            self._models[key].last_used = time.time()
            return self._models[key].model
        before = self._process.memory_info().rss
        model = load_detector(path, self.device)
        warm_up(model)
        grown = max(self._process.memory_info().rss - before, _size(path))
        self._models[key] = Loaded(model, grown, time.time())
        while len(self._models) > 1 and sum(m.bytes for m in self._models.values()) > self.limit_bytes:
            self._models.popitem(last=False)
        return model

    def status(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "memory_limit_bytes": self.limit_bytes,
            "rss_bytes": self._process.memory_info().rss,
            "models": [{"path": k, "bytes": m.bytes, "last_used": m.last_used} for k, m in self._models.items()],
        }
