"""`python -m mlcore export MODEL`: ONNX, OpenVINO, TorchScript or TensorRT, checked against the .pt."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, MODEL_HELP, fail, named_model, outcome
from mlcore.core.settings import Settings


def add_export_parser(sub: Any) -> None:
    from mlcore.export.spec import ExportSpec  # the defaults, written once on the spec

    export = sub.add_parser("export", help="export a model (ONNX, OpenVINO, TorchScript) and check it against the .pt")
    export.add_argument("model", metavar="MODEL", help=f"{MODEL_HELP} (not an export)")
    export.add_argument("--format", action="append", help="onnx (default), openvino, torchscript, engine; repeatable")
    precision = export.add_mutually_exclusive_group()  # one precision a job; without any: fp32
    precision.add_argument("--int8", action="store_true", help="OpenVINO INT8, calibrated on the dataset's val images")
    precision.add_argument("--half", action="store_true", help="fp16 (OpenVINO on the CPU; ONNX and TensorRT on a GPU)")
    precision.add_argument("--bf16", action="store_true", help="OpenVINO in bfloat16 (CPUs with AVX512-BF16/AMX)")
    export.add_argument(
        "--imgsz", type=int, default=ExportSpec.imgsz, help="input size, a multiple of 32 (default: the trained size)"
    )
    export.add_argument("--dynamic", action="store_true", help="dynamic batch and image size")
    export.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the newest)")
    export.add_argument("--no-simplify", action="store_true", help="ONNX: keep the graph as exported")
    export.add_argument("--data", help="dataset for the parity check and INT8 (default: the one it was trained on)")
    export.add_argument(
        "--split", default=ExportSpec.split, help="split checked: auto (test, else val), test, val, train"
    )
    export.add_argument("--tolerance", type=float, default=None, help="mAP difference that passes (0.005; 0.02 int8)")
    export.add_argument("--no-parity", action="store_true", help="skip the parity check")
    export.add_argument("--device", default=ExportSpec.device, help="auto, cpu or a GPU index")
    export.add_argument("--nms-free", action="store_true", help="YOLO26: export its NMS-free head (top-k built in)")
    export.add_argument("--json", action="store_true", help="with --wait: one JSON document on stdout")
    export.add_argument("--wait", action="store_true", help="follow the job; exit 1 if it fails or parity fails")
    export.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.errors import SubmitError
    from mlcore.core.spec import SpecError
    from mlcore.export.spec import ExportSpec
    from mlcore.export.store import ExportUnreadable, export_result
    from mlcore.export.submit import submit_export

    precision = "int8" if args.int8 else "fp16" if args.half else "bf16" if args.bf16 else "fp32"
    try:
        spec = ExportSpec(
            model_path=named_model(args.model, settings, True, "an export"),
            formats=tuple(args.format or ["onnx"]),
            precision=precision,
            imgsz=args.imgsz,
            dynamic=args.dynamic,
            opset=args.opset,
            simplify=not args.no_simplify,
            dataset_path=args.data or "",
            split=args.split,
            parity=not args.no_parity,
            tolerance=args.tolerance,
            device=args.device,
            nms_free=args.nms_free,
        )
        job = submit_export(spec, settings)
    except (SpecError, SubmitError) as exc:
        return fail(str(exc), EXIT_USAGE)
    result = outcome(job, args.wait, settings, export_result, ExportUnreadable)
    if isinstance(result, int):
        return result
    if args.json:
        print(json.dumps(result))
        return 0
    for entry in result["formats"]:
        parity = entry["parity"]
        check = "not checked" if parity is None else parity["verdict"]
        latency = entry["latency_ms"]
        runs = f" (runs at {entry['ran_at']})" if entry.get("ran_at") else ""
        print(f"{entry['format']:<12} {entry['precision']}{runs} {entry['path']}")
        print(f"{'':<12} latency {latency['export']:.1f} ms per image (source {latency['source']:.1f} ms); {check}")
    print(f"Output: {result['output_dir']}")
    return 0 if all(e["parity"] is None or e["parity"]["passed"] for e in result["formats"]) else 1
