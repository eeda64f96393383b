"""The executor contract: a picklable ``fn(chunk) -> result`` over chunks, every chunk reported exactly once
as a ``ChunkResult``; ``LocalExecutor`` runs them in this process and is the reference the others agree with."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChunkResult:
    """What came back for one chunk: its position, the value, or the error after the last retry."""

    index: int
    value: Any = None
    error: str | None = None
    node: str | None = None


class Executor:
    """Runs ``fn`` over chunks; subclasses decide where."""

    name = "base"

    def map_chunks(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> Iterator[ChunkResult]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """In this process, in order. The reference every other executor must agree with."""

    name = "local"

    def map_chunks(self, fn, chunks):
        host = os.uname().nodename
        for i, chunk in enumerate(chunks):
            try:
                yield ChunkResult(index=i, value=fn(chunk), node=host)
            except Exception as e:  # errors are data: the caller turns them into findings
                yield ChunkResult(index=i, error=f"{type(e).__name__}: {e}", node=host)


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def iter_values(results: Iterable[ChunkResult]) -> Iterator[Any]:
    for r in results:
        if r.error is not None:
            raise RuntimeError(r.error)
        yield r.value
