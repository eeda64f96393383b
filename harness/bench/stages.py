"""``harness bench``: per-stage timings of the hot path and the proxy training step, per batch size,
against the standard torchvision pipeline measured in the same run.

Protocol (for each batch size): the same records feed both pipelines; the first ``warmup`` batches are
dropped; every timed region is bracketed by ``perf_counter`` with the device synchronised; figures are
medians and p90s over ``steps`` batches. Loader throughput = timed samples / timed seconds with the
loader alone; the training step pulls from a fresh harness Loader, so its data wait is what a real
epoch would see.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from harness.config import BenchConfig
from harness.data.layout import safe_image_path
from harness.loader.torchvision_peer import LOADER_STAGES, torchvision_loader
from harness.progress import Progress
from harness.train.device import peak_memory, seeded, synchronize
from harness.train.loop import BATCH_KEYS, waited
from harness.train.model import ProxyVLM

STEP_STAGES = ("data_wait", "h2d", "forward", "backward", "optimizer")


# Measurement ---------------------------------------------------------------------------------------
def quantiles(xs: list[float]) -> tuple[float, float]:
    """(median, p90); p90 by linear interpolation (numpy's default)."""
    return float(statistics.median(xs)), float(np.percentile(xs, 90))


@dataclass
class LoaderRun:
    batch_seconds: list[float]            # per timed batch, as the consumer waited for it
    samples: int
    seconds: float
    stages: dict[str, list[float]] = field(default_factory=dict)   # per timed batch

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


def time_loader(loader: Iterable[dict], warmup: int) -> LoaderRun:
    """Time every ``next()``; the first ``warmup`` batches (worker start, caches, JIT) are dropped."""
    times, sizes = [], []
    for batch, seconds in waited(loader):
        times.append(seconds)
        sizes.append(int(batch["images"].shape[0]))
    timed, timed_sizes = times[warmup:], sizes[warmup:]
    if len(timed) < 2:
        raise ValueError("too few batches to time after the warm-up")
    return LoaderRun(batch_seconds=timed, samples=sum(timed_sizes), seconds=sum(timed))


def per_batch(per_sample: list[float], sizes: list[int]) -> list[float]:
    """Per-sample stage times summed into their batches."""
    out, i = [], 0
    for n in sizes:
        out.append(sum(per_sample[i:i + n]))
        i += n
    return out


def time_torchvision(dataset: Any, records: list, cfg: BenchConfig, bs: int, pin: bool) -> LoaderRun:
    loader = torchvision_loader(dataset, batch_size=bs, image_size=cfg.image_size, workers=cfg.workers,
                                pin_memory=pin, max_length=cfg.seq_len, records=records)
    # DataLoader workers run with one torch thread; in-process (workers=0) we do the same, since its
    # per-image tensor ops measured 25x slower with 2 intra-op threads on a busy 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = time_loader(loader, cfg.warmup)
    finally:
        torch.set_num_threads(threads)
    if cfg.workers == 0:     # stage times were recorded in this process
        ds, coll = loader.dataset, loader.collate_fn
        sizes = [min(bs, len(records) - i) for i in range(0, len(records), bs)]
        for stage in LOADER_STAGES[:3]:
            run.stages[stage] = per_batch(ds.times[stage], sizes)[cfg.warmup:]
        run.stages["collate_pin"] = coll.times[cfg.warmup:]
    return run


def time_harness_loader(dataset: Any, records: list, cfg: BenchConfig, bs: int, pin: bool) -> LoaderRun:
    from harness.loader import Loader

    loader = Loader(dataset, split=records[0].split, batch_size=bs, image_size=cfg.image_size,
                    workers=cfg.workers, shuffle=False, seed=cfg.seed, pin_memory=pin, drop_last=False,
                    max_length=cfg.seq_len, records=records)
    run = time_loader(loader, cfg.warmup)
    run.stages = harness_loader_stages(loader, cfg.warmup)
    return run


# the Loader's per-batch timing keys (summed over the batch's images) -> our stage names; it collates
# into preallocated (pinned) buffers, so its "collate" is the text and index writes and pinning is free
_LOADER_TIMING_KEYS = dict(zip(("read_s", "decode_s", "resize_normalize_s", "collate_s"), LOADER_STAGES))


def harness_loader_stages(loader: Any, warmup: int) -> dict[str, list[float]]:
    """Per-batch stage seconds from ``Loader.timings`` (one dict per batch), warm-up dropped."""
    timed = loader.timings[warmup:]
    return {ours: [t[key] for t in timed] for key, ours in _LOADER_TIMING_KEYS.items()}


@dataclass
class StepRun:
    stages: dict[str, list[float]]        # per timed step, STEP_STAGES
    step_seconds: list[float]             # whole step, data wait included
    first_step_seconds: float             # includes compilation when compiled
    peak_memory_bytes: int
    peak_memory_kind: str

    @property
    def data_wait_share(self) -> float:
        return sum(self.stages["data_wait"]) / sum(self.step_seconds)


def time_training(loader: Iterable[dict], loss_fn: Callable, opt: torch.optim.Optimizer,
                  device: torch.device, warmup: int) -> StepRun:
    """One step = wait for the batch, copy it, forward, backward, optimiser step; each synchronised."""
    marks: list[list[float]] = []
    it = iter(loader)
    while True:
        t = [time.perf_counter()]
        try:
            batch = next(it)
        except StopIteration:
            break
        t.append(time.perf_counter())
        b = {k: batch[k].to(device, non_blocking=True) for k in BATCH_KEYS}
        synchronize(device)
        t.append(time.perf_counter())
        loss = loss_fn(b["images"], b["input_ids"], b["labels"])
        synchronize(device)
        t.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        synchronize(device)
        t.append(time.perf_counter())
        opt.step()
        synchronize(device)
        t.append(time.perf_counter())
        marks.append(t)
    first = marks[0][-1] - marks[0][0]
    timed = marks[max(warmup, 1):]          # the first step is always warm-up (lazy init, compile)
    if len(timed) < 2:
        raise ValueError("too few steps to time after the warm-up")
    stages = {s: [m[i + 1] - m[i] for m in timed] for i, s in enumerate(STEP_STAGES)}
    peak, kind = peak_memory(device)
    return StepRun(stages=stages, step_seconds=[m[-1] - m[0] for m in timed], first_step_seconds=first,
                   peak_memory_bytes=peak, peak_memory_kind=kind)


# The run -------------------------------------------------------------------------------------------
@dataclass
class BatchBench:
    batch_size: int
    harness: LoaderRun
    torchvision: LoaderRun
    eager: StepRun
    compiled: StepRun | None
    bottleneck: str


@dataclass
class BenchResult:
    """What the bench measured: per batch size, the loaders and the step; BENCH and ESTIMATES rows."""

    device: str
    compile_note: str
    batches: list[BatchBench]
    rows: list[dict]                      # BENCH rows
    estimates: list[dict]                 # ESTIMATES rows
    target: list[dict] = field(default_factory=list)   # TARGET rows (--target-depth), else empty
    target_notes: list[str] = field(default_factory=list)   # how the depths were chosen (auto), in words


def usable_records(dataset: Any) -> list:
    """Train records the loaders can take: an image that is there and a text conversation."""
    out = []
    for r in dataset.records.get("train", []):
        if not r.image or not r.turns or not r.answer:
            continue
        try:
            if safe_image_path(dataset.images, r.image).is_file():
                out.append(r)
        except ValueError:
            continue
    return out


def bottleneck(stages: dict[str, float], workers: int) -> str:
    """The stage with the largest median per batch; loader stages run spread over ``workers``
    processes alongside the step, so their share is divided by the worker count."""
    scaled = {s: v / max(1, workers) if s in LOADER_STAGES else v for s, v in stages.items()}
    return max(scaled, key=scaled.get)


def measure_batch_size(dataset: Any, records: list, cfg: BenchConfig, bs: int, device: torch.device,
                       compiled: bool, progress: Progress) -> BatchBench:
    from harness.loader import Loader

    need = (cfg.warmup + cfg.steps) * bs
    recs = records[:need]
    pin = device.type == "cuda"
    progress(f"batch {bs}: loaders (harness, torchvision) over {len(recs)} samples")
    harness_run = time_harness_loader(dataset, recs, cfg, bs, pin)
    tv_run = time_torchvision(dataset, recs, cfg, bs, pin)

    def step_run(compile_it: bool) -> StepRun:
        with seeded(cfg.seed, device):
            model = ProxyVLM().to(device)
            loss_fn = torch.compile(model.loss) if compile_it else model.loss
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            loader = Loader(dataset, split=recs[0].split, batch_size=bs, image_size=cfg.image_size,
                            workers=cfg.workers, shuffle=False, seed=cfg.seed, pin_memory=pin,
                            drop_last=False, max_length=cfg.seq_len, records=recs)
            return time_training(loader, loss_fn, torch.optim.AdamW(model.parameters(), lr=cfg.lr), device,
                                 cfg.warmup)

    progress(f"batch {bs}: training step (eager)")
    eager = step_run(False)
    comp = None
    if compiled:
        progress(f"batch {bs}: training step (torch.compile)")
        comp = step_run(True)
    medians = {s: statistics.median(v) for s, v in {**harness_run.stages, **eager.stages}.items()
               if s != "data_wait"}
    return BatchBench(batch_size=bs, harness=harness_run, torchvision=tv_run, eager=eager, compiled=comp,
                      bottleneck=bottleneck(medians, cfg.workers))


def bench_rows(b: BatchBench, device: str) -> list[dict]:
    """BENCH rows for one batch size; ratio_vs_baseline = harness samples/s / torchvision samples/s for
    the loader, torchvision seconds / harness seconds for a stage (above 1: the harness is faster)."""
    rows = []
    bs = b.batch_size

    def row(stage, xs, pipeline, compiled=False, sps=None, ratio=None, peak=None, share=None):
        med, p90 = quantiles(xs)
        rows.append({"batch_size": bs, "stage": stage, "median_seconds": med, "p90_seconds": p90,
                     "samples_per_s": sps if sps is not None else bs / med if med > 0 else None,
                     "pipeline": pipeline, "device": device, "compiled": compiled,
                     "ratio_vs_baseline": ratio, "peak_memory_bytes": peak, "data_wait_share": share})

    tv_med = {s: statistics.median(v) for s, v in b.torchvision.stages.items()}
    for stage, xs in b.harness.stages.items():
        ratio = tv_med[stage] / statistics.median(xs) if stage in tv_med and statistics.median(xs) > 0 else None
        row(stage, xs, "harness", ratio=ratio)
    for stage, xs in b.torchvision.stages.items():
        row(stage, xs, "torchvision")
    row("loader", b.harness.batch_seconds, "harness", sps=b.harness.samples_per_s,
        ratio=b.harness.samples_per_s / b.torchvision.samples_per_s)
    row("loader", b.torchvision.batch_seconds, "torchvision", sps=b.torchvision.samples_per_s)
    for run, compiled in ((b.eager, False), (b.compiled, True)):
        if run is None:
            continue
        for stage, xs in run.stages.items():
            row(stage, xs, "harness", compiled=compiled)
        row("train_step", run.step_seconds, "harness", compiled=compiled, peak=run.peak_memory_bytes,
            share=run.data_wait_share,
            ratio=None if not compiled else statistics.median(b.eager.step_seconds) / statistics.median(
                run.step_seconds))
        if compiled:
            rows.append({"batch_size": bs, "stage": "compile", "median_seconds": max(
                0.0, run.first_step_seconds - statistics.median(run.step_seconds)), "p90_seconds": None,
                "samples_per_s": None, "pipeline": "harness", "device": device, "compiled": True,
                "ratio_vs_baseline": None, "peak_memory_bytes": None, "data_wait_share": None})
    return rows


def fastest_step(b: BatchBench) -> tuple[float, bool]:
    """(mean step seconds, compiled?) of the faster of eager and compiled. The mean, not the median: an
    epoch lasts the sum of its steps, slow ones (loader stalls, allocator, scheduler) included."""
    eager = statistics.fmean(b.eager.step_seconds)
    if b.compiled is not None and statistics.fmean(b.compiled.step_seconds) < eager:
        return statistics.fmean(b.compiled.step_seconds), True
    return eager, False


def estimate_rows(cfg: BenchConfig, dataset: Any, records: list, results: list[BatchBench],
                  device: str) -> list[dict]:
    from harness.estimate import flops
    from harness.estimate.proxy import proxy_estimates, scales

    n_train = len(dataset.records.get("train", []))
    if cfg.target not in flops.PRESETS:      # measured-only targets have no FLOPs model: proxy rows alone
        return [r for b in results for r in proxy_estimates(
            step_seconds=fastest_step(b)[0], batch_size=b.batch_size, epochs=cfg.full_epochs,
            dataset_conversations=n_train, device=device, statistic="mean")]
    model = flops.PRESETS[cfg.target]()
    scale = 1.0 if cfg.target_params is None else cfg.target_params / model.params()
    note = "" if cfg.target_params is None else (
        f" scaled to {cfg.target_params / 1e9:.2f}B params (FLOPs x {scale:.3f})")
    texts = [(len(r.prompt), len(r.answer)) for r in records]
    per_sample, tokens = flops.mean_step_flops(model, texts, scale=scale)
    rows = []
    for b in results:
        step_s, _ = fastest_step(b)
        rows += proxy_estimates(step_seconds=step_s, batch_size=b.batch_size, epochs=cfg.full_epochs,
                                dataset_conversations=n_train, device=device, statistic="mean")
        rows += flops.target_rows(model=model, flops_per_sample=per_sample, tokens_per_sample=tokens,
                                  conversations=scales(n_train), batch_size=b.batch_size,
                                  epochs=cfg.full_epochs, mfu=cfg.mfu,
                                  loader_samples_per_s=b.harness.samples_per_s, params_note=note)
    return rows
