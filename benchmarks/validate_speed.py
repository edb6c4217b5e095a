"""Dataset validation speed against Ultralytics' own dataset scan, on the same files in one run.

Generates N images (640x480 JPEG, default 5,000) with labels, reads them all once so the page
cache is warm for everybody, then times:

1. Ultralytics: `ultralytics.data.utils.verify_image_label` over its ThreadPool(NUM_THREADS),
   as its dataset cache builder runs it (and once more with a thread per core, for fairness);
2. the studio's validator with exact-duplicate hashing (no near-duplicates), fresh cache;
3. the same with near-duplicate hashing on, fresh cache;
4. a second run of (2) on unchanged files (facts cache warm).

With --memory N it also validates N small images in a child process and prints its peak memory.

    python benchmarks/validate_speed.py [--images 5000] [--memory 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.pool import ThreadPool
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlcore.core.settings import load_settings  # noqa: E402
from mlcore.datasets.validation.options import ValidationOptions  # noqa: E402
from mlcore.datasets.validation.validate import validate  # noqa: E402
from mlcore.engine.env import engine_environment  # noqa: E402


def make_dataset(root: Path, n: int, size: tuple[int, int]) -> list[tuple[str, str]]:
    """N distinct images with 1-4 boxes each, 80% train / 20% val; returns (image, label) pairs."""
    pairs = []
    for index in range(n):
        rng = random.Random(index)
        split = "train" if index % 5 else "val"
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        rows = []
        for _ in range(rng.randint(1, 4)):
            w, h = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4)
            cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
            cls = rng.randrange(3)
            draw.rectangle(
                [(cx - w / 2) * size[0], (cy - h / 2) * size[1], (cx + w / 2) * size[0], (cy + h / 2) * size[1]],
                fill=tuple(rng.randrange(256) for _ in range(3)),
            )
            rows.append(f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
        img = root / "images" / split / f"{index:06d}.jpg"
        lbl = root / "labels" / split / f"{index:06d}.txt"
        img.parent.mkdir(parents=True, exist_ok=True)
        lbl.parent.mkdir(parents=True, exist_ok=True)
        image.save(img, quality=85)
        lbl.write_text("".join(rows))
        pairs.append((str(img), str(lbl)))
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [a, b, c]\n")
    return pairs


def warm(pairs: list[tuple[str, str]]) -> None:
    for image, label in pairs:
        Path(image).read_bytes()
        Path(label).read_bytes()


def time_ultralytics(pairs: list[tuple[str, str]], threads: int | None) -> tuple[float, int]:
    from ultralytics.data.utils import verify_image_label
    from ultralytics.utils import NUM_THREADS

    threads = threads or NUM_THREADS
    args = [(im, lb, "", False, 3, 0, 0, False) for im, lb in pairs]
    start = time.perf_counter()
    with ThreadPool(threads) as pool:
        found = sum(1 for r in pool.imap(verify_image_label, args) if r[0] is not None)
    return time.perf_counter() - start, threads if found else 0


def time_ours(root: Path, cache: Path, near: bool) -> tuple[float, int]:
    start = time.perf_counter()
    report = validate(root, ValidationOptions(near_duplicates=near), cache_path=cache)
    return time.perf_counter() - start, report.cache_hits


# Peak memory from VmHWM (reset at exec); ru_maxrss would carry the parent's peak across exec.
MEMORY_CHILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from mlcore.validation import ValidationOptions, validate
report = validate(Path(sys.argv[1]), ValidationOptions(near_duplicates=True), cache_path=Path(sys.argv[2]))
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(f"{sum(c['images'] for c in report.counts.values())} {hwm:.0f} {report.seconds:.1f}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--memory", type=int, default=0, metavar="N", help="also measure memory on N small images")
    args = parser.parse_args()
    os.environ.update(engine_environment(load_settings()))  # Ultralytics offline, as in the workers
    os.environ["YOLO_VERBOSE"] = "0"
    assert threading.active_count() == 1

    with tempfile.TemporaryDirectory(prefix="validate-speed-") as tmp:
        root = Path(tmp) / "dataset"
        t = time.perf_counter()
        pairs = make_dataset(root, args.images, (640, 480))
        print(f"generated {len(pairs)} images 640x480 in {time.perf_counter() - t:.1f} s; {os.cpu_count()} cores")
        warm(pairs)

        # The studio first, as `mlcore validate` runs it (a single-threaded process starts its readers
        # with fork); then Ultralytics, whose import starts threads of its own.
        ours_s, _ = time_ours(root, Path(tmp) / "c1.sqlite", near=False)
        near_s, _ = time_ours(root, Path(tmp) / "c2.sqlite", near=True)
        again_s, hits = time_ours(root, Path(tmp) / "c1.sqlite", near=False)
        again_near_s, _ = time_ours(root, Path(tmp) / "c2.sqlite", near=True)
        ul_s, ul_threads = time_ultralytics(pairs, None)
        ul2_s, _ = time_ultralytics(pairs, os.cpu_count())

        n = len(pairs)
        rows = [
            (f"Ultralytics verify_image_label, ThreadPool({ul_threads}) as it runs", ul_s),
            (f"Ultralytics verify_image_label, ThreadPool({os.cpu_count()})", ul2_s),
            ("studio validator, exact duplicates (fresh cache)", ours_s),
            ("studio validator, exact + near duplicates (fresh cache)", near_s),
            (f"studio validator, exact duplicates, second run ({hits} unchanged)", again_s),
            ("studio validator, exact + near duplicates, second run", again_near_s),
        ]
        print(f"\n{'':<66}{'seconds':>9}{'images/s':>10}")
        for name, seconds in rows:
            print(f"{name:<66}{seconds:>9.2f}{n / seconds:>10.0f}")
        print(
            f"\nRESULT: studio / Ultralytics throughput = {ul_s / ours_s:.1f}x (Ultralytics as it runs), "
            f"{ul2_s / ours_s:.1f}x (Ultralytics with {os.cpu_count()} threads)"
        )
        print(f"RESULT: with near-duplicate hashing = {ul_s / near_s:.1f}x Ultralytics ({n / near_s:.0f} images/s)")
        print(
            f"RESULT: second run on unchanged files is {near_s / again_near_s:.0f}x faster than the first with the "
            f"default options (near duplicates on), {ours_s / again_s:.0f}x with exact duplicates only"
        )

        if args.memory:
            big = Path(tmp) / "big"
            t = time.perf_counter()
            make_dataset(big, args.memory, (64, 48))
            print(f"\ngenerated {args.memory} images 64x48 in {time.perf_counter() - t:.0f} s")
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, str(big), str(Path(tmp) / "c3.sqlite"), str(ROOT)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            print(
                f"RESULT: {out[0]} images validated (near duplicates on) in {out[2]} s; peak memory of the "
                f"validating process {out[1]} MB (image readers hold one batch each)"
            )
    print(f"(benchmark process peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
