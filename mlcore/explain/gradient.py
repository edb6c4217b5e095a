"""Per-box gradient maps of a `.pt` detector: LayerCAM (Jiang et al., IEEE TIP 2021) over the detection head's
multi-scale inputs (P3/P4/P5), one backward pass per box, written from the paper.

For the box's class logit s at the anchor that made the box, each head input A (C x h x w) gets the map
relu(sum_c relu(ds/dA_c) * A_c): every position weighted by its own positive gradient, so evidence at the object
counts where it is. Each level is upsampled to the input, the levels are scaled by the largest value among them
(one scale for all: the level the box came from leads, the others show what it also used), summed, and mapped back
to the image with the letterbox padding cut off.

Which anchor: a detection's own (the anchor whose decoded box and class score made it); for a box given from outside
(an evaluation's error, a ground-truth box), the anchor with the highest score for the class among those whose
box overlaps it (IoU >= 0.3), else among those whose centre lies inside it. A YOLO26 model explains the head it
predicts with: the one-to-many head (NMS) unless `nms_free`, then the one-to-one head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcore.explain.letterbox import Letterbox
from mlcore.explain.saliency import GRADIENT, BoxMap, ExplainError, Target, class_id, normalised

if TYPE_CHECKING:
    import torch

MATCH_IOU = 0.3
NMS_IOU = 0.7
MAX_DETECTIONS = 300


@dataclass
class ForwardPass:
    """One forward pass kept for its backward passes: the head's inputs, every anchor's box and class logits."""

    letterbox: Letterbox
    feats: list[torch.Tensor]
    boxes: torch.Tensor
    """(anchors, 4) x1, y1, x2, y2 in input pixels."""
    logits: torch.Tensor
    """(classes, anchors), before the sigmoid."""
    centres: torch.Tensor
    """(anchors, 2) each anchor's centre in input pixels."""


class GradientExplainer:
    """Explains boxes of one `.pt` detection model (its torch module, never the one Ultralytics predicts with: that
    one is fused in place, which drops YOLO26's one-to-many head)."""

    def __init__(self, net: Any, names: dict[int, str], nms_free: bool = False) -> None:
        self.net = net.float().eval()
        self.head = net.model[-1]
        self.names = names
        self.nms_free = nms_free
        self.device = next(net.parameters()).device
        if nms_free and getattr(self.head, "one2one_cv2", None) is None:
            raise ExplainError(
                "this model has no NMS-free (one-to-one) head; only YOLO26 models do. Leave NMS-free off."
            )

    # -- the forward pass
    def forward(self, image: np.ndarray, imgsz: int) -> ForwardPass:
        import torch
        from ultralytics.utils.tal import dist2bbox, make_anchors

        letterbox = Letterbox.of(image, imgsz)
        captured: dict[str, Any] = {}

        def keep_raw(module: Any, inputs: Any, output: Any) -> None:
            captured["raw"] = output[1] if isinstance(output, tuple) else output

        self.head.shape = None  # anchors cached by an earlier no-grad pass cannot join an autograd graph
        handle = self.head.register_forward_hook(keep_raw)
        with torch.inference_mode(False), torch.enable_grad():
            x = torch.from_numpy(np.ascontiguousarray(letterbox.pixels[..., ::-1])).permute(2, 0, 1)[None]
            x = (x.to(self.device).float() / 255).requires_grad_(True)  # the parameters may not need gradients
            try:
                self.net(x)
            finally:
                handle.remove()
            raw = captured.get("raw")
            if not isinstance(raw, dict):
                raise ExplainError("this model's head is not a YOLO detection head the studio can explain.")
            if "one2many" in raw:
                raw = raw["one2one" if self.nms_free else "one2many"]
            feats = list(raw["feats"])
            points, strides = make_anchors(feats, self.head.stride, 0.5)  # (A, 2) in cells, (A, 1)
            distances = self.head.dfl(raw["boxes"])  # (1, 4, A)
            boxes = dist2bbox(distances, points.T.unsqueeze(0), xywh=False, dim=1) * strides.T  # (1, 4, A)
        return ForwardPass(
            letterbox, feats, boxes[0].T.detach().cpu(), raw["scores"][0], (points * strides).detach().cpu()
        )

    # -- which boxes
    def detections(self, run: ForwardPass, conf: float, iou: float = NMS_IOU) -> list[tuple[int, int, float]]:
        """(anchor, class, score) of each box the model predicts at `conf`, best first: NMS per class for the
        one-to-many head, the top scores for the one-to-one head."""
        import torchvision

        probs = run.logits.detach().cpu().sigmoid()
        best, cls = probs.max(0)
        idx = (best >= conf).nonzero().squeeze(1)
        if not self.nms_free:
            idx = idx[torchvision.ops.batched_nms(run.boxes[idx], best[idx], cls[idx], iou)]
        else:
            idx = idx[best[idx].argsort(descending=True)]
        idx = idx[:MAX_DETECTIONS]
        return [(int(a), int(cls[a]), float(best[a])) for a in idx]

    def anchor_for(self, run: ForwardPass, target: Target) -> tuple[int, float]:
        """The anchor that made (or should have made) `target`, and the model's score for its class there."""
        import torch
        import torchvision

        self.check_class(target.class_id)
        box = torch.tensor([run.letterbox.to_input(target.box)], dtype=run.boxes.dtype)
        probs = run.logits.detach()[target.class_id].cpu().sigmoid()
        overlap = torchvision.ops.box_iou(run.boxes, box)[:, 0]
        candidates = (overlap >= MATCH_IOU).nonzero().squeeze(1)
        if not len(candidates):
            x1, y1, x2, y2 = box[0]
            cx, cy = run.centres[:, 0], run.centres[:, 1]
            candidates = ((cx >= x1) & (cx <= x2) & (cy >= y1) & (cy <= y2)).nonzero().squeeze(1)
        if not len(candidates):
            candidates = overlap.argmax().reshape(1)
        anchor = int(candidates[probs[candidates].argmax()])
        return anchor, float(probs[anchor])

    def check_class(self, wanted: int) -> None:
        class_id(self.names, wanted)

    # -- the maps
    def map_of(self, run: ForwardPass, anchor: int, cls: int, retain: bool = True) -> np.ndarray:
        """The LayerCAM map of class `cls`'s logit at `anchor`, at the image's size, 0..1."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        size = run.letterbox.pixels.shape[:2]
        with torch.inference_mode(False), torch.enable_grad():
            grads = torch.autograd.grad(run.logits[cls, anchor], run.feats, retain_graph=retain)
        levels = []
        for act, grad in zip(run.feats, grads, strict=True):
            cam = (grad.detach().clamp(min=0) * act.detach()).sum(1, keepdim=True).clamp(min=0)
            levels.append(F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0])
        stacked = torch.stack(levels)
        top = float(stacked.max())
        combined = (stacked / top).sum(0) if top > 0 else stacked.sum(0)
        return normalised(run.letterbox.to_image_map(combined.cpu().numpy()))

    def explain(
        self,
        image: np.ndarray,
        imgsz: int,
        targets: list[Target] | None = None,
        conf: float = 0.25,
        pick: list[int] | None = None,
        as_class: int | str | None = None,
    ) -> list[BoxMap]:
        """One map per target, from one forward pass; without targets, the model's own detections at `conf` (best
        first; `pick`: only those indices), each explained at the anchor that made it, for its own class or for
        `as_class` ("why not a dino here?")."""
        as_class = class_id(self.names, as_class)
        run = self.forward(image, imgsz)
        plan: list[tuple[int, Target, int, float]] = []
        if targets is None:
            found = self.detections(run, conf)
            for n in pick if pick is not None else range(len(found)):
                if not 0 <= n < len(found):
                    raise ExplainError(
                        f"there is no box {n}: the model finds {len(found)} box(es) in this image at confidence "
                        f"{conf:g}" + (f"; give 0 to {len(found) - 1}." if found else "; lower the confidence.")
                    )
                anchor, cls, score = found[n]
                box = run.letterbox.to_image(tuple(run.boxes[anchor].tolist()))
                if as_class is not None:
                    cls, score = as_class, float(run.logits.detach()[as_class, anchor].sigmoid())
                plan.append((n, Target(box, cls, "detection"), anchor, score))
        else:
            for n, target in enumerate(targets):
                plan.append((n, target, *self.anchor_for(run, target)))
        maps = []
        for k, (n, target, anchor, score) in enumerate(plan):
            saliency = self.map_of(run, anchor, target.class_id, retain=k < len(plan) - 1)
            maps.append(BoxMap(n, target, self.names[target.class_id], score, GRADIENT, saliency))
        return maps
