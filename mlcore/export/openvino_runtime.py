"""OpenVINO exports compile at the precision their export chose, wherever the studio runs them (its parity
check, its latency timer, the predictor and batch prediction). Imports Ultralytics: workers only.

Ultralytics 8.4.190's OpenVINO backend compiles with PERFORMANCE_HINT=LATENCY alone (it adds the precision
hint on Windows and ARM Linux only), so on a CPU with AVX512-BF16 or AMX an fp32 IR runs at bfloat16. The hint
cannot travel inside the exported folder either: OpenVINO 2026.4's CPU plugin takes from an IR's
rt_info `runtime_options` only KV-cache and dynamic-quantization settings (an INFERENCE_PRECISION_HINT put
there is not applied: compiled.get_property reads back the plugin's default). So every compile asks for it.

    install()                          # once per process, before a model is loaded
    pin(folder, "f32")                 # the export job, before its checks (the model card comes last)
    model = YOLO(str(folder)); model.predict(...)      # compiles at the pinned hint, else the card's, else f32
    ran_at(folder)                     # "f32": what the compiled model reports it computes at
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from mlcore.export.precision import DEFAULT_HINT, HINT_PROPERTY, INFERENCE_HINTS, compile_config
from mlcore.export.store import card_entry

_pinned: dict[str, str] = {}
_ran: dict[str, str] = {}
HINTS = frozenset(INFERENCE_HINTS.values())
RECOMPILED_DEVICES = ("CPU", "AUTO")  # where the studio runs OpenVINO; Ultralytics reshapes models for an NPU


def _key(model: Path) -> str:
    """One key for an OpenVINO model, whether named by its folder or its .xml."""
    folder = model if model.suffix != ".xml" else model.parent
    return os.path.realpath(folder)


def pin(folder: Path, hint: str) -> None:
    """Compile the model in `folder` at `hint` in this process (for an export whose card is not written yet)."""
    if hint not in HINTS:
        raise ValueError(f"hint={hint!r}; use one of {', '.join(sorted(HINTS))}.")
    _pinned[_key(folder)] = hint


def hint_for(model: Path) -> str:
    """The INFERENCE_PRECISION_HINT the model is compiled at: as pinned, else as its model card records, else f32."""
    if (pinned := _pinned.get(_key(model))) is not None:
        return pinned
    folder = model.parent if model.suffix == ".xml" else model
    recorded = (card_entry(folder) or {}).get("inference_precision")
    return recorded if recorded in HINTS else DEFAULT_HINT


def ran_at(model: Path) -> str | None:
    """The precision the last compile of the model in this process computes at (read back from OpenVINO)."""
    return _ran.get(_key(model))


def compiled_precision(compiled: Any) -> str:
    """What a compiled OpenVINO model reports it computes at: 'f32', 'bf16' or 'f16'."""
    return compiled.get_property(HINT_PROPERTY).to_string()


def install() -> None:
    """Make every OpenVINO model that Ultralytics loads in this process compile with its hint (idempotent)."""
    from ultralytics.nn.autobackend import AutoBackend
    from ultralytics.nn.backends import OpenVINOBackend

    if getattr(AutoBackend._BACKEND_MAP["openvino"], "studio_pinned", False):
        return

    class PinnedOpenVINOBackend(OpenVINOBackend):
        """Ultralytics' backend, compiled once more with the precision hint (a yolov8n compiles in about 0.3 s):
        its own compile has no hook for the config, and copying its loader would drift from Ultralytics'."""

        studio_pinned = True
        compile_model: partial  # set by Ultralytics' load_model

        def load_model(self, weight: str | Path) -> None:
            super().load_model(weight)
            compile_ = self.compile_model  # partial(core.compile_model, device_name=..., config=...)
            if compile_.keywords.get("device_name") in RECOMPILED_DEVICES:
                path = Path(weight)
                xml = path if path.is_file() else next(path.glob("*.xml"))
                config = {**compile_.keywords.get("config", {}), **compile_config(hint_for(path))}
                self.compile_model = partial(compile_.func, device_name=compile_.keywords["device_name"], config=config)
                self.ov_compiled_model = self.compile_model(str(xml))  # reshaped recompiles use the hint too
            _ran[_key(Path(weight))] = compiled_precision(self.ov_compiled_model)

    AutoBackend._BACKEND_MAP["openvino"] = PinnedOpenVINOBackend
