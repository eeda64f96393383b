"""What every command shares: dataset, output, check and execution options (defaults read from the
configs), the error mapping, and the end of a run (summary, exit status). Extend here rather than
redeclaring an option in a command."""
from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path

import click

from harness.config import COMPILE_SETTINGS, DEVICES, CheckConfig, TrainConfig
from harness.errors import HarnessError, UsageError
from harness.progress import Progress
from harness.results.run import RunResult
from harness.results.summary import print_summary
from harness.text.templates import TEMPLATE_NAMES

_path = click.Path(path_type=Path)


def default(config: type, name: str):
    """A config field's default: click options show the configs' defaults, never a retyped copy."""
    f = next(f for f in dataclasses.fields(config) if f.name == name)
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


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

text_options = _stack(
    click.option("--max-length", type=int,
                 help=f"Model context, tokens (default: model_max_length of the --tokenizer folder's "
                      f"tokenizer_config.json, as training reads it, else {default(CheckConfig, 'max_length')})."),
    click.option("--image-tokens", default=default(CheckConfig, "image_tokens"), show_default=True, type=int,
                 help="Tokens one image takes."),
    click.option("--template", default=default(CheckConfig, "template"), show_default=True,
                 type=click.Choice(TEMPLATE_NAMES), help="Chat template whose masking is simulated."),
    click.option("--tokenizer", type=click.Path(path_type=Path, exists=True),
                 help="tokenizer.json, SentencePiece .model, or a folder with one (default: the byte proxy)."),
    click.option("--legacy/--no-legacy", default=None, help="The tokenizer's transformers legacy flag."),
)

check_options = _stack(
    text_options,
    click.option("--max-pixels", default=default(CheckConfig, "max_pixels"), show_default=True, type=int,
                 help="Refuse images declaring more pixels (decompression bombs)."),
    click.option("--phash-distance", default=default(CheckConfig, "phash_distance"), show_default=True, type=int,
                 help="Near duplicates: perceptual hashes within this Hamming distance."),
    click.option("--loader-samples", default=default(CheckConfig, "loader_samples"), show_default=True, type=int,
                 help="Samples whose image-text pairing test 3 verifies."),
)

device_option = click.option("--device", default=default(TrainConfig, "device"), show_default=True,
                             type=click.Choice(DEVICES))
compile_option = click.option("--compile", "compile_", default=default(TrainConfig, "compile"), show_default=True,
                              type=click.Choice(COMPILE_SETTINGS), help="torch.compile: auto = eager on CPU.")

_TUNE = click.Choice(("full", "lora", "frozen"))
recipe_options = _stack(
    click.option("--tune-llm", type=_TUNE, help="Override the recipe's LLM tuning."),
    click.option("--tune-vision", type=_TUNE, help="Override the recipe's vision-tower tuning."),
    click.option("--tune-connector", type=_TUNE, help="Override the recipe's connector tuning."),
    click.option("--lora-rank", type=click.IntRange(min=1), help="Override the recipe's LoRA rank (alpha = 2 x rank)."),
)


def parse_mfu(value: str) -> tuple[float, float]:
    """--mfu LOW,HIGH as fractions or percents (any figure above 1 reads as percents)."""
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("LOW,HIGH as fractions or percents, e.g. 0.15,0.35 or 15,35") from None
    return (lo / 100, hi / 100) if max(lo, hi) > 1 else (lo, hi)


execution_options = _stack(
    click.option("--workers", type=click.IntRange(min=1),
                 help="Parallel workers (1: in this process, no Ray). Default: see the command's help."),
    click.option("--ray-address", envvar="RAY_ADDRESS",
                 help="Join this Ray cluster (e.g. 10.0.0.5:6379) instead of running locally. Its nodes "
                      "need harness installed and, unless --ship-bytes, the images at the same path."),
)

write_clean_option = click.option(
    "--write-clean", type=_path, metavar="DIR",
    help="Also write DIR/train.json and DIR/val.json with only the sound records (no error finding; warnings "
         "kept), each as it came, and DIR/left_out.arrow: what was left out and why. The input is never "
         "touched: DIR may not be the dataset's folder.")

ship_bytes_option = click.option(
    "--ship-bytes", is_flag=True,
    help="The driver reads the images and sends their bytes to the workers: no shared folder needed on "
         "a cluster, but every byte passes through the driver (slower than a shared path).")


def check_config(**kw) -> CheckConfig:
    """A CheckConfig from the ``check_options`` keyword arguments (unknown keys are a bug). Without
    --max-length, the tokenizer's own ``model_max_length`` when it has one: what training will use."""
    from harness.text.tokenizers import model_max_length  # tokenizer libraries: not for --help

    if kw.get("max_length") is None:
        kw["max_length"] = model_max_length(kw.get("tokenizer"))
    return CheckConfig(**{k: v for k, v in kw.items() if v is not None})


def cli_errors(fn):
    """The one mapping of domain errors to exit codes: UsageError -> 2 (click's usage error), HarnessError
    -> 1 with its message, Ctrl-C or SIGTERM -> 130 with nothing half written. Never a traceback."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UsageError as e:
            raise click.UsageError(str(e)) from None
        except HarnessError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: stopped before the end; no table is half written", err=True)
            sys.exit(130)
    return run


def progress() -> Progress:
    """Stage lines and counts on stderr (a live bar on a terminal), kept off stdout's summary."""
    return Progress()


def finish(result: RunResult) -> None:
    """Print the run's summary and exit with its status (0 passed, 1 a test failed)."""
    print_summary(result)
    sys.exit(result.exit_code)
