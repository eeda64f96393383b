"""``harness validate`` against cleanvision (Imagelab) on the same photo-like JPEGs and the same cores.

    python benchmarks/bench_jpeg.py [--images 3000] [--size coco|large] [--workers 2] [--repeats 3] [--cache DIR]

The JPEGs are made once by ``photos`` into ``--cache`` (default: $HARNESS_CACHE/bench or
~/.cache/harness/bench), never committed: natural-looking content (a muted colour field, soft-edged shapes,
1/f texture, a lighting gradient, sensor noise) at COCO's sizes (640x480, 480x640, 640x427, 500x375, ...),
quality 90, about 100 KB each; ``--size large`` doubles every side (1280x960, ...), where the image pass
decodes in draft mode (1/2 scale; COCO sizes stay at full size, see ``harness.checks.image_pass``).

Both tools run in their own process, pinned to the same ``--workers`` CPUs, rounds interleaved (a load that
comes and goes on a shared machine hits both alike); medians over ``--repeats`` rounds. cleanvision:
images / ``find_issues`` seconds (its default issue types, ``n_jobs`` = workers), start-up = import +
``Imagelab(data_path=...)``. harness: from the run's ``run.json``, images measured after the first result /
the time after it, start-up (executor start + first result) apart. The ratio is of the two images/s.
cleanvision is a benchmark dependency (pyproject extra ``bench``; installed on first use as
``bench_vs_cleanvision`` does).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import HARNESS, run_measured  # noqa: E402
from _timing import interleaved  # noqa: E402
from bench_validate import cache_root  # noqa: E402
from bench_vs_cleanvision import CLEANVISION_RUN, ensure_cleanvision  # noqa: E402

# COCO train2017's commonest sizes (width, height).
COCO_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (640, 512), (500, 375), (640, 360), (612, 612))


def _field(rng: np.random.Generator, w: int, h: int, cells: int, channels: int) -> np.ndarray:
    """Value noise: a coarse random grid, ``cells`` across, upsampled bicubic; centred on 0."""
    g = rng.integers(0, 256, (max(2, h * cells // w), cells, channels), dtype=np.uint8)
    im = Image.fromarray(g if channels == 3 else g[:, :, 0]).resize((w, h), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32).reshape(h, w, channels) - 128.0


def photo(i: int, scale: int = 1) -> Image.Image:
    """Photo-like picture ``i`` (deterministic): what a JPEG decoder and the measures meet in COCO."""
    rng = np.random.default_rng(i)
    w, h = (d * scale for d in COCO_SIZES[i % len(COCO_SIZES)])
    scene = rng.uniform(60, 190, 3)   # a muted palette: colours pulled toward the scene's
    base = Image.fromarray(np.clip(128 + 0.6 * _field(rng, w, h, 3, 3) + (scene - 128), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(base)
    for _ in range(rng.integers(4, 16)):   # objects
        x0, y0 = rng.integers(-w // 4, w), rng.integers(-h // 4, h)
        box = (x0, y0, x0 + rng.integers(20, w // 2), y0 + rng.integers(20, h // 2))
        fill = tuple(int(c) for c in 0.5 * scene + 0.5 * rng.uniform(0, 255, 3))
        kind = rng.integers(3)
        if kind == 0:
            draw.ellipse(box, fill=fill)
        elif kind == 1:
            draw.rectangle(box, fill=fill)
        else:
            draw.polygon([(int(a), int(b)) for a, b in zip(rng.integers(0, w, 4), rng.integers(0, h, 4))], fill=fill)
    a = np.asarray(base.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0)) * scale)), np.float32)
    # 1/f texture (foliage, fabric, gravel): octaves of value noise, amplitude growing with size
    texture = sum(_field(rng, w, h, c, 1) * (amp / 128) for c, amp in ((8, 30), (32, 18), (128, 12), (320, 10)))
    light = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.3), w if rng.integers(2) else h, dtype=np.float32)
    light = light[None, :, None] if light.shape[0] == w else light[:, None, None]
    noise = rng.normal(0, rng.uniform(2, 8), (h, w, 1)).astype(np.float32)
    return Image.fromarray(np.clip(a * light + texture * rng.uniform(0.3, 1.5) + noise, 0, 255).astype(np.uint8))


def _write_photo(job: tuple[Path, int, int]) -> None:
    path, i, scale = job
    photo(i, scale).save(path, format="JPEG", quality=90)


def photos(n: int, cache: Path, size: str = "coco", workers: int = 2) -> Path:
    """A dataset folder of ``n`` photo-like JPEGs (``images/``, ``train.json``, ``val.json``: one short
    natural-language answer each, a tenth in val), made once (a marker says it is complete)."""
    root = cache / f"jpeg-photos-{n}-{size}"
    if (root / ".complete").exists():
        return root
    (root / "images").mkdir(parents=True, exist_ok=True)
    scale = 2 if size == "large" else 1
    names = [f"{i:012d}.jpg" for i in range(n)]
    with Pool(workers) as pool:
        pool.map(_write_photo, [(root / "images" / nm, i, scale) for i, nm in enumerate(names)], chunksize=16)
    recs = [{"id": nm[:-4], "image": nm, "conversations": [
        {"from": "human", "value": "<image>\nWhat is in the picture?"},
        {"from": "gpt", "value": f"Some shapes on a textured background, picture {i}."}]} for i, nm in enumerate(names)]
    (root / "train.json").write_text(json.dumps([r for i, r in enumerate(recs) if i % 10]))
    (root / "val.json").write_text(json.dumps([r for i, r in enumerate(recs) if not i % 10]))
    (root / ".complete").write_text("ok\n")
    return root


def _pin(workers: int) -> list[int] | None:
    """Pin this process (and so both tools, its children) to ``workers`` CPUs: the same cores for both."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))[:workers]
    os.sched_setaffinity(0, cpus)
    return cpus


def run_cleanvision(images: Path, workers: int) -> dict:
    res, wall, rss = run_measured([sys.executable, "-c", CLEANVISION_RUN, str(images), str(workers)])
    if res.returncode != 0:
        sys.exit(f"cleanvision failed:\n{res.stderr[-3000:]}")
    c = json.loads(res.stdout.strip().splitlines()[-1])
    return {"images_per_s": c["images"] / c["find_seconds"], "startup_s": c["import_seconds"] + c["init_seconds"],
            "wall_s": wall, "rss": rss, "images": c["images"], "issues": c["issues"]}


def run_harness(root: Path, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-jpeg-") as tmp:
        res, wall, rss = run_measured(
            [sys.executable, *HARNESS, "validate", str(root), "--out", tmp, "--workers", str(workers)],
            env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
        if res.returncode not in (0, 1):
            sys.exit(f"harness validate failed:\n{res.stderr[-3000:]}")
        run = json.loads((Path(tmp) / "run.json").read_text())
    h = run["execution"]
    return {"images_per_s": h["images_per_s"], "startup_s": h["startup_seconds"], "wall_s": wall, "rss": rss,
            "images": h["images_measured"]}


def image_pass_ms(images: Path, names: list[str], repeats: int) -> dict[str, float]:
    """Median ms per image of the image pass in this process (one core), with draft mode and with it off
    (``DRAFT_FLOOR_PX`` out of reach: every JPEG decoded at full size), rounds interleaved."""
    from harness.checks import image_pass

    floor = image_pass.DRAFT_FLOOR_PX

    def run(off: bool):
        def go():
            image_pass.DRAFT_FLOOR_PX = 1 << 30 if off else floor
            try:
                return [image_pass.measure_image(str(images), nm, max_pixels=178_956_970) for nm in names]
            finally:
                image_pass.DRAFT_FLOOR_PX = floor
        return go

    t = interleaved({"draft": run(False), "full": run(True)}, repeats, per=len(names) / 1e3)
    scales = sorted({r["measure_scale"] for r in t["draft"].result})
    return {"draft": t["draft"].median, "full": t["full"].median, "scales": scales}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--size", choices=("coco", "large"), default="coco")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache")
    ap.add_argument("--pass-sample", type=int, default=200,
                    help="images timed in-process, draft mode on and off (0: skip)")
    args = ap.parse_args()
    ensure_cleanvision()
    cpus = _pin(args.workers)
    root = photos(args.images, cache_root(args.cache), args.size, args.workers)
    if args.pass_sample:
        names = sorted(os.listdir(root / "images"))[: args.pass_sample]
        ip = image_pass_ms(root / "images", names, args.repeats)
        print(f"image pass, one core, {len(names)} images: {ip['draft']:.2f} ms/image with draft mode "
              f"(scales {ip['scales']}), {ip['full']:.2f} ms/image at full size: x{ip['full'] / ip['draft']:.2f}",
              flush=True)
    runs: dict[str, list[dict]] = {"cleanvision": [], "harness": []}
    for r in range(args.repeats):
        runs["cleanvision"].append(run_cleanvision(root / "images", args.workers))
        runs["harness"].append(run_harness(root, args.workers))
        print(f"round {r + 1}: cleanvision {runs['cleanvision'][-1]['images_per_s']:,.0f} images/s, "
              f"harness {runs['harness'][-1]['images_per_s']:,.0f} images/s", flush=True)

    def med(tool: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[tool])

    size = "COCO sizes (640x480, ...)" if args.size == "coco" else "large (1280x960, ...)"
    print(f"{args.images:,} photo-like JPEGs, {size}, quality 90; {args.workers} workers on CPUs {cpus}; "
          f"medians of {args.repeats} rounds")
    print(f"{'':12} {'images/s':>9} {'start-up s':>10} {'wall s':>7} {'peak RSS GB':>11}")
    for tool in runs:
        print(f"{tool:12} {med(tool, 'images_per_s'):>9,.0f} {med(tool, 'startup_s'):>10.2f} "
              f"{med(tool, 'wall_s'):>7.1f} {med(tool, 'rss') / 2**30:>11.2f}")
    print(f"cleanvision issues (last round): {runs['cleanvision'][-1]['issues']}")
    ratio = med("harness", "images_per_s") / med("cleanvision", "images_per_s")
    print(f"ratio (images/s past start-up): {ratio:.1f}x; wall-time ratio: "
          f"{med('cleanvision', 'wall_s') / med('harness', 'wall_s'):.1f}x")


if __name__ == "__main__":
    main()
