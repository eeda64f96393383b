"""``harness synth``: a synthetic DeepCAD-style dataset, or one imported from DeepCAD cad_json."""
from __future__ import annotations

from pathlib import Path

import click

from harness.runs.synth import synthesize
from harness.config import SynthConfig
from harness.errors import HarnessError, UsageError

_p = click.Path(path_type=Path)


@click.command("synth")
@click.argument("out", type=_p)
@click.option("--models", default=1100, show_default=True, help="Random models to make.")
@click.option("--seed", default=0, show_default=True)
@click.option("--views", default="front,top,right", show_default=True, help="Comma-separated views.")
@click.option("--val-models", type=int, help="Models held out for val (default: one in eleven).")
@click.option("--size", default=512, show_default=True, help="Image side, pixels.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--workers", type=int, help="Worker processes (default: every core).")
@click.option("--from-deepcad", type=_p, help="Import DeepCAD cad_json files from this folder instead.")
@click.option("--limit", type=int, help="Import at most this many DeepCAD models.")
@click.option("--split-file", type=_p, help="DeepCAD train/validation split JSON.")
def command(out, views, **opts) -> None:
    """Write OUT/train.json, OUT/val.json and OUT/images/: rendered views paired with OpenECAD code."""
    try:
        s = synthesize(SynthConfig(out=out, views=tuple(v.strip() for v in views.split(",") if v.strip()), **opts))
    except UsageError as e:
        raise click.UsageError(str(e)) from e
    except HarnessError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{s.out}: {s.models} models ({s.train_models} train, {s.val_models} val), "
               f"{s.train_records}+{s.val_records} records, {s.images} images, {len(s.failures)} failures, "
               f"{s.seconds:.1f} s")
