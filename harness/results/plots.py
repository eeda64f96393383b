"""Plots of a run (matplotlib, headless). Each reads one table."""
from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa

from harness.results.write import write_bytes


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def loss_plot(path: Path, epochs: pa.Table) -> Path | None:
    """Train and val loss per epoch (``epochs.arrow``); None when there is nothing to plot."""
    if epochs.num_rows == 0:
        return None
    plt = _figure()
    rows = sorted(epochs.to_pylist(), key=lambda r: r["epoch"])
    e = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(e, [r["train_loss"] for r in rows], "o-", label="train")
    if all(r["val_loss"] is not None for r in rows):
        ax.plot(e, [r["val_loss"] for r in rows], "s--", label="val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (answer tokens, cross-entropy)")
    ax.set_title("Proxy model: loss per epoch")
    ax.set_xticks(e)
    ax.grid(alpha=0.3)
    ax.legend()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
