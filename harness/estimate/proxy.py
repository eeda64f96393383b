"""Full-training time of the proxy model from its measured step time.

total_seconds = ceil(conversations / batch_size) * step_seconds * epochs, where step_seconds is the
measured steady-state step (median, first batch excluded) including the time spent waiting for the
loader, so loader stalls are part of the estimate.

Scale rows follow the seed's DeepCAD 1K layout: conversations = models * views * 10/11 (one model in
eleven is held out for validation), e.g. 1,100 models x 3 views -> 3,000 train conversations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SCALES = (("1K", 1_100), ("10K", 11_000), ("50K", 55_000))   # models incl. the 1-in-11 val share
TRAIN_SHARE = 10 / 11
VIEWS = 3


@dataclass(kw_only=True, frozen=True)
class ProxyEstimate:
    scale: str
    models: int | None
    conversations: int
    batch_size: int
    epochs: int
    steps_per_epoch: int
    step_seconds: float
    total_seconds: float


def steps_per_epoch(conversations: int, batch_size: int) -> int:
    return math.ceil(conversations / batch_size)


def estimate(conversations: int, batch_size: int, step_seconds: float, epochs: int, *,
             scale: str = "dataset", models: int | None = None) -> ProxyEstimate:
    if batch_size < 1 or epochs < 1 or conversations < 0 or step_seconds < 0:
        raise ValueError("batch_size and epochs must be >= 1; conversations and step_seconds >= 0")
    steps = steps_per_epoch(conversations, batch_size)
    return ProxyEstimate(scale=scale, models=models, conversations=conversations, batch_size=batch_size,
                         epochs=epochs, steps_per_epoch=steps, step_seconds=step_seconds,
                         total_seconds=steps * step_seconds * epochs)


def scale_conversations(models: int, views: int = VIEWS) -> int:
    return round(models * views * TRAIN_SHARE)


def scales(dataset_conversations: int, views: int = VIEWS) -> list[tuple[str, int | None, int]]:
    """(scale, models, train conversations): the dataset itself, then 1K/10K/50K models."""
    return [("dataset", None, dataset_conversations)] + [
        (name, m, scale_conversations(m, views)) for name, m in SCALES]


def proxy_estimates(*, step_seconds: float, batch_size: int, epochs: int, dataset_conversations: int,
                    views: int = VIEWS, device: str, statistic: str = "median") -> list[dict]:
    """ESTIMATES rows (basis "proxy"): the dataset's own train split, then the 1K/10K/50K scales.
    ``statistic`` names how ``step_seconds`` was taken from the measured steps (written in the rule)."""
    rule = (f"total = ceil(conversations / {batch_size}) steps x {step_seconds:.4f} s/step (measured "
            f"steady-state {statistic} on {device}, loader waits included) x {epochs} epochs")
    out = [estimate(conv, batch_size, step_seconds, epochs, scale=name, models=m)
           for name, m, conv in scales(dataset_conversations, views)]
    rows = []
    for e in out:
        note = rule if e.models is None else (
            f"{rule}; conversations = {e.models:,} models x {views} views x 10/11 train share")
        rows.append({"basis": "proxy", "models": e.models, "conversations": e.conversations,
                     "batch_size": e.batch_size, "epochs": e.epochs, "steps_per_epoch": e.steps_per_epoch,
                     "step_seconds": e.step_seconds, "total_seconds": e.total_seconds, "scale": e.scale,
                     "device": device, "mfu": None, "assumption": note})
    return rows
