"""Runs of byte-identical rows, and the exact shortcuts they allow in a separable resize.

CAD renders are mostly rows identical to the row above (white margins; flat faces cut by vertical
edges): ~83% of the rows of the default dataset's renders. ``distinct_rows`` finds the runs with a byte
compare (cheap next to a filter pass), so a pass can compute each run's first row once
(``kernels.resize.horizontal``). ``tap_groups`` merges the taps of one vertical output row that read one
run into one tap whose weight is the sum of theirs: ``sum_k v * w_k == v * sum_k w_k`` in integers (and
Pillow's int32 accumulator never overflows), so the sums, and hence the rounded results, are unchanged:
nothing is approximated. An output row inside a single run is one multiply per value, and an output row
whose merged taps equal the previous row's (``same_groups``) is a copy of that row.
"""
from __future__ import annotations

import numpy as np

from kernels._jit import njit


@njit
def _rows_equal(a, b):
    # compare of two 1-D rows (uint8, or the same bytes as uint64 words), 64 items a step: the inner
    # loop vectorises, the exit is per step
    n = a.shape[0]
    i = 0
    while i + 64 <= n:
        d = 0
        for k in range(64):
            d |= a[i + k] ^ b[i + k]
        if d != 0:
            return False
        i += 64
    for k in range(i, n):
        if a[k] != b[k]:
            return False
    return True


@njit
def distinct_rows(src2d, row0, rows, rowmap, rowidx):
    """Rows row0..row0+rows of (H, W*3) uint8 ``src2d`` (or its bytes viewed as uint64 words):
    ``rowidx[:nd]`` = the first row of each run of byte-identical consecutive rows, ``rowmap[r]`` = the
    run of row row0 + r; returns nd."""
    nd = 0
    for r in range(rows):
        y = row0 + r
        if r == 0 or not _rows_equal(src2d[y], src2d[y - 1]):
            rowidx[nd] = y
            nd += 1
        rowmap[r] = nd - 1
    return nd


@njit
def tap_groups(rowmap, ymin, n, crow, one, gidx, gw):
    """Merge the n taps of one output row (rows ymin.. of the vertical pass, fixed-point weights crow,
    ``one`` the fixed-point unit) by the compact row they read: gidx[:g] compact rows, gw[:g] summed
    weights; returns g. Identical rows are consecutive, so equal compact rows are neighbours."""
    g = 0
    for k in range(n):
        j = rowmap[ymin + k]
        if g > 0 and gidx[g - 1] == j:
            gw[g - 1] = np.int32(gw[g - 1] + crow[k])
        else:
            gidx[g] = j
            gw[g] = crow[k]
            g += 1
    half = one >> 1
    if g == 1 and -half <= 255 * (np.int64(gw[0]) - one) < half:   # int64: no wrap, JIT on or off
        # One run: out = (half + v * S) >> bits = v + floor((half + v * (S - one)) / one) = v for every
        # v in 0..255 under this bound (S is one give or take the weights' rounding). Writing S as one
        # gives the same values and lets the rows of a run with other rounding sums compare equal.
        gw[0] = one
    return g


@njit
def same_groups(g, gidx, gw, pg, pidx, pw):
    """Whether the merged taps (g, gidx, gw) equal the previous row's (pg, pidx, pw); then copies them
    into the previous row's arrays either way."""
    same = g == pg
    if same:
        for k in range(g):
            if gidx[k] != pidx[k] or gw[k] != pw[k]:
                same = False
                break
    for k in range(g):
        pidx[k] = gidx[k]
        pw[k] = gw[k]
    return same
