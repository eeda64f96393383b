"""Shared click options: dataset paths, output folder, check parameters, execution. Used by dryrun,
validate and labels; extend here rather than redeclaring an option in a command."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from harness.config import CheckConfig

_path = click.Path(path_type=Path)


def _stack(*decorators):
    def apply(fn):
        for d in reversed(decorators):
            fn = d(fn)
        return fn
    return apply


dataset_arguments = _stack(
    click.argument("dataset", required=False, type=_path),
    click.option("--train", type=_path, help="Train split JSON (overrides DATASET/train.json)."),
    click.option("--val", type=_path, help="Val split JSON (overrides DATASET/val.json)."),
    click.option("--images", type=_path, help="Image folder (overrides DATASET/images)."),
)

out_option = click.option("--out", type=_path, help="Run folder (default: results/<UTC time>-<command>/).")

check_options = _stack(
    click.option("--max-length", default=2048, show_default=True, type=int, help="Model context, tokens."),
    click.option("--image-tokens", default=728, show_default=True, type=int, help="Tokens one image takes."),
    click.option("--template", default="llama", show_default=True, help="Chat template whose masking is simulated."),
    click.option("--tokenizer", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                 help="tokenizer.json or SentencePiece .model (default: the proxy byte tokenizer)."),
    click.option("--max-pixels", default=178_956_970, show_default=True, type=int,
                 help="Refuse images declaring more pixels (decompression bombs)."),
    click.option("--phash-distance", default=4, show_default=True, type=int,
                 help="Near duplicates: perceptual hashes within this Hamming distance."),
    click.option("--loader-samples", default=50, show_default=True, type=int,
                 help="Samples whose image-text pairing test 3 verifies."),
)

execution_options = _stack(
    click.option("--workers", type=click.IntRange(min=1),
                 help="Parallel workers (1: in this process, no Ray). Default: see the command's help."),
    click.option("--ray-address", envvar="RAY_ADDRESS",
                 help="Join this Ray cluster (e.g. 10.0.0.5:6379) instead of running locally. Its nodes "
                      "need harness installed and, unless --ship-bytes, the images at the same path."),
)

ship_bytes_option = click.option(
    "--ship-bytes", is_flag=True,
    help="The driver reads the images and sends their bytes to the workers: no shared folder needed on "
         "a cluster, but every byte passes through the driver (slower than a shared path).")


def check_config(**kw) -> CheckConfig:
    """A CheckConfig from the ``check_options`` keyword arguments (unknown keys are a bug)."""
    return CheckConfig(**{k: v for k, v in kw.items() if v is not None})


def progress_printer():
    """A progress callback printing timestamped stage lines to stderr (kept off stdout's summary)."""
    t0 = time.perf_counter()

    def emit(msg: str) -> None:
        click.echo(f"[{time.perf_counter() - t0:6.1f}s] {msg}", err=True)
        sys.stderr.flush()

    return emit
