"""Where work runs: in this process, or on Ray (a private local Ray or an existing cluster). Work is a
picklable ``fn(chunk) -> result`` over chunks; results stream back in completion order.
``base``: the contract and the in-process reference; ``ray_cluster``: Ray (the only module importing ray,
lazily); ``metered``: counts and timings; ``shipping``: the driver reads the files and ships the bytes."""
from __future__ import annotations

import os

from harness.execution.base import ChunkResult, Executor, LocalExecutor, chunked, iter_values
from harness.execution.metered import MeteredExecutor
from harness.execution.ray_cluster import TRANSIENT_ERRORS, RayExecutor

__all__ = ["TRANSIENT_ERRORS", "ChunkResult", "Executor", "LocalExecutor", "MeteredExecutor", "RayExecutor",
           "chunked", "iter_values", "make_executor"]


def make_executor(*, workers: int | None = None, ray_address: str | None = None,
                  preload: tuple[str, ...] = ()) -> Executor:
    """In-process for one worker and no cluster; Ray otherwise (``RayExecutor`` imports ray lazily).
    ``preload``: modules Ray workers import as soon as they start, before the first chunk arrives."""
    address = ray_address or os.environ.get("RAY_ADDRESS")
    if address is None and workers == 1:
        return LocalExecutor()
    return RayExecutor(address=address, workers=workers, preload=preload)
