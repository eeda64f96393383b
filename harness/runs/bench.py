"""``harness bench``: every batch size's loader stages and training step against the torchvision
pipeline, then full-training estimates; bench and estimates tables, report.md and two plots."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from harness.bench.stages import BenchResult, bench_rows, estimate_rows, measure_batch_size, usable_records
from harness.config import BenchConfig
from harness.data import load_dataset
from harness.errors import UsageError
from harness.progress import SILENT, Progress
from harness.results import schema
from harness.results.metadata import default_out, run_metadata
from harness.results.report.bench import report, stages_png, throughput_png
from harness.results.run import RunResult
from harness.results.write import write_run
from harness.runs.defaults import dataset_paths
from harness.target.presets import TargetSpec, resolve_target
from harness.train.device import describe, pick_device, set_threads, use_compile


@dataclass(kw_only=True)
class BenchRun(RunResult):
    measured: BenchResult


def _compile_note(compiled: bool, device_type: str, setting: str) -> str:
    if compiled:
        return "eager and torch.compile measured"
    if device_type == "cpu" and setting == "auto":
        return ("torch.compile skipped on CPU with --compile auto: on a 2-core CPU it measured 0.92x eager "
                "after a 22 s compile; --compile on measures it")
    return "torch.compile off (--compile off)"


def run_bench(cfg: BenchConfig, progress: Progress = SILENT) -> BenchRun:
    """Measure every batch size, then write bench.arrow, estimates.arrow, report.md and the plots."""
    t0 = time.perf_counter()
    paths = dataset_paths(cfg.dataset, progress=progress)
    dataset = load_dataset(paths)
    records = usable_records(dataset)
    target = resolve_target(cfg.target) if cfg.target_depths else None   # a bad path fails before measuring
    need = (cfg.warmup + cfg.steps) * max(cfg.batch_sizes)
    if len(records) < need:
        raise UsageError(f"the bench needs {need} usable train samples ((warmup {cfg.warmup} + steps "
                         f"{cfg.steps}) x batch {max(cfg.batch_sizes)}); {paths.train.parent} has {len(records)}")
    device = pick_device(cfg.device)
    set_threads()
    compiled = use_compile(cfg.compile, device)
    batches = [measure_batch_size(dataset, records, cfg, bs, device, compiled, progress) for bs in cfg.batch_sizes]
    measured = BenchResult(device=device.type, compile_note=_compile_note(compiled, device.type, cfg.compile),
                           batches=batches, rows=[r for b in batches for r in bench_rows(b, device.type)],
                           estimates=estimate_rows(cfg, dataset, records, batches, device.type))
    tables = {"bench": pa.Table.from_pylist(measured.rows, schema=schema.BENCH),
              "estimates": pa.Table.from_pylist(measured.estimates, schema=schema.ESTIMATES)}
    if target is not None:
        measured.target = target_rows(cfg, target, records, device, progress)
        tables["target"] = pa.Table.from_pylist(measured.target, schema=schema.TARGET)
    out = Path(cfg.out) if cfg.out else default_out("bench")
    files = write_run(out, run_metadata("bench", cfg, device=describe(device.type)), tables,
                      report=report(measured, cfg),
                      files={"throughput.png": throughput_png(measured), "stages.png": stages_png(measured)})
    notes = [f"batch {b.batch_size}: loader {b.harness.samples_per_s:,.0f} samples/s (torchvision "
             f"{b.torchvision.samples_per_s:,.0f}); train step {b.batch_size / _mean(b.eager.step_seconds):,.1f} "
             f"samples/s; bottleneck {b.bottleneck}" for b in batches]
    notes += [f"target batch {r['batch_size']}: full depth {r['step_seconds']:.2f} s/step, "
              f"{r['peak_memory_bytes'] / 2**30:.2f} GiB ({r['kind']})" for r in measured.target
              if r["step_seconds"] is not None and (r["kind"] == "extrapolated" or cfg.target_depths == (0,))]
    return BenchRun(command="bench", out=out, tables=tables, files=files, notes=notes, measured=measured,
                    seconds=time.perf_counter() - t0)


def tokens_per_sample(records: list, image_tokens: int, max_length: int) -> int:
    """Mean LM positions per sample: ceil(prompt chars / 3.5) + ceil(answer chars / 3.5) + image tokens,
    capped at ``max_length`` (no tokenizer: the FLOPs model's rule, ``flops.sample_tokens``)."""
    from harness.estimate.flops import sample_tokens

    totals = [sample_tokens(len(r.prompt), len(r.answer), image_tokens=image_tokens, max_length=max_length)[0]
              for r in records]
    return max(image_tokens + 2, round(sum(totals) / max(len(totals), 1)))


def target_rows(cfg: BenchConfig, spec: TargetSpec, records: list, device, progress: Progress) -> list[dict]:
    """The target model measured with random weights (``harness.target.measure``): TARGET rows."""
    from harness.target.measure import default_dtype, measure_target

    tokens = tokens_per_sample(records, spec.image_tokens, spec.max_length)
    dtype = default_dtype(device) if cfg.target_dtype == "auto" else cfg.target_dtype
    depths = None if cfg.target_depths == (0,) else list(cfg.target_depths)
    return measure_target(spec, cfg.batch_sizes, depths, device, dtype, cfg.steps, cfg.warmup, tokens,
                          progress=progress, seed=cfg.seed)


def _mean(xs: list[float]) -> float:
    return sum(xs) / max(len(xs), 1)
