"""Images/s of the Loader against the usual decode + resize + normalise pipelines, on the same images.

    python benchmarks/bench_loader.py [DATASET_FOLDER] [--images 200] [--repeats 3]

Without a folder, ~200 CAD-like 512x512 renders (white background, flat grey polygons, dark outlines)
are written to a temporary folder. Each pipeline turns every image into a normalised 3x384x384 float
tensor (the decode-only peer stops after decoding); figures are the median of ``--repeats`` passes
after a warm-up pass, first on one core each, then with every core (peers run on a thread pool).
The Loader runs once per resize backend (numba kernel, the active PIL on the decoded buffer, and
``auto``); with every core it also runs as the body of a ``torch.utils.data.DataLoader`` with worker
processes (shared-memory batches), against its own worker threads. Per-stage ms/image are printed
for each Loader run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numba
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image, ImageDraw
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from harness.loader import STAGES, Loader
from harness.results.metadata import pil_flavour

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import repeat  # noqa: E402

SIZE = 384
MEAN = torch.tensor([0.5, 0.5, 0.5]).view(3, 1, 1)


def draw_render(rng: np.random.Generator) -> Image.Image:
    """A CAD-like 512x512 render: white background, flat grey polygons, dark outlines."""
    im = Image.new("RGB", (512, 512), "white")
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(3, 7))):
        c = rng.integers(60, 450, 2)
        r = int(rng.integers(30, 120))
        k = int(rng.integers(3, 7))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        pts = [(float(c[0] + r * np.cos(a)), float(c[1] + r * np.sin(a))) for a in ang]
        g = int(rng.integers(120, 230))
        d.polygon(pts, fill=(g, g, g), outline=(25, 25, 25), width=2)
    return im


def make_dataset(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    recs = []
    for i in range(n):
        im = draw_render(rng)
        im.save(root / "images" / f"m{i:04d}_front.png", optimize=True)
        recs.append({"id": str(i), "image": f"m{i:04d}_front.png", "conversations": [
            {"from": "human", "value": "<image>\nWrite the CAD code."}, {"from": "gpt", "value": f"box {i}"}]})
    (root / "train.json").write_text(json.dumps(recs))
    return root


def torchvision_pipeline():
    tf = T.Compose([T.Resize((SIZE, SIZE), InterpolationMode.BICUBIC), T.ToTensor(),
                    T.Normalize((0.5,) * 3, (0.5,) * 3)])

    def one(path):
        with Image.open(path) as im:
            return tf(im.convert("RGB"))
    return one


def pillow_resize(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BICUBIC))


def tv_io_interpolate(path):
    x = torchvision.io.decode_png(torchvision.io.read_file(str(path)), torchvision.io.ImageReadMode.RGB)
    x = F.interpolate(x[None].float(), size=(SIZE, SIZE), mode="bicubic", antialias=True)[0]
    return (x / 255 - MEAN) / MEAN


def tv_io_decode_only(path):
    return torchvision.io.decode_png(torchvision.io.read_file(str(path)), torchvision.io.ImageReadMode.RGB)


def opencv(path):
    buf = np.frombuffer(Path(path).read_bytes(), np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(cv2.resize(bgr, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
    return (rgb.astype(np.float32) / 255 - 0.5) / 0.5


class _LoaderBatches(torch.utils.data.Dataset):
    """The Loader's batches as a map-style dataset, so DataLoader worker processes can fill them."""

    def __init__(self, loader: Loader) -> None:
        self.loader, self.batches = loader, loader._batches()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int):
        from harness.loader.pipeline import _Buffers  # a fresh buffer per batch: it travels through shared memory

        ld = self.loader
        buf = _Buffers(ld.batch_size, ld.image_size, ld.max_length, False)
        n, t, _ = ld._fill(buf, self.batches[k])
        return buf.batch(n), t


def _stage_line(per_batch: list[dict], n: int) -> str:
    tot = {k: sum(t[k] for t in per_batch) / n * 1e3 for k in STAGES}
    return ", ".join(f"{k[:-2]} {v:.3f}" for k, v in tot.items()) + f" (sum {sum(tot.values()):.3f})"


def run(folder: Path, n_images: int | None, repeats: int) -> None:
    cores = os.cpu_count() or 1
    probe = Loader(folder, workers=0)
    paths = [probe.dataset.images / r.image for r in probe.records][:n_images]
    records = probe.records[: len(paths)]
    peers = {
        "torchvision pipeline (PIL+Resize+ToTensor+Normalize)": torchvision_pipeline(),
        "Pillow decode+resize": pillow_resize,
        "torchvision.io.decode_png+interpolate(bicubic,aa)": tv_io_interpolate,
        "OpenCV imdecode+resize(cubic)": opencv,
        "torchvision.io.decode_png alone": tv_io_decode_only,
    }
    print(f"{len(paths)} images, {sum(p.stat().st_size for p in paths) / len(paths) / 1024:.1f} KiB mean PNG, "
          f"{cores} cores, torch {torch.__version__}, numba {numba.__version__}, {pil_flavour()}")
    for label, threads in (("one core each", 1), (f"all {cores} cores", cores)):
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        numba.set_num_threads(1)
        results, stages = {}, {}
        workers = 0 if threads == 1 else threads
        for backend in ("numba", "pil", "auto"):
            loader = Loader(folder, batch_size=8, image_size=SIZE, workers=workers, records=records,
                            resize_backend=backend)
            name = f"Loader (workers={workers} threads, resize {backend}->{loader.resize_backend})"

            def run_loader(loader=loader):
                for _ in loader:
                    pass
            results[name] = repeat(run_loader, repeats).median
            stages[name] = _stage_line(loader.timings[-len(loader):], len(paths))
        if threads > 1:
            loader = Loader(folder, batch_size=8, image_size=SIZE, workers=0, records=records)
            dl = torch.utils.data.DataLoader(_LoaderBatches(loader), batch_size=None, num_workers=threads,
                                             persistent_workers=True, prefetch_factor=2)
            seen: list[dict] = []

            def run_processes(dl=dl, seen=seen):
                seen.clear()
                for _, t in dl:
                    seen.append(t)
            name = f"Loader body in DataLoader ({threads} worker processes, resize {loader.resize_backend})"
            results[name] = repeat(run_processes, repeats).median
            stages[name] = _stage_line(seen, len(paths))
        for name, fn in peers.items():
            if threads == 1:
                results[name] = repeat(lambda fn=fn: [fn(p) for p in paths], repeats).median
            else:
                with ThreadPoolExecutor(threads) as pool:
                    results[name] = repeat(lambda fn=fn, pool=pool: list(pool.map(fn, paths)), repeats).median
        base = results["torchvision pipeline (PIL+Resize+ToTensor+Normalize)"]
        decode_only = results["torchvision.io.decode_png alone"]
        print(f"\n== {label} ==")
        for name, secs in results.items():
            print(f"{name:78s} {len(paths) / secs:8.1f} images/s {secs / len(paths) * 1e3:7.3f} ms/image "
                  f"x{base / secs:5.2f} vs torchvision pipeline, x{decode_only / secs:4.2f} vs decode_png alone")
        print("Loader stages, ms/image (summed over workers):")
        for name, line in stages.items():
            print(f"  {name}: {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.folder is not None:
        run(a.folder, a.images, a.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(make_dataset(Path(tmp) / "cad", a.images), None, a.repeats)


if __name__ == "__main__":
    main()
