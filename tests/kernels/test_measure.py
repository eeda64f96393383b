"""kernels.measure against its numpy/Pillow twin, on CAD-like, noisy, flat and tiny images."""
import os
import subprocess
import sys

import numpy as np
import pytest
import xxhash
from PIL import Image, ImageDraw, ImageFilter

from kernels import reference
from kernels.measure import STAT_NAMES, hamming, measure, pixel_hash


def _cad(seed, size=512):
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    for _ in range(8):
        pts = [tuple(rng.integers(0, size, 2).tolist()) for _ in range(4)]
        g = int(rng.integers(100, 220))
        d.polygon(pts, fill=(g, g, g), outline=(30, 30, 30))
    return im


def _images():
    rng = np.random.default_rng(0)
    yield "cad", np.asarray(_cad(1))
    yield "noise", rng.integers(0, 256, (300, 211, 3), dtype=np.uint8)
    yield "flat", np.full((64, 64, 3), 200, np.uint8)
    yield "pixel", np.array([[[10, 20, 30]]], np.uint8)
    yield "thin", rng.integers(0, 256, (2, 50, 3), dtype=np.uint8)
    yield "tiny", rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize("name,img", list(_images()))
def test_matches_reference(name, img):
    stats, h = measure(img)
    want, wh = reference.measure(img)
    assert stats.dtype == np.float64 and stats.shape == (len(STAT_NAMES),)
    np.testing.assert_allclose(stats, want, rtol=1e-12, atol=1e-9)
    assert isinstance(h, np.uint64)
    assert int(h) == wh


def test_values_mean_what_they_say():
    flat, _ = measure(np.full((32, 32, 3), 77, np.uint8))
    np.testing.assert_array_equal(flat, [77, 0, 0, 0, 0])
    half = np.zeros((32, 32, 3), np.uint8)
    half[:16] = 255
    s, _ = measure(half)
    assert s[0] == 127.5 and s[1] == 127.5 and s[2] == 1.0   # two equal bins: 1 bit
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 100
    assert measure(red)[0][4] == 100.0


def test_blur_lowers_laplacian_and_phash_is_stable():
    im = _cad(5)
    sharp, h_sharp = measure(np.asarray(im))
    blurred, h_blur = measure(np.asarray(im.filter(ImageFilter.GaussianBlur(3))))
    assert blurred[3] < sharp[3] / 4
    other = measure(np.asarray(_cad(6)))[1]
    assert hamming(h_sharp, h_blur) < hamming(h_sharp, other)
    assert hamming(h_sharp, h_sharp) == 0 and hamming(0, 2**64 - 1) == 64


def test_jit_off_matches_reference():
    code = """
import numpy as np
from kernels import _jit, reference
from kernels.measure import measure
assert not _jit.JIT_ENABLED
rng = np.random.default_rng(0)
for shape in [(40, 36, 3), (1, 1, 3), (3, 70, 3)]:
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    s, h = measure(img)
    ws, wh = reference.measure(img)
    np.testing.assert_allclose(s, ws, rtol=1e-12, atol=1e-9)
    assert int(h) == wh
print("ok")
"""
    env = {**os.environ, "HARNESS_NO_JIT": "1"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (2, 50, 3), (3, 3, 1), (64, 48, 4), (512, 512, 3)])
def test_pixel_hash_is_xxh3_128_of_shape_then_pixels(shape):
    img = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    got = pixel_hash(img)
    want = xxhash.xxh3_128_hexdigest(np.asarray(shape, "<u8").tobytes() + img.tobytes())
    assert got == want and len(got) == 32 and int(got, 16) >= 0


def test_pixel_hash_rejects_what_is_not_uint8_hwc():
    with pytest.raises(ValueError):
        pixel_hash(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        pixel_hash(np.zeros((4, 4), np.uint8))


def test_pixel_hash_separates_pixels_and_shapes():
    img = np.asarray(_cad(3))
    h = pixel_hash(img)
    assert pixel_hash(img.copy()) == h and pixel_hash(np.asfortranarray(img)) == h   # layout does not matter
    seen = {h}
    for y, x, c in [(0, 0, 0), (511, 511, 2), (256, 100, 1)]:   # one level of one sample, anywhere
        other = img.copy()
        other[y, x, c] ^= 1
        seen.add(pixel_hash(other))
    same_bytes = np.ascontiguousarray(img).reshape(256, 1024, 3)   # the same bytes as another shape
    seen.add(pixel_hash(same_bytes))
    seen.add(pixel_hash(np.zeros((8, 8, 3), np.uint8)))
    seen.add(pixel_hash(np.zeros((8, 9, 3), np.uint8)))
    assert len(seen) == 7
