"""``harness estimate``: training time and memory per GPU of the target on devices you do not have, from
the built architecture's FLOPs and a memory model; nothing is measured. Writes estimates.arrow (basis
"target"), report.md and run.json."""
from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from harness.config import EstimateConfig
from harness.errors import UsageError
from harness.estimate.devices import resolve_device
from harness.estimate.training import Workload, assumed_mfu, estimate_rows, measured_mfu, text_tokens
from harness.progress import SILENT, Progress
from harness.results import schema
from harness.results.metadata import default_out, run_metadata
from harness.results.report.estimate import report
from harness.results.run import RunResult
from harness.results.write import write_run
from harness.target.presets import TargetSpec, configured


def workload(cfg: EstimateConfig, spec: TargetSpec, progress: Progress) -> Workload:
    """Samples and LM positions per sample: from the flags, or from the dataset's train split."""
    cap = spec.max_length
    if cfg.dataset is None:
        tokens = min(cap, spec.image_tokens + cfg.text_tokens)
        return Workload(samples=cfg.samples, epochs=cfg.epochs, tokens=(tokens,),
                        source=f"--text-tokens {cfg.text_tokens:g} per sample", samples_source="--samples")
    from harness.data import load_dataset
    from harness.runs.defaults import dataset_paths

    paths = dataset_paths(cfg.dataset, progress=progress)
    records = load_dataset(paths).records.get("train", [])
    if not records:
        raise UsageError(f"{paths.train}: no train records to estimate from")
    counts, source = text_tokens(records, cfg.tokenizer)
    tokens = tuple(float(min(cap, spec.image_tokens + c)) for c in counts)
    return Workload(samples=len(records), epochs=cfg.epochs, tokens=tokens, source=source,
                    samples_source=f"the train conversations of {paths.train}")


def run_estimate(cfg: EstimateConfig, progress: Progress = SILENT) -> RunResult:
    """Count, model and write: one ESTIMATES row per device and scale."""
    from harness.estimate.architecture import architecture

    t0 = time.perf_counter()
    spec = configured(cfg)
    devices = [resolve_device(d) for d in cfg.devices]
    work = workload(cfg, spec, progress)
    progress(f"building {spec.name} on the meta device to count its matmuls")
    arch = architecture(spec)
    mfu = measured_mfu(Path(cfg.measured), arch) if cfg.measured else assumed_mfu(cfg.mfu)
    rows = estimate_rows(arch=arch, work=work, devices=devices, gpus=cfg.gpus, batch_size=cfg.batch_size,
                         dtype=cfg.dtype, mfu=mfu, max_length=spec.max_length)
    tables = {"estimates": pa.Table.from_pylist(rows, schema=schema.ESTIMATES)}
    out = Path(cfg.out) if cfg.out else default_out("estimate")
    meta = run_metadata("estimate", cfg, target=spec.name, recipe=spec.recipe.describe(),
                        params=arch.params, trainable_params=arch.trainable_params)
    files = write_run(out, meta, tables, report=report(rows, spec, arch, cfg))
    notes = [f"{r['device']} x {r['gpus']}: {r['samples']:,} samples x {r['epochs']} epoch(s) "
             f"~{r['total_seconds'] / 3600:.2f} h ({r['total_seconds_low'] / 3600:.2f}-"
             f"{r['total_seconds_high'] / 3600:.2f} h); batch {r['batch_size']} per GPU "
             f"{r['peak_memory_bytes'] / 2**30:.1f} GiB, {'fits' if r['fits'] else 'does not fit'} "
             f"(largest {r['max_batch_size']})" for r in rows if r["scale"] == "dataset"]
    return RunResult(command="estimate", out=out, tables=tables, files=files, notes=notes,
                     seconds=time.perf_counter() - t0)
