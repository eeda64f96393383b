"""Per-image measurements for the image checks, in two passes over the pixels.

Grey is Pillow's ITU-R 601 luma (``convert("L")``: ``(19595 R + 38470 G + 7471 B + 2**15) >> 16``),
so the twin in ``kernels.reference`` can use Pillow itself. Every per-pixel sum is an integer sum —
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
"""
from __future__ import annotations

import math

import numpy as np

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
def _grey_pass(rgb, grey, hist4):
    # Grey, its histogram and the colour sum in one read of the RGB pixels. Four sub-histograms
    # break the store-to-load chain when neighbouring pixels share a value (flat CAD background).
    h, w = grey.shape
    color = np.int64(0)
    for y in range(h):
        row = rgb[y]
        g = grey[y]
        for x in range(w):
            r = np.int32(row[x, 0])
            gg = np.int32(row[x, 1])
            b = np.int32(row[x, 2])
            g[x] = (19595 * r + 38470 * gg + 7471 * b + 32768) >> 16
            color += abs(r - gg) + abs(gg - b)
        for x in range(w):
            hist4[x & 3, g[x]] += 1
    return color


@njit
def _laplacian_sums(grey):
    h, w = grey.shape
    s1 = np.int64(0)
    s2 = np.int64(0)
    for y in range(1, h - 1):
        up = grey[y - 1]
        mid = grey[y]
        dn = grey[y + 1]
        for x in range(1, w - 1):
            v = (np.int32(up[x]) + np.int32(dn[x]) + np.int32(mid[x - 1]) + np.int32(mid[x + 1])
                 - 4 * np.int32(mid[x]))
            s1 += v
            s2 += v * v
    return s1, s2


@njit
def _block_means(grey, ry, rx, out):
    n = out.shape[0]
    for i in range(n):
        for j in range(n):
            s = np.int64(0)
            for y in range(ry[i, 0], ry[i, 1]):
                row = grey[y]
                for x in range(rx[j, 0], rx[j, 1]):
                    s += row[x]
            out[i, j] = s / ((ry[i, 1] - ry[i, 0]) * (rx[j, 1] - rx[j, 0]))


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
    color = _grey_pass(rgb, grey, hist4)
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
        l1, l2 = _laplacian_sums(grey)
        m = (h - 2) * (w - 2)
        lap_var = max(int(l2) / m - (int(l1) / m) ** 2, 0.0)
    else:
        lap_var = 0.0
    blocks = scratch("measure_blocks", (HASH_GRID, HASH_GRID), np.float64)
    _block_means(grey, block_edges(h), block_edges(w), blocks)
    stats = np.array([mean, math.sqrt(var), entropy, lap_var, int(color) / n], np.float64)
    return stats, np.uint64(_phash(blocks, _DCT))


def hamming(a: int | np.integer, b: int | np.integer) -> int:
    """Bits that differ between two 64-bit hashes."""
    return (int(a) ^ int(b)).bit_count()
