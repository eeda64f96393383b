"""Compiled half of the PNG decoder: undo the scanline filters, expand samples to RGB, Adam7.

Input is the inflated image data (one filter byte per scanline, then the filtered bytes); output is an
(H, W, 3) uint8 buffer. Kernels return -1 on success or the index of the first scanline whose filter
byte is not 0..4, so the caller raises (numba code raises nothing the caller has to decode).
Sample expansion follows Pillow's ``convert("RGB")``: 1/2/4-bit grey scaled by 255/85/17, 16-bit grey
clipped to 255 (Pillow's I;16 -> RGB), other 16-bit samples keep their high byte, palette indices past
the end of PLTE give black.
"""
from __future__ import annotations

import numpy as np

from kernels._jit import njit

# Adam7 passes: x0, y0, dx, dy.
ADAM7 = np.array(
    [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]],
    dtype=np.int64,
)


@njit
def _paeth(a, b, c):
    """The Paeth predictor, written as selects the compiler can turn into conditional moves."""
    p = b - c
    q = a - c
    pa = abs(p)
    pb = abs(q)
    pc = abs(p + q)
    t = b if pb <= pc else c
    return a if (pa <= pb) & (pa <= pc) else t


@njit
def _unfilter_row(r, ft, prev, cur, bpp):
    """Reconstruct one scanline into cur from its filtered bytes r and the previous scanline (all 1-D
    views of equal length; bpp = bytes per complete pixel, at least 1)."""
    n = r.shape[0]
    if ft == 0:
        cur[:] = r
    elif ft == 2:
        np.add(r, prev, cur)  # uint8 wraps modulo 256, as the filter wants
    elif ft == 1:
        cur[:bpp] = r[:bpp]
        for i in range(bpp, n):
            cur[i] = (np.int32(r[i]) + cur[i - bpp]) & 0xFF
    elif ft == 3:
        for i in range(bpp):
            cur[i] = (np.int32(r[i]) + (prev[i] >> 1)) & 0xFF
        for i in range(bpp, n):
            cur[i] = (np.int32(r[i]) + ((np.int32(cur[i - bpp]) + prev[i]) >> 1)) & 0xFF
    else:
        np.add(r[:bpp], prev[:bpp], cur[:bpp])
        for i in range(bpp, n):
            p = _paeth(np.int32(cur[i - bpp]), np.int32(prev[i]), np.int32(prev[i - bpp]))
            cur[i] = (np.int32(r[i]) + p) & 0xFF


@njit
def _unfilter_rgb8_row(r1, ft, prev1, cur1):
    """One 8-bit RGB scanline of 1-D views. None and Up run on the 1-D views (numba's ufuncs over 2-D
    views measured 30x slower); the others on (W, 3) views, carrying the left neighbour in registers
    (never re-read from cur) and indexing from 0 in steps of 1, which lets the compiler drop index
    checks."""
    if ft == 0:
        cur1[:] = r1
        return
    if ft == 2:
        np.add(r1, prev1, cur1)  # uint8 wraps modulo 256, as the filter wants
        return
    w = r1.shape[0] // 3
    r = r1.reshape(w, 3)
    prev = prev1.reshape(w, 3)
    cur = cur1.reshape(w, 3)
    if ft == 1:
        a0 = a1 = a2 = np.int64(0)
        for j in range(w):
            a0 = (a0 + r[j, 0]) & 0xFF
            a1 = (a1 + r[j, 1]) & 0xFF
            a2 = (a2 + r[j, 2]) & 0xFF
            cur[j, 0] = a0
            cur[j, 1] = a1
            cur[j, 2] = a2
    elif ft == 3:
        a0 = a1 = a2 = np.int64(0)
        for j in range(w):
            a0 = (r[j, 0] + ((a0 + prev[j, 0]) >> 1)) & 0xFF
            a1 = (r[j, 1] + ((a1 + prev[j, 1]) >> 1)) & 0xFF
            a2 = (r[j, 2] + ((a2 + prev[j, 2]) >> 1)) & 0xFF
            cur[j, 0] = a0
            cur[j, 1] = a1
            cur[j, 2] = a2
    else:
        a0 = a1 = a2 = np.int64(0)
        c0 = c1 = c2 = np.int64(0)
        for j in range(w):
            b0 = np.int64(prev[j, 0])
            b1 = np.int64(prev[j, 1])
            b2 = np.int64(prev[j, 2])
            if b0 == c0 and b1 == c1 and b2 == c2:
                # Above equals above-left, so Paeth picks the left pixel: the short Sub chain, and the
                # common case on flat renders.
                a0 = (a0 + r[j, 0]) & 0xFF
                a1 = (a1 + r[j, 1]) & 0xFF
                a2 = (a2 + r[j, 2]) & 0xFF
            else:
                a0 = (r[j, 0] + _paeth(a0, b0, c0)) & 0xFF
                a1 = (r[j, 1] + _paeth(a1, b1, c1)) & 0xFF
                a2 = (r[j, 2] + _paeth(a2, b2, c2)) & 0xFF
            cur[j, 0] = a0
            cur[j, 1] = a1
            cur[j, 2] = a2
            c0 = b0
            c1 = b1
            c2 = b2


@njit
def unfilter_rgb8(raw, out):
    """8-bit RGB, not interlaced: scanlines are the output rows, so reconstruct straight into out
    (H, W, 3), using the previous output row as the prior scanline."""
    h, w, _ = out.shape
    n = 3 * w
    flat = out.reshape(h * n)
    zero = np.zeros(n, dtype=np.uint8)
    for y in range(h):
        src = y * (n + 1)
        ft = raw[src]
        if ft > 4:
            return y
        prev = zero if y == 0 else flat[(y - 1) * n : y * n]
        _unfilter_rgb8_row(raw[src + 1 : src + 1 + n], ft, prev, flat[y * n : (y + 1) * n])
    return -1


@njit
def _emit_row(cur, ct, bd, pal, row, x0, dx, npix):
    """Expand one reconstructed scanline of npix pixels into row[x0::dx] (row is (W, 3)) as RGB.
    The layout branches sit outside the pixel loops so each loop is a tight copy or lookup."""
    if bd < 8:
        mask = (1 << bd) - 1
        scale = 1 if ct == 3 else 255 // mask
        for i in range(npix):
            bit = i * bd
            v = ((np.int32(cur[bit >> 3]) >> (8 - bd - (bit & 7))) & mask) * scale
            x = x0 + i * dx
            if ct == 3:
                row[x, 0] = pal[v, 0]
                row[x, 1] = pal[v, 1]
                row[x, 2] = pal[v, 2]
            else:
                row[x, 0] = v
                row[x, 1] = v
                row[x, 2] = v
    elif ct == 3:
        for i in range(npix):
            x = x0 + i * dx
            v = cur[i]
            row[x, 0] = pal[v, 0]
            row[x, 1] = pal[v, 1]
            row[x, 2] = pal[v, 2]
    elif ct == 0 and bd == 16:
        for i in range(npix):
            g = 255 if cur[2 * i] != 0 else cur[2 * i + 1]  # Pillow clips I;16 to 255
            x = x0 + i * dx
            row[x, 0] = g
            row[x, 1] = g
            row[x, 2] = g
    elif ct == 0 or ct == 4:
        step = (bd >> 3) * (1 if ct == 0 else 2)
        for i in range(npix):
            g = cur[i * step]
            x = x0 + i * dx
            row[x, 0] = g
            row[x, 1] = g
            row[x, 2] = g
    else:
        s = bd >> 3
        step = s * (3 if ct == 2 else 4)
        for i in range(npix):
            o = i * step
            x = x0 + i * dx
            row[x, 0] = cur[o]
            row[x, 1] = cur[o + s]
            row[x, 2] = cur[o + 2 * s]


@njit
def decode_generic(raw, ct, bd, channels, pal, interlaced, out):
    """Every colour type and depth, plain or Adam7: unfilter each scanline into a small row buffer,
    then expand it into out. Returns -1, or the ordinal of the first scanline with a bad filter."""
    h, w, _ = out.shape
    bits = bd * channels
    bpp = max(1, bits >> 3)
    full = (w * bits + 7) >> 3
    rows = np.zeros((2, full), dtype=np.uint8)
    npass = 7 if interlaced else 1
    src = 0
    line = 0
    for p in range(npass):
        if interlaced:
            x0, y0, dx, dy = ADAM7[p, 0], ADAM7[p, 1], ADAM7[p, 2], ADAM7[p, 3]
        else:
            x0, y0, dx, dy = 0, 0, 1, 1
        pw = (w - x0 + dx - 1) // dx
        ph = (h - y0 + dy - 1) // dy
        if pw <= 0 or ph <= 0:
            continue
        n = (pw * bits + 7) >> 3
        rows[0, :n] = 0
        for r in range(ph):
            ft = raw[src]
            if ft > 4:
                return line
            prev = rows[r & 1]
            cur = rows[(r + 1) & 1]
            _unfilter_row(raw[src + 1 : src + 1 + n], ft, prev[:n], cur[:n], bpp)
            _emit_row(cur, ct, bd, pal, out[y0 + r * dy], x0, dx, pw)
            src += n + 1
            line += 1
    return -1
