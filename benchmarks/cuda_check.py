"""The bench on CUDA: eager and compiled training step, pinned host buffers, non-blocking copies.

Makes a small synthetic dataset unless one is given, runs ``harness bench`` with ``--device cuda
--compile on``, then checks what only a GPU can show: the Loader's buffers are pinned, compiled rows
exist with a compile time, and peak memory comes from the CUDA allocator. Then the target model
(``--target``, default openecad-0.89b, whole depth, batch 2/4/8, bf16) through the CLI: step time, peak
memory from the allocator, and "does not fit" rows where it runs out; it needs ``transformers`` and
``peft`` on the machine (carry their wheels where it has none) and is skipped, saying so, without them.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dataset", type=Path)
    ap.add_argument("--models", type=int, default=60, help="models to synthesise when no dataset is given")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--target", default="openecad-0.89b", help="target preset for the model bench ('' skips it)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check", file=sys.stderr)
        return 2
    from harness.bench.stages import run_bench
    from harness.config import BenchConfig, SynthConfig
    from harness.loader import Loader

    t0 = time.perf_counter()
    if args.dataset is None:
        from harness.runs.synth import synthesize
        args.dataset = Path(tempfile.mkdtemp(prefix="cuda-check-")) / "dataset"   # kept out of --out
        synthesize(SynthConfig(out=args.dataset, models=args.models, overwrite=True))
        print(f"dataset: {args.models} models in {time.perf_counter() - t0:.0f} s")
    res = run_bench(BenchConfig(dataset=args.dataset, batch_sizes=(2, 4, 8), steps=20, warmup=3,
                                workers=args.workers, device="cuda", compile="on", out=args.out / "bench"),
                    progress=lambda m: print(m, flush=True))
    ok = True
    loader = Loader(args.dataset, batch_size=2, workers=0, pin_memory=True)
    pinned = next(iter(loader))["images"].is_pinned()
    print(f"loader buffers pinned: {pinned}")
    ok &= pinned
    for b in res.batches:
        eager = statistics.median(b.eager.step_seconds)
        comp = statistics.median(b.compiled.step_seconds) if b.compiled else float("nan")
        compile_s = b.compiled.first_step_seconds - comp if b.compiled else float("nan")
        print(f"batch {b.batch_size}: loader {b.harness.samples_per_s:.0f} samples/s vs torchvision "
              f"{b.torchvision.samples_per_s:.0f}; step eager {eager * 1e3:.1f} ms, compiled {comp * 1e3:.1f} ms "
              f"(compile {compile_s:.1f} s); h2d {statistics.median(b.eager.stages['h2d']) * 1e3:.2f} ms; "
              f"wait share {b.eager.data_wait_share:.0%}; peak {b.eager.peak_memory_bytes / 2**20:.0f} MiB "
              f"({b.eager.peak_memory_kind}); bottleneck {b.bottleneck}")
        ok &= b.compiled is not None and b.eager.peak_memory_kind.startswith("cuda")
    if args.target:
        ok &= target_check(args.dataset, args.out / "target", args.target)
    print(f"outputs: {res.out}; total {time.perf_counter() - t0:.0f} s; {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


def target_check(dataset: Path, out: Path, target: str) -> bool:
    """The real model with random weights on CUDA, through the command a user runs; True when every batch
    size gave a row (measured, or "does not fit") with the allocator's peak."""
    import importlib.util
    import subprocess

    missing = [m for m in ("transformers", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"target bench skipped: {', '.join(missing)} not installed on this machine")
        return True
    cmd = [sys.executable, "-m", "harness", "bench", str(dataset), "--device", "cuda", "--target", target,
           "--target-depth", "all", "--target-dtype", "bf16", "--batch-size", "2,4,8", "--out", str(out)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    print(f"target bench: exit {done.returncode} in {time.perf_counter() - t0:.0f} s")
    if done.returncode not in (0, 1):
        return False
    from harness.results.write import read_table

    rows = read_table(out / "target.arrow").to_pylist()
    for r in rows:
        print(f"target {r['kind']} batch {r['batch_size']}: step {r['step_seconds']} s (p90 "
              f"{r['step_seconds_p90']}), peak {(r['peak_memory_bytes'] or 0) / 2**30:.1f} GiB "
              f"({r['memory_source']}), fits {r['fits']}, {r['dtype']}")
    return bool(rows) and all(r["memory_source"] and r["memory_source"].startswith("cuda") for r in rows
                              if r["kind"] == "measured" and r["fits"])


if __name__ == "__main__":
    sys.exit(main())
