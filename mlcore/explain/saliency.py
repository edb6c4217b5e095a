"""What an explanation is: the box it explains and its map at the image's size, and the numbers drawn from them.

target = Target(box=(10, 20, 50, 80), class_id=1, role="missed")    # what to explain (pixels of the image)
box_map.energy_inside      # the share of the map's mass inside the box (the pointing game's sibling)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcore.core.errors import SubmitError

GRADIENT = "gradient"  # LayerCAM over the head's inputs: .pt models, one backward pass per box
DRISE = "drise"  # black-box masking: any model the studio predicts with (ONNX, OpenVINO, ...)
METHODS = (GRADIENT, DRISE)
DEFAULT_MASKS = 1000  # D-RISE's masks per image (the paper uses ~5000; 1000 agrees in place on our tests' model)
MASK_GRID = 8  # D-RISE's mask cells per side (the paper: 16; 8 keeps a small object's cells whole at small sizes)
# the roles a box can have: a detection of a prediction, or an evaluation's error
ROLES = ("detection", "false positive", "missed", "wrong class", "box off", "duplicate", "label")


class ExplainError(SubmitError):
    """A request the explainer cannot answer; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Target:
    """A box to explain, in pixels of the original image, and the class whose score is explained."""

    box: tuple[float, float, float, float]
    class_id: int
    role: str = "detection"

    def __post_init__(self) -> None:  # to 1/100 px: what is stored, shown and cached
        object.__setattr__(self, "box", tuple(round(float(v), 2) for v in self.box))

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "class_id": self.class_id, "role": self.role}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        box = data.get("box")
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise ExplainError(f"a target's box must be [x1, y1, x2, y2] in pixels, not {box!r}.")
        x1, y1, x2, y2 = (float(v) for v in box)
        if x2 <= x1 or y2 <= y1:
            raise ExplainError(f"the box {list(box)} is empty: x2 must exceed x1 and y2 exceed y1.")
        return cls((x1, y1, x2, y2), int(data.get("class_id", -1)), str(data.get("role") or "detection"))


@dataclass
class BoxMap:
    """One box's explanation: the map (float32, the image's height x width, 0..1) and what it says."""

    index: int
    target: Target
    class_name: str
    score: float
    """The model's score for the class at this box (for a missed object: its best score there)."""
    method: str
    map: np.ndarray = field(repr=False)

    @property
    def energy_inside(self) -> float:
        return energy_inside(self.map, self.target.box)

    @property
    def peak(self) -> tuple[int, int]:
        y, x = np.unravel_index(int(np.argmax(self.map)), self.map.shape)
        return int(x), int(y)

    @property
    def peak_inside(self) -> bool:
        x, y = self.peak
        x1, y1, x2, y2 = self.target.box
        return x1 <= x <= x2 and y1 <= y <= y2

    def summary(self) -> dict[str, Any]:
        """Everything but the map: what the CLI prints and the API answers beside the pictures."""
        return {
            "index": self.index,
            "class": self.class_name,
            "class_id": self.target.class_id,
            "role": self.target.role,
            "confidence": round(self.score, 5),
            "box": [round(v, 1) for v in self.target.box],
            "energy_inside": round(self.energy_inside, 4),
            "peak": list(self.peak),
            "peak_inside": self.peak_inside,
            "method": self.method,
        }


def energy_inside(saliency: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """The share of the map's total inside `box` (pixels; clipped to the image)."""
    h, w = saliency.shape
    x1, y1, x2, y2 = box
    xa, ya = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    xb, yb = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
    total = float(saliency.sum())
    if total <= 0 or xb <= xa or yb <= ya:
        return 0.0
    return float(saliency[ya:yb, xa:xb].sum()) / total


def normalised(saliency: np.ndarray) -> np.ndarray:
    """The map scaled to 0..1 (all zeros stays zeros)."""
    saliency = np.clip(saliency.astype(np.float32), 0, None)
    top = float(saliency.max()) if saliency.size else 0.0
    return saliency / top if top > 0 else saliency


def class_id(names: dict[int, str], wanted: int | str | None) -> int | None:
    """The class `wanted` names (its id, or its name as the model spells it); None stays None."""
    if wanted is None or wanted == "":
        return None
    if isinstance(wanted, int) and wanted in names:
        return wanted
    by_name = {v: k for k, v in names.items()}
    if isinstance(wanted, str) and wanted in by_name:
        return by_name[wanted]
    if isinstance(wanted, str) and wanted.isdigit() and int(wanted) in names:
        return int(wanted)
    known = ", ".join(f"{v} ({k})" for k, v in sorted(names.items()))
    raise ExplainError(f"the model has no class {wanted!r}; its classes are {known}.")
