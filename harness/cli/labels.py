"""``harness labels``: the label-mask and token-budget checks alone, with a one-screen summary."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli import options
from harness.errors import HarnessError, UsageError


@click.command("labels")
@options.dataset_arguments
@options.out_option
@click.option("--template", default="llama", show_default=True, help="Chat template whose masking is simulated.")
@click.option("--tokenizer", type=click.Path(path_type=Path, exists=True),
              help="tokenizer.json, SentencePiece .model, or a folder with one (default: the byte proxy).")
@click.option("--legacy/--no-legacy", default=None, help="The tokenizer's transformers legacy flag.")
@click.option("--max-length", default=2048, show_default=True, type=int, help="Model context, tokens.")
@click.option("--image-tokens", default=728, show_default=True, type=int, help="Tokens one image takes.")
def command(dataset, train, val, images, out, template, tokenizer, legacy, max_length, image_tokens) -> None:
    """Simulate TinyLLaVA's label masking on every record of DATASET: blanked labels, masks that miss
    the answers, image placeholders, empty answers, samples cut at --max-length. Exit 1 on an error."""
    from harness.config import CheckConfig
    from harness.data import resolve_dataset
    from harness.results.metadata import default_out, run_metadata
    from harness.runs.labels import run_labels

    try:
        cfg = CheckConfig(template=template, tokenizer=tokenizer, legacy=legacy, max_length=max_length,
                          image_tokens=image_tokens)
        paths = resolve_dataset(dataset, train=train, val=val, images=images)
        result = run_labels(paths, cfg, out or default_out("labels"), meta=run_metadata("labels", cfg))
    except UsageError as e:
        raise click.UsageError(str(e)) from None
    except HarnessError as e:
        raise click.ClickException(str(e)) from None
    click.echo("\n".join(result.summary_lines()))
    sys.exit(1 if result.errors else 0)
