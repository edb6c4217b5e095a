"""The `python -m mlcore` command line: one subcommand per action of the studio.

python -m mlcore status [--json] [--no-torch]
python -m mlcore demo-data [--out DIR] [--images N] [--seed S] [--if-missing | --force]
python -m mlcore app [--host ADDRESS] [--port N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from mlcore import __version__, paths
from mlcore.settings import LOOPBACK_HOSTS, PROJECT_ROOT, Settings, SettingsError, load_settings

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that point to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def _fail(message: str, code: int = 1) -> int:
    print(f"mlcore: error: {message}", file=sys.stderr)
    return code


def _bar(pct: float, width: int = 20) -> str:
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    return "█" * filled + "·" * (width - filled)


def _print_status(data: dict) -> None:
    host = data["host"]
    print(
        f"CPU     {_bar(host['cpu_pct'])} {host['cpu_pct']:5.1f}%  ({host['cores_logical']} cores, "
        f"load {' '.join(f'{x:.2f}' for x in host['load_avg'])})"
    )
    print(
        f"Memory  {_bar(host['memory_pct'])} {host['memory_pct']:5.1f}%  "
        f"({host['memory_used_gb']:.1f} of {host['memory_total_gb']:.1f} GiB)"
    )
    print(
        f"Disk    {_bar(host['disk_pct'])} {host['disk_pct']:5.1f}%  "
        f"({host['disk_free_gb']:.1f} GiB free at {host['disk_path']})"
    )
    gpus = data["gpus"]
    if gpus["available"]:
        print(f"GPUs    driver {gpus['driver_version']}, CUDA {gpus['cuda_driver_version']}")
        for gpu in gpus["gpus"]:
            util = "n/a" if gpu["utilization_pct"] is None else f"{gpu['utilization_pct']:.0f}%"
            mem = (
                "n/a"
                if gpu["memory_pct"] is None
                else (f"{gpu['memory_used_mb'] / 1024:.1f}/{gpu['memory_total_mb'] / 1024:.1f} GiB")
            )
            temp = "n/a" if gpu["temperature_c"] is None else f"{gpu['temperature_c']:.0f} °C"
            power = "n/a" if gpu["power_w"] is None else f"{gpu['power_w']:.0f} W"
            print(
                f"  [{gpu['index']}] {gpu['name']}: util {util}, memory {mem}, {temp}, {power}, "
                f"{len(gpu['processes'])} process(es)"
            )
    else:
        print(f"GPUs    none: {gpus['error']}")
    torch = data["torch"]
    if torch is not None:
        if torch["ok"]:
            cuda = "yes" if torch["cuda_available"] else "no"
            print(
                f"PyTorch {torch['torch_version']} (CUDA build {torch['cuda_build'] or 'none'}); "
                f"sees CUDA: {cuda} {', '.join(torch['devices'])}"
            )
        else:
            print(f"PyTorch not usable: {torch['error']}")
    print(f"Training would run on: {data['training_device'].upper()}")
    print("Jobs    none running or queued" if not data["jobs"] else f"Jobs    {len(data['jobs'])}")
    for notice in data["notices"]:
        print(f"! {notice['message']}")


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.system_status import collect_status

    status = collect_status(settings, include_torch=not args.no_torch)
    data = status.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_status(data)
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.demo_data import DemoDataError, make_demo_dataset

    out = Path(args.out).resolve() if args.out else settings.demo_dataset_dir
    if args.if_missing and (out / paths.DATA_YAML).exists():
        print(f"Demo dataset already present at {out}")
        return 0

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total:
            print(f"\rWriting images: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    try:
        summary = make_demo_dataset(
            out, images=args.images, seed=args.seed, imgsz=args.imgsz, force=args.force, progress=progress
        )
    except DemoDataError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"could not write {out}: {exc.strerror or exc}; choose a writable folder with --out.")
    counts = ", ".join(f"{split} {n}" for split, n in summary.images.items())
    print(f"Demo dataset written to {summary.root} ({counts} images; {sum(summary.boxes.values())} boxes)")
    print(f"Dataset file: {summary.data_yaml}")
    return 0


def cmd_app(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    if host not in LOOPBACK_HOSTS:
        print(
            "\n" + "!" * 78 + f"\n  WARNING: ML Studio will listen on {host}, reachable from other machines.\n"
            "  Anyone who can reach it can read datasets and start trainings on this server.\n"
            "  Bind to 127.0.0.1 for local use, or put it behind authentication.\n" + "!" * 78 + "\n",
            file=sys.stderr,
        )
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
    ]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)  # replaces this process; Ctrl+C stops the app
    return 0  # reached only where execv is replaced (tests)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcore", description="ML Studio: validate datasets, train and evaluate YOLO models.")
    parser.add_argument("--version", action="version", version=f"mlcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    status = sub.add_parser("status", help="CPU, memory, disk, GPUs, PyTorch and jobs of this machine")
    status.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    status.add_argument("--no-torch", action="store_true", help="skip the PyTorch probe (a few seconds)")
    status.set_defaults(func=cmd_status)

    demo = sub.add_parser("demo-data", help="write the synthetic logo dataset (YOLO format)")
    demo.add_argument("--out", help="output folder (default: <outputs>/datasets/demo)")
    demo.add_argument("--images", type=int, default=400, help="number of images (default 400)")
    demo.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same files")
    demo.add_argument("--imgsz", type=int, default=256, help="image side in pixels (default 256)")
    once = demo.add_mutually_exclusive_group()
    once.add_argument("--if-missing", action="store_true", help="do nothing when the dataset exists")
    once.add_argument("--force", action="store_true", help="replace an existing demo dataset")
    demo.set_defaults(func=cmd_demo_data)

    app = sub.add_parser("app", help="start the web app (Streamlit)")
    app.add_argument("--host", help="address to bind (default ML_STUDIO_HOST or 127.0.0.1)")
    app.add_argument("--port", type=int, help="port (default ML_STUDIO_PORT or 8501)")
    app.set_defaults(func=cmd_app)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return int(args.func(args, settings))
