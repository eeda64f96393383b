"""The exact-duplicate key: ``kernels.measure.pixel_hash`` against xxhash's XXH3-128, one core.

    python benchmarks/bench_pixel_hash.py [--models 20] [--noise 4] [--repeats 15] [--folder DATASET]

Images: the 512x512 renders of a dataset made with ``harness synth --models N`` in a temporary folder
(or ``--folder``'s ``images/*.png``), decoded with ``kernels.png.decode``, and ``--noise`` 512x512 arrays
of uniform random bytes. Each candidate hashes the same pixel bytes and the shape, returning 32 hex digits:

- ``kernels.measure.pixel_hash``, what the image pass stores in ``IMAGES.pixel_hash``;
- ``xxhash.xxh3_128_hexdigest(shape + pixels)``: one call, after joining the bytes (a 786 KB copy);
- ``xxhash.xxh128`` object: ``update(shape)``, ``update(pixels)`` (no copy; the same digest as the one call);
- ``xxhash.xxh3_128_hexdigest(pixels)``: the pixels alone, the floor.

Figures: median (and min) ms per image over ``--repeats`` interleaved rounds after a warm-up round, and
each candidate's median as a multiple of ``pixel_hash``'s. This script decided ``pixel_hash``: it was a numba
hash (four xxh64-style lanes) until it measured 0.13-0.14 ms a render here against the streamed XXH3-128's
0.063 ms; ``pixel_hash`` is now that XXH3-128, so its row and the streamed one measure the same work.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import xxhash

from kernels import png
from kernels.measure import pixel_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved  # noqa: E402


def shape_bytes(rgb: np.ndarray) -> bytes:
    return np.asarray(rgb.shape, "<u8").tobytes()


def xxh3_joined(rgb: np.ndarray) -> str:
    return xxhash.xxh3_128_hexdigest(shape_bytes(rgb) + np.ascontiguousarray(rgb).tobytes())


def xxh128_stream(rgb: np.ndarray) -> str:
    h = xxhash.xxh128(shape_bytes(rgb))
    h.update(np.ascontiguousarray(rgb))
    return h.hexdigest()


def xxh3_pixels_only(rgb: np.ndarray) -> str:
    return xxhash.xxh3_128_hexdigest(np.ascontiguousarray(rgb))


CANDIDATES = {
    "kernels.measure.pixel_hash": pixel_hash,
    "xxh3_128_hexdigest(shape + pixels)": xxh3_joined,
    "xxh128 update(shape), update(pixels)": xxh128_stream,
    "xxh3_128_hexdigest(pixels), no shape": xxh3_pixels_only,
}


def renders(folder: Path, n: int) -> list[np.ndarray]:
    out = []
    for path in sorted((folder / "images").glob("*.png")):
        rgb = png.decode(path.read_bytes())
        if rgb.shape == (512, 512, 3):
            out.append(rgb)
        if len(out) == n:
            break
    return out


def synth_renders(models: int) -> list[np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", "synth", str(Path(tmp) / "ds"),
                        "--models", str(models), "--size", "512"], check=True, capture_output=True, text=True)
        return renders(Path(tmp) / "ds", 3 * models)


def table(label: str, images: list[np.ndarray], repeats: int) -> dict[str, float]:
    def over(fn):
        def one_pass():
            for x in images:
                fn(x)
        return one_pass
    timings = interleaved({k: over(fn) for k, fn in CANDIDATES.items()}, repeats, per=len(images))
    ours = timings["kernels.measure.pixel_hash"].median
    print(f"\n{label}: {len(images)} images 512x512x3, ms/image (x = median / pixel_hash's)")
    for name, t in timings.items():
        print(f"  {name:40s} median {t.median * 1e3:7.4f}  min {t.min * 1e3:7.4f}   x{t.median / ours:5.2f}")
    return {k: t.median for k, t in timings.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=20, help="models to synthesise (3 views each)")
    ap.add_argument("--noise", type=int, default=4, help="random-noise images")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--folder", type=Path, help="a dataset folder: hash its images/*.png instead")
    a = ap.parse_args()
    cad = renders(a.folder, 3 * a.models) if a.folder else synth_renders(a.models)
    if not cad:
        sys.exit("no 512x512 RGB renders to hash")
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(a.noise)]
    for x in cad + noise:   # the candidates agree on what they hash
        assert xxh3_joined(x) == xxh128_stream(x) and len(pixel_hash(x)) == 32
    if hasattr(os, "sched_setaffinity"):   # one core: the timings do not depend on what else is scheduled
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"one core, xxhash {xxhash.VERSION} (libxxhash {xxhash.XXHASH_VERSION}), numpy {np.__version__}")
    table(f"CAD renders ({a.folder or f'harness synth --models {a.models}'})", cad, a.repeats)
    if noise:
        table("random noise", noise, a.repeats)


if __name__ == "__main__":
    main()
