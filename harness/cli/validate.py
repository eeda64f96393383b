"""``harness validate``: tests 1 and 2 (records and images) at scale, locally or on a Ray cluster."""
from __future__ import annotations

import signal

import click

from harness.cli import options
from harness.config import ValidateConfig


def _sigterm_as_interrupt(signum, frame):
    # SIGTERM unwinds like Ctrl-C: the executor closes (Ray shut down) and no table is half written.
    raise KeyboardInterrupt


@click.command("validate")
@options.dataset_arguments
@options.out_option
@options.check_options
@options.execution_options
@options.ship_bytes_option
@options.write_clean_option
@options.cli_errors
def command(dataset, train, val, images, out, workers, ray_address, ship_bytes, write_clean, **check_kw) -> None:
    """Check every record and image of DATASET (default: the embedded synthetic DeepCAD 1K).

    Runs on every core through a private local Ray (in this process below 3,000 records or with
    --workers 1), or on the cluster at --ray-address, whose nodes need harness installed and the images
    at the same path (a shared folder) unless --ship-bytes. Writes findings, tests, images and records
    tables, run.json, report.md and the flagged images' contact sheet to --out. Exit 0 when both tests
    pass, 1 when one fails.
    """
    from harness.runs.validate import validate

    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    cfg = ValidateConfig(dataset=dataset, train=train, val=val, images=images, out=out, workers=workers,
                         ray_address=ray_address, ship_bytes=ship_bytes, write_clean=write_clean,
                         checks=options.check_config(**check_kw))
    options.finish(validate(cfg, progress=options.progress()))
