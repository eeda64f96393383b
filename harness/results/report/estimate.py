"""``harness estimate``'s report.md: a view of its ESTIMATES rows (basis "target"), the answer first."""
from __future__ import annotations

from typing import Any

from harness.results.format import duration, md_table


def _gib(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**30:.1f} GiB"


def report(rows: list[dict], spec: Any, arch: Any, cfg: Any) -> str:
    ds = [r for r in rows if r["scale"] == "dataset"]
    first = ds[0]
    lines = [f"# harness estimate: {spec.name}", ""]
    for r in ds:
        verdict = (f"batch {r['batch_size']} per GPU fits ({_gib(r['peak_memory_bytes'])} of "
                   f"{_gib(r['memory_capacity_bytes'])})" if r["fits"] else
                   f"batch {r['batch_size']} per GPU does not fit ({_gib(r['peak_memory_bytes'])} of "
                   f"{_gib(r['memory_capacity_bytes'])})")
        lines.append(f"- **{r['device']} x {r['gpus']}**: {r['samples']:,} samples x {r['epochs']} epoch(s) take "
                     f"about **{duration(r['total_seconds'])}** (range {duration(r['total_seconds_low'])} - "
                     f"{duration(r['total_seconds_high'])}); {verdict}; the largest batch that fits is "
                     f"{r['max_batch_size']}.")
    lines += ["", (f"Model: {arch.params / 1e9:.3f}B parameters, {arch.trainable_params / 1e6:.1f}M trained "
                   f"({spec.recipe.describe()}); {first['tokens_per_sample']:.0f} LM positions per sample "
                   f"on average; {first['flops_per_sample'] / 1e12:.3f} TFLOPs per sample per step. Nothing was "
                   "measured: FLOPs are counted from the architecture built on the meta device."), "",
              "## Every device and scale", ""]
    table = [[r["device"], r["scale"], f"{r['samples']:,}", r["gpus"], duration(r["total_seconds"]),
              f"{duration(r['total_seconds_low'])} - {duration(r['total_seconds_high'])}", f"{r['mfu']:.1%}",
              _gib(r["peak_memory_bytes"]), "yes" if r["fits"] else "no", r["max_batch_size"]] for r in rows]
    lines += [md_table(["device", "scale", "samples", "GPUs", "time", "range", "MFU", "memory/GPU", "fits",
                        "largest batch"], table), "", "## Assumptions", ""]
    lines += [f"- Time: {first['assumption']}", f"- FLOPs: {first['flops_assumption']}",
              f"- Memory: {first['memory_assumption']}", f"- Samples: {first['samples_assumption']}; "
              "the 1K/10K/50K scales are models x 3 views x 10/11 train share at the same cost per sample.", ""]
    return "\n".join(lines)
