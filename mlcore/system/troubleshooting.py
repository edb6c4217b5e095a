"""Troubleshooting hints: the three of the product's original description, and which ones apply now."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Hint:
    """A problem a user may meet, and the steps that fix it."""

    key: str
    title: str
    steps: tuple[str, ...]
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


GPU_NOT_FOUND = Hint(
    key="gpu_not_found",
    title="GPU not found",
    steps=(
        "Check that the NVIDIA driver and CUDA are installed correctly: `nvidia-smi` must list the GPU.",
        "Check that the GPU build of PyTorch is installed (a CPU-only build reports no CUDA version).",
        "If the GPU is listed but PyTorch does not see it, check CUDA_VISIBLE_DEVICES and that the driver "
        "is new enough for the CUDA version PyTorch was built with.",
    ),
    command='python -c "import torch; print(torch.cuda.is_available())"',
)

OUT_OF_MEMORY = Hint(
    key="out_of_memory",
    title="Out of memory",
    steps=(
        "Use a smaller batch size (halve it until training starts).",
        "Use a smaller model architecture (e.g. yolo26s or yolo26n instead of yolo26m).",
        "Use a smaller image size (imgsz), e.g. 512 instead of 640.",
    ),
)

TRAINING_SLOW = Hint(
    key="training_slow",
    title="Training is slow",
    steps=(
        "Check that training uses the GPU (the job's device, and the GPU utilisation on this page).",
        "Enable dataset caching (cache=ram, or disk when memory is short).",
        "Use a larger batch size, as far as GPU memory allows.",
    ),
)

ALL_HINTS = (GPU_NOT_FOUND, OUT_OF_MEMORY, TRAINING_SLOW)
