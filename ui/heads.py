"""The NMS-free head's switch, shared by the Model evaluation, Predict and Export pages: shown where the model may
have the head (a YOLO26 run, or a file whose architecture the folder does not say), a fixed line for an export
(its head was chosen when it was made), nothing for a model without the head."""

from pathlib import Path
from typing import Any

from mlcore.engine.architectures import is_end2end
from mlcore.engine.heads import NMS_FREE, NMS_FREE_HELP, WITH_NMS, export_head, recorded_architecture


def nms_free_toggle(container: Any, model: Path, key: str, default: bool = False) -> bool:
    """The head the user picks for `model` (True: NMS-free)."""
    if model.suffix != ".pt":
        baked = export_head(model)
        if baked is not None:
            container.caption(f"Head: {NMS_FREE if baked else WITH_NMS} (fixed when the model was exported).")
            return baked
    architecture = recorded_architecture(model)
    if architecture and not is_end2end(architecture):
        return False
    return bool(container.toggle(NMS_FREE, value=default, key=key, help=NMS_FREE_HELP))
