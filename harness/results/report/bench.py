"""The bench's report.md and its two plots, views of the BENCH and ESTIMATES rows."""
from __future__ import annotations

from harness.bench.stages import BenchResult
from harness.config import BenchConfig
from harness.estimate.flops import DEVICE_PEAK_TFLOPS
from harness.results.format import duration
from harness.results.plots import figure_module, png
from harness.results.report.target import answer, launch_section, target_tables
from harness.target.launch import Launch

STAGE_ORDER = ("read_bytes", "decode", "resize_normalize", "collate_pin", "data_wait", "h2d", "forward",
               "backward", "optimizer")


def _fmt_s(x) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.2f} ms" if x < 1 else f"{x:.2f} s"


def _rows(res, **match):
    return [r for r in res.rows if all(r[k] == v for k, v in match.items())]


def report(res: BenchResult, cfg: BenchConfig, launch: Launch | None = None) -> str:
    lines = [f"# harness bench ({res.device})", "",
             (f"Dataset: {cfg.dataset or 'default synthetic DeepCAD 1K'}; batch sizes "
             f"{', '.join(map(str, cfg.batch_sizes))}; {cfg.steps} timed batches after {cfg.warmup} warm-up; "
             f"workers {cfg.workers}; image {cfg.image_size} px; proxy tokens {cfg.seq_len}."), ""]
    if res.target:                  # the answer first: what fits, how long, what to launch
        lines += answer(res, cfg, launch) + launch_section(launch, cfg) + ["## The hot path, measured", ""]
    lines += [("Method: `perf_counter` around each stage with the device synchronised; median and p90 over the "
             "timed batches; loader throughput = timed samples / timed seconds with the loader alone. "
             f"Compilation: {res.compile_note}."), "",
             "## Throughput", "",
             ("| batch | harness loader samples/s | torchvision loader samples/s | ratio | train step samples/s "
             "| compiled step samples/s | data-wait share | peak memory | bottleneck |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for b in res.batches:
        h = _rows(res, batch_size=b.batch_size, stage="loader", pipeline="harness")[0]
        tv = _rows(res, batch_size=b.batch_size, stage="loader", pipeline="torchvision")[0]
        st = _rows(res, batch_size=b.batch_size, stage="train_step", compiled=False)[0]
        cs = _rows(res, batch_size=b.batch_size, stage="train_step", compiled=True)
        lines.append(f"| {b.batch_size} | {h['samples_per_s']:.1f} | {tv['samples_per_s']:.1f} | "
                     f"{h['ratio_vs_baseline']:.2f}x | {st['samples_per_s']:.1f} | "
                     f"{cs[0]['samples_per_s']:.1f} |" if cs else
                     f"| {b.batch_size} | {h['samples_per_s']:.1f} | {tv['samples_per_s']:.1f} | "
                     f"{h['ratio_vs_baseline']:.2f}x | {st['samples_per_s']:.1f} | - |")
        lines[-1] += (f" {st['data_wait_share']:.0%} | {st['peak_memory_bytes'] / 2**20:.0f} MiB "
                      f"({b.eager.peak_memory_kind}) | {b.bottleneck} |")
    lines += ["", ("Ratio = harness loader samples/s / torchvision loader samples/s (same records, batch size "
              "and workers, same run). Bottleneck = the stage with the largest median per batch (loader "
              "stages divided by the worker count, as they overlap the step). Train-step samples/s = batch "
              "/ median whole step, data wait included."), ""]
    lines += _stage_tables(res)
    lines += _estimate_tables(res, cfg)
    lines += target_tables(res, cfg)
    lines += ["", "## Plots", "", "![throughput](throughput.png)", "", "![stages](stages.png)", ""]
    return "\n".join(lines)


def _stage_tables(res) -> list[str]:
    lines = ["## Stages per batch (median / p90)", ""]
    for b in res.batches:
        lines += [f"### batch {b.batch_size}", "", "| stage | harness | torchvision | torchvision / harness |",
                  "|---|---|---|---|"]
        for stage in STAGE_ORDER:
            h = _rows(res, batch_size=b.batch_size, stage=stage, pipeline="harness", compiled=False)
            tv = _rows(res, batch_size=b.batch_size, stage=stage, pipeline="torchvision")
            if not h and not tv:
                continue
            hs = f"{_fmt_s(h[0]['median_seconds'])} / {_fmt_s(h[0]['p90_seconds'])}" if h else "-"
            ts = f"{_fmt_s(tv[0]['median_seconds'])} / {_fmt_s(tv[0]['p90_seconds'])}" if tv else "-"
            ratio = f"{h[0]['ratio_vs_baseline']:.2f}x" if h and h[0]["ratio_vs_baseline"] else "-"
            lines.append(f"| {stage} | {hs} | {ts} | {ratio} |")
        comp = _rows(res, batch_size=b.batch_size, stage="compile")
        if comp:
            lines.append(f"\nCompile time (first compiled step minus the compiled median): "
                         f"{_fmt_s(comp[0]['median_seconds'])}.")
        lines.append("")
    lines.append("Per-image stages (read, decode, resize) are summed over the batch; with workers > 0 they "
                 "are CPU time in the workers, not wall time of the step. Torchvision's collate_pin is "
                 "default_collate only (its pinning runs in a separate thread).")
    return lines


def _estimate_tables(res, cfg) -> list[str]:
    proxy = [r for r in res.estimates if r["basis"] == "proxy"]
    # with the target measured, its GPU range leads the report (``report.target.answer``)
    target = [] if res.target else [r for r in res.estimates if r["basis"] == "target"]
    lines = ["", f"## Full-training estimates ({cfg.full_epochs} epochs)", "", "### Proxy model (measured)", "",
             "| batch | scale | conversations | steps/epoch | s/step | total |", "|---|---|---|---|---|---|"]
    for r in proxy:
        lines.append(f"| {r['batch_size']} | {r['scale']} | {r['conversations']:,} | {r['steps_per_epoch']:,} | "
                     f"{r['step_seconds']:.4f} | {duration(r['total_seconds'])} |")
    if proxy:
        lines += ["", f"Formula: {proxy[-1]['assumption']}."]
    if res.target:
        return lines
    bs = cfg.batch_sizes[0]
    lines += ["", f"### Target model {cfg.target} (FLOPs / (MFU x peak)), scale 1K, batch {bs}", "",
              "| device | peak TFLOP/s | MFU | total | samples/s needed | loader samples/s | loader keeps up |",
              "|---|---|---|---|---|---|---|"]
    for r in target:
        if r["scale"] == "1K" and r["batch_size"] == bs:
            lines.append(f"| {r['device']} | {DEVICE_PEAK_TFLOPS.get(r['device'], float('nan')):g} | "
                         f"{r['mfu']:.0%} | {duration(r['total_seconds'])} | "
                         f"{r['needed_samples_per_s']:.1f} | {r['loader_samples_per_s']:.1f} | "
                         f"{'yes' if r['loader_keeps_up'] else 'no'} |")
    if target:
        common = target[0]["assumption"].split("; time =")[0]
        lines += ["", (f"Assumption: {common}; time = FLOPs / (MFU x the device's dense 16-bit peak); samples/s "
                  "needed = MFU x peak / FLOPs per sample."),
                  ("Every scale and batch size is in estimates.arrow; target time does not depend on the batch "
                  "size in this FLOPs model. The loader figure is this machine's harness loader at that batch "
                  "size with the given workers.")]
    return lines


def throughput_png(res: BenchResult) -> bytes:
    plt = figure_module()
    bss = [b.batch_size for b in res.batches]
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, stage, match in (("harness loader", "loader", {"pipeline": "harness"}),
                                ("torchvision loader", "loader", {"pipeline": "torchvision"}),
                                ("train step (eager)", "train_step", {"compiled": False}),
                                ("train step (compiled)", "train_step", {"compiled": True})):
        ys = [_rows(res, batch_size=bs, stage=stage, **match) for bs in bss]
        if all(ys):
            ax.plot(bss, [y[0]["samples_per_s"] for y in ys], marker="o", label=label)
    ax.set_xlabel("batch size")
    ax.set_ylabel("samples/s")
    ax.set_xticks(bss)
    ax.set_title(f"Throughput vs batch size ({res.device})")
    ax.legend()
    return png(fig)


def stages_png(res: BenchResult) -> bytes:
    plt = figure_module()
    bss = [b.batch_size for b in res.batches]
    fig, ax = plt.subplots(figsize=(6, 4))
    bottom = [0.0] * len(bss)
    for stage in STAGE_ORDER:
        if stage == "data_wait":     # with in-process loading it is the loader stages again: not stacked twice
            continue
        ys = [_rows(res, batch_size=bs, stage=stage, pipeline="harness", compiled=False) for bs in bss]
        if not any(ys):
            continue
        vals = [y[0]["median_seconds"] * 1e3 if y else 0.0 for y in ys]
        ax.bar([str(b) for b in bss], vals, bottom=bottom, label=stage)
        bottom = [a + v for a, v in zip(bottom, vals)]
    ax.set_xlabel("batch size")
    ax.set_ylabel("median ms per batch")
    ax.set_title("Stage breakdown (harness loader stages + eager step)")
    ax.legend(fontsize=7)
    return png(fig)
