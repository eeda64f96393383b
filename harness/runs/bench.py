"""``harness bench``: every batch size's loader stages and training step against the torchvision
pipeline, then full-training estimates; bench and estimates tables, report.md and two plots."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from harness.bench.stages import BenchResult, bench_rows, estimate_rows, measure_batch_size, usable_records
from harness.config import AUTO_CUT_DEPTHS, AUTO_DEPTH_BUDGET_S, AUTO_DEPTHS, BenchConfig
from harness.data import load_dataset
from harness.errors import UsageError
from harness.progress import SILENT, Progress
from harness.results import schema
from harness.results.metadata import default_out, run_metadata
from harness.results.plots import target_plot_png
from harness.results.report.bench import report, stages_png, throughput_png
from harness.results.run import RunResult
from harness.results.write import write_run
from harness.runs.defaults import dataset_paths
from harness.target.launch import Launch, full_depth_rows, largest_fitting, length_at_share, plan_launch
from harness.target.presets import TargetSpec, configured
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
    target = configured(cfg) if cfg.target_depths else None   # a bad path fails before measuring
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
    plots = {"throughput.png": throughput_png(measured), "stages.png": stages_png(measured)}
    extra: dict = {}
    launch = None
    if target is not None:
        lengths = sample_lengths(cfg, target, records)
        measured.target = target_rows(cfg, target, lengths, device, progress, measured.target_notes)
        launch, gpu_rows = plan_for_gpus(cfg, target, lengths, measured.target, device)
        # the counted architecture's range replaces the preset FLOPs rows: one target estimate per device
        measured.estimates = [r for r in measured.estimates if r["basis"] != "target"] + gpu_rows
        tables["estimates"] = pa.Table.from_pylist(measured.estimates, schema=schema.ESTIMATES)
        tables["target"] = pa.Table.from_pylist(measured.target, schema=schema.TARGET)
        plot = target_plot_png(tables["target"])
        if plot is not None:
            plots["target.png"] = plot
        extra = {"target": target.name, "recipe": target.recipe.describe(), "launch": asdict(launch)}
    out = Path(cfg.out) if cfg.out else default_out("bench")
    files = write_run(out, run_metadata("bench", cfg, device=describe(device.type), **extra), tables,
                      report=report(measured, cfg, launch=launch), files=plots)
    notes = [f"batch {b.batch_size}: loader {b.harness.samples_per_s:,.0f} samples/s (torchvision "
             f"{b.torchvision.samples_per_s:,.0f}); train step {b.batch_size / _mean(b.eager.step_seconds):,.1f} "
             f"samples/s; bottleneck {b.bottleneck}" for b in batches]
    notes += [f"target batch {r['batch_size']}: does not fit" if r["fits"] is False else
              f"target batch {r['batch_size']}: full depth {r['step_seconds']:.2f} s/step, "
              f"{r['peak_memory_bytes'] / 2**30:.2f} GiB ({r['kind']})" for r in full_depth_rows(measured.target)
              if r["fits"] is False or r["step_seconds"] is not None]
    if launch is not None:
        notes.append(f"launch: --per_device_train_batch_size {launch.per_device_batch} --gradient_accumulation_steps "
                     f"{launch.accumulation} --model_max_length {launch.model_max_length} --{launch.precision} True "
                     f"({launch.where})")
    return BenchRun(command="bench", out=out, tables=tables, files=files, notes=notes, measured=measured,
                    seconds=time.perf_counter() - t0)


def sample_lengths(cfg: BenchConfig, spec: TargetSpec, records: list) -> list[int]:
    """Each train sample's LM positions, uncapped: image tokens + its text tokens
    (``harness.estimate.training.text_tokens``, as ``harness estimate`` counts them)."""
    from harness.estimate.training import text_tokens

    return [spec.image_tokens + c for c in text_tokens(records, cfg.tokenizer)[0]]


def tokens_per_sample(lengths: list[int], image_tokens: int, max_length: int) -> int:
    """Mean LM positions per sample, each capped at ``max_length``: what every measured step feeds."""
    capped = [min(x, max_length) for x in lengths]
    return max(image_tokens + 2, round(sum(capped) / max(len(capped), 1)))


def target_rows(cfg: BenchConfig, spec: TargetSpec, lengths: list[int], device, progress: Progress,
                depth_notes: list[str] | None = None) -> list[dict]:
    """The target model measured with random weights (``harness.target.measure``): TARGET rows, each with
    the memory model's peak beside it (``harness.estimate.memory`` at the same depth, batch and dtype).
    ``--target-depth auto`` appends its choice, in words, to ``depth_notes``."""
    depth_notes = [] if depth_notes is None else depth_notes
    from harness.estimate.architecture import architecture
    from harness.estimate.memory import memory
    from harness.target.measure import choose_depths, default_dtype, measure_target

    tokens = tokens_per_sample(lengths, spec.image_tokens, spec.max_length)
    dtype = default_dtype(device) if cfg.target_dtype == "auto" else cfg.target_dtype
    depths = None if cfg.target_depths == (0,) else list(cfg.target_depths)
    limit = None if cfg.memory_limit is None else int(cfg.memory_limit * 2**30)
    if cfg.target_depths == AUTO_DEPTHS:
        depths, why = choose_depths(spec, cfg.batch_sizes, cfg.steps, cfg.warmup, device, dtype, tokens,
                                    budget_s=AUTO_DEPTH_BUDGET_S, cut=AUTO_CUT_DEPTHS, seed=cfg.seed)
        progress(why)
        depth_notes.append(why)

    def predict(s: TargetSpec, batch: int) -> int:
        return memory(architecture(s), tokens, dtype).peak(batch)

    return measure_target(spec, cfg.batch_sizes, depths, device, dtype, cfg.steps, cfg.warmup, tokens,
                          progress=progress, seed=cfg.seed, memory_limit=limit, predict_peak=predict,
                          primed=cfg.target_depths == AUTO_DEPTHS)


def plan_for_gpus(cfg: BenchConfig, spec: TargetSpec, lengths: list[int], rows: list[dict],
                  device) -> tuple[Launch, list[dict]]:
    """The launch flags and, per listed GPU, ESTIMATES rows (``harness.estimate.training``) at the largest
    batch its memory holds; MFU from this device's step when it was measured on a GPU of the table."""
    from harness.estimate.architecture import architecture
    from harness.estimate.devices import resolve_device
    from harness.estimate.memory import memory
    from harness.estimate.training import Workload, assumed_mfu, estimate_rows

    arch = architecture(spec)
    mml = length_at_share(lengths, cfg.length_share)
    capped = tuple(float(min(x, mml)) for x in lengths)
    work = Workload(samples=len(lengths), epochs=cfg.full_epochs, tokens=capped,
                    source=("text counted with " + str(cfg.tokenizer) if cfg.tokenizer else
                            "text at 3.5 chars per token (no --tokenizer)") + f", capped at {mml}",
                    samples_source="the usable train conversations")
    best = largest_fitting(rows)
    mfu = _gpu_mfu(arch, best, device) or assumed_mfu(cfg.mfu)
    mem = memory(arch, max(capped), "bf16")
    gpu_rows = []
    for name in cfg.gpu_names:
        dev = resolve_device(name)
        batch = max(1, mem.largest_batch(dev.memory_bytes))
        gpu_rows += estimate_rows(arch=arch, work=work, devices=[dev], gpus=1, batch_size=batch, dtype="bf16",
                                  mfu=mfu, max_length=mml)
    tune = (spec.recipe.llm, spec.recipe.vision, spec.recipe.connector)
    common = {"gpus": 1, "global_batch": cfg.global_batch, "lengths": lengths, "length_share": cfg.length_share,
              "tune": tune, "lora_r": spec.recipe.lora_r, "lora_alpha": spec.recipe.lora_alpha}
    if device.type == "cuda" and best is not None:
        name = torch_device_name(device)
        launch = plan_launch(per_device_batch=best["batch_size"], device_name=name,
                             where=f"measured on this {name}", **common)
    else:
        first = next(r for r in gpu_rows if r["scale"] == "dataset")
        launch = plan_launch(per_device_batch=first["batch_size"], device_name=first["device"],
                             where=(f"{first['device']}: the largest batch the memory model fits at "
                                    f"{max(capped):.0f} positions (this {device.type} measured in "
                                    f"{rows[0]['dtype'] if rows else '-'}, not the GPU's precision)"
                                    + ("" if first["fits"] else "; not even batch 1 fits there: LoRA, "
                                       "a frozen tower or a larger GPU")), **common)
    return launch, gpu_rows


def torch_device_name(device) -> str:
    import torch

    return torch.cuda.get_device_name(device)


def _gpu_mfu(arch, best: dict | None, device):
    """The MFU this device's full-depth step achieved, when it is a GPU of the device table."""
    from harness.estimate.devices import match_description
    from harness.estimate.training import step_mfu

    if device.type != "cuda" or best is None:
        return None
    gpu = torch_device_name(device)
    name = match_description(gpu)
    return None if name is None else step_mfu(arch, best, name, f"here on {gpu}")


def _mean(xs: list[float]) -> float:
    return sum(xs) / max(len(xs), 1)
