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

_PRECISION_BITS = 22  # Pillow's Resample.c: 32 - 8 - 2


def _bicubic(x: np.ndarray) -> np.ndarray:
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def resample_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) float64 matrix of stock Pillow's fixed-point BICUBIC weights (``precompute_coeffs``
    then ``normalize_coeffs_8bpc``), integers scaled by 2**22; independent of the installed PIL."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    m = np.zeros((out_size, in_size))
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        w = _bicubic((np.arange(xmin, xmax) - center + 0.5) / filterscale)
        total = 0.0
        for v in w:  # left to right, as Pillow sums
            total += v
        k = w / total if total != 0.0 else w
        m[xx, xmin:xmax] = np.trunc(k * (1 << _PRECISION_BITS) + np.where(k < 0, -0.5, 0.5))
    return m


def _pass(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    # rows of x combined by m, then Pillow's rounding: + 2**21, arithmetic shift, clamp to uint8.
    # float64 is exact here: every partial sum is an integer below 2**53.
    acc = m @ x.reshape(x.shape[0], -1).astype(np.float64) + (1 << (_PRECISION_BITS - 1))
    out = np.clip(np.floor(acc / (1 << _PRECISION_BITS)), 0, 255).astype(np.uint8)
    return out.reshape((m.shape[0],) + x.shape[1:])


def resize(src: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Twin of ``kernels.resize.resize``: stock Pillow's antialiased BICUBIC resize of an (H, W, 3)
    uint8 in plain numpy, so it does not depend on which PIL (Pillow or pillow-simd) is installed.

    Pillow skips a pass whose size does not change, clamps to uint8 after each pass, and (Pillow 13)
    runs the vertical pass first when the height shrinks and ``2 * (out_w - in_w) > out_h - in_h``.
    """
    h, w = src.shape[:2]
    x = src
    vfirst = out_h < h and out_w != w and 2 * (out_w - w) > out_h - h
    if vfirst:
        x = _pass(x, resample_matrix(h, out_h))
    if out_w != w:
        x = _pass(x.transpose(1, 0, 2), resample_matrix(w, out_w)).transpose(1, 0, 2)
    if out_h != h and not vfirst:
        x = _pass(x, resample_matrix(h, out_h))
    return np.ascontiguousarray(x)


def pil_resize(src: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The installed PIL's BICUBIC resize (Pillow or pillow-simd, whichever is active)."""
    return np.asarray(Image.fromarray(src, "RGB").resize((out_w, out_h), Image.Resampling.BICUBIC))


def resize_normalize(src: np.ndarray, out_h: int, out_w: int, mean=(0.5, 0.5, 0.5),
                     std=(0.5, 0.5, 0.5)) -> np.ndarray:
    """Twin of ``kernels.normalize.resize_normalize_into``: float32 CHW ``(x / 255 - mean) / std``."""
    x = resize(src, out_h, out_w).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    return (x - m) / s


def measure(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """Twin of ``kernels.measure.measure`` with whole-array numpy arithmetic.

    Grey is stock Pillow's ``convert("L")`` formula written out (``(19595 R + 38470 G + 7471 B +
    2**15) >> 16``): pillow-simd's own ``convert("L")`` rounds differently on ~0.1% of pixels (by 1).
    """
    from kernels.measure import HASH_BLOCK, HASH_GRID, block_edges, dct_matrix

    c = rgb.astype(np.int64)
    grey = (19595 * c[..., 0] + 38470 * c[..., 1] + 7471 * c[..., 2] + 32768) >> 16
    h, w = grey.shape
    hist = np.bincount(grey.ravel(), minlength=256)
    p = hist[hist > 0] / grey.size
    if h >= 3 and w >= 3:
        lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
        m = lap.size
        lap_var = max(int((lap * lap).sum()) / m - (int(lap.sum()) / m) ** 2, 0.0)
    else:
        lap_var = 0.0
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


def render_shade(depth: np.ndarray, normal: np.ndarray, hit: np.ndarray, light: np.ndarray, d: np.ndarray,
                 px: float) -> np.ndarray:
    """Twin of ``kernels.render.shade`` with whole-array numpy: grey by |n . light|, 35 on edges, 255 off."""
    n = np.where(hit[..., None], normal, 0.0)
    z = np.where(hit, depth, 0.0)
    nd = np.abs(n @ d)
    allow = px * (3.0 + 2.0 * np.sqrt(np.maximum(0.0, 1.0 - nd * nd)) / np.maximum(nd, 0.05))
    edge = np.zeros(hit.shape, dtype=bool)
    # each pair of 4-neighbours (a, b): b one row below a, then b one column right of a
    for a_idx, b_idx in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                         ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        ha, hb = hit[a_idx], hit[b_idx]
        both = ha & hb
        differ = (ha != hb) | (both & ((n[a_idx] * n[b_idx]).sum(-1) < 0.94))
        gap = np.abs(z[a_idx] - z[b_idx])
        edge[a_idx] |= differ | (both & (gap > allow[a_idx]))
        edge[b_idx] |= differ | (both & (gap > allow[b_idx]))
    grey = np.where(hit, (105.0 + 125.0 * np.abs(n @ light)).astype(np.int64), 255)
    grey = np.where(edge, 35, grey).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def token_rows(prompts: list[bytes], answers: list[bytes], seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twin of ``kernels.tokens.fill_rows``, one list per record: ``(input_ids, labels, attention_mask)``
    int64 (n, seq_len) of the proxy byte tokenizer (ids 0 PAD, 1 BOS, 2 EOS, 3 IMAGE, byte + 4)."""
    ids = np.zeros((len(prompts), seq_len), np.int64)
    labels = np.full((len(prompts), seq_len), -100, np.int64)
    for r, (p, a) in enumerate(zip(prompts, answers)):
        seq = [1, 3, *(b + 4 for b in p)][:seq_len]
        learned = [b + 4 for b in a][: seq_len - len(seq)]
        if len(seq) + len(learned) < seq_len:
            learned.append(2)
        ids[r, : len(seq) + len(learned)] = seq + learned
        labels[r, len(seq): len(seq) + len(learned)] = learned
    return ids, labels, (ids != 0).astype(np.int64)
