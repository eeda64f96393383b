"""The Loader: training batches straight from the kernels into reused (pinned) batch buffers.

Per image: read the bytes, decode (``kernels.png`` for PNG, Pillow ``convert("RGB")`` for anything
else), then resize + normalise fused (``kernels.normalize``) into the image's slot of a batch buffer.
Text: ``harness.text.proxy.encode_sample`` per record. Nothing is allocated per batch.

Buffers. A ring of ``workers + 2`` batch buffers is allocated once (pinned when ``pin_memory``). A
yielded batch is a view of one of them: it stays valid until two more batches have been requested
(so the current and the previous batch may be held, e.g. for a non-blocking copy to the device);
clone what you keep longer. ``device=`` does that copy for you, with ``non_blocking=True``.

Resize backends. ``resize_backend="numba"`` runs ``kernels.normalize`` (bit-identical to stock
Pillow + torchvision). ``"pil"`` wraps the decoded buffer without a copy (``Image.frombuffer``), resizes
with the active PIL's BICUBIC and normalises through ``kernels.normalize.normalize_into``; under
pillow-simd (AVX2) this is within 2 levels of stock Pillow (measured: max 1-2, mean < 0.01).
``"auto"`` (default) is ``"numba"``: on CAD renders, whose rows mostly repeat the row above, the
kernel computes each run of identical rows once (``kernels.runs``, exact) and measured faster than
pillow-simd (``benchmarks/bench_kernels.py``; stock Pillow is slower still). The choice is
``loader.resize_backend``.

Parallelism. ``workers`` threads each fill a whole batch; the kernels release the GIL (numba
``nogil``, zlib, Pillow), so threads scale without pickling pixels across processes.
``workers=0`` fills batches in the calling thread.

Timings. ``loader.timings`` gets one dict per batch: ``read_s``, ``decode_s``,
``resize_normalize_s``, ``collate_s`` (text and index), summed over the batch's images, and
``wait_s``, the time the consumer waited for it. ``loader.stats`` counts images per decode path
(``kernel``, ``pillow``) and ``blank`` for records without an image.

Records without an image. TinyLLaVA's ``LazySupervisedDataset`` gives a record with no ``image`` key
``torch.zeros(3, crop_h, crop_w)``, a tensor that goes to the vision tower as it is: zeros in normalised
units (the mean colour), not a black picture. The Loader writes the same: the record's slot is filled
with 0.0, nothing is read or decoded, and ``stats["blank"]`` counts it.
"""
from __future__ import annotations

import collections
import io
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from PIL import Image

from harness.data.layout import resolve_dataset, safe_image_path
from harness.data.records import Dataset, Record, load_dataset
from harness.errors import HarnessError
from harness.text.proxy import PAD, encode_sample
from kernels import png
from kernels.normalize import normalize_into, resize_normalize_into
from kernels.resize import plan, scratch

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STAGES = ("read_s", "decode_s", "resize_normalize_s", "collate_s")
RESIZE_BACKENDS = ("auto", "numba", "pil")


def pick_resize_backend(requested: str = "auto") -> str:
    """``"numba"`` or ``"pil"``; ``"auto"`` is ``"numba"`` (faster than pillow-simd on CAD renders)."""
    if requested not in RESIZE_BACKENDS:
        raise ValueError(f"resize_backend must be one of {RESIZE_BACKENDS}, got {requested!r}")
    return "numba" if requested == "auto" else requested


def pil_resize_normalize_into(rgb: np.ndarray, size: int, out: np.ndarray, mean: Sequence[float],
                              std: Sequence[float]) -> None:
    """The ``"pil"`` backend: the active PIL's BICUBIC on the decoded buffer (no copy), then the table."""
    h, w = rgb.shape[:2]
    if not rgb.flags.c_contiguous:
        rgb = np.ascontiguousarray(rgb)
    im = Image.frombuffer("RGB", (w, h), rgb, "raw", "RGB", 0, 1)
    normalize_into(np.asarray(im.resize((size, size), Image.Resampling.BICUBIC)), out, mean, std)


def _decode(data: bytes, path: str, counts: collections.Counter) -> np.ndarray:
    """RGB uint8 (H, W, 3); the array may be this thread's reused buffer, valid until the next call."""
    if data[:8] == _PNG_SIGNATURE:
        try:
            info = png.read_info(data)
            out = scratch("loader_decode", (info.height, info.width, 3), np.uint8)
            rgb = png.decode_into(data, out)
            counts["kernel"] += 1
            return rgb
        except png.PNGError:
            pass  # a PNG the strict kernel refuses may still open in Pillow; the checks report it
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))
    except Exception as e:
        raise HarnessError(f"cannot decode {path}: {e}") from e
    counts["pillow"] += 1
    return rgb


class _Buffers:
    """One batch's preallocated tensors and their numpy views (the kernels write into the views)."""

    def __init__(self, batch_size: int, size: int, max_length: int, pin: bool) -> None:
        def alloc(shape, dtype):
            return torch.empty(shape, dtype=dtype, pin_memory=pin)

        self.images = alloc((batch_size, 3, size, size), torch.float32)
        self.input_ids = alloc((batch_size, max_length), torch.int64)
        self.attention_mask = alloc((batch_size, max_length), torch.int64)
        self.labels = alloc((batch_size, max_length), torch.int64)
        self.index = alloc((batch_size,), torch.int64)
        self.np = {k: getattr(self, k).numpy() for k in ("images", "input_ids", "attention_mask", "labels", "index")}

    def batch(self, n: int) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k)[:n] for k in ("images", "input_ids", "attention_mask", "labels", "index")}


class Loader:
    """Iterable of training batches; see the module docstring for buffers, workers and timings."""

    def __init__(
        self,
        dataset: Dataset | str | os.PathLike,
        split: str = "train",
        batch_size: int = 8,
        image_size: int = 384,
        workers: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        pin_memory: bool | None = None,
        drop_last: bool = False,
        max_length: int = 2048,
        records: Sequence[Record] | None = None,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        device: str | torch.device | None = None,
        resize_backend: str = "auto",
    ) -> None:
        if batch_size < 1 or image_size < 1 or max_length < 1:
            raise ValueError("batch_size, image_size and max_length must be at least 1")
        self.dataset = dataset if isinstance(dataset, Dataset) else load_dataset(resolve_dataset(dataset))
        self.records = list(records) if records is not None else list(self.dataset.records.get(split, []))
        self.split = split
        self.batch_size = batch_size
        self.image_size = image_size
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        if self.workers < 0:
            raise ValueError("workers must be 0 or more")
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.drop_last = drop_last
        self.max_length = max_length
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.device = torch.device(device) if device is not None else None
        self.resize_backend = pick_resize_backend(resize_backend)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self._ring = [_Buffers(batch_size, image_size, max_length, self.pin_memory)
                      for _ in range(self.workers + 2)]
        self.timings: list[dict[str, float]] = []
        self.stats: collections.Counter = collections.Counter(kernel=0, pillow=0)

    def __len__(self) -> int:
        n = len(self.records)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Order of the next iteration: ``Generator(seed + epoch)`` permutation when shuffling."""
        self.epoch = epoch

    def order(self) -> np.ndarray:
        n = len(self.records)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng(self.seed + self.epoch).permutation(n)

    def _fill(self, buf: _Buffers, recs: list[Record]) -> tuple[int, dict[str, float], collections.Counter]:
        """Write one batch into ``buf``; returns its size, stage seconds and decode-path counts."""
        t = dict.fromkeys(STAGES, 0.0)
        counts: collections.Counter = collections.Counter()
        images = buf.np["images"]
        s = self.image_size
        for i, rec in enumerate(recs):
            t0 = time.perf_counter()
            if rec.image is None:
                # TinyLLaVA's torch.zeros(3, crop, crop) for a record without 'image': zeros after
                # normalisation (the mean colour), not a black picture.
                images[i].fill(0.0)
                counts["blank"] += 1
                t1 = t2 = t3 = time.perf_counter()
            else:
                path = safe_image_path(self.dataset.images, rec.image)
                data = path.read_bytes()
                t1 = time.perf_counter()
                rgb = _decode(data, str(path), counts)
                t2 = time.perf_counter()
                h, w = rgb.shape[:2]
                if (h, w) == (s, s):
                    normalize_into(rgb, images[i], self.mean, self.std)
                elif self.resize_backend == "pil":
                    pil_resize_normalize_into(rgb, s, images[i], self.mean, self.std)
                else:
                    resize_normalize_into(rgb, plan(h, w, s, s), images[i], self.mean, self.std)
                t3 = time.perf_counter()
            ids, labels = encode_sample(rec.prompt, rec.answer, self.max_length)
            buf.np["input_ids"][i] = ids
            buf.np["labels"][i] = labels
            np.not_equal(ids, PAD, out=buf.np["attention_mask"][i], casting="unsafe")
            buf.np["index"][i] = rec.index
            t4 = time.perf_counter()
            t["read_s"] += t1 - t0
            t["decode_s"] += t2 - t1
            t["resize_normalize_s"] += t3 - t2
            t["collate_s"] += t4 - t3
        return len(recs), t, counts

    def _batches(self) -> list[list[Record]]:
        order = self.order()
        b = self.batch_size
        out = [[self.records[j] for j in order[i:i + b]] for i in range(0, len(order), b)]
        if self.drop_last and out and len(out[-1]) < b:
            out.pop()
        return out

    def _emit(self, buf: _Buffers, result: tuple[int, dict[str, float], collections.Counter],
              wait: float) -> dict[str, Any]:
        n, t, counts = result
        self.stats.update(counts)
        self.timings.append({**t, "wait_s": wait, "images": n})
        batch = buf.batch(n)
        if self.device is not None:
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        return batch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        batches = self._batches()
        ring = self._ring
        if self.workers == 0:
            for k, recs in enumerate(batches):
                t0 = time.perf_counter()
                res = self._fill(ring[k % len(ring)], recs)
                yield self._emit(ring[k % len(ring)], res, time.perf_counter() - t0)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="loader") as pool:
            pending: collections.deque[Future] = collections.deque()
            submitted = 0

            def submit() -> None:
                nonlocal submitted
                buf = ring[submitted % len(ring)]
                pending.append(pool.submit(self._fill, buf, batches[submitted]))
                submitted += 1

            try:
                # workers batches in flight + the one the consumer holds + the previous one = ring size
                while submitted < min(self.workers, len(batches)):
                    submit()
                for k in range(len(batches)):
                    t0 = time.perf_counter()
                    res = pending.popleft().result()
                    wait = time.perf_counter() - t0
                    if submitted < len(batches):
                        submit()
                    yield self._emit(ring[k % len(ring)], res, wait)
            finally:
                for f in pending:
                    f.cancel()

    def stage_totals(self) -> dict[str, float]:
        """Seconds per stage summed over every batch so far (``harness bench`` reports these)."""
        keys = (*STAGES, "wait_s")
        return {k: float(sum(t[k] for t in self.timings)) for k in keys}


def to_device(batch: dict[str, torch.Tensor], device: str | torch.device) -> dict[str, torch.Tensor]:
    """Copy a batch to ``device`` without blocking the host (the source buffers are pinned)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


__all__ = ["RESIZE_BACKENDS", "STAGES", "Loader", "pick_resize_backend", "pil_resize_normalize_into", "to_device"]
