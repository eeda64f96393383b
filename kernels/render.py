"""CSG ray casting of extruded profiles, and flat shading with dark edges.

Each pixel's ray meets each extrusion in a list of [t0, t1] intervals (slab along the sketch normal,
intersected with the even-odd crossings of the profile boundary in the sketch plane); the lists combine in
sequence order by union, difference or intersection. The first remaining entry gives depth and normal.

Curve table: ``kind`` 0 line (x0, y0, x1, y1), 1 arc (cx, cy, r, a0, sweep), 2 circle (cx, cy, r).
"""
from __future__ import annotations

import math

import numpy as np

from kernels._jit import njit

MAX_CROSS = 128     # crossings of one ray with one profile
MAX_SPANS = 64      # intervals kept per ray
_TWO_PI = 2.0 * math.pi
BLOCK = 4           # pixels per side of the blocks filled from their corners
COARSE = 8          # pixels per side of the first, coarse grid (a multiple of BLOCK)
_SLIVER = 1e-6      # mm: flush cuts leave zero-thickness skins from rounding; drop them


@njit
def _crossings(px, py, dx, dy, c0, c1, kind, par, ts, nx, ny):
    """Crossings of the 2D line p + t d (d unit) with curves c0..c1: count, params, curve normals."""
    n = 0
    for c in range(c0, c1):
        if n + 2 > ts.shape[0]:
            break
        k = kind[c]
        if k == 0:
            x0, y0, x1, y1 = par[c, 0], par[c, 1], par[c, 2], par[c, 3]
            s0 = dx * (y0 - py) - dy * (x0 - px)
            s1 = dx * (y1 - py) - dy * (x1 - px)
            if (s0 > 0.0) != (s1 > 0.0):     # half-open rule: a shared vertex counts once
                a = s0 / (s0 - s1)
                qx, qy = x0 + a * (x1 - x0), y0 + a * (y1 - y0)
                ts[n] = (qx - px) * dx + (qy - py) * dy
                ex, ey = x1 - x0, y1 - y0
                ln = math.sqrt(ex * ex + ey * ey)
                nx[n], ny[n] = ey / ln, -ex / ln
                n += 1
        else:
            cx, cy, r = par[c, 0], par[c, 1], par[c, 2]
            tc = (cx - px) * dx + (cy - py) * dy
            h = dx * (cy - py) - dy * (cx - px)
            if abs(h) >= r:
                continue
            half = math.sqrt(r * r - h * h)
            for sgn in (-1.0, 1.0):
                t = tc + sgn * half
                qx, qy = px + t * dx, py + t * dy
                if k == 1:
                    rel = (math.atan2(qy - cy, qx - cx) - par[c, 3]) % _TWO_PI
                    if rel > par[c, 4]:
                        continue
                ts[n] = t
                nx[n], ny[n] = (qx - cx) / r, (qy - cy) / r
                n += 1
    return n


@njit
def _prism(P, d, frs, e, w0, w1, c0, c1, kind, par, ts, nx, ny, o0, o1, on0, on1):
    """Intervals of ray P + t d inside extrusion ``e``; returns their count."""
    rx, ry, rz = P[0] - frs[e, 0, 0], P[1] - frs[e, 0, 1], P[2] - frs[e, 0, 2]
    pu = rx * frs[e, 1, 0] + ry * frs[e, 1, 1] + rz * frs[e, 1, 2]
    pv = rx * frs[e, 2, 0] + ry * frs[e, 2, 1] + rz * frs[e, 2, 2]
    pw = rx * frs[e, 3, 0] + ry * frs[e, 3, 1] + rz * frs[e, 3, 2]
    du = d[0] * frs[e, 1, 0] + d[1] * frs[e, 1, 1] + d[2] * frs[e, 1, 2]
    dv = d[0] * frs[e, 2, 0] + d[1] * frs[e, 2, 1] + d[2] * frs[e, 2, 2]
    dw = d[0] * frs[e, 3, 0] + d[1] * frs[e, 3, 1] + d[2] * frs[e, 3, 2]
    if abs(dw) < 1e-12:
        if pw < w0 or pw > w1:
            return 0
        ta, tb = -1e300, 1e300
    else:
        ta, tb = (w0 - pw) / dw, (w1 - pw) / dw
        if ta > tb:
            ta, tb = tb, ta
    cap = 1.0 if dw < 0.0 else -1.0          # cap normal facing the incoming ray: cap * n
    m = math.sqrt(du * du + dv * dv)
    along = m < 1e-9                         # ray along the normal: one point-in-profile test
    n = _crossings(pu, pv, 1.0 if along else du / m, 0.0 if along else dv / m, c0, c1, kind, par,
                   ts, nx, ny)
    if along:
        inside = False
        for k in range(n):
            if ts[k] > 0.0:
                inside = not inside
        if not inside:
            return 0
        o0[0], o1[0] = ta, tb
        for a in range(3):
            on0[0, a] = cap * frs[e, 3, a]
            on1[0, a] = -cap * frs[e, 3, a]
        return 1
    for k in range(1, n):                    # insertion sort: n is small
        t, a, b = ts[k], nx[k], ny[k]
        j = k - 1
        while j >= 0 and ts[j] > t:
            ts[j + 1], nx[j + 1], ny[j + 1] = ts[j], nx[j], ny[j]
            j -= 1
        ts[j + 1], nx[j + 1], ny[j + 1] = t, a, b
    cnt = 0
    for k in range(0, n - 1, 2):
        s0, s1 = ts[k] / m, ts[k + 1] / m
        lo, hi = max(s0, ta), min(s1, tb)
        if hi - lo <= _SLIVER or cnt >= o0.shape[0]:
            continue
        o0[cnt], o1[cnt] = lo, hi
        for a in range(3):
            side0 = nx[k] * frs[e, 1, a] + ny[k] * frs[e, 2, a]
            side1 = nx[k + 1] * frs[e, 1, a] + ny[k + 1] * frs[e, 2, a]
            on0[cnt, a] = side0 if s0 >= ta else cap * frs[e, 3, a]
            on1[cnt, a] = side1 if s1 <= tb else -cap * frs[e, 3, a]
        cnt += 1
    return cnt


@njit
def _combine(op, na, a0, a1, an0, an1, nb, b0, b1, bn0, bn1, r0, r1, rn0, rn1):
    """Boolean of two sorted interval lists: op 0/1 union, 2 difference (a - b), 3 intersection."""
    if nb == 0 and op != 3:                  # nothing to add or take away
        for k in range(na):
            r0[k], r1[k] = a0[k], a1[k]
            for c in range(3):
                rn0[k, c], rn1[k, c] = an0[k, c], an1[k, c]
        return na
    i = j = cnt = 0
    in_a = in_b = in_r = False
    start = s0 = s1 = s2 = 0.0
    while i < 2 * na or j < 2 * nb:
        ta = (a0[i >> 1] if (i & 1) == 0 else a1[i >> 1]) if i < 2 * na else 1e308
        tb = (b0[j >> 1] if (j & 1) == 0 else b1[j >> 1]) if j < 2 * nb else 1e308
        if ta <= tb:
            in_a = not in_a
            t, src, k, flip = ta, an0 if (i & 1) == 0 else an1, i >> 1, 1.0
            i += 1
        else:
            in_b = not in_b
            # a cut's wall faces the other way in the result
            t, src, k, flip = tb, bn0 if (j & 1) == 0 else bn1, j >> 1, (-1.0 if op == 2 else 1.0)
            j += 1
        if op == 2:
            now = in_a and not in_b
        elif op == 3:
            now = in_a and in_b
        else:
            now = in_a or in_b
        if now and not in_r:
            start, s0, s1, s2 = t, flip * src[k, 0], flip * src[k, 1], flip * src[k, 2]
        elif in_r and not now and t - start > _SLIVER and cnt < r0.shape[0]:
            r0[cnt], r1[cnt] = start, t
            rn0[cnt, 0], rn0[cnt, 1], rn0[cnt, 2] = s0, s1, s2
            for c in range(3):
                rn1[cnt, c] = flip * src[k, c]
            cnt += 1
        in_r = now
    return cnt


@njit
def _ray(y, x, cam, frames, slabs, ops, cur_off, kind, par, rects, cr, sp, sn, P, nout):
    """Cast the ray of pixel (y, x) (which may lie past the image edge): depth, or nan for a miss.
    ``cr``, ``sp``, ``sn``: scratch for crossings and interval lists; the hit's normal goes to ``nout``."""
    ts, nx, ny = cr[0], cr[1], cr[2]
    a0, a1, b0, b1, r0, r1 = sp[0], sp[1], sp[2], sp[3], sp[4], sp[5]
    an0, an1, bn0, bn1, rn0, rn1 = sn[0], sn[1], sn[2], sn[3], sn[4], sn[5]
    d = cam[3]
    for q in range(3):
        P[q] = cam[0, q] + x * cam[1, q] + y * cam[2, q]
    na = cur_off[0] * 0          # an int64, not the literal 0: one compiled _combine serves every call
    for e in range(ops.shape[0]):
        op = ops[e]
        inside = rects[e, 0] <= y < rects[e, 1] and rects[e, 2] <= x < rects[e, 3]
        if not inside and op != 3:
            continue                 # an empty operand changes nothing but an intersection
        nb = 0
        if inside:
            nb = _prism(P, d, frames, e, slabs[e, 0], slabs[e, 1], cur_off[e], cur_off[e + 1],
                        kind, par, ts, nx, ny, b0, b1, bn0, bn1)
        if nb == 0 and op != 3:
            continue
        if na == 0:
            if op <= 1:              # nothing yet: the union is the new operand; swap the lists in
                a0, a1, an0, an1, b0, b1, bn0, bn1 = b0, b1, bn0, bn1, a0, a1, an0, an1
                na = nb
            continue                 # nothing to cut from or intersect with
        na = _combine(op, na, a0, a1, an0, an1, nb, b0, b1, bn0, bn1, r0, r1, rn0, rn1)
        a0, a1, an0, an1, r0, r1, rn0, rn1 = r0, r1, rn0, rn1, a0, a1, an0, an1
    if na == 0:
        return np.nan
    for c in range(3):
        nout[c] = an0[0, c]
    return a0[0]


@njit
def _flat(d00, d01, d10, d11, n00, n01, n10, n11, cam, k, px):
    """Whether the four corners of a ``k``-pixel block lie on one smooth surface, so the block can be
    filled from them: all hit; normals within about 11 degrees of each other (a crease that sharp is
    never drawn as an edge); depths change across the block as the corner's plane predicts (within a
    pixel: a step between parallel faces is not smooth) and with no twist."""
    if math.isnan(d00) or math.isnan(d01) or math.isnan(d10) or math.isnan(d11):
        return False
    if abs(d00 + d11 - d01 - d10) >= 0.05 * px:
        return False
    for n in (n01, n10, n11):
        if n00[0] * n[0] + n00[1] * n[1] + n00[2] * n[2] < 0.98:
            return False
    nd = n00[0] * cam[3, 0] + n00[1] * cam[3, 1] + n00[2] * cam[3, 2]
    if abs(nd) < 0.05:
        return False                          # a face seen nearly edge-on
    gc = -(n00[0] * cam[1, 0] + n00[1] * cam[1, 1] + n00[2] * cam[1, 2]) / nd    # depth per column
    gr = -(n00[0] * cam[2, 0] + n00[1] * cam[2, 1] + n00[2] * cam[2, 2]) / nd    # depth per row
    return abs(d01 - d00 - k * gc) <= px and abs(d10 - d00 - k * gr) <= px


@njit
def cast(cam, frames, slabs, ops, cur_off, kind, par, rects, detail, depth, normal, hit):
    """Cast one orthographic view. ``cam`` rows: pixel (0, 0) ray origin, step per column, step per row,
    ray direction. ``rects`` (E, 4): the pixel box (r0, r1, c0, c1) each extrusion can touch.
    ``detail`` (coarse rows, coarse cols) uint8 (``harness.cad.render.detail_mask``): coarse blocks that
    hold a feature too small for the coarse grid (1: always cast their ``BLOCK`` grid) or for the ``BLOCK``
    grid (2: always cast every pixel).

    Three levels: rays every ``COARSE`` pixels; a coarse block that all misses or lies on one smooth
    surface (see ``_flat``) and is not marked in ``detail`` is interpolated onto the ``BLOCK`` grid, any
    other gets its ``BLOCK`` grid points cast. Then each ``BLOCK`` block is filled from its corners the same
    way or cast pixel by pixel (its corner pixel reused). Returns the number of rays cast.
    """
    h, w = depth.shape
    k = COARSE // BLOCK
    ch, cw = (h + COARSE - 1) // COARSE, (w + COARSE - 1) // COARSE
    gh, gw = ch * k + 1, cw * k + 1
    px = math.sqrt(cam[1, 0] ** 2 + cam[1, 1] ** 2 + cam[1, 2] ** 2)
    gd = np.empty((gh, gw))
    gn = np.zeros((gh, gw, 3))
    cr, sp, sn = np.empty((3, MAX_CROSS)), np.empty((6, MAX_SPANS)), np.empty((6, MAX_SPANS, 3))
    P = np.empty(3)
    rays = 0
    step_c, step_b = float(COARSE), float(BLOCK)   # floats, not literals: one compiled _flat serves both
    for gi in range(0, gh, k):                # level 1: the coarse grid
        for gj in range(0, gw, k):
            rays += 1
            gd[gi, gj] = _ray(gi * BLOCK, gj * BLOCK, cam, frames, slabs, ops, cur_off, kind, par, rects,
                              cr, sp, sn, P, gn[gi, gj])
    for ci in range(ch):                      # level 2: the block grid inside each coarse block
        for cj in range(cw):
            i0, j0 = ci * k, cj * k
            d00, d01, d10, d11 = gd[i0, j0], gd[i0, j0 + k], gd[i0 + k, j0], gd[i0 + k, j0 + k]
            miss = math.isnan(d00) and math.isnan(d01) and math.isnan(d10) and math.isnan(d11)
            smooth = miss or _flat(d00, d01, d10, d11, gn[i0, j0], gn[i0, j0 + k], gn[i0 + k, j0],
                                   gn[i0 + k, j0 + k], cam, step_c, px)
            for a in range(k + 1):
                for b in range(k + 1):
                    if a % k == 0 and b % k == 0:
                        continue              # a coarse corner, cast already
                    gi, gj = i0 + a, j0 + b
                    if (a == 0 and ci > 0) or (b == 0 and cj > 0):
                        continue              # on the edge shared with the previous block: done there
                    if smooth and detail[ci, cj] == 0:
                        fy, fx = a / k, b / k
                        if miss:
                            gd[gi, gj] = np.nan
                            continue
                        gd[gi, gj] = ((1 - fy) * ((1 - fx) * d00 + fx * d01)
                                      + fy * ((1 - fx) * d10 + fx * d11))
                        nn = 0.0
                        for q in range(3):
                            v = ((1 - fy) * ((1 - fx) * gn[i0, j0, q] + fx * gn[i0, j0 + k, q])
                                 + fy * ((1 - fx) * gn[i0 + k, j0, q] + fx * gn[i0 + k, j0 + k, q]))
                            gn[gi, gj, q] = v
                            nn += v * v
                        nn = math.sqrt(nn)
                        for q in range(3):
                            gn[gi, gj, q] /= nn
                    else:
                        rays += 1
                        gd[gi, gj] = _ray(gi * BLOCK, gj * BLOCK, cam, frames, slabs, ops, cur_off, kind,
                                          par, rects, cr, sp, sn, P, gn[gi, gj])
    for bi in range(gh - 1):                  # level 3: pixels
        for bj in range(gw - 1):
            d00, d01, d10, d11 = gd[bi, bj], gd[bi, bj + 1], gd[bi + 1, bj], gd[bi + 1, bj + 1]
            close = detail[bi // k, bj // k] >= 2
            miss = not close and math.isnan(d00) and math.isnan(d01) and math.isnan(d10) and math.isnan(d11)
            flat = not close and not miss and _flat(d00, d01, d10, d11, gn[bi, bj], gn[bi, bj + 1], gn[bi + 1, bj],
                                      gn[bi + 1, bj + 1], cam, step_b, px)
            same = flat
            for q in range(3):
                g = gn[bi, bj, q]
                same = same and gn[bi, bj + 1, q] == g and gn[bi + 1, bj, q] == g and gn[bi + 1, bj + 1, q] == g
            for yy in range(BLOCK):
                y = bi * BLOCK + yy
                if y >= h:
                    break
                for xx in range(BLOCK):
                    x = bj * BLOCK + xx
                    if x >= w:
                        break
                    if miss:
                        hit[y, x] = False
                    elif flat:
                        fy, fx = yy / BLOCK, xx / BLOCK
                        hit[y, x] = True
                        depth[y, x] = ((1 - fy) * ((1 - fx) * d00 + fx * d01)
                                       + fy * ((1 - fx) * d10 + fx * d11))
                        if same:           # a plane: every pixel has the corners' normal
                            for q in range(3):
                                normal[y, x, q] = gn[bi, bj, q]
                            continue
                        nn = 0.0
                        for q in range(3):
                            v = ((1 - fy) * ((1 - fx) * gn[bi, bj, q] + fx * gn[bi, bj + 1, q])
                                 + fy * ((1 - fx) * gn[bi + 1, bj, q] + fx * gn[bi + 1, bj + 1, q]))
                            normal[y, x, q] = v
                            nn += v * v
                        nn = math.sqrt(nn)
                        for q in range(3):
                            normal[y, x, q] /= nn
                    elif yy == 0 and xx == 0:  # the block's corner: cast on the grid already
                        hit[y, x] = not math.isnan(d00)
                        depth[y, x] = d00
                        for q in range(3):
                            normal[y, x, q] = gn[bi, bj, q]
                    else:
                        rays += 1
                        dd = _ray(y, x, cam, frames, slabs, ops, cur_off, kind, par, rects,
                                  cr, sp, sn, P, normal[y, x])
                        hit[y, x] = not math.isnan(dd)
                        depth[y, x] = dd
    return rays


@njit
def shade(depth, normal, hit, light, d, px, out):
    """Grey by |n . light|, near-black where hit, normal or depth changes between neighbours.

    A pixel is an edge when a 4-neighbour differs in hit, or both hit and their normals part by more than
    about 20 degrees, or their depths by more than the pixel's own allowance ``px * (3 + 2 * slope)``
    (steep faces change depth fast). Each neighbour pair is looked at once, for both its pixels.
    """
    h, w = depth.shape
    allow = np.empty((h, w))
    edge = np.zeros((h, w), dtype=np.bool_)
    for i in range(h):
        for j in range(w):
            if hit[i, j]:
                nd = abs(normal[i, j, 0] * d[0] + normal[i, j, 1] * d[1] + normal[i, j, 2] * d[2])
                allow[i, j] = px * (3.0 + 2.0 * math.sqrt(max(0.0, 1.0 - nd * nd)) / max(nd, 0.05))
    for i in range(h):
        for j in range(w):
            for di, dj in ((0, 1), (1, 0)):
                y, x = i + di, j + dj
                if y >= h or x >= w:
                    continue
                if hit[i, j] != hit[y, x]:
                    edge[i, j] = edge[y, x] = True
                elif hit[i, j]:
                    dot = (normal[i, j, 0] * normal[y, x, 0] + normal[i, j, 1] * normal[y, x, 1]
                           + normal[i, j, 2] * normal[y, x, 2])
                    gap = abs(depth[i, j] - depth[y, x])
                    if dot < 0.94:
                        edge[i, j] = edge[y, x] = True
                    else:
                        if gap > allow[i, j]:
                            edge[i, j] = True
                        if gap > allow[y, x]:
                            edge[y, x] = True
    for i in range(h):
        for j in range(w):
            if edge[i, j]:
                v = 35
            elif hit[i, j]:
                lam = abs(normal[i, j, 0] * light[0] + normal[i, j, 1] * light[1]
                          + normal[i, j, 2] * light[2])
                v = int(105.0 + 125.0 * lam)
            else:
                v = 255
            for c in range(3):
                out[i, j, c] = v
