"""What an augmentation preview costs, against Ultralytics' own detection trainer drawing the same samples.

For each seed: the studio's preview (`preview_augmentation`: stage the dataset's view once, then a child process
that imports Ultralytics, builds the training dataset and draws the samples), timed cold (a new outputs folder, so
the view is staged too) and warm (the view staged, a new seed); beside it the reference, `tests/trainer_samples.py`
in a child process (a `DetectionTrainer` with the same arguments building its training dataset and drawing the
same samples); and whether the two drew the same pixels. Goal: a few seconds; parity on every sample.

    python benchmarks/augment_preview.py [--data ../shared/datasets/logo_tdtu] [--seeds 3] [--samples 9]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = {"degrees": 10.0, "mosaic": 1.0, "mixup": 0.1}


def main() -> None:
    from mlcore.core import paths
    from mlcore.core.settings import load_settings
    from mlcore.engine.env import engine_environment
    from mlcore.training.augment_preview import PREVIEW_IMGSZ, preview_augmentation

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "logo_tdtu"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=9)
    args = parser.parse_args()
    data = Path(args.data).resolve()
    with tempfile.TemporaryDirectory() as work:
        env = {"ML_STUDIO_OUTPUTS": str(Path(work) / "out"), "ML_STUDIO_DATASET_ROOTS": str(data.parent)}
        settings = load_settings(env)
        print(f"{data.name}: {args.samples} samples at {PREVIEW_IMGSZ} px with {SETTINGS}")
        print("seed  preview (s)  of it in the child (s)  Ultralytics' trainer (s)  ratio  same pixels")
        for seed in range(args.seeds):
            started = time.perf_counter()
            preview = preview_augmentation(str(data), settings, SETTINGS, seed=seed, count=args.samples)
            ours = time.perf_counter() - started
            view = preview.folder.parent / paths.AUGMENTATION_VIEW_DIR / paths.DATA_YAML
            out = Path(work) / f"reference-{seed}.npz"
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "tests" / "trainer_samples.py"),
                    str(view),
                    str(seed),
                    str(args.samples),
                    str(PREVIEW_IMGSZ),
                    str(out),
                    json.dumps(SETTINGS),
                ],
                env=engine_environment(settings),
                cwd=work,
                check=True,
                capture_output=True,
            )
            reference = time.perf_counter() - started
            with np.load(out) as theirs, np.load(preview.folder / paths.AUGMENTATION_SAMPLES) as drawn:
                same = sum(np.array_equal(theirs[f"image_{k}"], drawn[f"image_{k}"]) for k in range(args.samples))
            cold = " (cold: the view staged)" if seed == 0 else ""
            print(
                f"{seed:>4}  {ours:>11.2f}  {preview.seconds:>22.2f}  {reference:>24.2f}  {ours / reference:>5.2f}  "
                f"{same}/{args.samples}{cold}"
            )


if __name__ == "__main__":
    main()
