"""What the command line prints for people: bars, the system status, a validation report, job progress."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from mlcore.datasets.validation.report import ValidationReport


def bar(pct: float, width: int = 20) -> str:
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    return "█" * filled + "·" * (width - filled)


def print_status(data: dict[str, Any]) -> None:
    host = data["host"]
    print(
        f"CPU     {bar(host['cpu_pct'])} {host['cpu_pct']:5.1f}%  ({host['cores_logical']} cores, "
        f"load {' '.join(f'{x:.2f}' for x in host['load_avg'])})"
    )
    print(
        f"Memory  {bar(host['memory_pct'])} {host['memory_pct']:5.1f}%  "
        f"({host['memory_used_gb']:.1f} of {host['memory_total_gb']:.1f} GiB)"
    )
    print(
        f"Disk    {bar(host['disk_pct'])} {host['disk_pct']:5.1f}%  "
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
    print("Jobs    none running or queued" if not data["jobs"] else f"Jobs    {len(data['jobs'])}:")
    for job in data["jobs"]:
        where = f"queued #{job['queue_position']}" if job["queue_position"] else f"{job['state']} on {job['device']}"
        print(f"  {job['id']}  {job['run']}  {where}  {job['percent'] or 0:.0f}%")
    for notice in data["notices"]:
        print(f"! {notice['message']}")


def progress_bar(stage: str, done: int, total: int) -> None:
    if not sys.stderr.isatty() and done != total:
        return
    width = 30
    filled = round(width * done / total) if total else width
    end = "\n" if done == total else ""
    print(
        f"\r{stage:<16} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True
    )


def print_report(report: ValidationReport, folder: Path | None) -> None:
    ds = report.dataset
    print(f"Dataset  {ds['source']}  ({ds['layout']}, {ds['nc']} classes)")
    for split, c in report.counts.items():
        print(
            f"  {split:<6} {c['images']:>7} images  {c['boxes']:>8} boxes  {c['backgrounds']:>6} backgrounds  "
            f"{c['missing_labels']:>6} without labels  {c['corrupt']:>5} unusable"
        )
    for cls in report.classes:
        per_split = "  ".join(f"{s} {n}" for s, n in cls["instances"].items())
        print(f"  class {cls['id']:>3} {cls['name'][:24]:<24} {per_split}")
    counts = report.severity_counts()
    print(f"Issues   {counts['error']} errors, {counts['warning']} warnings, {counts['info']} info")
    by_code = Counter((i.severity, i.code) for i in report.issues)
    for (severity, code), n in sorted(by_code.items(), key=lambda kv: (kv[0][0] != "error", -kv[1])):
        first = next(i for i in report.issues if i.code == code and i.severity == severity)
        where = f"{first.path}:{first.line}" if first.line else (first.path or first.split or "dataset")
        print(f"  {severity:<7} {code:<20} x{n:<6} e.g. {where}: {first.message[:140]}")
    print("Before training:")
    for line in report.recommendations:
        print(f"  - {line}")
    verdict = {
        "ready": "READY to train",
        "ready_with_warnings": "READY to train, with warnings",
        "not_ready": "NOT READY: fix the errors first",
    }[report.verdict]
    print(f"Verdict  {verdict}  ({report.seconds:.2f} s)")
    if folder:
        print(f"Report   {folder}")
