"""Full-training time and memory per GPU for devices you do not have: ESTIMATES rows of basis "target".

  time = samples x epochs x mean step FLOPs per sample / (gpus x MFU x dense 16-bit peak)
data parallel over ``gpus`` (each GPU a whole replica, a global step of batch x gpus samples). The MFU is
an assumed range (``flops.DEFAULT_MFU``, its midpoint the central figure), or, when a ``target.arrow``
measured on a GPU is given, the MFU that measurement achieved (central), 0.8x-1.25x around it.
Memory per GPU: ``harness.estimate.memory`` at the longest sample, checked against each device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import UsageError
from harness.estimate.architecture import Architecture
from harness.estimate.counting import RULE as FLOPS_RULE
from harness.estimate.counting import count
from harness.estimate.devices import Device, known, match_description
from harness.estimate.flops import CHARS_PER_TOKEN, DEFAULT_MFU
from harness.estimate.memory import RULE as MEMORY_RULE
from harness.estimate.memory import USABLE, memory
from harness.estimate.proxy import scales

MEASURED_SPREAD = (0.8, 1.25)


@dataclass(frozen=True)
class Mfu:
    low: float
    central: float
    high: float
    source: str
    memory_check: str = ""          # the memory model against the measured peak, when one was measured


@dataclass(frozen=True)
class Workload:
    """What is trained: samples per epoch, epochs, each sample's LM positions (image tokens included)."""

    samples: int
    epochs: int
    tokens: tuple[float, ...]       # one per sample, or one standing for all
    source: str                     # how the tokens were found
    samples_source: str = "--samples"

    @property
    def mean_tokens(self) -> float:
        return sum(self.tokens) / len(self.tokens)


def assumed_mfu(mfu: tuple[float, float] = DEFAULT_MFU) -> Mfu:
    lo, hi = mfu
    return Mfu(low=lo, central=(lo + hi) / 2, high=hi,
               source=f"assumed MFU {lo:.0%}-{hi:.0%}, central {(lo + hi) / 2:.0%} (the midpoint)")


def text_tokens(records, tokenizer: Path | None) -> tuple[list[int], str]:
    """Text tokens of each record's prompt and answer (chat template not included), counted with
    ``tokenizer`` or at ``CHARS_PER_TOKEN``; and how, in words. Image tokens are the caller's to add."""
    texts = [f"{r.prompt}\n{r.answer}" for r in records]
    if tokenizer is not None:
        from harness.text.tokenizers import load_tokenizer

        counts = [len(a) for a in load_tokenizer(tokenizer).encode_for_counting(texts, at_start=True)]
        return counts, f"text tokens counted with {tokenizer}, chat template not included"
    return ([math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts],
            f"text at {CHARS_PER_TOKEN} chars per token (no --tokenizer), chat template not included")


def step_mfu(arch: Architecture, row: dict, table_name: str, where: str) -> Mfu:
    """The MFU a full-depth TARGET ``row`` measured on the table's GPU ``table_name`` achieved: step FLOPs
    (this count, at the row's tokens per sample) x batch / step seconds / the GPU's peak; the range is
    ``MEASURED_SPREAD`` around it. ``where`` says where it was measured, for the assumption text."""
    m = count(arch).step(row["tokens_per_sample"]) * row["batch_size"] / row["step_seconds"] / (
        known()[table_name][0] * 1e12)
    lo, hi = MEASURED_SPREAD
    return Mfu(low=m * lo, central=m, high=min(1.0, m * hi),
               source=f"MFU {m:.1%} measured {where} ({row['kind']}, batch {row['batch_size']}, "
                      f"{row['dtype']}); range {lo}x-{hi}x of it")


def measured_mfu(path: Path, arch: Architecture) -> Mfu:
    """The MFU a target.arrow measured on a GPU achieved: step FLOPs (this count, at its tokens per sample)
    x batch / step seconds / the peak of the GPU named in its run metadata; the best batch size."""
    import pyarrow.ipc as ipc

    from harness.results.schema import read_metadata

    try:
        with ipc.open_file(path) as f:
            table = f.read_all()
    except (OSError, ValueError) as e:
        raise UsageError(f"--measured {path}: cannot read a target.arrow ({e})") from None
    gpu = str((read_metadata(table.schema).get("device") or {}).get("cuda") or "")
    name = match_description(gpu) if gpu else None
    rows = [r for r in table.to_pylist() if r.get("device") == "cuda" and r.get("fits") and r.get("step_seconds")
            and r.get("llm_layers") == arch.llm_layers and r.get("vision_layers") == arch.vision_layers]
    if name is None or not rows:
        raise UsageError(f"--measured {path}: needs full-depth rows measured on a GPU of the device table "
                         f"(found GPU {gpu or 'none'!r}, {len(rows)} usable rows)")
    step = count(arch).step
    best = max(rows, key=lambda r: step(r["tokens_per_sample"]) * r["batch_size"] / r["step_seconds"])
    check = ""
    if best.get("peak_memory_bytes") and best.get("dtype") in ("bf16", "fp16", "fp32"):
        model = memory(arch, best["tokens_per_sample"], best["dtype"]).peak(best["batch_size"])
        check = (f"; against the GPU measurement: modelled {model / 2**30:.2f} GiB, measured "
                 f"{best['peak_memory_bytes'] / 2**30:.2f} GiB at batch {best['batch_size']} "
                 f"({model / best['peak_memory_bytes']:.2f}x)")
    return replace(step_mfu(arch, best, name, f"on {gpu} in {path}"), memory_check=check)


def estimate_rows(*, arch: Architecture, work: Workload, devices: list[Device], gpus: int, batch_size: int,
                  dtype: str, mfu: Mfu, max_length: int) -> list[dict]:
    """One row per device and scale: the given samples ("dataset"), then 1K/10K/50K models at the same
    cost per sample (``proxy.scales``: models x 3 views x 10/11)."""
    flops = count(arch)
    per_sample = sum(flops.step(t) for t in work.tokens) / len(work.tokens)
    longest = max(work.tokens)
    mem = memory(arch, longest, dtype)
    sized = scales(work.samples)
    flops_note = (f"{per_sample / 1e12:.3f} TFLOPs per sample at {work.mean_tokens:.0f} LM positions "
                  f"({arch.image_tokens} image tokens; {work.source}; context cap {max_length}); {FLOPS_RULE}")
    rows = []
    for dev in devices:
        peak = dev.peak_tflops * 1e12
        largest = mem.largest_batch(dev.memory_bytes)
        peak_bytes = mem.peak(batch_size)
        mem_note = (f"{peak_bytes / 2**30:.2f} GiB at batch {batch_size} and {longest:.0f} positions = "
                    f"{mem.fixed / 2**30:.2f} GiB fixed (weights {mem.weights / 2**30:.2f}, gradients "
                    f"{mem.gradients / 2**30:.2f}, AdamW {mem.optimizer / 2**30:.2f}) + {batch_size} x "
                    f"{mem.per_sample / 2**30:.3f} GiB activations, {dtype}; {dev.table_name} has "
                    f"{dev.memory_bytes / 2**30:.1f} GiB, largest batch that fits {largest}; {MEMORY_RULE}"
                    f"{mfu.memory_check}")
        for scale, models, samples in sized:
            def seconds(m: float, samples: int = samples, peak: float = peak) -> float:
                return samples * work.epochs * per_sample / (gpus * m * peak)
            steps = math.ceil(samples / (batch_size * gpus))
            rows.append({
                "basis": "target", "models": models, "conversations": samples, "samples": samples,
                "batch_size": batch_size, "epochs": work.epochs, "steps_per_epoch": steps, "gpus": gpus,
                "step_seconds": batch_size * gpus * per_sample / (gpus * mfu.central * peak),
                "total_seconds": seconds(mfu.central), "total_seconds_low": seconds(mfu.high),
                "total_seconds_high": seconds(mfu.low), "scale": scale, "device": dev.name,
                "mfu": mfu.central, "mfu_low": mfu.low, "mfu_high": mfu.high,
                "flops_per_sample": per_sample, "tokens_per_sample": work.mean_tokens,
                "peak_memory_bytes": peak_bytes, "memory_capacity_bytes": dev.memory_bytes,
                "fits": peak_bytes <= USABLE * dev.memory_bytes, "max_batch_size": largest,
                "assumption": (f"time = {samples:,} samples x {work.epochs} epochs x {per_sample / 1e12:.3f} "
                               f"TFLOPs / ({gpus} GPUs x MFU x {dev.peak_tflops:g} TFLOP/s dense 16-bit peak of "
                               f"{dev.table_name}); data parallel, each GPU a whole replica; {mfu.source}"),
                "flops_assumption": flops_note, "memory_assumption": mem_note,
                "samples_assumption": (work.samples_source if scale == "dataset" else
                                       f"{models:,} models x 3 views x 10/11 train share"),
            })
    return rows
