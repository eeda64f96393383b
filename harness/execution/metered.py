"""An executor wrapper that counts rows and nodes and times start-up apart from throughput."""
from __future__ import annotations

import time
from typing import Any

from harness.execution.base import ChunkResult, Executor


def _items(value: Any) -> int:
    """Rows in a chunk's result: a list of rows, or a columnar batch (``num_rows``); 0 for anything else."""
    if isinstance(value, list):
        return len(value)
    n = getattr(value, "num_rows", None)
    return n if isinstance(n, int) else 0


class MeteredExecutor(Executor):
    """Wraps an executor: stamps each row of a list result with the node that made it (rows left it null;
    a columnar batch is left to the caller, which knows its schema) and records when results arrive, so a
    run can state its start-up apart from its throughput."""

    def __init__(self, inner: Executor, *, init_seconds: float = 0.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.init_seconds = init_seconds       # time it took to make ``inner`` (Ray start), counted as start-up
        self.called_at: float | None = None
        self.first_result_at: float | None = None
        self.last_result_at: float | None = None
        self.first_items = 0                   # items in the first result (not counted past start-up)
        self.items = 0
        self.chunks = 0
        self.errors: list[ChunkResult] = []
        self.nodes: dict[str, int] = {}        # node -> items it produced

    def map_chunks(self, fn, chunks):
        self.called_at = time.perf_counter()
        for r in self.inner.map_chunks(fn, chunks):
            now = time.perf_counter()
            n = _items(r.value)
            if self.first_result_at is None:
                self.first_result_at, self.first_items = now, n
            self.last_result_at = now
            self.chunks += 1
            self.items += n
            if r.error is not None:
                self.errors.append(r)
            elif r.node is not None:
                self.nodes[r.node] = self.nodes.get(r.node, 0) + n
                for row in r.value if isinstance(r.value, list) else ():
                    if isinstance(row, dict) and row.get("node") is None:
                        row["node"] = r.node
            yield r

    @property
    def startup_seconds(self) -> float | None:
        """Making the executor plus the wait from the first ``map_chunks`` call to its first result."""
        if self.first_result_at is None or self.called_at is None:
            return None
        return self.init_seconds + self.first_result_at - self.called_at

    @property
    def items_per_s(self) -> float | None:
        """Items after the first result over the time after it: throughput with start-up left out."""
        if self.first_result_at is None or self.last_result_at is None:
            return None
        span = self.last_result_at - self.first_result_at
        rest = self.items - self.first_items
        return rest / span if span > 0 and rest > 0 else None

    def close(self) -> None:
        self.inner.close()
