"""``harness bench``: loader stages and the proxy training step per batch size, against torchvision."""
from __future__ import annotations

from pathlib import Path

import click

from harness.cli import options
from harness.cli.options import default
from harness.config import AUTO_DEPTHS, TARGET_DTYPES, TARGETS, BenchConfig


def _ints(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("a comma-separated list of integers, e.g. 2,4,8") from None


@click.command("bench")
@click.argument("dataset", required=False, type=click.Path(path_type=Path))
@click.option("--batch-size", "batch_sizes", default=",".join(map(str, default(BenchConfig, "batch_sizes"))),
              show_default=True, help="Comma-separated.")
@click.option("--steps", default=default(BenchConfig, "steps"), show_default=True, type=int,
              help="Timed batches per measurement.")
@click.option("--warmup", default=default(BenchConfig, "warmup"), show_default=True, type=int,
              help="Batches dropped before timing.")
@click.option("--workers", default=default(BenchConfig, "workers"), show_default=True, type=int,
              help="Loader worker threads.")
@options.device_option
@options.compile_option
@click.option("--target", default=default(BenchConfig, "target"), show_default=True,
              help=f"Target model: a preset ({', '.join(TARGETS)}) or a TinyLLaVA model folder / config.json.")
@click.option("--target-depth", "target_depths", default=None,
              help="Measure the target with random weights, cut to these depths (e.g. 1,2) and extrapolated "
                   "to full depth; 'all' measures the whole model; 'auto' the whole model when its "
                   "predicted timing is within 5 minutes, else copies cut to 2 and 4 blocks (the report "
                   "says which and why). Off by default.")
@click.option("--target-dtype", default=default(BenchConfig, "target_dtype"), show_default=True,
              type=click.Choice(TARGET_DTYPES), help="auto: fp32 on CPU and MPS, bf16 on CUDA.")
@click.option("--target-params", type=int, help="Scale the target's FLOPs to this many parameters.")
@click.option("--mfu", default=",".join(map(str, default(BenchConfig, "mfu"))), show_default=True,
              help="Assumed MFU range LOW,HIGH.")
@click.option("--full-epochs", default=default(BenchConfig, "full_epochs"), show_default=True, type=int,
              help="Epochs of the estimated training.")
@options.recipe_options
@click.option("--memory-limit", type=float, metavar="GIB",
              help="Memory the target may use: a batch whose predicted peak (the memory model) is above it is "
                   "not run, and one measured above it stops; both are 'does not fit' rows. On CUDA the "
                   "allocator is capped too (default: the device's memory; on CPU no limit).")
@click.option("--gpu", "gpu_names", multiple=True,
              help=f"A GPU of the device table the report gives the range for (repeat; default: "
                   f"{', '.join(default(BenchConfig, 'gpu_names'))}).")
@click.option("--global-batch", default=default(BenchConfig, "global_batch"), show_default=True, type=int,
              help="Global batch the launch flags reach with gradient accumulation (TinyLLaVA's fine-tunes: 128).")
@click.option("--tokenizer", type=click.Path(path_type=Path, exists=True),
              help="Counts the samples' text tokens (default: 3.5 characters per token).")
@options.out_option
@options.cli_errors
def command(dataset, batch_sizes, compile_, mfu, target_depths, gpu_names, **opts) -> None:
    """Time each stage of the hot path and the training step on DATASET (default: synthetic DeepCAD 1K)."""
    from harness.runs.bench import run_bench

    named = {"all": (0,), "auto": AUTO_DEPTHS}
    depths = () if target_depths is None else named.get(target_depths.strip()) or _ints(target_depths)
    cfg = BenchConfig(dataset=dataset, batch_sizes=_ints(batch_sizes), compile=compile_, mfu=options.parse_mfu(mfu),
                      target_depths=depths, gpu_names=gpu_names or default(BenchConfig, "gpu_names"), **opts)
    options.finish(run_bench(cfg, progress=options.progress()))
