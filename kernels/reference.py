"""Plain numpy/Pillow twins of every kernel, for tests."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_decode(data: bytes) -> np.ndarray:
    """Twin of ``kernels.png.decode``: Pillow's decode and ``convert("RGB")`` as (H, W, 3) uint8."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


# --- resize, normalize, measure ------------------------------------------------------------------

def resize(src: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Twin of ``kernels.resize.resize``: Pillow's antialiased BICUBIC resize of an (H, W, 3) uint8."""
    return np.asarray(Image.fromarray(src, "RGB").resize((out_w, out_h), Image.Resampling.BICUBIC))


def resize_normalize(src: np.ndarray, out_h: int, out_w: int, mean=(0.5, 0.5, 0.5),
                     std=(0.5, 0.5, 0.5)) -> np.ndarray:
    """Twin of ``kernels.normalize.resize_normalize_into``: float32 CHW ``(x / 255 - mean) / std``."""
    x = resize(src, out_h, out_w).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    return (x - m) / s


def measure(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """Twin of ``kernels.measure.measure`` with Pillow's luma and whole-array numpy arithmetic."""
    from kernels.measure import HASH_BLOCK, HASH_GRID, block_edges, dct_matrix

    grey = np.asarray(Image.fromarray(rgb, "RGB").convert("L")).astype(np.int64)
    h, w = grey.shape
    hist = np.bincount(grey.ravel(), minlength=256)
    p = hist[hist > 0] / grey.size
    if h >= 3 and w >= 3:
        lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
        m = lap.size
        lap_var = max(int((lap * lap).sum()) / m - (int(lap.sum()) / m) ** 2, 0.0)
    else:
        lap_var = 0.0
    c = rgb.astype(np.int64)
    color = int((np.abs(c[..., 0] - c[..., 1]) + np.abs(c[..., 1] - c[..., 2])).sum()) / grey.size
    mean = int(grey.sum()) / grey.size
    var = max(int((grey * grey).sum()) / grey.size - mean * mean, 0.0)
    stats = np.array([mean, np.sqrt(var), float(-(p * np.log2(p)).sum()) + 0.0, lap_var, color])
    ry, rx = block_edges(h), block_edges(w)
    blocks = np.array([[grey[y0:y1, x0:x1].mean() for x0, x1 in rx] for y0, y1 in ry])
    d = dct_matrix(HASH_GRID)[:HASH_BLOCK]
    low = np.floor((d @ blocks @ d.T).ravel() * 1e6 + 0.5)
    bits = low > np.median(low[1:])
    return stats, int(sum(1 << i for i in range(bits.size) if bits[i]))
