"""Images/s of the Loader against the usual decode + resize + normalise pipelines, on the same images.

    python benchmarks/bench_loader.py [DATASET_FOLDER] [--images 200] [--repeats 3]
    python benchmarks/bench_loader.py --scaling [--png DATASET] [--jpeg DATASET] [--rounds 9] [--workers 2]

``--scaling``: does the Loader use the cores it is given? On PNG renders and on JPEG photos (generated,
or ``--png`` / ``--jpeg`` dataset folders), rounds interleave the Loader in the calling thread
(``workers=0``), the Loader with ``--workers`` threads, and the machine's ceiling: the calling-thread
Loader in one process, then in ``--workers`` processes at once (no GIL shared: what the cores give the
same work, on a machine other jobs share). Printed: the medians in images/s, the ratio workers /
calling thread (the figure the issue asks 1.7x of), the ceiling's ratio, each round's pair and the
threads' median over the rounds whose ceiling was 1.8x or more (the machine quiet), where the worker
threads' time went (Linux schedstat: on a CPU, waiting for one, asleep), and per-stage ms/image.
Generated data: ``2 x --images`` CAD-like PNG renders, ``--images / 2`` photo-like JPEGs.

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
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image, ImageDraw, ImageFilter
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from harness.loader import STAGES, Loader
from harness.results.metadata import pil_flavour

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, repeat  # noqa: E402

SIZE = 384
QUIET = 0.9   # --scaling: a round counts as quiet when the processes got 90% of every core
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


def draw_photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A photo-like picture: a smooth random colour field with sensor-like noise (JPEG's hard case: no
    flat runs, every block coded)."""
    field = Image.fromarray(rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8))
    arr = np.asarray(field.resize((w, h), Image.Resampling.BICUBIC)).astype(np.int16)
    arr = arr + rng.normal(0, 12, (h, w, 3)).astype(np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


def make_photos(root: Path, n: int) -> Path:
    """``n`` JPEG photos (quality 90), 640x480 and 683x512 alternating, as a dataset folder."""
    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True)
    recs = []
    for i in range(n):
        h, w = (480, 640) if i % 2 else (512, 683)
        draw_photo(rng, h, w).save(root / "images" / f"p{i:04d}.jpg", quality=90)
        recs.append({"id": str(i), "image": f"p{i:04d}.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat is in the photo?"}, {"from": "gpt", "value": f"photo {i}"}]})
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
    import cv2  # the bench extra; --scaling runs without it

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
        import cv2

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


_proc_loader: Loader | None = None


def _proc_init(folder: str) -> None:
    global _proc_loader
    torch.set_num_threads(1)
    _proc_loader = Loader(folder, batch_size=8, image_size=SIZE, workers=0, pin_memory=False)
    _proc_epoch(0)   # JIT cache load, page faults, plans


def _proc_epoch(_: int) -> int:
    n = 0
    for b in _proc_loader:
        n += b["images"].shape[0]
    return n


def _ms_per_image(loader: Loader, batches: int, n: int) -> str:
    return _stage_line(loader.timings[-batches:], n)


def _schedstat(tid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of one thread, from Linux's schedstat;
    zeros where there is none."""
    try:
        cpu, wait, _ = open(f"/proc/self/task/{tid}/schedstat").read().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(cpu) / 1e9, int(wait) / 1e9


def _sched_epoch(loader: Loader) -> dict:
    """One epoch; wall seconds and, per filling thread, seconds on a CPU and waiting for one. The worker
    threads live for one epoch, so their counters are read as the last batch arrives (all work done)."""
    main = threading.get_native_id()
    cpu0, wait0 = _schedstat(main)
    t0 = time.perf_counter()
    threads: list[tuple[float, float]] = []
    for k, _ in enumerate(loader, 1):
        if k == len(loader) and loader.workers:
            threads = [_schedstat(t.native_id) for t in threading.enumerate() if t.name.startswith("loader")]
    wall = time.perf_counter() - t0
    if not loader.workers:
        cpu1, wait1 = _schedstat(main)
        threads = [(cpu1 - cpu0, wait1 - wait0)]
    return {"wall": wall, "cpu": [c for c, _ in threads], "wait": [w for _, w in threads]}


def _sched_line(one: list[dict], many: list[dict], workers: int) -> str:
    """Where the filling threads' time went, and the ratio with the time spent waiting for a CPU taken out.

    A thread's wall time is on a CPU + waiting for a CPU (other jobs on the machine) + asleep (the GIL,
    I/O, the pipeline's ends). Waiting for a CPU is what a loaded machine adds; taking it out of each
    epoch (the workers' mean) estimates the ratio on idle cores. Only an estimate, and a weak one when
    the waits for a CPU are large: then the two threads seldom run at once, so they seldom meet at the
    GIL either, and its cost hides (measured here at load 8 on 2 cores: the code before this Loader's
    GIL work and after it both showed 6% asleep on PNG renders, though ``py-spy --gil`` gave 36% and 14%
    of one thread's time with the GIL held)."""
    if not many or not many[0]["cpu"] or not any(one[0]["cpu"]):
        return "thread times: no per-thread schedstat here"
    share = {k: statistics.median(sum(e[k]) / (e["wall"] * workers) for e in many) for k in ("cpu", "wait")}
    idle_one = statistics.median(e["wall"] - e["wait"][0] for e in one)
    idle_many = statistics.median(e["wall"] - sum(e["wait"]) / len(e["wait"]) for e in many)
    cpu_one = statistics.median(sum(e["cpu"]) for e in one)
    cpu_many = statistics.median(sum(e["cpu"]) for e in many)
    return (f"worker threads' time: {share['cpu']:.0%} on a CPU, {share['wait']:.0%} waiting for a CPU, "
            f"{1 - share['cpu'] - share['wait']:.0%} asleep (GIL, I/O, pipeline ends); CPU seconds per epoch "
            f"{cpu_one:.3f} calling thread, {cpu_many:.3f} workers; ratio with the waits for a CPU taken "
            f"out: {idle_one / idle_many:.2f}x")


def scaling(folders: dict[str, Path], rounds: int, workers: int) -> dict[str, float]:
    """Interleaved rounds per dataset: calling thread, ``workers`` threads, one and ``workers`` processes."""
    torch.set_num_threads(1)
    ratios = {}
    print(f"{os.cpu_count()} cores, {workers} workers, {rounds} rounds after a warm-up round, "
          f"torch {torch.__version__}, numba {numba.__version__}, {pil_flavour()}")
    ctx = multiprocessing.get_context("spawn")   # fork after torch and numba are loaded is not safe
    for label, folder in folders.items():
        one = Loader(folder, batch_size=8, image_size=SIZE, workers=0, pin_memory=False)
        many = Loader(folder, batch_size=8, image_size=SIZE, workers=workers, pin_memory=False)
        n = len(one.records)
        paths = [one.dataset.images / r.image for r in one.records]
        size_kib = sum(p.stat().st_size for p in paths) / n / 1024
        # one single-process pool per worker, so each process surely runs one whole epoch at once
        pools = [ctx.Pool(1, initializer=_proc_init, initargs=(str(folder),)) for _ in range(workers)]
        try:
            sched: dict[int, list[dict]] = {0: [], workers: []}

            def epoch(loader, sched=sched):
                sched[loader.workers].append(_sched_epoch(loader))

            def processes(pools=pools):
                for r in [p.apply_async(_proc_epoch, (0,)) for p in pools]:
                    r.get()
            fns = {
                "calling thread (workers=0)": lambda one=one: epoch(one),
                f"{workers} worker threads": lambda many=many: epoch(many),
                "1 process (ceiling's base)": lambda pools=pools: pools[0].apply(_proc_epoch, (0,)),
                f"{workers} processes at once (ceiling)": processes,
            }
            t = interleaved(fns, rounds, per=n)
        finally:
            for p in pools:
                p.terminate()
        ips = {k: 1 / v.median for k, v in t.items()}
        ips[f"{workers} processes at once (ceiling)"] *= workers   # each process ran the whole epoch
        ratio = ips[f"{workers} worker threads"] / ips["calling thread (workers=0)"]
        ceiling = ips[f"{workers} processes at once (ceiling)"] / ips["1 process (ceiling's base)"]
        ratios[label] = ratio
        # per round: the threads' ratio beside the ceiling measured a second later; rounds in which the
        # machine gave the processes (nearly) every core say what the threads make of those cores
        per_round = [(a / b, workers * c / d) for a, b, c, d in zip(*(t[k].runs for k in fns))]
        print(f"\n== {label}: {n} images, {size_kib:.1f} KiB mean file ==")
        for k, v in ips.items():
            lo, hi = 1 / t[k].max, 1 / t[k].min
            if k.endswith("(ceiling)"):
                lo, hi = lo * workers, hi * workers
            print(f"  {k:40s} {v:8.1f} images/s (rounds {lo:.0f}-{hi:.0f})")
        print(f"  ratio {workers} worker threads / calling thread: {ratio:.2f}x   "
              f"(ceiling, {workers} processes / 1: {ceiling:.2f}x)")
        free = sorted(r for r, c in per_round if c >= QUIET * workers)
        print("  per round, threads ratio / ceiling: " + ", ".join(f"{r:.2f}/{c:.2f}" for r, c in per_round))
        if free:
            print(f"  rounds whose ceiling was {QUIET * workers:.1f}x or more: {len(free)}, threads ratio median "
                  f"{statistics.median(free):.2f}x (range {free[0]:.2f}-{free[-1]:.2f})")
        else:
            print(f"  no round had a ceiling of {QUIET * workers:.1f}x: other jobs held the cores")
        print("  " + _sched_line(sched[0][1:], sched[workers][1:], workers))
        batches = len(one)
        print(f"  stages, ms/image summed over threads: calling thread {_ms_per_image(one, batches, n)}")
        print(f"  {'':38s}{workers} workers {_ms_per_image(many, batches, n)}")
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scaling", action="store_true", help="worker threads against the calling thread")
    ap.add_argument("--png", type=Path, help="--scaling: a dataset of PNG renders (default: generated)")
    ap.add_argument("--jpeg", type=Path, help="--scaling: a dataset of JPEG photos (default: generated)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    if a.scaling:
        with tempfile.TemporaryDirectory() as tmp:
            png = a.png or make_dataset(Path(tmp) / "png", 2 * a.images)   # ~4x faster an image than JPEG
            jpeg = a.jpeg or make_photos(Path(tmp) / "jpeg", a.images // 2)
            scaling({"PNG renders": png, "JPEG photos": jpeg}, a.rounds, a.workers)
        return
    if a.folder is not None:
        run(a.folder, a.images, a.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(make_dataset(Path(tmp) / "cad", a.images), None, a.repeats)


if __name__ == "__main__":
    main()
