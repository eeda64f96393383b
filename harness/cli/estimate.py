"""``harness estimate``: full-training time and memory per GPU of the target on named devices, counted from
the architecture, not measured."""
from __future__ import annotations

from pathlib import Path

import click

from harness.cli import options
from harness.cli.options import default
from harness.config import TARGETS, EstimateConfig


@click.command("estimate")
@click.argument("dataset", required=False, type=click.Path(path_type=Path))
@click.option("--target", default=default(EstimateConfig, "target"), show_default=True,
              help=f"A preset ({', '.join(TARGETS)}) or a TinyLLaVA model folder / config.json.")
@click.option("--device", "devices", multiple=True,
              help="A device of the table (repeat): A100, 'H100 SXM', 'RTX 4090'...")
@click.option("--gpus", default=default(EstimateConfig, "gpus"), show_default=True, type=int,
              help="Data-parallel GPUs.")
@click.option("--samples", type=int, help="Training samples per epoch (instead of DATASET).")
@click.option("--text-tokens", type=float, help="Mean text tokens per sample, prompt and answer (with --samples).")
@click.option("--epochs", default=default(EstimateConfig, "epochs"), show_default=True, type=int)
@click.option("--tokenizer", type=click.Path(path_type=Path, exists=True), help="Counts DATASET's text tokens.")
@click.option("--batch-size", default=default(EstimateConfig, "batch_size"), show_default=True, type=int,
              help="Per-GPU batch for the memory figure.")
@click.option("--dtype", default=default(EstimateConfig, "dtype"), show_default=True,
              type=click.Choice(("bf16", "fp16", "fp32")))
@click.option("--mfu", default=",".join(map(str, default(EstimateConfig, "mfu"))), show_default=True,
              help="Assumed MFU range LOW,HIGH (the midpoint is the central estimate).")
@click.option("--measured", type=click.Path(path_type=Path), help="A target.arrow measured on a GPU: use its MFU.")
@options.recipe_options
@options.out_option
@options.cli_errors
def command(devices, mfu, **opts) -> None:
    """Estimate training time and memory per GPU on named devices, from DATASET or --samples/--text-tokens."""
    from harness.runs.estimate import run_estimate

    cfg = EstimateConfig(devices=devices or default(EstimateConfig, "devices"), mfu=options.parse_mfu(mfu), **opts)
    options.finish(run_estimate(cfg, progress=options.progress()))
