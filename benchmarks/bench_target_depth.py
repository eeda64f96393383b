"""Claim: the whole target's training step and peak memory are predicted from cut copies within 15%, and
the memory model of ``harness.estimate.memory`` predicts the measured peak within 15%.

``openecad-0.89b`` (its recipe: LoRA r128 on both towers, connector full) at batch 1 on this CPU, fp32:
  1. copies cut to 2 and 4 blocks per tower ((2,2), (4,2), (2,4)), fitted per block and extrapolated to
     full depth (``harness.target.measure``, ``--target-depth 2,4``);
  2. the whole model measured (``--target-depth all``): the peer every prediction is divided by;
  3. ``harness.estimate.memory`` at the same tokens and dtype (no measurement).
Prints step and peak-memory ratios, predicted / measured; goal 0.85-1.15. Timing: 1 warm-up + 2 timed
steps for the whole model (~1 min a step here), 4 for each cut copy: noisy on a shared machine.

    .venv/bin/python benchmarks/bench_target_depth.py [--steps 2] [--cut-steps 4] [--warmup 1] [--text-tokens 256]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="openecad-0.89b")
    ap.add_argument("--steps", type=int, default=2, help="timed steps of the whole model")
    ap.add_argument("--cut-steps", type=int, default=4,
                    help="timed steps of each cut copy (cheap, and each block is timed only by a difference)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--text-tokens", type=int, default=256,
                    help="text positions per sample besides the image tokens (a DeepCAD sample: ~230)")
    args = ap.parse_args()

    from harness.estimate.architecture import architecture
    from harness.estimate.memory import memory
    from harness.target.measure import measure_target
    from harness.target.presets import resolve_target
    from harness.train.device import set_threads

    set_threads()
    spec = resolve_target(args.target)
    tokens = spec.image_tokens + args.text_tokens
    print(f"{spec.name}: recipe {spec.recipe.describe()}; batch 1, {tokens} LM positions, cpu fp32, "
          f"{args.warmup} warm-up + {args.cut_steps} (cut copies) / {args.steps} (whole) timed steps; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other processes share "
          "this machine)", flush=True)

    t = time.perf_counter()
    cut = measure_target(spec, [1], [2, 4], "cpu", "fp32", args.cut_steps, args.warmup, tokens,
                         progress=lambda m: print("  " + m, flush=True))
    cut_s = time.perf_counter() - t
    for r in cut:
        print(f"  {r['kind']:12s} LM {r['llm_layers']:2d} vision {r['vision_layers']:2d}: "
              f"{r['step_seconds']:.2f} s/step, {r['peak_memory_bytes'] / 2**30:.2f} GiB", flush=True)
    (pred,) = [r for r in cut if r["kind"] == "extrapolated"]

    t = time.perf_counter()
    (whole,) = measure_target(spec, [1], None, "cpu", "fp32", args.steps, args.warmup, tokens,
                              progress=lambda m: print("  " + m, flush=True))
    whole_s = time.perf_counter() - t
    model = memory(architecture(spec), tokens, "fp32").peak(1)

    print(f"\nwhole model measured: {whole['step_seconds']:.2f} s/step (p90 {whole['step_seconds_p90']:.2f}), "
          f"{whole['peak_memory_bytes'] / 2**30:.2f} GiB ({whole['memory_source']}); {whole_s:.0f} s wall")
    print(f"cut copies 2,4 -> extrapolated: {pred['step_seconds']:.2f} s/step, "
          f"{pred['peak_memory_bytes'] / 2**30:.2f} GiB; {cut_s:.0f} s wall")
    print(f"memory model (harness.estimate.memory, fp32): {model / 2**30:.2f} GiB")
    for label, p, m in (("step, extrapolated / measured", pred["step_seconds"], whole["step_seconds"]),
                        ("peak, extrapolated / measured", pred["peak_memory_bytes"], whole["peak_memory_bytes"]),
                        ("peak, memory model / measured", model, whole["peak_memory_bytes"])):
        ratio = p / m
        print(f"  {label}: {ratio:.3f} ({'within' if abs(ratio - 1) <= 0.15 else 'outside'} 15%)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
