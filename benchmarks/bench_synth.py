"""Synthetic dataset throughput: models/s for N models x 3 views at 512 px (goal: >= 17 models/s on 2 cores).

    python benchmarks/bench_synth.py [--models 200] [--workers 2]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness.cad.synth import synthesize
from harness.config import SynthConfig

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        synthesize(SynthConfig(out=Path(d) / "warm", models=4, workers=1))   # JIT cache warm-up
        s = synthesize(SynthConfig(out=Path(d) / "ds", models=a.models, workers=a.workers))
        sizes = sorted(p.stat().st_size for p in (Path(d) / "ds" / "images").iterdir())
    print(f"{s.models} models, {s.images} images in {s.seconds:.1f} s: {s.models / s.seconds:.1f} models/s; "
          f"PNG median {sizes[len(sizes) // 2]} B (min {sizes[0]}, max {sizes[-1]})")
