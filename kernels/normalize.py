"""Resize and normalise fused: the vertical pass writes float32 CHW straight into a batch slot.

Repeated rows cost nothing twice: the horizontal pass skips rows identical to the row above and the
vertical pass merges taps that read one run of such rows (``kernels.resize``, exact integer sums); an
output row whose merged taps equal the row above's is a copy of it.

Values equal torchvision's ``Resize(BICUBIC)`` on a stock-Pillow image + ``ToTensor()`` +
``Normalize`` bit for bit: the uint8 the vertical pass produces is stock Pillow's, and the float
conversion performs torch's own float32 operations in its order, ``(v / 255 - mean) / std``, each
correctly rounded, once per level into a (3, 256) table. ``normalize_into`` (no resize) goes through
the same table; the Loader's Pillow backend uses it after Pillow(-SIMD)'s own resize.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kernels._jit import njit
from kernels.resize import _ONE, Plan, _clip8, _vertical_row, check_src, horizontal, horizontal_any
from kernels.runs import same_groups, tap_groups


def _constants(mean: Sequence[float], std: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(mean, np.float32).reshape(-1)
    s = np.asarray(std, np.float32).reshape(-1)
    if m.shape != (3,) or s.shape != (3,):
        raise ValueError("mean and std need one value per channel (3)")
    if (s == 0).any():
        raise ValueError("std must be non-zero")
    return m, s


def _check_out(out: np.ndarray, h: int, w: int) -> None:
    if out.dtype != np.float32 or out.shape != (3, h, w) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous (3, {h}, {w}) float32 array, got {out.shape} {out.dtype}")


def _lut(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    # (3, 256) float32: torch's own float32 operations, once per call instead of per pixel
    v = np.arange(256, dtype=np.float32) / np.float32(255)
    return ((v[None, :] - mean[:, None]) / std[:, None]).astype(np.float32)


@njit
def _vertical_norm(tmp, rowmap, bounds, coeffs, lut, out):
    # Same integer arithmetic and tap merging as kernels.resize.vertical_hwc; only the store differs.
    w_out = tmp.shape[2]
    kmax = coeffs.shape[1]
    acc = np.empty(w_out, np.int32)
    gidx = np.empty(kmax, np.int32)
    gw = np.empty(kmax, np.int32)
    pidx = np.empty(kmax, np.int32)
    pw = np.empty(kmax, np.int32)
    pg = 0
    for yy in range(bounds.shape[0]):
        g = tap_groups(rowmap, bounds[yy, 0], bounds[yy, 1], coeffs[yy], _ONE, gidx, gw)
        if same_groups(g, gidx, gw, pg, pidx, pw) and yy > 0:
            for c in range(3):   # the same merged taps as the row above: the same values
                out[c, yy] = out[c, yy - 1]
        else:
            for c in range(3):
                orow = out[c, yy]
                table = lut[c]
                if g == 1 and gw[0] == _ONE:   # inside one run: the level itself (kernels.runs)
                    trow = tmp[c, gidx[0]]
                    for x in range(w_out):
                        orow[x] = table[trow[x]]
                    continue
                _vertical_row(tmp, c, gidx, gw, g, acc)
                for x in range(w_out):
                    orow[x] = table[_clip8(acc[x])]
        pg = g


@njit
def _planar_norm(tmp, rowmap, mean, std, out):
    inv = np.float32(255.0)
    for c in range(3):
        m = mean[c]
        s = std[c]
        for y in range(out.shape[1]):
            trow = tmp[c, rowmap[y]]
            for x in range(out.shape[2]):
                out[c, y, x] = (np.float32(trow[x]) / inv - m) / s


@njit
def _planar_lut(tmp, rowmap, lut, out):
    # _planar_norm through the table: the same float32 values (the table holds torch's own operations)
    for c in range(3):
        table = lut[c]
        for y in range(out.shape[1]):
            trow = tmp[c, rowmap[y]]
            orow = out[c, y]
            for x in range(out.shape[2]):
                orow[x] = table[trow[x]]


@njit
def _hwc_norm(src, lut, out):
    # (H, W, 3) uint8 -> (3, H, W) float32 through the per-channel table: one load per value
    for y in range(src.shape[0]):
        row = src[y]
        o0 = out[0, y]
        o1 = out[1, y]
        o2 = out[2, y]
        for x in range(src.shape[1]):
            o0[x] = lut[0, row[x, 0]]
            o1[x] = lut[1, row[x, 1]]
            o2[x] = lut[2, row[x, 2]]


def resize_normalize_into(src_hwc_u8: np.ndarray, plan: Plan, out_chw_f32: np.ndarray,
                          mean: Sequence[float] = (0.5, 0.5, 0.5),
                          std: Sequence[float] = (0.5, 0.5, 0.5)) -> np.ndarray:
    """Resize ``src`` with ``plan`` and write ``(x/255 - mean)/std`` as float32 CHW into ``out``."""
    check_src(src_hwc_u8, plan)
    _check_out(out_chw_f32, plan.out_h, plan.out_w)
    m, s = _constants(mean, std)
    if (plan.in_h, plan.in_w) == (plan.out_h, plan.out_w):
        return normalize_into(src_hwc_u8, out_chw_f32, m, s)
    tmp, rowmap = horizontal(src_hwc_u8, plan)
    if plan.in_h == plan.out_h or plan.vertical_first:
        _planar_norm(tmp, rowmap, m, s, out_chw_f32)  # no vertical pass left to run
    else:
        _vertical_norm(tmp, rowmap, plan.v_bounds, plan.v_coeffs, _lut(m, s), out_chw_f32)
    return out_chw_f32


def table(mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.5, 0.5, 0.5)) -> np.ndarray:
    """The (3, 256) float32 table of ``(v/255 - mean)/std`` that ``resize_normalize_table_into`` takes:
    made once per Loader rather than once per image."""
    return _lut(*_constants(mean, std))


def resize_normalize_table_into(src: np.ndarray, plan: Plan, out_chw_f32: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``resize_normalize_into`` with the table made once (``table``), for the Loader's worker threads:
    the Python around the kernels (the GIL held) is a few checks. ``src`` may also be (H, W, 4), Pillow's
    own RGB(X) layout exported without a copy; byte 3 is never read. Same values, bit for bit."""
    check_src(src, plan, (3, 4))
    _check_out(out_chw_f32, plan.out_h, plan.out_w)
    if lut.dtype != np.float32 or lut.shape != (3, 256):
        raise ValueError("lut must be the (3, 256) float32 table from kernels.normalize.table")
    if (plan.in_h, plan.in_w) == (plan.out_h, plan.out_w):
        _hwc_norm(src, lut, out_chw_f32)
        return out_chw_f32
    tmp, rowmap = horizontal_any(src, plan)
    if plan.in_h == plan.out_h or plan.vertical_first:
        _planar_lut(tmp, rowmap, lut, out_chw_f32)
    else:
        _vertical_norm(tmp, rowmap, plan.v_bounds, plan.v_coeffs, lut, out_chw_f32)
    return out_chw_f32


def normalize_into(src_hwc_u8: np.ndarray, out_chw_f32: np.ndarray,
                   mean: Sequence[float] = (0.5, 0.5, 0.5),
                   std: Sequence[float] = (0.5, 0.5, 0.5)) -> np.ndarray:
    """No resize: ``(x/255 - mean)/std`` of an (H, W, 3) uint8 image as float32 CHW into ``out``."""
    if src_hwc_u8.dtype != np.uint8 or src_hwc_u8.ndim != 3 or src_hwc_u8.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8, got {src_hwc_u8.shape} {src_hwc_u8.dtype}")
    _check_out(out_chw_f32, *src_hwc_u8.shape[:2])
    m, s = _constants(mean, std)
    _hwc_norm(src_hwc_u8, _lut(m, s), out_chw_f32)
    return out_chw_f32


__all__ = ["normalize_into", "resize_normalize_into", "resize_normalize_table_into", "table"]
