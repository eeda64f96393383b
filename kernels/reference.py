"""Plain numpy/Pillow twins of every kernel, for tests."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_decode(data: bytes) -> np.ndarray:
    """Twin of ``kernels.png.decode``: Pillow's decode and ``convert("RGB")`` as (H, W, 3) uint8."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))
