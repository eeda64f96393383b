"""Synthetic dataset throughput (goal: 1,100 models x 3 views at 512 px in under a minute on 2 cores,
>= 17 models/s), with the time per model split by stage and our PNG writer against Pillow's in the same run.

    python benchmarks/bench_synth.py [--models 1100] [--workers 2] [--stage-models 60]

Wall figures depend on what else the machine runs; CPU seconds per model (this process and its workers,
from getrusage) do much less, so both are printed. ``cold compile`` is a fresh interpreter compiling the
render kernels into an empty numba cache (what a new machine pays once, before its first dataset).
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from harness.cad import render
from harness.cad.code import to_code
from harness.cad.generate import generate
from harness.config import SynthConfig
from harness.runs.synth import synthesize

VIEWS = ("front", "top", "right")


def cold_compile_s() -> float:
    code = "import time; t = time.perf_counter(); from harness.cad import render; render.warm_up(); " \
           "print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "NUMBA_CACHE_DIR": cache},
                             capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def stages(n: int) -> dict[str, float]:
    """CPU ms per model (3 views) of each stage, summed over ``n`` models in this one process."""
    render.warm_up()
    models = [generate(0, i) for i in range(n)]
    tot = dict.fromkeys(("generate", "code", "render", "png_ours", "png_pillow"), 0.0)

    def cpu(stage: str, fn, *args):
        t = time.process_time()
        out = fn(*args)
        tot[stage] += time.process_time() - t
        return out

    for i, m in enumerate(models):
        cpu("generate", generate, 0, i)
        cpu("code", to_code, m)
        packed = render.pack(m)
        for v in VIEWS:
            img = cpu("render", render.render_view, m, v, 512, packed)
            cpu("png_ours", render.to_png, img)
            cpu("png_pillow", lambda img=img: Image.fromarray(img, "RGB").save(io.BytesIO(), format="PNG",
                                                                               compress_level=6))
    return {k: 1000 * v / n for k, v in tot.items()}


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=1100)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--stage-models", type=int, default=60)
    a = ap.parse_args()
    print(f"cold compile of the render kernels: {cold_compile_s():.1f} s wall")
    st = stages(a.stage_models)
    print("CPU ms per model (3 views, one process): " + ", ".join(f"{k} {v:.1f}" for k, v in st.items()))
    print(f"PNG: ours {st['png_pillow'] / st['png_ours']:.1f}x faster than Pillow compress_level=6")
    with tempfile.TemporaryDirectory() as d:
        c0, t0 = cpu_s(), time.perf_counter()
        s = synthesize(SynthConfig(out=Path(d) / "ds", models=a.models, workers=a.workers))
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        sizes = sorted(p.stat().st_size for p in (Path(d) / "ds" / "images").iterdir())
    print(f"{s.models} models, {s.images} images in {wall:.1f} s: {s.models / wall:.1f} models/s "
          f"({1000 * cpu / s.models:.0f} CPU ms per model, all processes; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); PNG median {statistics.median(sizes):.0f} B "
          f"(min {sizes[0]}, max {sizes[-1]})")
