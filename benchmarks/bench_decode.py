"""PNG decode: kernels.png against Pillow, torchvision and OpenCV on CAD-like renders, one core.

Also times the bounded inflaters on the same IDAT streams, which is how kernels.png picked zlib-ng.
Run: ``python benchmarks/bench_decode.py [--n 50] [--size 512] [--repeats 7]``. Prints median ms per
image over repeats (after a warm-up pass) and each peer's time as a multiple of ours.
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from kernels.png import _raw_size, decode, decode_into, read_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import repeat  # noqa: E402


def cad_render(seed: int, size: int = 512) -> bytes:
    """A white canvas with a few flat-grey faces and dark edges, saved with Pillow's defaults."""
    rng = random.Random(seed)
    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    c, r = size / 2, size * 0.35
    for _ in range(rng.randint(3, 7)):
        pts = [(c + rng.uniform(-r, r), c + rng.uniform(-r, r)) for _ in range(rng.randint(3, 6))]
        g = rng.randint(120, 220)
        draw.polygon(pts, fill=(g, g, g), outline=(30, 30, 30), width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _idat(data: bytes) -> bytes:
    pos, parts = 8, []
    while pos < len(data):
        n, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            parts.append(data[pos + 8 : pos + 8 + n])
        pos += 12 + n
    return b"".join(parts)


def _time(fn, items, repeats: int) -> float:
    """Median over repeats of the mean ms per item, after one warm-up pass."""
    def one_pass():
        for x in items:
            fn(x)
    return repeat(one_pass, repeats, per=len(items)).median * 1e3


def inflaters(images: list[bytes], repeats: int) -> dict[str, float]:
    """Bounded inflate (output capped at the known size) with each binding that is installed."""
    streams = [(_idat(d), _raw_size(read_info(d))) for d in images]
    cands = {"zlib (stdlib)": zlib}
    try:
        from zlib_ng import zlib_ng

        cands["zlib-ng"] = zlib_ng
    except ImportError:
        pass
    try:
        from isal import isal_zlib

        cands["isal"] = isal_zlib
    except ImportError:
        pass
    out = {}
    for name, mod in cands.items():
        out[name] = _time(lambda s, m=mod: m.decompressobj().decompress(s[0], s[1] + 1), streams, repeats)
    try:
        import deflate

        # libdeflate needs the exact size, which PNG gives; it cannot report bytes after the stream.
        out["libdeflate"] = _time(lambda s: deflate.zlib_decompress(s[0], s[1]), streams, repeats)
    except ImportError:
        pass
    return out


def decoders(images: list[bytes], repeats: int) -> dict[str, float]:
    """ms per image for every decoder that is installed, each returning (H, W, 3) uint8 RGB."""
    info = read_info(images[0])
    buf = np.empty((info.height, info.width, 3), dtype=np.uint8)
    fns = {
        "kernels.png.decode": decode,
        "kernels.png.decode_into": lambda d: decode_into(d, buf),
        "Pillow": lambda d: np.asarray(Image.open(io.BytesIO(d)).convert("RGB")),
    }
    try:
        import torch
        import torchvision.io as tio

        torch.set_num_threads(1)
        fns["torchvision.io.decode_png"] = lambda d: tio.decode_png(
            torch.frombuffer(bytearray(d), dtype=torch.uint8), mode=tio.ImageReadMode.RGB
        )
    except ImportError:
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
        # OpenCV decodes to BGR; the channel flip is part of giving the same RGB array.
        fns["cv2.imdecode"] = lambda d: cv2.cvtColor(
            cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
        )
    except ImportError:
        pass
    return {name: _time(fn, images, repeats) for name, fn in fns.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="images")
    ap.add_argument("--size", type=int, default=512, help="side in pixels")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    images = [cad_render(i, args.size) for i in range(args.n)]
    sizes = [len(d) for d in images]
    print(f"{args.n} CAD renders {args.size}x{args.size}, PNG {min(sizes)}-{max(sizes)} bytes "
          f"(median {int(statistics.median(sizes))})")
    print("\nbounded inflate, ms/image")
    for name, ms in sorted(inflaters(images, args.repeats).items(), key=lambda kv: kv[1]):
        print(f"  {name:28s} {ms:7.3f}")
    print("\ndecode to RGB uint8, ms/image (x = time / kernels.png.decode)")
    res = decoders(images, args.repeats)
    ours = res["kernels.png.decode"]
    for name, ms in sorted(res.items(), key=lambda kv: kv[1]):
        print(f"  {name:28s} {ms:7.3f}   x{ms / ours:5.2f}")


if __name__ == "__main__":
    main()
