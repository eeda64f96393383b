"""Antialiased bicubic resize, bit-identical to stock Pillow's ``Image.resize(size, Image.BICUBIC)``.

The plan reproduces Pillow's ``precompute_coeffs`` (Resample.c) in float64, then its fixed-point
normalisation (``PRECISION_BITS`` = 22), so both passes use the very integers Pillow uses. Like Pillow
the horizontal pass runs first and rounds/clamps to uint8 before the vertical pass.

Layout, chosen for speed rather than Pillow's: the horizontal pass writes a planar (3, rows, out_w)
uint8 scratch, so the vertical pass — whose weight is the same for a whole output row — is a
contiguous multiply-accumulate of whole scratch rows that LLVM vectorises. ``kernels.normalize``
reuses the horizontal pass and swaps in a vertical pass that writes float32 CHW.

Repeated rows (``kernels.runs``): the horizontal pass computes only the first row of each run of
byte-identical rows into a compact scratch, and the vertical pass reads it through ``rowmap`` with the
taps that read one run merged: exact, and most rows of a CAD render cost a copy.

Integer width. numba types ``int32 * int32`` as int64, which doubles the vector lanes' width and
kept the passes from vectorising well; every multiply-accumulate is therefore written
``np.int32(acc + np.int32(np.int32(pixel) * w))``, which LLVM turns back into 32-bit lanes (Pillow's
own int32 accumulator: no overflow, |sum| < 255 * 1.5 * 2**22 < 2**31).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kernels._jit import njit
from kernels.runs import distinct_rows, same_groups, tap_groups

PRECISION_BITS = 32 - 8 - 2
_HALF = 1 << (PRECISION_BITS - 1)
_ONE = 1 << PRECISION_BITS
BICUBIC_SUPPORT = 2.0


def _bicubic(x: float) -> float:
    # Keys' cubic with a = -0.5, written in Pillow's operation order so float64 results agree.
    a = -0.5
    if x < 0.0:
        x = -x
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def _coeffs(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(bounds int32 [out, 2] = (first tap, tap count), fixed-point weights int32 [out, ksize])."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = BICUBIC_SUPPORT * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    bounds = np.zeros((out_size, 2), np.int32)
    kk = np.zeros((out_size, ksize), np.int32)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)       # int() truncates toward zero, like C
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = [_bicubic((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = sum(w)  # left-to-right, as Pillow accumulates
        for x in range(xmax):
            k = w[x] / ww if ww != 0.0 else w[x]
            kk[xx, x] = int(-0.5 + k * (1 << PRECISION_BITS)) if k < 0 else int(0.5 + k * (1 << PRECISION_BITS))
        bounds[xx] = (xmin, xmax)
    return bounds, kk


@dataclass(frozen=True, eq=False)
class Plan:
    """Everything a resize of one size pair needs, computed once (see ``plan``)."""

    in_h: int
    in_w: int
    out_h: int
    out_w: int
    h_bounds: np.ndarray   # int32 [out_w, 2]: first source column, tap count
    h_coeffs: np.ndarray   # int32 [out_w, kh]
    v_bounds: np.ndarray   # int32 [out_h, 2]: first row relative to row0, tap count
    v_coeffs: np.ndarray   # int32 [out_h, kv]
    row0: int              # first source row the vertical pass reads (Pillow's ybox_first)
    rows: int              # rows the horizontal pass must produce
    vertical_first: bool   # Pillow 13's pass order for this size pair (see ``plan``)


@lru_cache(maxsize=64)
def plan(in_h: int, in_w: int, out_h: int, out_w: int) -> Plan:
    """Coefficients for resizing (in_h, in_w) to (out_h, out_w); cached per size pair.

    Pass order: Pillow 13 runs the vertical pass first when the height shrinks and
    ``2 * (out_w - in_w) > out_h - in_h``, horizontal first otherwise. The rule was fitted to
    Pillow 13.0 (766 of 766 random size pairs where the order matters; tests/kernels/test_resize.py
    keeps checking it); the order changes results by a few levels at hard edges. Square to square,
    the production case, is horizontal first.
    """
    if min(in_h, in_w, out_h, out_w) < 1:
        raise ValueError(f"sizes must be positive: {(in_h, in_w)} -> {(out_h, out_w)}")
    hb, hk = _coeffs(in_w, out_w)
    vb, vk = _coeffs(in_h, out_h)
    row0 = int(vb[0, 0])
    rows = int(vb[-1, 0] + vb[-1, 1]) - row0
    vb = vb.copy()
    vb[:, 0] -= row0
    vfirst = out_h < in_h and out_w != in_w and 2 * (out_w - in_w) > out_h - in_h
    if vfirst:  # the vertical pass reads the source itself: absolute rows, horizontal on every row
        vb[:, 0] += row0
        row0, rows = 0, out_h
    for a in (hb, hk, vb, vk):
        a.setflags(write=False)
    return Plan(in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w, h_bounds=hb, h_coeffs=hk,
                v_bounds=vb, v_coeffs=vk, row0=row0, rows=rows, vertical_first=vfirst)


@njit
def _clip8(v):
    # Pillow's clip8: arithmetic shift (floor) then clamp; v already carries the +0.5 rounding term.
    v >>= PRECISION_BITS
    if v < 0:
        return 0
    if v > 255:
        return 255
    return v


# Rows per strip of the horizontal pass: 3 * STRIP int32 lanes per tap keeps the accumulator in
# registers-sized chunks while the transposed strip (in_w * 3 * STRIP bytes) stays in L1/L2.
STRIP = 32


@njit
def _strip_taps(t, xmin, n, crow, acc):
    # One output column for every row and channel of the strip: a contiguous multiply-accumulate of
    # n transposed input columns, each scaled by one weight, so LLVM vectorises it.
    lanes = acc.shape[0]
    for i in range(lanes):
        acc[i] = np.int32(_HALF)
    for k in range(n):
        w = crow[k]
        col = t[xmin + k]
        for i in range(lanes):
            acc[i] = np.int32(acc[i] + np.int32(np.int32(col[i]) * w))


@njit
def horizontal_planar(src, rowidx, bounds, coeffs, tmp, t, acc, ob):
    """tmp[c, j, xx] = Pillow's horizontal pass of source row rowidx[j], planar uint8.

    Pillow's weights vary along a row, so the row cannot be the vector; instead STRIP rows are
    transposed into t[x, c * STRIP + r] and the vector runs across rows and channels. Results go to
    ob[xx, c * STRIP + r] (contiguous stores), then one L1-resident transpose per strip into tmp:
    storing straight into tmp scattered 96 bytes over 96 cache lines per output column.
    """
    in_w = src.shape[1]
    out_w = bounds.shape[0]
    lanes = acc.shape[0]
    rows = rowidx.shape[0]
    for y0 in range(0, rows, STRIP):
        rn = min(STRIP, rows - y0)
        for r in range(rn):
            srow = src[rowidx[y0 + r]]
            for x in range(in_w):
                t[x, r] = srow[x, 0]
                t[x, STRIP + r] = srow[x, 1]
                t[x, 2 * STRIP + r] = srow[x, 2]
        for xx in range(out_w):
            _strip_taps(t, bounds[xx, 0], bounds[xx, 1], coeffs[xx], acc)
            o = ob[xx]
            for i in range(lanes):
                o[i] = _clip8(acc[i])
        for c in range(3):
            for r in range(rn):
                trow = tmp[c, y0 + r]
                lane = c * STRIP + r
                for xx in range(out_w):
                    trow[xx] = ob[xx, lane]


@njit
def _copy_planar(src, rowidx, tmp):
    # Width unchanged: Pillow skips the horizontal pass, so this is only a relayout.
    for c in range(3):
        for j in range(rowidx.shape[0]):
            srow = src[rowidx[j]]
            trow = tmp[c, j]
            for x in range(src.shape[1]):
                trow[x] = srow[x, c]


@njit
def _vertical_row(tmp, c, gidx, gw, g, acc):
    # One output row of one channel: acc = sum of whole compact scratch rows, each scaled by one weight.
    w_out = acc.shape[0]
    for x in range(w_out):
        acc[x] = np.int32(_HALF)
    for k in range(g):
        w = gw[k]
        trow = tmp[c, gidx[k]]
        for x in range(w_out):
            acc[x] = np.int32(acc[x] + np.int32(np.int32(trow[x]) * w))


@njit
def vertical_hwc(tmp, rowmap, bounds, coeffs, out):
    """out[yy, xx, c] = Pillow's vertical pass over the compact planar scratch, uint8 HWC."""
    w_out = tmp.shape[2]
    kmax = coeffs.shape[1]
    acc = np.empty(w_out, np.int32)  # once per image: negligible next to the passes
    gidx = np.empty(kmax, np.int32)
    gw = np.empty(kmax, np.int32)
    pidx = np.empty(kmax, np.int32)
    pw = np.empty(kmax, np.int32)
    pg = 0
    for yy in range(bounds.shape[0]):
        g = tap_groups(rowmap, bounds[yy, 0], bounds[yy, 1], coeffs[yy], _ONE, gidx, gw)
        if same_groups(g, gidx, gw, pg, pidx, pw) and yy > 0:
            out[yy] = out[yy - 1]
        else:
            for c in range(3):
                _vertical_row(tmp, c, gidx, gw, g, acc)
                for x in range(w_out):
                    out[yy, x, c] = _clip8(acc[x])
        pg = g


@njit
def vertical_rows(src2d, bounds, coeffs, out2d):
    """Vertical pass over interleaved rows (H, W*3) -> (out_h, W*3) uint8, for vertical-first plans."""
    n_out = src2d.shape[1]
    acc = np.empty(n_out, np.int32)
    for yy in range(bounds.shape[0]):
        for x in range(n_out):
            acc[x] = np.int32(_HALF)
        for k in range(bounds[yy, 1]):
            w = coeffs[yy, k]
            srow = src2d[bounds[yy, 0] + k]
            for x in range(n_out):
                acc[x] = np.int32(acc[x] + np.int32(np.int32(srow[x]) * w))
        orow = out2d[yy]
        for x in range(n_out):
            orow[x] = _clip8(acc[x])


@njit
def _planar_to_hwc(tmp, rowmap, out):
    for c in range(3):
        for y in range(out.shape[0]):
            trow = tmp[c, rowmap[y]]
            for x in range(out.shape[1]):
                out[y, x, c] = trow[x]


_scratch = threading.local()
_PLANS_KEPT = 8


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread buffer reused across calls (grown, never shrunk), so kernels allocate nothing."""
    bufs = getattr(_scratch, "bufs", None)
    if bufs is None:
        bufs = _scratch.bufs = {}
    size = math.prod(shape)  # not np.prod: the Loader's threads call this per image, with the GIL held
    buf = bufs.get(name)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = bufs[name] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


def check_src(src: np.ndarray, p: Plan, channels: tuple[int, ...] = (3,)) -> None:
    """``channels=(3, 4)`` also takes Pillow's 4-byte RGB(X) layout; the passes read bytes 0-2 only."""
    if src.dtype != np.uint8 or src.ndim != 3 or src.shape[2] not in channels:
        raise ValueError(f"expected (H, W, 3) uint8, got {src.shape} {src.dtype}")
    if src.shape[:2] != (p.in_h, p.in_w):
        raise ValueError(f"plan is for {(p.in_h, p.in_w)}, image is {src.shape[:2]}")


def horizontal(src: np.ndarray, p: Plan) -> tuple[np.ndarray, np.ndarray]:
    """The first pass(es) into this thread's scratch: ``(tmp, rowmap)``, tmp the planar (3, nd, out_w)
    horizontal pass of the nd distinct rows, ``rowmap`` (int32, ``p.rows``) each row's compact row in
    tmp. What is left is a vertical pass, or nothing for vertical-first plans (check
    ``p.vertical_first``). Valid until this thread's next call."""
    check_src(src, p)
    src, row0, rows2d = _prelude(src, p)
    rowmap = scratch("rowmap", (p.rows,), np.int32)
    rowidx = scratch("rowidx", (p.rows,), np.int32)
    nd = distinct_rows(rows2d, row0, p.rows, rowmap, rowidx)
    rowidx = rowidx[:nd]
    tmp = scratch("planar", (3, nd, p.out_w), np.uint8)
    if p.in_w == p.out_w:
        _copy_planar(src, rowidx, tmp)
    else:
        t = scratch("strip", (p.in_w, 3 * STRIP), np.uint8)
        acc = scratch("acc", (3 * STRIP,), np.int32)
        ob = scratch("strip_out", (p.out_w, 3 * STRIP), np.uint8)
        horizontal_planar(src, rowidx, p.h_bounds, p.h_coeffs, tmp, t, acc, ob)
    return tmp, rowmap


def _prelude(src: np.ndarray, p: Plan) -> tuple[np.ndarray, int, np.ndarray]:
    """(the rows the horizontal pass reads, their first row, the same as 2-D rows for the compare)."""
    if not src.flags.c_contiguous:
        src = np.ascontiguousarray(src)
    if p.vertical_first:
        mid = scratch("vfirst", (p.out_h, p.in_w, src.shape[2]), np.uint8)
        vertical_rows(src.reshape(p.in_h, -1), p.v_bounds, p.v_coeffs, mid.reshape(p.out_h, -1))
        src = mid
        row0 = 0
    else:
        row0 = p.row0
    rows2d = src.reshape(src.shape[0], -1)
    if rows2d.shape[1] % 8 == 0:
        words = rows2d.view(np.uint64)  # the same equality, compared 8 bytes a load
        if words.flags.aligned:         # numpy sets it from the address: cheaper than .ctypes.data
            rows2d = words
    return src, row0, rows2d


@njit
def _distinct_horizontal(src, rows2d, row0, rows, rowmap, rowidx, bounds, coeffs, same_width, tmp, t, acc, ob):
    # distinct_rows then the horizontal pass in one call: one dispatch (the GIL held) instead of two
    nd = distinct_rows(rows2d, row0, rows, rowmap, rowidx)
    if same_width:
        _copy_planar(src, rowidx[:nd], tmp)
    else:
        horizontal_planar(src, rowidx[:nd], bounds, coeffs, tmp, t, acc, ob)
    return nd


def horizontal_any(src: np.ndarray, p: Plan) -> tuple[np.ndarray, np.ndarray]:
    """``horizontal`` for a checked (H, W, 3) or (H, W, 4) source (``check_src(src, p, (3, 4))``), with
    the Python between the kernels cut for the Loader's threads: ``tmp`` is (3, p.rows, out_w), of
    which the first nd rows (those ``rowmap`` points at) hold the pass; the rest is unused scratch."""
    src, row0, rows2d = _prelude(src, p)
    per_plan = _scratch.__dict__.setdefault("horizontal", {})
    bufs = per_plan.get(p)
    if bufs is None:
        # buffers per size pair (a few in a dataset), kept while the thread lives: no scratch() calls
        # per image, and no fresh pages to fault in when two sizes alternate
        if len(per_plan) >= _PLANS_KEPT:
            per_plan.clear()
        bufs = per_plan[p] = (
            np.empty(p.rows, np.int32), np.empty(p.rows, np.int32), np.empty((3, p.rows, p.out_w), np.uint8),
            np.empty((p.in_w, 3 * STRIP), np.uint8), np.empty(3 * STRIP, np.int32),
            np.empty((p.out_w, 3 * STRIP), np.uint8))
    rowmap, rowidx, tmp, t, acc, ob = bufs
    _distinct_horizontal(src, rows2d, row0, p.rows, rowmap, rowidx, p.h_bounds, p.h_coeffs, p.in_w == p.out_w,
                         tmp, t, acc, ob)
    return tmp, rowmap


def resize(src: np.ndarray, p: Plan, out: np.ndarray | None = None) -> np.ndarray:
    """Resize an (H, W, 3) uint8 image with plan ``p``; writes into ``out`` when given."""
    if out is None:
        out = np.empty((p.out_h, p.out_w, 3), np.uint8)
    elif out.shape != (p.out_h, p.out_w, 3) or out.dtype != np.uint8:
        raise ValueError(f"out must be {(p.out_h, p.out_w, 3)} uint8")
    tmp, rowmap = horizontal(src, p)
    if p.in_h == p.out_h or p.vertical_first:
        _planar_to_hwc(tmp, rowmap, out)  # no vertical pass left to run
    else:
        vertical_hwc(tmp, rowmap, p.v_bounds, p.v_coeffs, out)
    return out
