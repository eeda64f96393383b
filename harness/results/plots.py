"""Plots of a run (matplotlib, headless), as PNG bytes for ``write_run``. Each reads one table."""
from __future__ import annotations

import io
from typing import Any

import pyarrow as pa


def figure_module():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> bytes:
    """A finished figure as PNG bytes; the figure is closed."""
    plt = figure_module()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def loss_plot_png(epochs: pa.Table) -> bytes | None:
    """Train and val loss per epoch (``epochs.arrow``); None when there is nothing to plot."""
    if epochs.num_rows == 0:
        return None
    plt = figure_module()
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
    return png(fig)
