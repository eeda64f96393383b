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


def target_plot_png(target: pa.Table) -> bytes | None:
    """The target's step time and peak memory per batch size (``target.arrow``), one line per depth:
    each cut copy and the full depth (measured or extrapolated); batches that did not fit are crosses
    at the memory axis' floor. None when nothing ran."""
    rows = target.to_pylist()
    if not any(r["step_seconds"] is not None for r in rows):
        return None
    plt = figure_module()
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["kind"], r["llm_layers"], r["vision_layers"]), []).append(r)
    for (kind, llm, vis), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["batch_size"])
        ok = [r for r in rs if r["step_seconds"] is not None and r["fits"] is not False]
        label = f"{kind}, LM {llm} / vision {vis} blocks"
        style = "s-" if kind == "extrapolated" else "o-"
        if ok:
            ax_t.plot([r["batch_size"] for r in ok], [r["step_seconds"] for r in ok], style, label=label)
            ax_m.plot([r["batch_size"] for r in ok], [r["peak_memory_bytes"] / 2**30 for r in ok], style,
                      label=label)
        pred = [r for r in rs if r["predicted_peak_memory_bytes"] is not None]
        full_depth = kind == "extrapolated" or len(groups) == 1      # the cut copies' models would crowd it
        if pred and full_depth:
            ax_m.plot([r["batch_size"] for r in pred], [r["predicted_peak_memory_bytes"] / 2**30 for r in pred],
                      ":", color="grey", label=f"memory model, LM {llm} / vision {vis}")
        failed = [r for r in rs if r["fits"] is False]
        if failed:
            ax_t.plot([r["batch_size"] for r in failed], [0] * len(failed), "x", color="red", markersize=10,
                      label=f"does not fit ({label})")
    bss = sorted({r["batch_size"] for r in rows})
    for ax, ylabel in ((ax_t, "seconds per training step (median)"), (ax_m, "peak memory, GiB")):
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_xticks(bss)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    first = rows[0]
    ax_t.set_title(f"Target step time ({first['device']}, {first['dtype']})")
    ax_m.set_title("Target peak memory: measured vs modelled")
    return png(fig)
