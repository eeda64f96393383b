"""``harness dryrun``: validate, measure, load, train the proxy, estimate; write the tables and report."""
from __future__ import annotations

import click

from harness.cli import options
from harness.cli.options import default
from harness.config import DryrunConfig, TrainConfig


def _samples(value: str) -> int | None:
    if value == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter("a number of samples, or 'all'") from None


@click.command("dryrun")
@options.dataset_arguments
@options.out_option
@options.check_options
@click.option("--samples", default=str(default(TrainConfig, "samples")), show_default=True,
              help="Samples for test 4 (4 in 5 train), or 'all'.")
@click.option("--epochs", default=default(TrainConfig, "epochs"), show_default=True, type=int)
@click.option("--batch-size", default=default(TrainConfig, "batch_size"), show_default=True, type=int)
@click.option("--lr", default=default(TrainConfig, "lr"), show_default=True, type=float)
@options.device_option
@click.option("--seed", default=default(TrainConfig, "seed"), show_default=True, type=int)
@click.option("--image-size", default=default(TrainConfig, "image_size"), show_default=True, type=int,
              help="Side of the model's input image.")
@click.option("--full-epochs", default=default(DryrunConfig, "full_epochs"), show_default=True, type=int,
              help="Epochs of the estimated full training.")
@options.execution_options
@options.write_clean_option
@options.cli_errors
def command(dataset, train, val, images, out, samples, epochs, batch_size, lr, device, seed, image_size,
            full_epochs, workers, ray_address, write_clean, **check_kw) -> None:
    """Run the four tests of the dry run on DATASET (default: the embedded synthetic DeepCAD 1K)."""
    from harness.runs.dryrun import dryrun

    cfg = DryrunConfig(
        dataset=dataset, train=train, val=val, images=images, out=out, full_epochs=full_epochs,
        workers=workers, ray_address=ray_address, write_clean=write_clean, checks=options.check_config(**check_kw),
        train_cfg=TrainConfig(samples=_samples(samples), epochs=epochs, batch_size=batch_size, lr=lr,
                              device=device, seed=seed, image_size=image_size))
    options.finish(dryrun(cfg, progress=options.progress()))
