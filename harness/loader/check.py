"""Test 3 of the dry run: the data loader delivers every sound sample, in the right shapes, paired right.

Pairing is verified independently of the Loader: for the first ``samples`` rows the image is decoded
again through Pillow (the reference path) and the tokens are decoded back to the record's answer. A
record without an image is paired with TinyLLaVA's blank (zeros after normalisation): its reference is
the blank, and ``paths["blank"]`` counts them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from harness.checks.catalogue import loader as loader_checks
from harness.checks.findings import Finding
from harness.data.records import Dataset, Record

TEST_ID = "data_loader"


@dataclass
class LoaderCheck:
    status: str
    seconds: float
    batches: int = 0
    samples: int = 0
    batch_size: int = 0
    image_shape: tuple[int, ...] = ()
    image_dtype: str = ""
    token_shape: tuple[int, ...] = ()
    pairs_checked: int = 0
    pairs_ok: int = 0
    max_pixel_error: float = 0.0
    paths: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.samples} samples in {self.batches} batches of {self.batch_size}; images "
                f"{'x'.join(map(str, self.image_shape))} {self.image_dtype}; image-text pairing "
                f"{self.pairs_ok}/{self.pairs_checked} verified (max error {self.max_pixel_error:.4f})")


def _reference_image(dataset: Dataset, record: Record, size: int) -> np.ndarray:
    """Pillow's decode of the record's image; for a record without one, TinyLLaVA's blank: zeros."""
    from PIL import Image

    if record.image is None:
        return np.zeros((3, size, size), dtype=np.float32)

    with Image.open(dataset.images / record.image) as im:
        rgb = im.convert("RGB").resize((size, size), Image.BICUBIC)
    a = np.asarray(rgb, dtype=np.float32) / 255.0
    return ((a - 0.5) / 0.5).transpose(2, 0, 1)


def _answer_prefix_matches(record: Record, input_ids: np.ndarray, labels: np.ndarray) -> bool:
    from harness.text import proxy

    learned = input_ids[labels != -100]
    learned = learned[learned >= 4] - 4  # bytes only: drop EOS and specials
    want = record.answer.encode("utf-8")[: len(learned)]
    return len(want) > 0 and bytes(learned.astype(np.uint8)) == want and proxy.VOCAB_SIZE == 260


def check_loader(dataset: Dataset, records: dict[str, list[Record]], *, batch_size: int, image_size: int,
                 seq_len: int, samples: int, workers: int = 0, tolerance: float = 2.5 / 127.5) -> LoaderCheck:
    """Iterate every sound record of each split through the Loader; verify ``samples`` pairings."""
    from harness.loader import Loader

    t0 = time.perf_counter()
    res = LoaderCheck(status="passed", seconds=0.0, batch_size=batch_size)
    by_index = {s: {r.index: r for r in recs} for s, recs in records.items()}
    for split, recs in records.items():
        if not recs:
            continue
        loader = Loader(dataset, split=split, batch_size=batch_size, image_size=image_size, workers=workers,
                        shuffle=False, max_length=seq_len, records=recs)
        for batch in loader:
            res.batches += 1
            imgs, ids, labels = batch["images"], batch["input_ids"], batch["labels"]
            n = imgs.shape[0]
            res.samples += n
            res.image_shape, res.image_dtype = tuple(imgs.shape[1:]), str(imgs.dtype).replace("torch.", "")
            res.token_shape = tuple(ids.shape[1:])
            ok_shape = (tuple(imgs.shape[1:]) == (3, image_size, image_size) and str(imgs.dtype) == "torch.float32"
                        and ids.shape == labels.shape == batch["attention_mask"].shape and ids.shape[0] == n)
            if not ok_shape:
                res.findings.append(loader_checks.shapes.finding(
                    f"batch shapes wrong: images {tuple(imgs.shape)} {imgs.dtype}, input_ids {tuple(ids.shape)}",
                    split=split))
            for row in range(n):
                if res.pairs_checked >= samples:
                    break
                rec = by_index[split][int(batch["index"][row])]
                ref = _reference_image(dataset, rec, image_size)
                err = float(np.abs(imgs[row].numpy() - ref).max())
                res.max_pixel_error = max(res.max_pixel_error, err)
                paired = err <= tolerance and _answer_prefix_matches(rec, ids[row].numpy(), labels[row].numpy())
                res.pairs_checked += 1
                res.pairs_ok += int(paired)
                if not paired:
                    res.findings.append(loader_checks.pairing.on_record(
                        rec, f"loader sample does not match its record (image error "
                             f"{err:.3f}, tolerance {tolerance:.3f}, or answer tokens differ)"))
        for k, v in getattr(loader, "stats", {}).items():
            res.paths[k] = res.paths.get(k, 0) + int(v)
    expected = sum(len(r) for r in records.values())
    if res.samples != expected:
        res.findings.append(loader_checks.count.finding(f"loader delivered {res.samples} samples, expected {expected}"))
    if res.findings or res.samples == 0:
        res.status = "failed"
    res.seconds = time.perf_counter() - t0
    return res
