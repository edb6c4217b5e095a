"""Near copies: two image files that show the same picture, resized, re-encoded, slightly shifted or brightened.

Two tests, the second only where the first is blind:

1. Their difference hashes (`images.perceptual_hash`: 144 bits from a 9x9 grey thumbnail of the whole frame) differ
   in at most NEAR_DUPLICATE_BITS bits. Candidate pairs come from hash bands (two hashes that close share at least
   one of NEAR_DUPLICATE_BITS + 1 bands exactly), so not every pair is compared.
2. On a *flat* image, mostly of one colour (a game screenshot, a scanned page, a product on white: its commonest
   grey, give or take INK, covers FLAT_SHARE of its pixels), that thumbnail is mostly the background, so different
   frames hash alike. A flat image also carries a *foreground map*, made from the same decode as its hash: a
   GRID x GRID grey thumbnail with the background taken away, each cell's distance from the background grey in
   levels of LEVEL grey levels (scaled so that the image's strong ink has the same level whatever its brightness
   and contrast), a few hundred bytes compressed, kept in the facts cache. When both images of a candidate pair
   have one, the maps must agree too: at the best shift of up to SHIFT_CELLS cells, at most MAX_UNMATCHED_CELLS
   cells (2x2 cell sums) of either map may hold clearly more ink than the other map holds anywhere within one
   cell. A sprite or a word that only one frame has at a place leaves several such cells; re-encoding, resizing,
   brightening and shifts of a few pixels leave none.

A textured photo has no map (its facts.foreground is None) and the hash alone decides, as it always did.

    facts = inspect_image(path, with_phash=True)   # facts.phash, facts.foreground
    for i, j, bits in near_copies(hashes, maps):    # each pair that passes both tests, once, i < j
        ...
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from PIL import Image

HASH_BITS = 144
NEAR_DUPLICATE_BITS = 8  # of the 144-bit difference hash
FLAT_BUCKET = 200  # a hash band shared by this many images is a flat image's (sky, a blank page): passed over

GRID = 80  # foreground map cells per side: a cell of a 640x360 frame is 8x4.5 pixels, smaller than a small sprite
INK = 16  # grey levels from the background that are something (JPEG noise on a flat colour stays below)
FLAT_SHARE = 0.5  # an image gets a map when its background fills at least this share of its pixels
LEVEL = 16  # grey levels per level of the map (0-15)
STRONG_INK = 160  # the 90th percentile of an image's ink is scaled to this: a brightened copy keeps its levels
SHIFT_CELLS = 1  # the maps are compared at every shift of up to this many cells (a re-framed copy)
SLACK = 6  # levels (in a 2x2 sum) and ...
SLACK_PARTS = 4  # ... a quarter: what a cell may hold beyond the most ink near it in the other map
MAX_UNMATCHED_CELLS = 2  # cells beyond that slack, for a copy

Prepared = tuple[np.ndarray, np.ndarray]  # a map's 2x2 sums, and the most each may hold in the other map


def background(grey: Image.Image) -> int | None:
    """The grey of a flat image's background (`grey` an "L" image); None for a textured image."""
    counts = grey.histogram()
    bands = [sum(counts[k : k + 8]) for k in range(0, 256, 8)]
    band = max(range(32), key=bands.__getitem__)  # the commonest band of 8 grey levels, then its commonest level
    level = max(range(8 * band, 8 * band + 8), key=counts.__getitem__)
    flat = sum(counts[max(0, level - INK) : level + INK + 1]) >= FLAT_SHARE * grey.width * grey.height
    return level if flat else None


def foreground_map(grey: Image.Image) -> bytes | None:
    """The foreground map of `grey` (an "L" image): GRID * GRID levels, zlib-compressed (mostly zeros: a few
    hundred bytes); None for a textured image."""
    level = background(grey)
    if level is None:
        return None
    cells = np.frombuffer(grey.resize((GRID, GRID), Image.Resampling.BOX).tobytes(), dtype=np.uint8)
    ink = np.abs(cells.astype(np.int32) - level)
    inked = ink > INK
    levels = np.zeros(GRID * GRID, dtype=np.uint8)
    if inked.any():
        values = ink[inked]
        rank = (len(values) - 1) * 9 // 10
        strong = int(np.partition(values, rank)[rank])  # the 90th percentile
        levels[inked] = np.minimum(values * STRONG_INK // (strong * LEVEL), 15)
    return zlib.compress(levels.tobytes(), 1)  # the fastest level: a fifth of the time, a quarter more bytes


def prepare(cells: bytes) -> Prepared:
    """A map ready to compare: its 2x2 cell sums (a thin line split between two cells sums as one) and, for
    each, the most the other map may hold there (the largest sum within one cell, with the slack)."""
    levels = np.frombuffer(zlib.decompress(cells), dtype=np.uint8).reshape(GRID, GRID)
    pairs = levels.copy()
    pairs[:-1] += levels[1:]
    sums = pairs.copy()
    sums[:, :-1] += pairs[:, 1:]  # at most 4 x 15: uint8 holds it
    rows = sums.copy()
    np.maximum(rows[1:], sums[:-1], out=rows[1:])
    np.maximum(rows[:-1], sums[1:], out=rows[:-1])
    nearby = rows.copy()
    np.maximum(nearby[:, 1:], rows[:, :-1], out=nearby[:, 1:])
    np.maximum(nearby[:, :-1], rows[:, 1:], out=nearby[:, :-1])
    return sums, (nearby + nearby // SLACK_PARTS + SLACK).astype(np.uint8)  # at most 60 + 15 + 6


def _overlap(offset: int) -> tuple[slice, slice]:
    """(rows or columns of a, those of b) that meet when b is moved by `offset` cells."""
    if offset >= 0:
        return slice(offset, GRID), slice(0, GRID - offset)
    return slice(0, GRID + offset), slice(-offset, GRID)


# (cells of a, cells of b) that meet at each shift of b, the unshifted first, then the nearest
SHIFTS = [
    ((_overlap(r)[0], _overlap(c)[0]), (_overlap(r)[1], _overlap(c)[1]))
    for r, c in sorted(
        ((r, c) for r in range(-SHIFT_CELLS, SHIFT_CELLS + 1) for c in range(-SHIFT_CELLS, SHIFT_CELLS + 1)),
        key=lambda o: abs(o[0]) + abs(o[1]),
    )
]


def unmatched_cells(a: Prepared, b: Prepared) -> int:
    """The fewest cells, over shifts of up to SHIFT_CELLS, of either map that hold clearly more ink than the other
    map holds within one cell: 0 for one picture, several where one image has something the other has not. (The
    search stops at the first shift with MAX_UNMATCHED_CELLS or fewer.)"""
    (sums_a, most_a), (sums_b, most_b) = a, b
    best = GRID * GRID
    for in_a, in_b in SHIFTS:
        found = np.count_nonzero(sums_a[in_a] > most_b[in_b]) + np.count_nonzero(sums_b[in_b] > most_a[in_a])
        best = min(best, int(found))
        if best <= MAX_UNMATCHED_CELLS:
            break
    return best


def same_picture(a: bytes | Prepared | None, b: bytes | Prepared | None) -> bool:
    """Whether two images whose hashes are close also agree in their foreground maps (always, when either image
    is textured and has none: the hash decides)."""
    if a is None or b is None:
        return True
    a = prepare(a) if isinstance(a, bytes) else a
    b = prepare(b) if isinstance(b, bytes) else b
    return unmatched_cells(a, b) <= MAX_UNMATCHED_CELLS


def candidate_pairs(hashes: Sequence[int | None]) -> Iterator[tuple[int, int, int]]:
    """Each pair (i, j), i < j, of hashes at most NEAR_DUPLICATE_BITS bits apart, once, with that distance.

    Found through bands: two hashes that close share at least one of NEAR_DUPLICATE_BITS + 1 bands exactly. A band
    value shared by more than FLAT_BUCKET images is a flat image's (every blank frame's), not a copy's, and is
    passed over, so a dataset of near-blank images costs no quadratic time."""
    bands = NEAR_DUPLICATE_BITS + 1
    width = math.ceil(HASH_BITS / bands)
    mask = (1 << width) - 1
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for n, h in enumerate(hashes):
        if h is not None:
            for b in range(bands):
                buckets[(b, (h >> (b * width)) & mask)].append(n)
    seen: set[tuple[int, int]] = set()
    for members in buckets.values():
        if not 1 < len(members) <= FLAT_BUCKET:
            continue
        for x, i in enumerate(members):
            hi = hashes[i]
            for j in members[x + 1 :]:
                bits = (hi ^ hashes[j]).bit_count()  # type: ignore[operator]
                if bits <= NEAR_DUPLICATE_BITS and (i, j) not in seen:
                    seen.add((i, j))
                    yield i, j, bits


def near_copies(
    hashes: Sequence[int | None],
    maps: Sequence[bytes | None],
    wanted: Callable[[int, int], bool] | None = None,
) -> Iterator[tuple[int, int, int]]:
    """Each pair (i, j, hash bits apart), i < j, that passes both tests; `wanted(i, j)` False skips a pair before
    its maps are compared (a pair in one split, or already in one group). Each map is prepared once."""
    prepared: dict[int, Prepared | None] = {}

    def ready(n: int) -> Prepared | None:
        if n not in prepared:
            cells = maps[n]
            prepared[n] = None if cells is None else prepare(cells)
        return prepared[n]

    for i, j, bits in candidate_pairs(hashes):
        if (wanted is None or wanted(i, j)) and same_picture(ready(i), ready(j)):
            yield i, j, bits
