"""The ``harness`` command: a click group; each command lives in its own module and stays thin."""
from __future__ import annotations

import importlib

import click

from harness import __version__

# Command modules, each defining ``command`` (a click.Command). Listed once here.
_COMMANDS = ("synth", "dryrun", "validate", "bench", "labels", "info")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """Dry runs and throughput benchmarks for vision-language model training pipelines."""


for _name in _COMMANDS:
    try:
        _mod = importlib.import_module(f"harness.cli.{_name}")
    except ModuleNotFoundError as e:  # a command module not written yet must not break the others
        if e.name != f"harness.cli.{_name}":
            raise
        continue
    main.add_command(_mod.command)
