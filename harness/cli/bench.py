"""``harness bench``: loader stages and the proxy training step per batch size, against torchvision."""
from __future__ import annotations

from pathlib import Path

import click

from harness.config import BenchConfig
from harness.errors import HarnessError, UsageError


def _ints(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("a comma-separated list of integers, e.g. 2,4,8") from None


def _mfu(value: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("LOW,HIGH as fractions or percents, e.g. 0.15,0.35 or 15,35") from None
    return (lo / 100, hi / 100) if max(lo, hi) > 1 else (lo, hi)


@click.command("bench")
@click.argument("dataset", required=False, type=click.Path(path_type=Path))
@click.option("--batch-size", "batch_sizes", default="2,4,8", show_default=True, help="Comma-separated.")
@click.option("--steps", default=20, show_default=True, type=int, help="Timed batches per measurement.")
@click.option("--warmup", default=3, show_default=True, type=int, help="Batches dropped before timing.")
@click.option("--workers", default=0, show_default=True, type=int, help="Loader worker threads.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.option("--compile", "compile_", default="auto", show_default=True, type=click.Choice(["auto", "on", "off"]))
@click.option("--target", default="openecad-0.89b", show_default=True, help="Target model preset.")
@click.option("--target-params", type=int, help="Scale the target's FLOPs to this many parameters.")
@click.option("--mfu", default="0.15,0.35", show_default=True, help="Assumed MFU range LOW,HIGH.")
@click.option("--full-epochs", default=3, show_default=True, type=int, help="Epochs of the estimated training.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default: results/<UTC time>-bench/).")
def command(dataset, batch_sizes, compile_, mfu, **opts) -> None:
    """Time each stage of the hot path and the training step on DATASET (default: synthetic DeepCAD 1K)."""
    from harness.bench.stages import run_bench
    from harness.cli.options import progress_printer

    try:
        cfg = BenchConfig(dataset=dataset, batch_sizes=_ints(batch_sizes), compile=compile_, mfu=_mfu(mfu), **opts)
        res = run_bench(cfg, progress=progress_printer())
    except UsageError as e:
        raise click.UsageError(str(e)) from None
    except HarnessError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{res.out}: {', '.join(f'{k}={v.name}' for k, v in res.files.items())}")
