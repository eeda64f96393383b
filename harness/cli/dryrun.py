"""``harness dryrun``: validate, measure, load, train the proxy, estimate; write the tables and report."""
from __future__ import annotations

import sys
import time

import click

from harness.cli import options
from harness.config import DryrunConfig, TrainConfig
from harness.errors import HarnessError, UsageError


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
@click.option("--samples", default="20", show_default=True, help="Samples for test 4 (4 in 5 train), or 'all'.")
@click.option("--epochs", default=5, show_default=True, type=int)
@click.option("--batch-size", default=4, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--image-size", default=384, show_default=True, type=int, help="Side of the model's input image.")
@click.option("--full-epochs", default=3, show_default=True, type=int, help="Epochs of the estimated full training.")
@options.execution_options
def command(dataset, train, val, images, out, samples, epochs, batch_size, lr, device, seed, image_size,
            full_epochs, workers, ray_address, **check_kw) -> None:
    """Run the four tests of the dry run on DATASET (default: the embedded synthetic DeepCAD 1K)."""
    from harness.runs.dryrun import dryrun
    from harness.results.summary import print_summary

    try:
        cfg = DryrunConfig(
            dataset=dataset, train=train, val=val, images=images, out=out, full_epochs=full_epochs,
            workers=workers, ray_address=ray_address, checks=options.check_config(**check_kw),
            train_cfg=TrainConfig(samples=_samples(samples), epochs=epochs, batch_size=batch_size, lr=lr,
                                  device=device, seed=seed, image_size=image_size),
        )
        t0 = time.perf_counter()
        result = dryrun(cfg, progress=options.progress_printer())
    except UsageError as e:
        raise click.UsageError(str(e)) from None
    except HarnessError as e:
        raise click.ClickException(str(e)) from None
    print_summary(result, seconds=time.perf_counter() - t0)
    sys.exit(0 if result.passed else 1)
