"""What an export gains at serving time, what it costs in accuracy, and what the export job adds.

1. Latency does not depend on what a model learned: yolov8n and yolov8s are trained for one epoch on
   the demo dataset (a real checkpoint, made in seconds), then for each imgsz (320, 640) the studio's
   export jobs run for real: ONNX and OpenVINO FP32 in one job, OpenVINO INT8 (calibrated on the val
   images) in another, each timing the source in PyTorch and every export in its runtime (median of
   >= 50 runs at batch 1 after a warm-up, the runtime alone, all of this machine's cores).
2. Parity needs a model that detects: a yolov8n is trained on a 400-image demo dataset at 256 px with
   the demo recipe (mAP50 about 0.6 after 8 epochs), and exported to ONNX, OpenVINO FP32 and INT8
   (calibrated on the 80 val images) with the parity check on the 40 test images.
3. It prints each runtime's latency and its ratio to PyTorch measured in the same job (goals: ONNX
   <= 0.7x, OpenVINO INT8 <= 0.5x), the parity deltas (goal for INT8: mAP50-95 within 0.02), and the
   export job's own overhead: its wall time less the conversions, the evaluations and the timing
   runs (goal < 5 s).
4. Beside each figure, the precision the runtime reported computing at (OpenVINO's compiled model read
   back: f32 for fp32, fp16 and int8 exports on every CPU), and OpenVINO's reading of the CPU. Where the
   CPU has bfloat16 (AVX512-BF16 or AMX), OpenVINO BF16 is exported, timed and checked as well.

    python benchmarks/export_speed.py [--sizes 320 640] [--archs yolov8n yolov8s] [--fit-epochs 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.workspace import studio_workspace, wait  # noqa: E402
from mlcore.core import paths  # noqa: E402
from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.demo import DEMO_TRAINING_RECIPE, make_demo_dataset  # noqa: E402
from mlcore.export.precision import cpu_capabilities, cpu_has_bf16  # noqa: E402
from mlcore.export.spec import ExportSpec  # noqa: E402
from mlcore.export.submit import submit_export  # noqa: E402
from mlcore.training.spec import TrainSpec  # noqa: E402
from mlcore.training.submit import start  # noqa: E402

LOWER = ("int8", "bf16") if cpu_has_bf16() else ("int8",)  # OpenVINO precisions below fp32 this CPU runs


def train(arch: str, dataset: Path, epochs: int, imgsz: int, advanced: dict, batch: int = 8) -> Path:
    spec = TrainSpec(
        dataset_path=str(dataset),
        model_architecture=arch,
        epochs=epochs,
        imgsz=imgsz,
        batch_size=batch,
        workers=0,
        device="cpu",
        project="bench",
        experiment=f"{arch}-{imgsz}-{epochs}",
        advanced=advanced,
    )
    print(f"training {arch} at {imgsz} for {epochs} epoch(s)…", flush=True)
    job = start(spec, load_settings())
    wait(job.id)
    return Path(job.run_dir) / "weights" / "best.pt"


def export(model: Path, dataset: Path, formats: tuple[str, ...], precision: str, imgsz: int, parity: bool) -> dict:
    spec = ExportSpec(
        model_path=str(model),
        formats=formats,
        precision=precision,
        imgsz=imgsz,
        dataset_path=str(dataset),
        parity=parity,
        device="cpu",
    )
    done = wait(submit_export(spec, load_settings()).id)
    card = json.loads((done["folder"] / paths.MODEL_CARD).read_text())
    return {"card": card, "seconds": done["seconds"], "overhead": done["seconds"] - sum(card["timings_s"].values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--archs", nargs="+", default=["yolov8n", "yolov8s"])
    parser.add_argument("--fit-epochs", type=int, default=8)
    parser.add_argument("--parts", nargs="+", choices=["latency", "parity"], default=["latency", "parity"])
    args = parser.parse_args()
    with studio_workspace("ml-studio-export-bench-") as work:
        demo = make_demo_dataset(work / "data" / "demo", images=60, imgsz=320, seed=3).root
        rows, overheads = [], []
        for arch in args.archs if "latency" in args.parts else []:
            model = train(arch, demo, 1, 320, {"val": False})
            for imgsz in args.sizes:
                fp32 = export(model, demo, ("onnx", "openvino"), "fp32", imgsz, parity=False)
                jobs = [fp32] + [export(model, demo, ("openvino",), p, imgsz, parity=False) for p in LOWER]
                overheads += [job["overhead"] for job in jobs]
                timed = fp32["card"]["latency_source"]
                source = timed["median_ms"]
                rows.append((arch, imgsz, "PyTorch (.pt)", source, 1.0, timed.get("ran_at")))
                for result in jobs:
                    for entry in result["card"]["formats"]:
                        ms = entry["latency"]["median_ms"]
                        name = f"{entry['format']} {entry['precision']}"
                        rows.append((arch, imgsz, name, ms, ms / source, entry["latency"].get("ran_at")))
        if "latency" in args.parts:
            report_latency(rows, fp32["card"]["latency_source"]["threads"])
        if "parity" in args.parts:
            overheads += check_parity(args.fit_epochs, work)
        median = sorted(overheads)[len(overheads) // 2]
        print(
            f"\nexport job overhead (wall time less conversions, evaluations, timing): median {median:.1f} s, "
            f"largest {max(overheads):.1f} s (goal < 5 s)"
        )


def report_latency(rows: list[tuple], threads: int) -> None:
    cpu = ", ".join(cpu_capabilities())
    print(f"\nCPU latency per image at batch 1 (median ms of the runtime, {threads} threads), ratio to PyTorch, and")
    print(f"the precision each runtime reported computing at (OpenVINO's reading of this CPU: {cpu}):")
    print(f"{'model':<9} {'imgsz':>5}  {'runtime':<16} {'ms':>8} {'ratio':>7}  ran at")
    for arch, imgsz, runtime, ms, ratio, ran in rows:
        print(f"{arch:<9} {imgsz:>5}  {runtime:<16} {ms:>8.2f} {ratio:>6.2f}x  {ran or 'as built'}")


def check_parity(epochs: int, work: Path) -> list[float]:
    """Parity of ONNX, OpenVINO FP32 and INT8 exports of a trained yolov8n; the export jobs' overheads."""
    demo400 = make_demo_dataset(work / "data" / "fit", images=400, imgsz=256, seed=0).root
    recipe = {k: v for k, v in DEMO_TRAINING_RECIPE.items() if k not in ("imgsz", "batch")}
    fitted = train("yolov8n", demo400, epochs, 256, recipe, batch=16)
    checked = [export(fitted, demo400, ("onnx", "openvino"), "fp32", 256, parity=True)]
    checked += [export(fitted, demo400, ("openvino",), p, 256, parity=True) for p in LOWER]
    print("\nParity on the trained yolov8n's 40 test images (imgsz 256; INT8 calibrated on the 80 val images):")
    print(f"{'export':<16} {'mAP50 .pt':>9} {'export':>8} {'mAP50-95 .pt':>12} {'export':>8} {'Δ':>8}  verdict  ran at")
    for result in checked:
        for entry in result["card"]["formats"]:
            p, name = entry["parity"], f"{entry['format']} {entry['precision']}"
            ran = entry["latency"].get("ran_at") or "as built"
            print(
                f"{name:<16} {p['map50_source']:>9.4f} {p['map50_export']:>8.4f} "
                f"{p['map50_95_source']:>12.4f} {p['map50_95_export']:>8.4f} {p['map50_95_delta']:>+8.4f}  "
                f"{'passed' if p['passed'] else 'failed':<7}  {ran}"
            )
    return [c["overhead"] for c in checked]


if __name__ == "__main__":
    main()
