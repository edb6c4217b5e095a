"""What a validation checks (`ValidationOptions`), as it travels to workers and from the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mlcore.core.spec import DEFAULT_IMGSZ, MAX_IMGSZ, STRIDE

SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}  # report order; of two copies, the earlier split keeps its own


@dataclass(frozen=True)
class ValidationOptions:
    """What to check. The first three names are the original request body's."""

    check_images: bool = True
    """Open every image: corrupt, tiny, EXIF rotation, exact duplicates (content hash)."""
    check_labels: bool = True
    """Read every label line: syntax, class ids, coordinates, box geometry, class balance."""
    validate_format: bool = True
    """Dataset structure: image/label pairing, orphan labels, backgrounds, file formats."""
    near_duplicates: bool = True
    """Perceptual hashes to find near-identical images across splits (decodes every image)."""
    imgsz: int = DEFAULT_IMGSZ
    """Training image size, for tiny-box checks and recommendations."""
    workers: int = 0
    """Processes reading images; 0 = one per CPU core."""
    imbalance_ratio: float = 10.0
    """Largest/smallest class instance ratio above which `class_imbalance` is reported."""
    min_instances: int = 10
    """Fewer train instances than this for a class gives `few_samples`."""

    def __post_init__(self) -> None:
        if not STRIDE <= self.imgsz <= MAX_IMGSZ:  # the sizes a training accepts
            raise ValueError(f"imgsz={self.imgsz} is out of range; use {STRIDE} to {MAX_IMGSZ} (e.g. {DEFAULT_IMGSZ}).")
        if self.workers < 0:
            raise ValueError(f"workers={self.workers}; use 0 for one per core, or a positive number.")
        if self.imbalance_ratio <= 1:
            raise ValueError(f"imbalance_ratio={self.imbalance_ratio}; use a ratio above 1 (e.g. 10).")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"dataset_path"})
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; use {sorted(known)}.")
        return cls(**{k: v for k, v in data.items() if k in known})
