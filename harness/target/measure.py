"""The target model's training step measured on this device, with random weights, and extrapolated to
full depth.

Protocol: for each tower a per-block fit. With cut depths D (e.g. 1, 2) the model is built at
(LM d, vision D[0]) for every d in D and at (LM D[0], vision d) for the rest, so each tower's depth varies
with the other held; per batch size, ``warmup`` steps are dropped and ``steps`` steps timed (forward,
backward, optimiser step, zero-grad; the device synchronised), median and p90. Then by least squares
    step seconds = fixed + per_block_llm x llm_layers + per_block_vision x vision_layers
(the same fit for peak memory), evaluated at the full depths: the "extrapolated" rows. Peak memory: CUDA
``max_memory_allocated`` (its peak counter reset after the build, weights included); on CPU the
process's RSS sampled every 5 ms, above its RSS before the model was built. On CPU one untimed step of the
first cut copy (a one-block copy before the whole model) runs first, so the process's one-time costs are
not charged to it. Out of memory is a row with ``fits`` False, never a crash (``MemoryLimit``:
``--memory-limit`` and how each device enforces it). Every step feeds the same synthetic batch of
``tokens_per_sample`` positions (image tokens included): the data path is what the rest of the bench
measures.
"""
from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from harness.bench.stages import quantiles
from harness.target.model import build, synthetic_batch
from harness.target.presets import TargetSpec
from harness.train.device import synchronize

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SAMPLE_SECONDS = 0.005


def default_dtype(device: torch.device) -> str:
    """fp32 on CPU and MPS, bf16 on CUDA (fp16 where the GPU lacks bf16)."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def fit_blocks(points: Sequence[tuple[int, int, float]]) -> tuple[float, float, float]:
    """(fixed, per LM block, per vision block) from (llm_layers, vision_layers, value) points by least
    squares; exact when three points with each tower's depth varied are given."""
    a = np.array([[1.0, p[0], p[1]] for p in points])
    y = np.array([p[2] for p in points], dtype=float)
    if np.linalg.matrix_rank(a) < 3:
        raise ValueError("the fit needs each tower's depth varied with the other held")
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(coef[0]), float(coef[1]), float(coef[2])


def depth_plan(spec: TargetSpec, depths: Sequence[int] | None) -> list[tuple[int, int]]:
    """(llm_layers, vision_layers) to build: the full model for None, else each tower varied in turn."""
    if not depths:
        return [(spec.llm_layers, spec.vision_layers)]
    d0 = depths[0]
    plan = [(d, d0) for d in depths] + [(d0, d) for d in depths]
    return list(dict.fromkeys(plan))


class _RSSPeak:
    """Peak resident set size while running, sampled on a thread (psutil, else /proc, else ru_maxrss)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except ImportError:
            import resource

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return int(rss if sys.platform == "darwin" else rss * 1024)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> _RSSPeak:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def _free(device: torch.device) -> None:
    """Drop freed tensors, and hand freed heap back to the OS (glibc keeps it otherwise, and the next
    model's RSS baseline would include the last model's memory)."""
    gc.collect()
    if device.type == "cpu" and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def memory_source(device: torch.device) -> str:
    if device.type == "cuda":
        return "cuda max_memory_allocated (weights included)"
    if device.type == "mps":
        return "mps driver_allocated_memory after the steps"
    return f"cpu peak RSS above the RSS before the build (sampled every {SAMPLE_SECONDS * 1e3:.0f} ms)"


def _time_steps(built, batch: dict, device: torch.device, warmup: int, steps: int,
                after_step: Callable[[], None] | None = None) -> list[float]:
    model, opt = built.model, built.optimizer
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        t = time.perf_counter()
        loss = model(**batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
        if after_step:
            after_step()
    return times


class MemoryLimit:
    """``--memory-limit``: the memory the target may use, enforced per batch size.

    Everywhere, a batch whose predicted peak (``predict(spec, batch)``, ``harness.estimate.memory``) is
    above the limit is not run: on a CPU the alternative is swapping, or the kernel killing the process,
    which no ``except`` catches. On CUDA the allocator is also capped at the limit
    (``set_per_process_memory_fraction``), so CUDA's own ``OutOfMemoryError`` says it did not fit; on CPU
    a step whose measured peak crosses the limit raises ``MemoryError`` after that step. MPS keeps its
    driver's cap (its watermark ratio is an environment setting this process could not restore): its
    "out of memory" ``RuntimeError`` is the row."""

    def __init__(self, limit_bytes: int | None, predict: Callable[[TargetSpec, int], int] | None,
                 device: torch.device) -> None:
        self.limit, self.predict, self.device = limit_bytes, predict, device
        self._capped = False

    def __enter__(self) -> MemoryLimit:
        if self.limit and self.device.type == "cuda":
            total = torch.cuda.get_device_properties(self.device).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, self.limit / total), self.device)
            self._capped = True
        return self

    def __exit__(self, *exc) -> None:
        if self._capped:                                     # process-wide state: restored
            torch.cuda.set_per_process_memory_fraction(1.0, self.device)

    def refuses(self, predicted: int | None) -> bool:
        return bool(self.limit) and predicted is not None and predicted > self.limit

    def guard(self, rss: _RSSPeak, base: int) -> Callable[[], None] | None:
        """On CPU: the check after each step (the measured peak against the limit)."""
        if not self.limit or self.device.type != "cpu":
            return None

        def check() -> None:
            if rss.peak - base > self.limit:
                raise MemoryError(f"out of memory: {(rss.peak - base) / 2**30:.2f} GiB measured, above "
                                  f"--memory-limit {self.limit / 2**30:.3g} GiB")
        return check


def measure_target(target: TargetSpec, batch_sizes: Sequence[int], depths: Sequence[int] | None,
                   device: torch.device | str, dtype: str, steps: int, warmup: int, tokens_per_sample: int,
                   progress: Callable[[str], None] | None = None, seed: int = 0, *,
                   memory_limit: int | None = None,
                   predict_peak: Callable[[TargetSpec, int], int] | None = None,
                   primed: bool = False) -> list[dict]:
    """TARGET rows: "measured" per (depths, batch size), then "extrapolated" to full depth per batch size
    (when ``depths`` cut the model; ``depths`` None measures the whole model). ``predict_peak(spec, batch)``
    fills ``predicted_peak_memory_bytes`` (the memory model beside each measurement); with
    ``memory_limit`` (bytes) see ``MemoryLimit``. ``primed``: a 1+1-block copy already ran a step in this
    process (``choose_depths``), which is the warm-up the whole model would get."""
    device = torch.device(device)
    tdtype = DTYPES[dtype]
    source = memory_source(device)
    common = {"device": device.type, "dtype": dtype, "recipe": target.recipe.describe(),
              "tokens_per_sample": int(tokens_per_sample), "memory_source": source}
    rows: list[dict] = []
    plan = depth_plan(target, depths)
    with MemoryLimit(memory_limit, predict_peak, device) as limit:
        if device.type == "cpu" and not (primed and not depths):
            # the first cut copy itself (its allocations are what the first timing would pay for); a
            # one-block copy before the whole model, which would cost a whole step to prime
            first = target.cut(*plan[0]) if depths else target.cut(1, 1)
            if progress:
                progress(f"target {target.name}: one untimed step of LM {first.llm_layers} / vision "
                         f"{first.vision_layers} blocks (process warm-up)")
            _prime(first, device, tdtype, tokens_per_sample, seed)
        for llm, vis in plan:
            rows += _measure_copy(target.cut(llm, vis), batch_sizes, device, tdtype, steps, warmup,
                                  tokens_per_sample, common, limit, progress, seed)
    if depths:
        rows += extrapolate(rows, target, batch_sizes, common, device, memory_limit, predict_peak)
    return rows


def _measure_copy(spec: TargetSpec, batch_sizes: Sequence[int], device: torch.device, tdtype: torch.dtype,
                  steps: int, warmup: int, tokens: int, common: dict, limit: MemoryLimit,
                  progress: Callable[[str], None] | None, seed: int) -> list[dict]:
    """One built copy, every batch size: a row each; an out-of-memory error is a row with ``fits`` False."""
    llm, vis = spec.llm_layers, spec.vision_layers
    if progress:
        progress(f"target {spec.name}: LM {llm} / vision {vis} blocks, build")
    _free(device)
    base_rss = _RSSPeak.rss() if device.type == "cpu" else 0
    predicted = {bs: limit.predict(spec, bs) if limit.predict else None for bs in batch_sizes}
    built = None
    if not all(limit.refuses(p) for p in predicted.values()):
        try:
            built = build(spec, device, tdtype, seed=seed)
        except Exception as e:                       # noqa: BLE001 - an OOM while building is a result
            if not _is_oom(e):
                raise
    rows = []
    for bs in batch_sizes:
        row = {"kind": "measured", "batch_size": bs, "llm_layers": llm, "vision_layers": vis, **common,
               "step_seconds": None, "step_seconds_p90": None, "peak_memory_bytes": None, "fits": False,
               "predicted_peak_memory_bytes": predicted[bs]}
        rows.append(row)
        if limit.refuses(predicted[bs]):
            row["memory_source"] = (f"not run: predicted peak (harness.estimate.memory) above --memory-limit "
                                    f"{limit.limit / 2**30:.3g} GiB")
            continue
        if built is None:
            continue
        if progress:
            progress(f"target {spec.name}: LM {llm} / vision {vis} blocks, batch {bs}")
        rss = None
        try:
            batch = synthetic_batch(spec, bs, tokens, device, tdtype, seed=seed)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            with _RSSPeak() as rss:
                times = _time_steps(built, batch, device, warmup, steps, limit.guard(rss, base_rss))
            row["step_seconds"], row["step_seconds_p90"] = quantiles(times)
            row["fits"] = True
        except Exception as e:                       # noqa: BLE001
            if not _is_oom(e):
                raise
            if progress:
                progress(f"target {spec.name}: batch {bs} does not fit ({str(e).splitlines()[0][:120]})")
        if not row["fits"]:                          # freed here: the exception's frames held the activations
            built.optimizer.zero_grad(set_to_none=True)
            _free(device)
        if device.type == "cuda":
            row["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device))
        elif device.type == "mps":
            row["peak_memory_bytes"] = int(torch.mps.driver_allocated_memory())
        elif rss is not None:                        # what it reached, also when the guard stopped it
            row["peak_memory_bytes"] = max(0, rss.peak - base_rss)
    del built
    _free(device)
    return rows


def choose_depths(target: TargetSpec, batch_sizes: Sequence[int], steps: int, warmup: int,
                  device: torch.device | str, dtype: str, tokens_per_sample: int, *, budget_s: float,
                  cut: Sequence[int], seed: int = 0) -> tuple[list[int] | None, str]:
    """``--target-depth auto``: the whole model (None) when its measurement is predicted to take at most
    ``budget_s``, else ``cut`` depths (extrapolated), and the reason in words. The prediction: one timed
    step of a 1+1-block copy at batch 1, scaled by blocks (every block costs what the copy's two cost
    on average, which overstates a deep model's step, since the copy also carries the embeddings and the
    head: a safe side for a time budget) and by the batch sizes' samples."""
    device = torch.device(device)
    copy = target.cut(1, 1)
    built = build(copy, device, DTYPES[dtype], seed=seed)
    try:
        batch = synthetic_batch(copy, 1, tokens_per_sample, device, DTYPES[dtype], seed=seed)
        step = min(_time_steps(built, batch, device, 1, 2))
    finally:
        del built
        _free(device)
    blocks = (target.llm_layers + target.vision_layers) / 2
    predicted = step * blocks * sum(batch_sizes) * (warmup + steps)
    where = (f"a 1+1-block copy took {step:.2f} s per step at batch 1; the whole model "
             f"({target.llm_layers}+{target.vision_layers} blocks) at batch {', '.join(map(str, batch_sizes))} "
             f"with {warmup}+{steps} steps each is predicted at about {predicted:,.0f} s")
    if predicted <= budget_s:
        return None, f"--target-depth auto: the whole model measured ({where}, within {budget_s:,.0f} s)"
    depths = [d for d in cut if d < min(target.llm_layers, target.vision_layers)]
    if len(depths) < 2:
        return None, f"--target-depth auto: the whole model measured (too shallow to cut; {where})"
    return depths, (f"--target-depth auto: copies cut to {', '.join(map(str, depths))} blocks per tower, "
                    f"extrapolated ({where}, over {budget_s:,.0f} s)")


def _prime(spec: TargetSpec, device: torch.device, dtype: torch.dtype, tokens: int, seed: int) -> None:
    """One untimed step of a small copy before any RSS baseline is taken: the process's one-time
    costs (lazy imports, thread pools, kernel scratch buffers) would otherwise be charged to the first
    copy measured, and the per-block memory fit would come out negative."""
    built = build(spec, device, dtype, seed=seed)
    try:
        _time_steps(built, synthetic_batch(spec, 1, tokens, device, dtype, seed=seed), device, 1, 0)
    except Exception as e:                           # noqa: BLE001 - measured (and reported) below
        if not _is_oom(e):
            raise
    del built
    _free(device)


def _capacity(device: torch.device) -> int | None:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return None


def extrapolate(measured: list[dict], target: TargetSpec, batch_sizes: Sequence[int], common: dict,
                device: torch.device, memory_limit: int | None = None,
                predict_peak: Callable[[TargetSpec, int], int] | None = None) -> list[dict]:
    """One "extrapolated" row per batch size at full depth from the per-block fit of the measured rows.
    Never below the largest measured figure. A cut copy that did not fit means the full model does not
    either; on CUDA ``fits`` compares the extrapolated peak with the device's memory, elsewhere it is
    unknown (null) unless a ``memory_limit`` is given."""
    L, V = target.llm_layers, target.vision_layers
    out = []
    for bs in batch_sizes:
        pts = [r for r in measured if r["batch_size"] == bs and r["kind"] == "measured"]
        row = {"kind": "extrapolated", "batch_size": bs, "llm_layers": L, "vision_layers": V, **common,
               "step_seconds": None, "step_seconds_p90": None, "peak_memory_bytes": None, "fits": False,
               "predicted_peak_memory_bytes": predict_peak(target, bs) if predict_peak else None}
        if pts and all(r["fits"] for r in pts):
            for key in ("step_seconds", "step_seconds_p90", "peak_memory_bytes"):
                c, a, b = fit_blocks([(r["llm_layers"], r["vision_layers"], r[key]) for r in pts])
                # never below a cut copy's own figure: a negative slope is timing noise, not a cheaper block
                row[key] = max(c + a * L + b * V, max(r[key] for r in pts))
            row["peak_memory_bytes"] = int(round(row["peak_memory_bytes"]))
            row["step_seconds_p90"] = max(row["step_seconds_p90"], row["step_seconds"])   # fitted apart
            caps = [c for c in (_capacity(device), memory_limit) if c]
            cap = min(caps) if caps else None
            row["fits"] = None if cap is None else row["peak_memory_bytes"] <= cap
        out.append(row)
    return out
