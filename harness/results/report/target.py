"""The target sections of the bench's report.md: the answer first (the largest batch that fits here and
how long full training takes; the range on the listed GPUs), then what to launch, then the measurements
with the memory model beside them. Views of the TARGET and ESTIMATES rows and the launch plan."""
from __future__ import annotations

import math

from harness.config import BenchConfig
from harness.results.format import duration
from harness.target.launch import Launch, full_depth_rows, largest_fitting

GIB = 2**30


def _gib(x) -> str:
    return "-" if x is None else f"{x / GIB:.2f} GiB"


def _samples(res) -> int | None:
    rows = [r for r in res.estimates if r["basis"] == "proxy" and r["scale"] == "dataset"]
    return rows[0]["conversations"] if rows else None


def answer(res, cfg: BenchConfig, launch: Launch | None) -> list[str]:
    """The lead: on this device, batch B fits and full training takes T; on the listed GPUs, the range."""
    rows = res.target
    first = rows[0]
    best = largest_fitting(rows)
    full = full_depth_rows(rows)
    failed = sorted(r["batch_size"] for r in full if r["fits"] is False)
    n = _samples(res)
    lines = ["## The answer", ""]
    here = f"this {first['device']} ({first['dtype']}, recipe {first['recipe']})"
    if best is None:
        lines.append(f"- **On {here}: no batch size tried fits** ({', '.join(map(str, failed)) or '-'} did not fit"
                     f"{_limit_note(cfg)}). Try a smaller batch, LoRA (`--tune-llm lora`) or a larger device.")
    else:
        b, step = best["batch_size"], best["step_seconds"]
        fit = ("fits" if best["fits"] else "ran (its full-depth fit is unchecked: extrapolated on a CPU with no "
               "--memory-limit)")
        total = (f"full training ({n:,} conversations x {cfg.full_epochs} epochs) takes "
                 f"**{duration(math.ceil(n / b) * step * cfg.full_epochs)}** = ceil({n:,} / {b}) x "
                 f"{step:.2f} s x {cfg.full_epochs}") if n else "no dataset size to scale to"
        lines.append(f"- **On {here}: batch {b} {fit}**, {step:.2f} s per step ({best['kind']}), peak "
                     f"{_gib(best['peak_memory_bytes'])}; {total}.")
        lines.append(f"- Largest batch that fits: **{b}** of those tried ({', '.join(map(str, cfg.batch_sizes))})"
                     + (f"; does not fit: {', '.join(map(str, failed))}{_limit_note(cfg)}" if failed else "") + ".")
    gpu = [r for r in res.estimates if r["basis"] == "target" and r["scale"] == "dataset"]
    if gpu:
        lines += [f"- **On the listed GPUs** (one GPU each, bf16, {gpu[0]['samples']:,} samples x "
                  f"{gpu[0]['epochs']} epochs; `harness estimate`'s counted FLOPs and memory model):", "",
                  "| GPU | memory | largest batch that fits | its peak | full training (central) | range |",
                  "|---|---|---|---|---|---|"]
        for r in gpu:
            fits = r["max_batch_size"] if r["max_batch_size"] > 0 else "none"
            lines.append(f"| {r['device']} | {r['memory_capacity_bytes'] / GIB:.1f} GiB | {fits} | "
                         f"{_gib(r['peak_memory_bytes'])} | {duration(r['total_seconds'])} | "
                         f"{duration(r['total_seconds_low'])} - {duration(r['total_seconds_high'])} |")
        lines += ["", f"Time: {gpu[0]['assumption']}.", "", f"Tokens: {gpu[0]['flops_assumption']}.", "",
                  f"Memory: {gpu[0]['memory_assumption']}."]
    return lines + [""]


def _limit_note(cfg: BenchConfig) -> str:
    return f" within --memory-limit {cfg.memory_limit:g} GiB" if cfg.memory_limit else ""


def launch_section(launch: Launch | None, cfg: BenchConfig) -> list[str]:
    """The TinyLLaVA_Factory flags that follow from the measurements, as a command."""
    if launch is None:
        return []
    dataset = str(cfg.dataset) if cfg.dataset else "DATASET"
    return ["## What to launch", "",
            f"TinyLLaVA_Factory's fine-tune with the flags these measurements give ({launch.where}); add your "
            "model's flags (`--model_name_or_path` or `--pretrained_model_path`, `--conv_version`, "
            "`--output_dir`, learning rate) as its `scripts/train/` do:", "",
            "```bash", launch.command(dataset, cfg.full_epochs), "```", "",
            f"- `per_device_train_batch_size {launch.per_device_batch}`: the largest batch that fits, at most "
            "the global batch.",
            f"- `gradient_accumulation_steps {launch.accumulation}` = ceil({launch.global_batch} / "
            f"({launch.per_device_batch} x {launch.gpus} GPU)): the global batch of {launch.global_batch} "
            "TinyLLaVA's fine-tunes use (4 GPUs x 8 x 4 in `scripts/train/lora/finetune_lora.sh`); with N GPUs, "
            f"ceil({launch.global_batch} / ({launch.per_device_batch} x N)).",
            f"- `model_max_length {launch.model_max_length}`: holds {launch.covered:.1%} of the samples whole "
            f"(asked: {launch.length_share:.0%}; image tokens included; rounded up to a multiple of 64); longer "
            "samples are truncated, their answers' ends unlearned.",
            f"- `--{launch.precision} True`: bf16 on GPUs that have it (Ampere and later), fp16 on older ones.",
            "- `gradient_checkpointing True`: as measured; without it every LM block's activations stay "
            "alive and the batch that fits shrinks.", ""]


def target_tables(res, cfg: BenchConfig) -> list[str]:
    """Every measurement with the memory model's prediction beside it, then full training per batch."""
    if not res.target:
        return []
    first = res.target[0]
    lines = ["", f"## Target model {cfg.target}, measured with random weights", "",
             *[f"{note}." for note in res.target_notes], *([""] if res.target_notes else []),
             (f"{first['device']}, {first['dtype']}, recipe {first['recipe']}, gradient checkpointing on the LM, "
              f"AdamW; {first['tokens_per_sample']} LM positions per sample (the mean over the records, image "
              "tokens included, capped at the max length). Memory: "
              f"{first['memory_source']}. Predicted: `harness.estimate.memory` at the same depth, batch, "
              "positions and dtype."), "",
             ("| kind | batch | LM blocks | vision blocks | s/step (median / p90) | peak memory | predicted peak "
              "| predicted / measured | fits |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in res.target:
        step = "-" if r["step_seconds"] is None else f"{r['step_seconds']:.3f} / {r['step_seconds_p90']:.3f}"
        pred, meas = r.get("predicted_peak_memory_bytes"), r["peak_memory_bytes"]
        ratio = f"{pred / meas:.2f}x" if pred and meas and r["fits"] is not False else "-"
        fits = {True: "yes", False: "**does not fit**", None: "unknown"}[r["fits"]]
        lines.append(f"| {r['kind']} | {r['batch_size']} | {r['llm_layers']} | {r['vision_layers']} | {step} "
                     f"| {_gib(meas)} | {_gib(pred)} | {ratio} | {fits} |")
    notes = sorted({r["memory_source"] for r in res.target if r["memory_source"] != first["memory_source"]})
    lines += [line for n in notes for line in ("", f"Rows marked so: {n}.")]
    if any(r["kind"] == "extrapolated" for r in res.target):
        lines += ["", ("Extrapolated = fixed + per LM block x LM blocks + per vision block x vision blocks, "
                  "least squares over the measured cut copies (each tower's depth varied with the other "
                  "held), evaluated at full depth; the same fit for peak memory; never below a measured copy's "
                  "figure. Each block is timed only by the difference of two copies: with few --steps on a busy "
                  "machine the slopes are noisy (compare the batch sizes); more steps, or a third depth "
                  "(--target-depth 1,2,3), steady them.")]
    lines += ["", ("Out of memory is a row, never a crash: CUDA's OutOfMemoryError, MPS's \"out of memory\", "
              "MemoryError; with --memory-limit a batch predicted above it is not run (on a CPU the alternative "
              "is swap or the kernel's OOM killer), one measured above it stops after that step, and on "
              "CUDA the allocator is capped at it.")]
    lines += _full_training(res, cfg)
    return lines


def _full_training(res, cfg) -> list[str]:
    proxy = [r for r in res.estimates if r["basis"] == "proxy"]
    lines = ["", f"### Full training of the target from its measured step ({cfg.full_epochs} epochs)", "",
             "| batch | scale | conversations | s/step | total | formula |", "|---|---|---|---|---|---|"]
    for r in full_depth_rows(res.target):
        if r["step_seconds"] is None:
            continue
        bs, step = r["batch_size"], r["step_seconds"]
        for p in (p for p in proxy if p["batch_size"] == bs):
            steps = -(-p["conversations"] // bs)
            total = steps * step * cfg.full_epochs
            lines.append(f"| {bs} | {p['scale']} | {p['conversations']:,} | {step:.3f} | {duration(total)} | "
                         f"ceil({p['conversations']:,} / {bs}) x {step:.3f} s x {cfg.full_epochs} |")
    lines += ["", ("Conversations per scale as in the proxy estimates (3 views per model). One device, this "
              "run's dtype; the step excludes data loading (the loader tables above say whether it keeps up)."),
              "", "![target step time and peak memory per batch size](target.png)"]
    return lines
