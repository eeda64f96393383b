"""Per-kernel milliseconds on CAD-like 512x512 renders, one core, peers measured in the same run.

    python benchmarks/bench_kernels.py [--images 24] [--repeats 7] [--folder DATASET]

``--folder`` takes the first ``--images`` 512x512 PNGs of a dataset's ``images/`` (real CAD renders,
e.g. the default synthetic dataset) instead of the drawn polygons; the share of rows byte-identical to
the row above, which the numba kernel skips, is printed with the figures.

Rows: PNG decode (``kernels.png`` vs ``torchvision.io.decode_png``), resize 512 -> 384 bicubic +
normalise to float32 CHW (numba kernel, the active PIL on the decoded buffer, the torchvision
pipeline's resize + ToTensor + Normalize), and ``kernels.measure``. Each figure is the median over
``--repeats`` interleaved rounds of the mean time per image; the resize rows also print the error
against stock Pillow (``kernels.reference.resize``) in grey levels.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numba
import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from harness.loader import pil_resize_normalize_into
from harness.results.metadata import pil_flavour
from kernels import png, reference
from kernels.measure import measure
from kernels.normalize import resize_normalize_into
from kernels.resize import plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved  # noqa: E402

SIZE = 384


def renders(n: int) -> list[bytes]:
    from bench_loader import (
        draw_render,  # one renderer for both benchmarks (run from benchmarks/)
    )

    out = []
    for i in range(n):
        buf = io.BytesIO()
        draw_render(np.random.default_rng(i)).save(buf, format="PNG", optimize=True)
        out.append(buf.getvalue())
    return out


def folder_pngs(folder: Path, n: int) -> list[bytes]:
    out = []
    for path in sorted((folder / "images").glob("*.png")):
        data = path.read_bytes()
        info = png.read_info(data)
        if (info.height, info.width) == (512, 512):
            out.append(data)
        if len(out) == n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--folder", type=Path, help="a dataset folder: use its images/*.png")
    a = ap.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    datas = folder_pngs(a.folder, a.images) if a.folder else renders(a.images)
    rgbs = [png.decode(d) for d in datas]
    pils = [Image.fromarray(x) for x in rgbs]
    p = plan(512, 512, SIZE, SIZE)
    out = np.empty((3, SIZE, SIZE), np.float32)
    half = (0.5, 0.5, 0.5)
    tv_resize = T.Compose([T.Resize((SIZE, SIZE), InterpolationMode.BICUBIC), T.ToTensor(), T.Normalize(half, half)])
    dec = np.empty((512, 512, 3), np.uint8)
    kernels = {
        "decode: kernels.png.decode_into": lambda i: png.decode_into(datas[i], dec),
        "decode: torchvision.io.decode_png": lambda i: torchvision.io.decode_png(
            torch.frombuffer(bytearray(datas[i]), dtype=torch.uint8), torchvision.io.ImageReadMode.RGB),
        "resize+normalise: numba kernel": lambda i: resize_normalize_into(rgbs[i], p, out),
        f"resize+normalise: {pil_flavour()['name']} frombuffer": lambda i: pil_resize_normalize_into(
            rgbs[i], SIZE, out, half, half),
        "resize+normalise: torchvision Resize+ToTensor+Normalize": lambda i: tv_resize(pils[i]),
        "measure: kernels.measure": lambda i: measure(rgbs[i]),
    }
    def over_images(fn):
        def one_pass():
            for i in range(len(datas)):
                fn(i)
        return one_pass
    # interleaved rounds (the load on a shared machine hits all alike); the warm-up round (JIT, caches) dropped
    timings = interleaved({name: over_images(fn) for name, fn in kernels.items()}, a.repeats, per=len(datas))
    repeated = np.mean([(x[1:] == x[:-1]).all(axis=(1, 2)).mean() for x in rgbs])
    print(f"{len(datas)} renders 512x512 ({a.folder or 'drawn polygons'}; {repeated:.0%} of rows repeat the row "
          f"above), one core, {pil_flavour()}, numba {numba.__version__}")
    for name, t in timings.items():
        print(f"{name:58s} {t.median * 1e3:7.3f} ms/image")
    errs = {"numba kernel": [], "active PIL": []}
    for x in rgbs:
        want = reference.resize(x, SIZE, SIZE).astype(np.int16)
        resize_normalize_into(x, p, out)
        errs["numba kernel"].append(np.abs(np.rint(out * 127.5 + 127.5).transpose(1, 2, 0) - want))
        errs["active PIL"].append(np.abs(reference.pil_resize(x, SIZE, SIZE) - want))
    for name, e in errs.items():
        e = np.stack(e)
        print(f"vs stock Pillow BICUBIC, {name:13s}: max {e.max():.0f} levels, mean {e.mean():.4f}")


if __name__ == "__main__":
    main()
