"""The image pass with the driver reading the files: no shared folder on a cluster, but every byte passes
through the driver. Each chunk's files are read only as the inner executor asks for them, so driver
memory stays bounded; workers put the bytes back under a private folder and measure them there, so the
rows are exactly those the file-reading pass makes."""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.checks.image_pass import measure_image, measure_images, measure_images_chunk, rows_to_batch
from harness.data.layout import UnsafePath, safe_image_path
from harness.execution import ChunkResult, Executor


def measure_shipped(max_pixels: int, payload: list[tuple[str, bytes | dict]]):
    """The image pass over bytes sent by the driver: each file is put back under a private folder
    (tmpfs when there is one) at its relative name and measured there, so the rows are exactly those
    the file-reading pass makes, in the same columnar ``IMAGES`` batch. An entry whose value is a dict is a
    row the driver already made (a path it could not read or that leaves the image folder), kept as is."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tmp = tempfile.mkdtemp(prefix="harness-ship-", dir=base)
    try:
        for name, data in payload:
            if isinstance(data, bytes):
                p = Path(tmp, name)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
        shipped = [name for name, data in payload if isinstance(data, bytes)]
        rows = iter(measure_images(tmp, shipped, max_pixels=max_pixels))
        return rows_to_batch([next(rows) if isinstance(data, bytes) else data for _, data in payload])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_payload(root: Path, names, max_pixels: int) -> list[tuple[str, bytes | dict]]:
    payload: list[tuple[str, bytes | dict]] = []
    for name in names:
        try:
            payload.append((name, safe_image_path(root, name).read_bytes()))
        except (UnsafePath, OSError):  # the row says why, made here by the same code the workers run
            payload.append((name, measure_image(str(root), name, max_pixels=max_pixels)))
    return payload


class ShippingExecutor(Executor):
    """Runs the image pass with the driver reading the files: ``fn`` must be the image pass
    (``functools.partial(measure_images_chunk, root, max_pixels)``); anything else runs unchanged.
    Chunks are read only as the inner executor asks for them, so driver memory stays bounded."""

    def __init__(self, inner: Executor, root: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.root = Path(root)

    def map_chunks(self, fn, chunks) -> Iterator[ChunkResult]:
        if not (isinstance(fn, functools.partial) and fn.func is measure_images_chunk and len(fn.args) == 2):
            yield from self.inner.map_chunks(fn, chunks)
            return
        root, max_pixels = Path(fn.args[0]), fn.args[1]
        payloads = (_read_payload(root, names, max_pixels) for names in chunks)
        yield from self.inner.map_chunks(functools.partial(measure_shipped, max_pixels), payloads)

    def close(self) -> None:
        self.inner.close()

