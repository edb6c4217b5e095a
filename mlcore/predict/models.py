"""Which models can be used for prediction, and the checks a model path passes before it is loaded.

A model is a .pt in a trusted folder (a run's weights, ML_STUDIO_MODEL_ROOTS) or an export the studio
made (exports/{name}/: .onnx, *_openvino_model/, .torchscript, .engine). A .pt file is a pickle, which
runs code when loaded, so nothing else is loaded.

    for choice in deployable_models(settings): print(choice.label, choice.path)
    path = resolve_model("trainings/logos/v1/weights/best.pt", settings)   # mlcore.core.safe_paths
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlcore.core.settings import Settings
from mlcore.export.store import list_exports
from mlcore.runs.store import seed_weights, weights_label


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    label: str
    """How pickers show it: 'logos/v1 · best.pt' or 'best_20261201-101500 · ONNX fp32'."""
    kind: str
    """'weights', 'export' or 'registered' (a version in the registry)."""


def deployable_models(settings: Settings) -> list[ModelChoice]:
    """Runs' weights and trusted .pt files, then the formats of completed exports, newest export first."""
    found = [ModelChoice(w, weights_label(w), "weights") for w in seed_weights(settings)]
    for item in list_exports(settings):
        for entry in (item.card or {}).get("formats", []):
            path = Path(entry["path"])
            if path.exists():
                label = f"{item.name} · {entry['format']} {entry.get('precision', '')}".strip()
                found.append(ModelChoice(path, label, "export"))
    return found
