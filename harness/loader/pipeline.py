"""The Loader: training batches straight from the kernels into reused (pinned) batch buffers.

Per image: read the bytes, decode (``kernels.png`` for PNG, Pillow ``convert("RGB")`` for anything
else, its pixels read in place), then resize + normalise fused (``kernels.normalize``) into the
image's slot of a batch buffer. Text: the proxy byte tokenizer's rows for the whole batch in one kernel
call (``kernels.tokens``, the values of ``harness.text.proxy.encode_sample``). Nothing is allocated
per batch.

Buffers. A ring of ``workers + 2`` batch buffers is allocated once (pinned when ``pin_memory``). A
yielded batch is a view of one of them: it stays valid until two more batches have been requested
(so the current and the previous batch may be held, e.g. for a non-blocking copy to the device);
clone what you keep longer. ``device=`` does that copy for you, with ``non_blocking=True``.

Resize backends. ``resize_backend="numba"`` runs ``kernels.normalize`` (bit-identical to stock
Pillow + torchvision). ``"pil"`` wraps the decoded buffer without a copy (``Image.frombuffer``), resizes
with the active PIL's BICUBIC and normalises through the same table as the kernel; under
pillow-simd (AVX2) this is within 2 levels of stock Pillow (measured: max 1-2, mean < 0.01).
``"auto"`` (default) is ``"numba"``: on CAD renders, whose rows mostly repeat the row above, the
kernel computes each run of identical rows once (``kernels.runs``, exact) and measured faster than
pillow-simd (``benchmarks/bench_kernels.py``; stock Pillow is slower still). The choice is
``loader.resize_backend``.

Parallelism. ``workers`` threads each fill a whole batch; the kernels release the GIL (numba
``nogil``, zlib, Pillow), so threads scale without pickling pixels across processes.
``workers=0`` fills batches in the calling thread. What still holds the GIL is the Python between the
kernels, so it is kept short (measured with ``py-spy --gil``, share of one thread's time with the GIL
held, before -> after: PNG renders 36% -> 14%, JPEG photos 23% -> ~10%): image paths are checked once
per Loader (``safe_image_path`` resolves in Python: 70 us), files read with one ``os.read``, the
normalise table made once, the resize's scratch kept per size pair and its two first kernels one call,
the PNG header parsed once, Pillow's pixels exported through Arrow instead of copied by ``np.asarray``
(``tobytes``, GIL held), Pillow allowed to reuse freed image blocks, and the text one kernel per batch
instead of a dozen numpy calls per record. ``benchmarks/bench_loader.py --scaling`` measures workers
against the calling thread, beside what two processes get from the same cores.

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
import pyarrow as pa
import torch
from PIL import Image

from harness.data.layout import resolve_dataset, safe_image_path
from harness.data.records import Dataset, Record, load_dataset
from harness.errors import HarnessError
from harness.text.proxy import prompt_text
from kernels import png, tokens
from kernels.normalize import resize_normalize_table_into, table
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
    """The ``"pil"`` backend: the active PIL's BICUBIC on the decoded buffer (no copy), then the table.
    ``rgb`` is (H, W, 3), or (H, W, 4) in Pillow's RGBX layout (what ``_decode`` gives for Pillow images)."""
    h, w = rgb.shape[:2]
    if not rgb.flags.c_contiguous:
        rgb = np.ascontiguousarray(rgb)
    mode = "RGB" if rgb.shape[2] == 3 else "RGBX"   # RGBX maps the buffer as it is; byte 3 goes unread
    im = Image.frombuffer(mode, (w, h), rgb, "raw", mode, 0, 1)
    small = np.asarray(im.resize((size, size), Image.Resampling.BICUBIC))
    resize_normalize_table_into(small, plan(size, size, size, size), out, table(mean, std))


def _read(path: str) -> bytes:
    """The file's bytes: os.open, fstat, one read (5 us of Python, against 9-11 us for Path.read_bytes or
    an unbuffered open; the GIL is held for all but the system calls)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        parts = []
        want = os.fstat(fd).st_size + 1   # one byte more: a file that grew since fstat shows itself
        while chunk := os.read(fd, want):
            parts.append(chunk)
            want = 1 << 20
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


def _pixels(im: Image.Image) -> np.ndarray:
    """An RGB Pillow image's pixels without a copy: Pillow keeps RGB as 4 bytes a pixel, exported
    through Arrow as an (H, W, 4) view (byte 3 unused; the kernels read bytes 0-2). ``np.asarray(im)``
    copies through ``tobytes``, all of it with the GIL held (7% of a 640x480 JPEG's time, py-spy --gil).
    Images Pillow keeps in several blocks, or a Pillow without Arrow export, take the copy."""
    try:
        flat = pa.array(im)
        if flat.type.list_size == 4 and flat.offset == 0:
            # .values, not .flatten(): the same buffer without a trip through pyarrow.compute (80 us)
            return flat.values.to_numpy(zero_copy_only=True).reshape(im.height, im.width, 4)
    except (ValueError, TypeError, AttributeError, pa.ArrowException):
        pass
    return np.asarray(im)


def _keep_pillow_blocks(n: int) -> None:
    """Let Pillow keep ``n`` freed image blocks for reuse (never fewer than it keeps already). By default
    it keeps none: every decoded image is a fresh allocation whose pages fault in with the GIL held
    (open + ``load_prepare`` of a 640x480 JPEG: 0.26 ms, 0.12 ms with blocks kept). Process-wide: it
    changes how much freed image memory Pillow holds on to, nothing else."""
    core = getattr(Image, "core", None)
    if hasattr(core, "get_blocks_max") and hasattr(core, "set_blocks_max") and core.get_blocks_max() < n:
        core.set_blocks_max(n)


def _decode_buffer(shape: tuple[int, int, int]) -> np.ndarray:
    return scratch("loader_decode", shape, np.uint8)


def _decode(data: bytes, path: str, counts: collections.Counter) -> np.ndarray:
    """RGB uint8 (H, W, 3), or (H, W, 4) RGBX for images Pillow decodes; the array may be this
    thread's reused buffer, valid until the next call."""
    if data[:8] == _PNG_SIGNATURE:
        try:
            rgb = png.decode_reusing(data, _decode_buffer)
            counts["kernel"] += 1
            return rgb
        except png.PNGError:
            pass  # a PNG the strict kernel refuses may still open in Pillow; the checks report it
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode == "RGB":
                im.load()   # what convert("RGB") returns here is a copy of this
                rgb = _pixels(im)
            else:
                rgb = _pixels(im.convert("RGB"))
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
        self._table = table(self.mean, self.std)
        _keep_pillow_blocks(2 * (self.workers + 1))
        self._paths: dict[str, str] = {}
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

    def _path(self, image: str) -> str:
        """The checked path of ``image``, resolved once per Loader: ``safe_image_path`` resolves every
        component in Python (70 us with the GIL held, more than a small PNG's decode)."""
        path = self._paths.get(image)
        if path is None:
            path = self._paths[image] = str(safe_image_path(self.dataset.images, image))
        return path

    def _fill(self, buf: _Buffers, recs: list[Record]) -> tuple[int, dict[str, float], collections.Counter]:
        """Write one batch into ``buf``; returns its size, stage seconds and decode-path counts.

        Runs on the worker threads: everything between the kernels holds the GIL, so the per-image
        Python is kept to a path lookup, a read, a decode call and one resize call (the table made
        once per Loader), and the batch's text is one kernel call (``kernels.tokens``)."""
        clock = time.perf_counter
        read = decode = resize = 0.0
        counts: collections.Counter = collections.Counter()
        images = buf.np["images"]
        s = self.image_size
        pil = self.resize_backend == "pil"
        for i, rec in enumerate(recs):
            t0 = clock()
            if rec.image is None:
                # TinyLLaVA's torch.zeros(3, crop, crop) for a record without 'image': zeros after
                # normalisation (the mean colour), not a black picture.
                images[i].fill(0.0)
                counts["blank"] += 1
                continue
            path = self._path(rec.image)
            data = _read(path)
            t1 = clock()
            rgb = _decode(data, path, counts)
            t2 = clock()
            h, w = rgb.shape[:2]
            if pil and (h, w) != (s, s):
                pil_resize_normalize_into(rgb, s, images[i], self.mean, self.std)
            else:
                resize_normalize_table_into(rgb, plan(h, w, s, s), images[i], self._table)
            t3 = clock()
            read += t1 - t0
            decode += t2 - t1
            resize += t3 - t2
        t3 = clock()
        n = len(recs)
        prompts, p_off = tokens.pack([prompt_text(r.prompt).encode("utf-8") for r in recs])
        answers, a_off = tokens.pack([r.answer.encode("utf-8") for r in recs])
        tokens.fill_rows(prompts, p_off, answers, a_off, buf.np["input_ids"], buf.np["labels"],
                         buf.np["attention_mask"])
        buf.np["index"][:n] = [r.index for r in recs]
        t = {"read_s": read, "decode_s": decode, "resize_normalize_s": resize, "collate_s": clock() - t3}
        return n, t, counts

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
