"""`python -m mlcore explain`: why the model saw each box of an image, as pictures and numbers.

python -m mlcore explain MODEL IMAGE [--box N | --all] [--class NAME] [--method gradient|drise] [--masks 1000]
                         [--seed 0] [--conf 0.25] [--imgsz N] [--nms-free] [--device cpu] [--out DIR] [--json]

It runs here, in this process (the page and the API use the predictor process or a job). Per box it writes
`{stem}_box{N}_overlay.png` (the heatmap over the image, the box outlined) and `{stem}_box{N}_map.png` (the raw map,
16-bit grayscale, the image's size) into DIR (default: a new folder under the outputs' explanations/), and prints
each box's class, confidence, box in pixels, the share of the map's energy inside it, and its files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, named_model, typed_path
from mlcore.cli.printing import bar
from mlcore.core.settings import Settings


def add_explain_parser(sub: Any) -> None:
    p = sub.add_parser("explain", help="per-box saliency maps: why the model saw (or missed) each box")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("image", help="an image file")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--box", type=int, help="only the model's box N (best first, from 0)")
    which.add_argument("--all", action="store_true", help="every box the model finds (the default)")
    p.add_argument("--class", dest="class_name", help="explain this class's score at the box(es) instead")
    p.add_argument("--method", choices=("gradient", "drise"), help="default: gradient for a .pt, drise for an export")
    p.add_argument("--masks", type=int, default=1000, help="drise: masks (more: smoother, slower; default 1000)")
    p.add_argument("--seed", type=int, default=0, help="drise: the masks' seed (the same seed, the same maps)")
    p.add_argument("--conf", type=float, default=0.25, help="the boxes explained: those at this confidence")
    p.add_argument("--imgsz", type=int, default=0, help="default: the size the model was trained at")
    p.add_argument("--nms-free", action="store_true", help="YOLO26: explain its NMS-free (one-to-one) head")
    p.add_argument("--device", default="cpu", help="cpu (default) or a GPU index")
    p.add_argument("--out", help="the folder for the PNGs (default: a new one under the outputs' explanations/)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core import paths
    from mlcore.core.errors import SubmitError
    from mlcore.core.folders import stamped_folder
    from mlcore.core.safe_paths import resolve_model
    from mlcore.engine.heads import head_of
    from mlcore.engine.trained_size import image_size
    from mlcore.explain.explainer import default_method, explain
    from mlcore.explain.render import write_box_files
    from mlcore.explain.saliency import DRISE
    from mlcore.explain.spec import ExplainSpec
    from mlcore.explain.submit import read_image

    image_path = Path(typed_path(args.image))
    try:
        spec = ExplainSpec(
            model_path=named_model(args.model, settings),
            image=str(image_path),
            box=args.box,
            class_name=args.class_name,
            method=args.method or "",
            masks=args.masks,
            seed=args.seed,
            confidence=args.conf,
            imgsz=args.imgsz,
            nms_free=args.nms_free,
        )
        model = resolve_model(spec.model_path, settings)
        head_of(model, spec.nms_free)
        try:
            data = image_path.read_bytes()
        except OSError as exc:
            raise SubmitError(f"{args.image} cannot be read ({exc.strerror}); give an image file.") from None
        image = read_image(data, image_path.name)
        size = image_size(spec.imgsz, model, settings)
        method = spec.method or default_method(model)
        if size.warning:
            print(f"mlcore: warning: {size.warning}", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            pct = 100 * done / max(1, total)
            print(f"\r{bar(pct, 30)} {pct:5.1f}%  {done}/{total} masks", end="", file=sys.stderr, flush=True)

        maps = explain(
            model,
            image,
            settings,
            imgsz=size.used,
            pick=None if spec.box is None else [spec.box],
            as_class=spec.class_name,
            conf=spec.confidence,
            method=method,
            nms_free=spec.nms_free,
            masks=spec.masks,
            seed=spec.seed,
            device=args.device,
            progress=progress if method == DRISE and not args.json else None,
        )
    except (SubmitError, ValueError) as exc:
        return fail(str(exc), EXIT_USAGE)
    if method == DRISE and not args.json:
        print(file=sys.stderr)
    out = Path(typed_path(args.out)) if args.out else None
    if out is None:
        out = stamped_folder(settings.outputs_root / paths.EXPLANATIONS_DIR, f"{image_path.stem[:60]}_{method}")
    rows = [{**m.summary(), **write_box_files(out, image_path.stem, image, m)} for m in maps]
    document = {"model": str(model), "image": str(image_path), "method": method, "imgsz": size.used, "boxes": rows}
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    if not rows:
        print(f"the model finds no box in {image_path.name} at confidence {spec.confidence:g}; lower --conf.")
    for r in rows:
        x1, y1, x2, y2 = r["box"]
        print(
            f"box {r['index']}: {r['class']} {r['confidence']:.2f} at ({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}), "
            f"{100 * r['energy_inside']:.0f}% of the map inside, peak {'inside' if r['peak_inside'] else 'outside'}"
        )
        print(f"  {r['overlay']}\n  {r['map']}")
    return 0
