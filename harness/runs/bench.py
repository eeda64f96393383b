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
    out = Path(cfg.out) if cfg.out else default_out("bench")
    files = write_run(out, run_metadata("bench", cfg, device=describe(device.type)), tables,
                      report=report(measured, cfg),
                      files={"throughput.png": throughput_png(measured), "stages.png": stages_png(measured)})
    notes = [f"batch {b.batch_size}: loader {b.harness.samples_per_s:,.0f} samples/s (torchvision "
             f"{b.torchvision.samples_per_s:,.0f}); train step {b.batch_size / _mean(b.eager.step_seconds):,.1f} "
             f"samples/s; bottleneck {b.bottleneck}" for b in batches]
    return BenchRun(command="bench", out=out, tables=tables, files=files, notes=notes, measured=measured,
                    seconds=time.perf_counter() - t0)


def _mean(xs: list[float]) -> float:
    return sum(xs) / max(len(xs), 1)
