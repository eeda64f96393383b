"""kernels.normalize against torchvision's ToTensor + Normalize after stock Pillow's BICUBIC
(kernels.reference.resize: bit-identical), and against the full torchvision pipeline on the installed PIL
(pillow-simd rounds differently: within 2 levels)."""
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from kernels import reference
from kernels.normalize import normalize_into, resize_normalize_into, resize_normalize_table_into, table
from kernels.resize import plan


def _torchvision(src, size, mean, std, resize_in_torchvision=False):
    if resize_in_torchvision:
        tf = T.Compose([T.Resize((size, size), InterpolationMode.BICUBIC), T.ToTensor(), T.Normalize(mean, std)])
        return tf(Image.fromarray(src)).numpy()
    tf = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    return tf(Image.fromarray(reference.resize(src, size, size))).numpy()


@pytest.mark.parametrize("h,w", [(512, 512), (300, 451), (384, 384), (384, 200), (1, 1), (17, 384)])
@pytest.mark.parametrize("mean,std", [((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
                                      ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
def test_matches_torchvision_pipeline(h, w, mean, std):
    rng = np.random.default_rng(h + w)
    src = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    src[: h // 2] = 255
    out = np.full((3, 384, 384), np.nan, np.float32)
    resize_normalize_into(src, plan(h, w, 384, 384), out, mean, std)
    np.testing.assert_array_equal(out, _torchvision(src, 384, mean, std))
    installed = _torchvision(src, 384, mean, std, resize_in_torchvision=True)
    assert np.abs(out - installed).max() <= 2 / 255 / min(std) + 1e-6


def test_writes_into_a_batch_slot():
    rng = np.random.default_rng(3)
    batch = np.zeros((4, 3, 24, 24), np.float32)
    src = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    resize_normalize_into(src, plan(40, 30, 24, 24), batch[2])
    np.testing.assert_array_equal(batch[2], reference.resize_normalize(src, 24, 24))
    assert not batch[[0, 1, 3]].any()


def test_normalize_into_without_resize():
    rng = np.random.default_rng(4)
    src = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    out = np.empty((3, 9, 7), np.float32)
    normalize_into(src, out, (0.1, 0.2, 0.3), (0.3, 0.2, 0.1))
    np.testing.assert_array_equal(out, reference.resize_normalize(src, 9, 7, (0.1, 0.2, 0.3), (0.3, 0.2, 0.1)))


def test_rejects_bad_buffers():
    src = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError):
        resize_normalize_into(src, plan(8, 8, 4, 4), np.empty((3, 4, 4), np.float64))
    with pytest.raises(ValueError):
        resize_normalize_into(src, plan(8, 8, 4, 4), np.empty((3, 4, 5), np.float32))
    with pytest.raises(ValueError):
        resize_normalize_into(src, plan(8, 8, 4, 4), np.empty((3, 4, 4), np.float32), std=(1, 0, 1))


def test_jit_off_matches_reference():
    code = """
import numpy as np
from kernels import _jit, reference
from kernels.normalize import resize_normalize_into, resize_normalize_table_into, table
from kernels.resize import plan
assert not _jit.JIT_ENABLED
rng = np.random.default_rng(0)
for h, w, s in [(24, 32, 16), (5, 3, 8), (12, 12, 12)]:
    src = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = np.empty((3, s, s), np.float32)
    resize_normalize_into(src, plan(h, w, s, s), out)
    np.testing.assert_array_equal(out, reference.resize_normalize(src, s, s))
    rgbx = np.concatenate([src, np.full((h, w, 1), 9, np.uint8)], axis=2)
    out2 = np.empty((3, s, s), np.float32)
    resize_normalize_table_into(rgbx, plan(h, w, s, s), out2, table())
    np.testing.assert_array_equal(out2, out)
print("ok")
"""
    env = {**os.environ, "HARNESS_NO_JIT": "1"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def _repeated_rows_image(h, w, seed):
    # runs of identical rows (CAD renders: white margins, flat faces with vertical edges) + noise rows
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 255, np.uint8)
    y = 0
    while y < h:
        n = int(rng.integers(1, 30))
        if rng.random() < 0.3:
            img[y] = rng.integers(0, 256, (w, 3), dtype=np.uint8)
            n = 1
        else:
            x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
            img[y:y + n, x0:x1] = rng.integers(90, 230)
            img[y:y + n, x0:x0 + 2] = 25
        y += n
    return img


@pytest.mark.parametrize("h,w", [(512, 512), (300, 451), (200, 384)])
def test_repeated_rows_match_torchvision_exactly(h, w):
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for src in (_repeated_rows_image(h, w, h + w), np.full((h, w, 3), 255, np.uint8)):
        out = np.full((3, 384, 384), np.nan, np.float32)
        resize_normalize_into(src, plan(h, w, 384, 384), out, mean, std)
        np.testing.assert_array_equal(out, _torchvision(src, 384, mean, std))


def test_repeated_rows_jit_off_match_reference():
    code = """
import numpy as np
from kernels import _jit, reference
from kernels.normalize import resize_normalize_into
from kernels.resize import plan
assert not _jit.JIT_ENABLED
""" + inspect.getsource(_repeated_rows_image) + """
for h, w, s in [(48, 40, 36), (20, 30, 32), (40, 24, 24)]:
    src = _repeated_rows_image(h, w, h)
    out = np.empty((3, s, s), np.float32)
    resize_normalize_into(src, plan(h, w, s, s), out)
    np.testing.assert_array_equal(out, reference.resize_normalize(src, s, s))
print("ok")
"""
    env = {**os.environ, "HARNESS_NO_JIT": "1"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("h,w", [(512, 512), (480, 640), (500, 300), (384, 451), (384, 384), (17, 384)])
def test_table_variant_matches_reference_on_rgb_and_rgbx(h, w):
    # the Loader's entry: the table made once, and Pillow's 4-byte layout (byte 3 must never be read)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    src = _repeated_rows_image(h, w, h * w)
    want = reference.resize_normalize(src, 384, 384, mean, std)
    rgbx = np.empty((h, w, 4), np.uint8)
    rgbx[..., :3] = src
    rgbx[..., 3] = np.random.default_rng(1).integers(0, 256, (h, w), dtype=np.uint8)
    lut = table(mean, std)
    for s in (src, rgbx, rgbx[..., :3]):
        out = np.full((3, 384, 384), np.nan, np.float32)
        resize_normalize_table_into(s, plan(h, w, 384, 384), out, lut)
        np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError):
        resize_normalize_table_into(src[..., :2], plan(h, w, 384, 384), out, lut)
    with pytest.raises(ValueError):
        resize_normalize_table_into(src, plan(h, w, 384, 384), out, lut.astype(np.float64))
