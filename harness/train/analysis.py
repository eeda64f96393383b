"""Convergence and deviation metrics of a proxy training run, computed from its EPOCHS and BATCHES rows.

Every rule is a stated formula so the report can print it next to its number:
- reduction % = (first - last) / first * 100, over epoch means (train and val);
- improvement per epoch = L(e-1) - L(e); average = (first - last) / (epochs - 1);
- train/val gap = val - train (absolute) and (val - train) / train * 100 (%);
- last-epoch batch deviation: sample std (n-1) of that epoch's train batch losses, CV = std / mean;
- plateau: least-squares fit of L(e) = a + b * exp(-e / tau) to the train curve, a >= 0 (a loss
  cannot go below zero), tau on a log grid; plateau = first epoch whose predicted improvement
  L(e) - L(e+1) drops below 1% of the first epoch's loss (an absolute scale: "1% of the current
  loss" never triggers when the fitted floor is 0, since the decay's relative step is constant);
- converging: train reduction >= 10% and last val loss < first val loss;
- overfitting: val loss rises two epochs in a row while train loss falls in both.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

CONVERGING_MIN_REDUCTION_PCT = 10.0
PLATEAU_IMPROVEMENT_FRACTION = 0.01
PLATEAU_METHOD = ("least-squares fit of L(e) = a + b*exp(-e/tau), a >= 0, to the train loss (tau on a "
                  "log grid 0.1..1000 epochs); plateau = first epoch where the predicted improvement "
                  "L(e) - L(e+1) < 1% of the first epoch's loss")
CONVERGING_RULE = "converging: train loss reduction >= 10% and last val loss < first val loss"
OVERFITTING_RULE = "overfitting: val loss rises two epochs in a row while train loss falls"
DEVIATION_RULE = "sample standard deviation (n-1) of the last epoch's train batch losses; CV = std / mean"
_PLATEAU_HORIZON = 10_000            # epochs searched for the plateau before giving up


@dataclass(kw_only=True, frozen=True)
class PlateauFit:
    a: float
    b: float
    tau: float
    rmse: float
    epoch: int | None                # None: the curve is not decaying, or no plateau within the horizon


@dataclass(kw_only=True, frozen=True)
class Convergence:
    epochs: int
    train_losses: tuple[float, ...]
    val_losses: tuple[float | None, ...]
    train_reduction_pct: float
    val_reduction_pct: float | None
    train_improvement: float                    # first - last
    val_improvement: float | None
    train_monotone: bool                        # strictly decreasing every epoch
    val_monotone: bool | None
    train_improvement_per_epoch: tuple[float, ...]   # epoch e-1 -> e, positive = better
    val_improvement_per_epoch: tuple[float, ...]
    average_improvement_per_epoch: float
    gap: tuple[float | None, ...]               # val - train per epoch
    gap_pct: tuple[float | None, ...]           # (val - train) / train * 100
    last_epoch_batch_losses: tuple[float, ...]
    last_epoch_batch_std: float | None
    last_epoch_batch_cv_pct: float | None
    plateau: PlateauFit | None
    plateau_method: str
    converging: bool
    overfitting: bool
    verdict: str
    rules: tuple[str, ...]

    def summary(self) -> str:
        """One line for the tests table."""
        parts = [(f"{self.verdict}: train loss {self.train_losses[0]:.4f} -> {self.train_losses[-1]:.4f} "
                 f"({self.train_reduction_pct:.1f}% lower)")]
        if self.val_reduction_pct is not None:
            parts.append(f"val {self.val_losses[0]:.4f} -> {self.val_losses[-1]:.4f} "
                         f"({self.val_reduction_pct:.1f}% lower)")
        parts.append(f"{self.epochs} epochs")
        return ", ".join(parts)


def reduction_pct(first: float, last: float) -> float:
    return (first - last) / first * 100.0


def improvements(losses: list[float]) -> list[float]:
    return [a - b for a, b in itertools.pairwise(losses)]


def batch_deviation(losses: list[float]) -> tuple[float | None, float | None]:
    """(sample std, CV %) of batch losses; None when fewer than two batches."""
    if len(losses) < 2:
        return None, None
    std = float(np.std(losses, ddof=1))
    mean = float(np.mean(losses))
    return std, (std / mean * 100.0 if mean else None)


def fit_plateau(losses: list[float]) -> PlateauFit | None:
    """Fit a + b*exp(-e/tau) (e = 1..n), a >= 0; for each tau the model is linear in (a, b), so least
    squares on a log grid of tau finds the global best without an iterative optimiser."""
    if len(losses) < 3:
        return None
    e = np.arange(1, len(losses) + 1, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    best = None
    for tau in np.logspace(-1, 3, 400):
        x = np.exp(-e / tau)
        design = np.stack([np.ones_like(x), x], axis=1)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        if coef[0] < 0:              # the floor is a loss: clamp it to 0 and refit b alone
            coef = np.array([0.0, float(x @ y) / float(x @ x)])
        sse = float(np.sum((design @ coef - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, float(coef[0]), float(coef[1]), float(tau))
    sse, a, b, tau = best
    epoch = _plateau_epoch(b, tau, PLATEAU_IMPROVEMENT_FRACTION * float(y[0]))
    return PlateauFit(a=a, b=b, tau=tau, rmse=math.sqrt(sse / len(y)), epoch=epoch)


def _plateau_epoch(b: float, tau: float, threshold: float) -> int | None:
    """First epoch e with b*exp(-e/tau)*(1 - exp(-1/tau)) < threshold, in closed form."""
    drop = b * (1.0 - math.exp(-1.0 / tau))
    if b <= 0 or threshold <= 0:     # a rising or flat fit never plateaus in the improving sense
        return None
    if drop < threshold:
        return 1
    ep = math.floor(tau * math.log(drop / threshold)) + 1
    return ep if ep <= _PLATEAU_HORIZON else None


def is_overfitting(train: list[float], val: list[float | None]) -> bool:
    for i in range(2, len(train)):
        v0, v1, v2 = val[i - 2], val[i - 1], val[i]
        if None in (v0, v1, v2):
            continue
        if v2 > v1 > v0 and train[i] < train[i - 1] < train[i - 2]:
            return True
    return False


def analyse(epochs: list[dict], batches: list[dict]) -> Convergence:
    """Metrics from EPOCHS rows (epoch, train_loss, val_loss) and BATCHES rows (epoch, split, loss)."""
    epochs = sorted(epochs, key=lambda r: r["epoch"])
    if not epochs:
        raise ValueError("no epochs to analyse")
    train = [float(r["train_loss"]) for r in epochs]
    val = [None if r.get("val_loss") is None else float(r["val_loss"]) for r in epochs]
    has_val = all(v is not None for v in val)
    last = epochs[-1]["epoch"]
    last_batches = [float(b["loss"]) for b in sorted(batches, key=lambda b: b["step"])
                    if b["epoch"] == last and b["split"] == "train"]
    std, cv = batch_deviation(last_batches)
    n = len(train)
    train_red = reduction_pct(train[0], train[-1])
    val_red = reduction_pct(val[0], val[-1]) if has_val else None
    converging = train_red >= CONVERGING_MIN_REDUCTION_PCT and (not has_val or val[-1] < val[0])
    overfitting = is_overfitting(train, val)
    fit = fit_plateau(train)
    verdict = "converging" if converging else "not converging"
    if overfitting:
        verdict += ", overfitting"
    return Convergence(
        epochs=n,
        train_losses=tuple(train),
        val_losses=tuple(val),
        train_reduction_pct=train_red,
        val_reduction_pct=val_red,
        train_improvement=train[0] - train[-1],
        val_improvement=(val[0] - val[-1]) if has_val else None,
        train_monotone=all(d > 0 for d in improvements(train)),
        val_monotone=all(d > 0 for d in improvements(val)) if has_val else None,
        train_improvement_per_epoch=tuple(improvements(train)),
        val_improvement_per_epoch=tuple(improvements(val)) if has_val else (),
        average_improvement_per_epoch=(train[0] - train[-1]) / (n - 1) if n > 1 else 0.0,
        gap=tuple(None if v is None else v - t for t, v in zip(train, val)),
        gap_pct=tuple(None if v is None or not t else (v - t) / t * 100.0 for t, v in zip(train, val)),
        last_epoch_batch_losses=tuple(last_batches),
        last_epoch_batch_std=std,
        last_epoch_batch_cv_pct=cv,
        plateau=fit,
        plateau_method=PLATEAU_METHOD,
        converging=converging,
        overfitting=overfitting,
        verdict=verdict,
        rules=(CONVERGING_RULE, OVERFITTING_RULE, DEVIATION_RULE, PLATEAU_METHOD),
    )
