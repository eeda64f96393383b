"""The ``harness`` command: a click group over one module per command. Each command parses its options,
builds a config, calls one library function in ``harness.runs`` and maps errors with
``options.cli_errors``; heavy imports (torch, numba, ray) happen inside the command, never for ``--help``."""
from __future__ import annotations

import click

from harness import __version__
from harness.cli import bench, dryrun, estimate, info, labels, synth, validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """Dry runs and throughput benchmarks for vision-language model training pipelines."""


for _module in (synth, dryrun, validate, bench, estimate, labels, info):
    main.add_command(_module.command)
