"""kernels.runs: runs of identical rows and the merged vertical taps (the resize tests check the results
against stock Pillow bit for bit; these check the bookkeeping)."""
import numpy as np

from kernels.resize import PRECISION_BITS
from kernels.runs import distinct_rows, same_groups, tap_groups

ONE = 1 << PRECISION_BITS


def test_distinct_rows_maps_every_row_to_its_run():
    rows = np.array([[1] * 70, [1] * 70, [2] * 70, [2] * 69 + [3], [2] * 69 + [3], [1] * 70], np.uint8)
    rowmap = np.full(6, -1, np.int32)
    rowidx = np.full(6, -1, np.int32)
    assert distinct_rows(rows, 0, 6, rowmap, rowidx) == 4   # the difference in byte 69 is found
    assert rowmap.tolist() == [0, 0, 1, 2, 2, 3] and rowidx[:4].tolist() == [0, 2, 3, 5]
    assert distinct_rows(rows, 1, 4, rowmap, rowidx) == 3   # from row0 on, relative indices
    assert rowmap[:4].tolist() == [0, 1, 2, 2] and rowidx[:3].tolist() == [1, 2, 3]
    words = np.concatenate([rows, rows], axis=1)[:, :136].copy().view(np.uint64)  # 17 words a row
    assert distinct_rows(words, 0, 6, rowmap, rowidx) == 4 and rowmap.tolist() == [0, 0, 1, 2, 2, 3]


def test_tap_groups_merge_runs_and_compare_with_the_previous_row():
    rowmap = np.array([0, 0, 0, 1, 1, 2], np.int32)
    crow = np.array([-5, 100, ONE - 90, -3, 7], np.int32)
    gidx, gw = np.empty(5, np.int32), np.empty(5, np.int32)
    assert tap_groups(rowmap, 1, 5, crow, ONE, gidx, gw) == 3
    assert gidx[:3].tolist() == [0, 1, 2] and gw[:3].tolist() == [95, ONE - 93, 7]  # rows 1..5
    # one run whose weights sum to ONE - 1: every level maps to itself, so the sum is written as ONE
    assert tap_groups(rowmap, 0, 3, np.array([3, ONE - 6, 2], np.int32), ONE, gidx, gw) == 1
    assert gw[0] == ONE
    assert tap_groups(rowmap, 0, 3, np.array([3, ONE, 2 * ONE], np.int32), ONE, gidx, gw) == 1
    assert gw[0] == 3 * ONE + 3                                # a real gain is kept as it is
    assert tap_groups(rowmap, 0, 3, np.array([3, 2 * ONE, 2 * ONE], np.int32), ONE, gidx, gw) == 1
    assert gw[0] == 4 * ONE + 3                                # 255 * (gain - ONE) is past int32
    pidx, pw = np.zeros(5, np.int32), np.zeros(5, np.int32)
    assert not same_groups(1, gidx, gw, 0, pidx, pw)
    assert same_groups(1, gidx, gw, 1, pidx, pw)
    gw[0] += 1
    assert not same_groups(1, gidx, gw, 1, pidx, pw)
