"""``harness labels``: the label-mask and token-budget checks alone, with a one-screen summary."""
from __future__ import annotations

import click

from harness.cli import options
from harness.config import LabelsConfig


@click.command("labels")
@options.dataset_arguments
@options.out_option
@options.text_options
@options.cli_errors
def command(dataset, train, val, images, out, **text_kw) -> None:
    """Simulate TinyLLaVA's label masking on every record of DATASET: blanked labels, masks that miss
    the answers, image placeholders, empty answers, samples cut at --max-length. Exit 1 on an error."""
    from harness.runs.labels import labels

    cfg = LabelsConfig(dataset=dataset, train=train, val=val, images=images, out=out,
                       checks=options.check_config(**text_kw))
    options.finish(labels(cfg, progress=options.progress()))
