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
def _unfilter_row(raw, src, ft, prev, cur, n, bpp):
    """Reconstruct one scanline of n bytes from raw[src:src+n] into cur, given the previous one."""
    if ft == 0:
        for i in range(n):
            cur[i] = raw[src + i]
    elif ft == 1:
        for i in range(bpp):
            cur[i] = raw[src + i]
        for i in range(bpp, n):
            cur[i] = (np.int32(raw[src + i]) + np.int32(cur[i - bpp])) & 0xFF
    elif ft == 2:
        for i in range(n):
            cur[i] = (np.int32(raw[src + i]) + np.int32(prev[i])) & 0xFF
    elif ft == 3:
        for i in range(bpp):
            cur[i] = (np.int32(raw[src + i]) + (np.int32(prev[i]) >> 1)) & 0xFF
        for i in range(bpp, n):
            cur[i] = (np.int32(raw[src + i]) + ((np.int32(cur[i - bpp]) + np.int32(prev[i])) >> 1)) & 0xFF
    else:
        for i in range(bpp):
            cur[i] = (np.int32(raw[src + i]) + np.int32(prev[i])) & 0xFF
        for i in range(bpp, n):
            a = np.int32(cur[i - bpp])
            b = np.int32(prev[i])
            c = np.int32(prev[i - bpp])
            pa = abs(b - c)
            pb = abs(a - c)
            pc = abs(a + b - 2 * c)
            if pa <= pb and pa <= pc:
                p = a
            elif pb <= pc:
                p = b
            else:
                p = c
            cur[i] = (np.int32(raw[src + i]) + p) & 0xFF


@njit
def _unfilter_rgb8_row(raw, src, ft, prev, cur, n):
    """_unfilter_row for 3 bytes per pixel, the CAD-render case: the left neighbour lives in registers
    instead of being re-read from cur, which breaks the store-to-load chain of Sub, Average and Paeth."""
    if ft == 0:
        for i in range(n):
            cur[i] = raw[src + i]
    elif ft == 2:
        for i in range(n):
            cur[i] = (np.int32(raw[src + i]) + np.int32(prev[i])) & 0xFF
    elif ft == 1:
        r = 0
        g = 0
        b = 0
        for i in range(0, n, 3):
            r = (r + np.int32(raw[src + i])) & 0xFF
            g = (g + np.int32(raw[src + i + 1])) & 0xFF
            b = (b + np.int32(raw[src + i + 2])) & 0xFF
            cur[i] = r
            cur[i + 1] = g
            cur[i + 2] = b
    elif ft == 3:
        r = 0
        g = 0
        b = 0
        for i in range(0, n, 3):
            r = (np.int32(raw[src + i]) + ((r + np.int32(prev[i])) >> 1)) & 0xFF
            g = (np.int32(raw[src + i + 1]) + ((g + np.int32(prev[i + 1])) >> 1)) & 0xFF
            b = (np.int32(raw[src + i + 2]) + ((b + np.int32(prev[i + 2])) >> 1)) & 0xFF
            cur[i] = r
            cur[i + 1] = g
            cur[i + 2] = b
    else:
        left = np.zeros(3, dtype=np.int32)
        upleft = np.zeros(3, dtype=np.int32)
        for i in range(0, n, 3):
            for k in range(3):
                a = left[k]
                b = np.int32(prev[i + k])
                c = upleft[k]
                pa = abs(b - c)
                pb = abs(a - c)
                pc = abs(a + b - 2 * c)
                if pa <= pb and pa <= pc:
                    p = a
                elif pb <= pc:
                    p = b
                else:
                    p = c
                v = (np.int32(raw[src + i + k]) + p) & 0xFF
                cur[i + k] = v
                left[k] = v
                upleft[k] = b


@njit
def unfilter_rgb8(raw, out2d):
    """8-bit RGB, not interlaced: scanlines are the output rows, so reconstruct straight into out2d
    (H, W*3), using the previous output row as the prior scanline."""
    h, n = out2d.shape
    zero = np.zeros(n, dtype=np.uint8)
    for y in range(h):
        src = y * (n + 1)
        ft = raw[src]
        if ft > 4:
            return y
        prev = zero if y == 0 else out2d[y - 1]
        _unfilter_rgb8_row(raw, src + 1, ft, prev, out2d[y], n)
    return -1


@njit
def _emit_row(cur, ct, bd, pal, out, y, x0, dx, npix):
    """Expand one reconstructed scanline of npix pixels into out[y, x0::dx] as RGB."""
    if ct == 3 or bd < 8:
        mask = (1 << bd) - 1
        scale = 255 // mask
        for i in range(npix):
            bit = i * bd
            v = (np.int32(cur[bit >> 3]) >> (8 - bd - (bit & 7))) & mask
            x = x0 + i * dx
            if ct == 3:
                out[y, x, 0] = pal[v, 0]
                out[y, x, 1] = pal[v, 1]
                out[y, x, 2] = pal[v, 2]
            else:
                g = v * scale
                out[y, x, 0] = g
                out[y, x, 1] = g
                out[y, x, 2] = g
        return
    s = bd >> 3
    step = s * (1 if ct == 0 else 2 if ct == 4 else 3 if ct == 2 else 4)
    for i in range(npix):
        o = i * step
        x = x0 + i * dx
        if ct == 0 or ct == 4:
            g = np.int32(cur[o])
            if ct == 0 and s == 2:
                g = 255 if np.int32(cur[o]) != 0 else np.int32(cur[o + 1])
            out[y, x, 0] = g
            out[y, x, 1] = g
            out[y, x, 2] = g
        else:
            out[y, x, 0] = np.int32(cur[o])
            out[y, x, 1] = np.int32(cur[o + s])
            out[y, x, 2] = np.int32(cur[o + 2 * s])


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
            _unfilter_row(raw, src + 1, ft, prev, cur, n, bpp)
            _emit_row(cur, ct, bd, pal, out, y0 + r * dy, x0, dx, pw)
            src += n + 1
            line += 1
    return -1
