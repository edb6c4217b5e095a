"""Images where the two models disagree: one right and the other wrong first, ranked by the difference
in errors, and a picture of both predictions side by side.

    rows = disagreements(pair_a, pair_b)          # [{"image", "a_errors", "b_errors", "better"}, ...]
    picture = draw_disagreement(root, a, b, n, ("A · v1", "B · v2"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from mlcore.charts.drawing import draw_comparison
from mlcore.compare.bootstrap import ScoredModel

LIMIT = 60


def disagreements(a: ScoredModel, b: ScoredModel, limit: int = LIMIT) -> list[dict[str, Any]]:
    """Images whose error counts differ, those where exactly one model makes no error first."""
    ea, eb = a.analysis.image_errors.astype(int), b.analysis.image_errors.astype(int)
    differ = np.flatnonzero(ea != eb)
    one_right = (ea[differ] == 0) | (eb[differ] == 0)
    order = differ[np.lexsort((-np.abs(ea[differ] - eb[differ]), ~one_right))][:limit]
    return [
        {
            "image": a.kept.images[n],
            "index": int(n),
            "a_errors": int(ea[n]),
            "b_errors": int(eb[n]),
            "better": "a" if ea[n] < eb[n] else "b",
            "one_right": bool(ea[n] == 0 or eb[n] == 0),
        }
        for n in order
    ]


def draw_disagreement(
    root: Path, a: ScoredModel, b: ScoredModel, n: int, labels: tuple[str, str], max_side: int = 640
) -> Image.Image:
    """Image `n` twice, A's predictions on the left and B's on the right, each with the ground truth and
    its errors. OSError when the image cannot be read."""
    left = draw_comparison(root / a.kept.images[n], a.kept, a.analysis, n, max_side)
    right = draw_comparison(root / b.kept.images[n], b.kept, b.analysis, n, max_side)
    caption = 26
    picture = Image.new("RGB", (left.width + right.width + 8, max(left.height, right.height) + caption), "white")
    picture.paste(left.convert("RGB"), (0, caption))
    picture.paste(right.convert("RGB"), (left.width + 8, caption))
    draw = ImageDraw.Draw(picture)
    for x, text, errors in (
        (4, labels[0], a.analysis.image_errors[n]),
        (left.width + 12, labels[1], b.analysis.image_errors[n]),
    ):
        draw.text((x, 6), f"{text}: {int(errors)} error{'s' if errors != 1 else ''}", fill="black")
    return picture
