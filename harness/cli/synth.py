"""``harness synth``: a synthetic DeepCAD-style dataset, or one imported from DeepCAD cad_json."""
from __future__ import annotations

from pathlib import Path

import click

from harness.cli import options
from harness.cli.options import default
from harness.config import VIEWS, SynthConfig

_p = click.Path(path_type=Path)


@click.command("synth")
@click.argument("out", type=_p)
@click.option("--models", default=default(SynthConfig, "models"), show_default=True, help="Random models to make.")
@click.option("--seed", default=default(SynthConfig, "seed"), show_default=True)
@click.option("--views", default=",".join(VIEWS), show_default=True, help="Comma-separated views.")
@click.option("--val-models", type=int, help="Models held out for val (default: one in eleven).")
@click.option("--size", default=default(SynthConfig, "size"), show_default=True, help="Image side, pixels.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--workers", type=int, help="Worker processes (default: every core).")
@click.option("--ray-address", help="Render on this Ray cluster instead of local processes (OUT must be a "
                                   "shared folder at the same path on every node).")
@click.option("--from-deepcad", type=_p, help="Import DeepCAD cad_json files from this folder instead.")
@click.option("--limit", type=int, help="Import at most this many DeepCAD models.")
@click.option("--split-file", type=_p, help="DeepCAD train/validation split JSON.")
@options.cli_errors
def command(out, views, **opts) -> None:
    """Write OUT/train.json, OUT/val.json and OUT/images/: rendered views paired with OpenECAD code."""
    from harness.runs.synth import synthesize  # numba and the renderer: not for --help

    s = synthesize(SynthConfig(out=out, views=tuple(v.strip() for v in views.split(",") if v.strip()), **opts))
    click.echo(f"{s.out}: {s.models} models ({s.train_models} train, {s.val_models} val), "
               f"{s.train_records}+{s.val_records} records, {s.images} images, {len(s.failures)} failures, "
               f"{s.seconds:.1f} s")
