"""The benchmarks' one timing loop: warm-up runs apart, ``time.perf_counter``, repeats, median/min/max.

``repeat`` times one callable; ``interleaved`` times several round by round (each round runs every one once),
so a load that comes and goes on a shared machine hits them all alike. ``per`` divides each run's seconds
(items per run: seconds per item). ``setup`` runs before each run, untimed, and its result is the argument.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    runs: list[float]      # seconds per run, divided by ``per``; warm-up runs left out
    result: Any = None     # what the last timed run returned

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def min(self) -> float:
        return min(self.runs)

    @property
    def max(self) -> float:
        return max(self.runs)


def _once(fn: Callable, setup: Callable[[], Any] | None, per: float) -> tuple[float, Any]:
    if setup is None:
        t0 = time.perf_counter()
        out = fn()
    else:
        arg = setup()
        t0 = time.perf_counter()
        out = fn(arg)
    return (time.perf_counter() - t0) / per, out


def repeat(fn: Callable, repeats: int, *, warmup: int = 1, per: float = 1,
           setup: Callable[[], Any] | None = None) -> Timing:
    """``warmup`` untimed runs (JIT, caches, allocators), then ``repeats`` timed ones."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        _once(fn, setup, per)
    runs, out = [], None
    for _ in range(repeats):
        t, out = _once(fn, setup, per)
        runs.append(t)
    return Timing(runs, out)


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, *, warmup: int = 1,
                per: float = 1) -> dict[str, Timing]:
    """``warmup`` + ``repeats`` rounds, each running every callable once in order; warm-up rounds dropped."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    runs: dict[str, list[float]] = {k: [] for k in fns}
    last: dict[str, Any] = {}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            t, last[name] = _once(fn, None, per)
            if r >= warmup:
                runs[name].append(t)
    return {k: Timing(runs[k], last[k]) for k in fns}
