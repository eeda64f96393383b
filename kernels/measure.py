"""Per-image measurements for the image checks, in one fused pass over the pixels.

Grey is Pillow's ITU-R 601 luma (``convert("L")``: ``(19595 R + 38470 G + 7471 B + 2**15) >> 16``),
so the twin in ``kernels.reference`` can use Pillow itself. One pass reads each RGB row once and,
while the row is in L1, fills grey, the histogram, the colour sum, the 32x32 block sums and the
Laplacian of the row above (3-row window); nothing is subsampled. Every per-pixel sum is an integer sum —
exact, and vectorisable by LLVM without fast-math — and turned into float64 only at the end:

- brightness_mean, contrast_std: mean and population std of grey, from its 256-bin histogram;
- entropy_bits: Shannon entropy of that histogram;
- blur_laplacian_var: population variance of ``up + down + left + right - 4 * centre`` over the
  interior pixels, at full resolution (0.0 when the image is under 3x3);
- colorfulness: mean of ``|R - G| + |G - B|``;
- phash: grey averaged over a 32x32 grid of blocks (block i spans ``[i*H//32, (i+1)*H//32)``,
  at least one pixel, so tiny images repeat pixels), 2-D DCT-II, the top-left 8x8 coefficients
  compared to the median of its 63 non-DC ones, bit ``8*u + v`` set when coefficient (u, v) is
  above it. Coefficients are rounded to 1e-6 first so float summation order cannot flip a bit of a
  flat image, whose AC terms are zero up to rounding noise.

``pixel_hash`` is the exact-duplicate key: xxhash's XXH3-128 of the shape (three little-endian uint64:
height, width, channels; a fourth, the scale, for a JPEG decoded in draft mode) followed by the decoded
pixels in C order, as 32 hex digits. It replaced a
hand-written numba hash (four xxh64-style lanes) when ``benchmarks/bench_pixel_hash.py`` measured, one core,
60 decoded 512x512 CAD renders: XXH3-128 0.063 ms an image against the numba hash's 0.13-0.14 ms (x0.44-0.49),
0.05 against 0.15 ms on random noise (SHA-1 cost ~1 ms). Not for adversarial input: two different images with
one hash would have to be made on purpose.
"""
from __future__ import annotations

import math

import numpy as np
import xxhash

from kernels._jit import njit
from kernels.resize import scratch

HASH_GRID = 32
HASH_BLOCK = 8
STAT_NAMES = ("brightness_mean", "contrast_std", "entropy_bits", "blur_laplacian_var", "colorfulness")


def dct_matrix(n: int = HASH_GRID) -> np.ndarray:
    """Unnormalised DCT-II basis, ``D[k, i] = cos(pi * (2 i + 1) * k / (2 n))``."""
    k = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    return np.cos(np.pi * (2 * i + 1) * k / (2 * n))


_DCT = dct_matrix()
_DCT.setflags(write=False)


def block_edges(size: int, n: int = HASH_GRID) -> np.ndarray:
    """(n, 2) int64 start/stop of each block along one axis; never empty."""
    starts = np.arange(n, dtype=np.int64) * size // n
    stops = np.maximum((np.arange(n, dtype=np.int64) + 1) * size // n, starts + 1)
    starts = np.minimum(starts, size - 1)
    return np.stack([starts, np.minimum(stops, size)], axis=1)


@njit
def _fused_pass(rgb, grey, hist4, ry, rx, row_block, block_sums, colacc, lap):
    """One read of the RGB pixels: grey row, histogram, colour sum, block sums, and the Laplacian of
    the row above (its 3-row window is complete once this row's grey exists, still in L1).
    Block sums are fused when blocks are disjoint (``colacc`` as wide as the image, ``row_block[y]``
    the block row of y); tiny images (blocks repeating pixels) leave them to ``_block_means``.

    Returns the colour sum; ``lap`` gets (sum, sum of squares) of the Laplacian. Arithmetic is
    written with explicit int32 casts: numba types ``int32 * int32`` as int64, which halves the
    vector width of the luma loop.
    """
    h, w = grey.shape
    color = np.int64(0)
    l1 = np.int64(0)
    l2 = np.int64(0)
    nb = ry.shape[0]
    for y in range(h):
        row = rgb[y]
        g = grey[y]
        crow = np.int32(0)
        for x in range(w):
            r = np.int32(row[x, 0])
            gg = np.int32(row[x, 1])
            b = np.int32(row[x, 2])
            g[x] = np.uint8(np.int32(np.int32(19595) * r + np.int32(38470) * gg + np.int32(7471) * b
                                     + np.int32(32768)) >> 16)
            crow += np.int32(abs(np.int32(r - gg))) + np.int32(abs(np.int32(gg - b)))
        color += crow
        for x in range(w):
            hist4[x & 3, g[x]] += 1
        if colacc.shape[0] == w:  # disjoint blocks (h, w >= 32): column sums, reduced per block row
            for x in range(w):
                colacc[x] += np.int32(g[x])
            i = row_block[y]
            if y + 1 == ry[i, 1]:
                for j in range(nb):
                    sj = np.int64(0)
                    for x in range(rx[j, 0], rx[j, 1]):
                        sj += colacc[x]
                    block_sums[i, j] = sj
                colacc[:] = 0
        if y >= 2 and w >= 3:
            up = grey[y - 2]
            mid = grey[y - 1]
            s1 = np.int32(0)
            s2 = np.int32(0)  # per row: |v| <= 1020, w * 1020**2 < 2**31 for w < 2064
            for x in range(1, w - 1):
                v = (np.int32(up[x]) + np.int32(g[x]) + np.int32(mid[x - 1]) + np.int32(mid[x + 1])
                     - np.int32(4) * np.int32(mid[x]))
                s1 += v
                s2 += v * v if w < 2064 else 0
            if w >= 2064:  # wide images: the squares in int64
                s2 = 0
                for x in range(1, w - 1):
                    v = np.int64(np.int32(up[x]) + np.int32(g[x]) + np.int32(mid[x - 1])
                                 + np.int32(mid[x + 1]) - np.int32(4) * np.int32(mid[x]))
                    l2 += v * v
            l1 += s1
            l2 += s2
    lap[0] = l1
    lap[1] = l2
    return color


@njit
def _block_sums(grey, ry, rx, out):
    # Images under 32 pixels on a side: blocks overlap (repeat pixels), summed one by one.
    n = out.shape[0]
    for i in range(n):
        for j in range(n):
            s = np.int64(0)
            for y in range(ry[i, 0], ry[i, 1]):
                row = grey[y]
                for x in range(rx[j, 0], rx[j, 1]):
                    s += row[x]
            out[i, j] = s


@njit
def _phash(blocks, dct):
    k = HASH_BLOCK
    n = blocks.shape[0]
    # low = D[:8] @ blocks @ D[:8].T, only the 8x8 corner is ever needed
    half = np.zeros((k, n))
    for u in range(k):
        for i in range(n):
            d = dct[u, i]
            for j in range(n):
                half[u, j] += d * blocks[i, j]
    low = np.zeros(k * k)
    for u in range(k):
        for v in range(k):
            s = 0.0
            for j in range(n):
                s += half[u, j] * dct[v, j]
            low[u * k + v] = np.floor(s * 1e6 + 0.5)
    med = np.median(low[1:])
    bits = np.uint64(0)
    for i in range(k * k):
        if low[i] > med:
            bits |= np.uint64(1) << np.uint64(i)
    return bits


def measure(rgb: np.ndarray) -> tuple[np.ndarray, np.uint64]:
    """``(stats float64[5] in STAT_NAMES order, phash uint64)`` of an (H, W, 3) uint8 image."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    if not rgb.flags.c_contiguous:
        rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    grey = scratch("measure_grey", (h, w), np.uint8)
    hist4 = scratch("measure_hist", (4, 256), np.int64)
    hist4[:] = 0
    ry, rx = block_edges(h), block_edges(w)
    sums = scratch("measure_block_sums", (HASH_GRID, HASH_GRID), np.int64)
    sums[:] = 0
    lap = scratch("measure_lap", (2,), np.int64)
    fused = h >= HASH_GRID and w >= HASH_GRID
    colacc = scratch("measure_colacc", (w if fused else 0,), np.int32)
    colacc[:] = 0
    row_block = np.repeat(np.arange(HASH_GRID), ry[:, 1] - ry[:, 0]) if fused else ry[:0, 0]
    color = _fused_pass(rgb, grey, hist4, ry, rx, row_block, sums, colacc, lap)
    if not fused:
        _block_sums(grey, ry, rx, sums)
    hist = hist4.sum(axis=0)
    n = h * w
    levels = np.arange(256, dtype=np.int64)
    s1 = int(hist @ levels)
    s2 = int(hist @ (levels * levels))
    mean = s1 / n
    var = max(s2 / n - mean * mean, 0.0)
    p = hist[hist > 0] / n
    entropy = float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0
    if h >= 3 and w >= 3:
        m = (h - 2) * (w - 2)
        lap_var = max(int(lap[1]) / m - (int(lap[0]) / m) ** 2, 0.0)
    else:
        lap_var = 0.0
    blocks = sums / ((ry[:, 1] - ry[:, 0])[:, None] * (rx[:, 1] - rx[:, 0])[None, :])
    stats = np.array([mean, math.sqrt(var), entropy, lap_var, int(color) / n], np.float64)
    return stats, np.uint64(_phash(blocks, _DCT))


def pixel_hash(rgb: np.ndarray, *, scale: int = 1) -> str:
    """XXH3-128 of the shape and the pixels (C order, whatever the array's layout), as 32 hex digits.

    ``scale`` > 1: the pixels are a JPEG decoded at 1/scale (draft mode); the scale joins the shape in the
    header, so a scaled decode never shares a key with a full-size image of the same pixels. Scale 1
    hashes exactly as before (the header is the shape alone)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3:
        raise ValueError(f"expected (H, W, C) uint8, got {rgb.shape} {rgb.dtype}")
    header = rgb.shape if scale == 1 else (*rgb.shape, scale)
    h = xxhash.xxh3_128(np.asarray(header, "<u8").tobytes())
    h.update(np.ascontiguousarray(rgb))   # streamed: the same digest as hashing the joined bytes, no copy
    return h.hexdigest()


def hamming(a: int | np.integer, b: int | np.integer) -> int:
    """Bits that differ between two 64-bit hashes."""
    return (int(a) ^ int(b)).bit_count()
