"""The render kernels: shading against its numpy twin, block refinement against casting every pixel, and
the pure-Python path against the compiled one."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from harness.cad import render
from harness.cad.generate import generate
from kernels import reference
from kernels import render as K


def _cast(model, view, size, detail=None):
    packed = render.pack(model)
    cam, px = render.camera(model, view, size)
    depth, normal = np.full((size, size), np.nan), np.zeros((size, size, 3))
    hit = np.zeros((size, size), dtype=np.bool_)
    mask = render.detail_mask(packed, cam, px, size) if detail is None else detail
    rays = K.cast(cam, packed.frames, packed.slabs, packed.ops, packed.cur_off, packed.kind, packed.par,
                  render._rects(packed, cam, px, size), mask, depth, normal, hit)
    return depth, normal, hit, px, rays


def _every_pixel(size):
    n = (size + K.COARSE - 1) // K.COARSE
    return np.full((n, n), 2, dtype=np.uint8)     # level 2 everywhere: every pixel cast


def test_shade_matches_its_numpy_twin():
    for i in range(6):
        m = generate(5, i)
        for view in ("front", "top", "right"):
            depth, normal, hit, px, _ = _cast(m, view, 160)
            d, right, up = (np.asarray(v) for v in render.VIEW_AXES[view])
            light = -0.75 * d + 0.5 * up + 0.43 * right
            light /= np.linalg.norm(light)
            out = np.empty((160, 160, 3), dtype=np.uint8)
            K.shade(depth, normal, hit, light, d, px, out)
            np.testing.assert_array_equal(out, reference.render_shade(depth, normal, hit, light, d, px))


@pytest.mark.slow
def test_block_refinement_matches_casting_every_pixel():
    """Filling blocks from their corners loses almost nothing: hit masks and pictures against the exact
    per-pixel render over 25 random models x 3 views, with far fewer rays."""
    size, hit_diff, depth_diff, grey_diff, rays, rays_exact, pixels = 256, 0, 0, 0, 0, 0, 0
    for i in range(25):
        m = generate(11, i)
        for view in ("front", "top", "right"):
            a = _cast(m, view, size)
            b = _cast(m, view, size, _every_pixel(size))
            hit_diff += int((a[2] != b[2]).sum())
            both = a[2] & b[2]
            # depth within half a pixel, but for features smaller than a block that the corners miss
            depth_diff += int((np.abs(a[0][both] - b[0][both]) >= 0.5 * a[3]).sum())
            rays, rays_exact, pixels = rays + a[4], rays_exact + b[4], pixels + size * size
            grey_diff += int((np.abs(render.render_view(m, view, size).astype(int)
                                     - _shade(m, view, b).astype(int)) > 12).sum())
    assert hit_diff < 1e-4 * pixels, hit_diff
    assert depth_diff < 1e-4 * pixels, depth_diff
    assert grey_diff < 1e-3 * pixels, grey_diff
    assert rays < 0.25 * rays_exact


def _shade(m, view, cast):
    depth, normal, hit, px, _ = cast
    d, right, up = (np.asarray(v) for v in render.VIEW_AXES[view])
    light = -0.75 * d + 0.5 * up + 0.43 * right
    light /= np.linalg.norm(light)
    out = np.empty(hit.shape + (3,), dtype=np.uint8)
    K.shade(depth, normal, hit, light, d, px, out)
    return out


_NO_JIT = """
import sys, numpy as np
from harness.cad import render
from harness.cad.generate import generate
from kernels._jit import JIT_ENABLED
assert not JIT_ENABLED
for i in range(3):
    m = generate(2, i)
    np.save(sys.argv[1] + f"/{i}.npy", np.stack([render.render_view(m, v, 40) for v in ("front", "top", "right")]))
"""


def test_pure_python_path_matches(tmp_path):
    env = {**os.environ, "HARNESS_NO_JIT": "1"}
    proc = subprocess.run([sys.executable, "-c", _NO_JIT, str(tmp_path)], env=env, capture_output=True, check=False,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i in range(3):
        m = generate(2, i)
        jit = np.stack([render.render_view(m, v, 40) for v in ("front", "top", "right")])
        np.testing.assert_array_equal(np.load(tmp_path / f"{i}.npy"), jit)
