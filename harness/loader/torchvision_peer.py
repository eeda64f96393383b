"""The peer of ``harness bench``: the standard torchvision pipeline (an ImageFolder-style Dataset: PIL
open, RGB, Resize bicubic, ToTensor, Normalize; a DataLoader with the same batch size and workers).
It takes the Loader's parameters, so it can feed ``simulate`` or the bench in the Loader's place."""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import torch

from harness.data.layout import safe_image_path

LOADER_STAGES = ("read_bytes", "decode", "resize_normalize", "collate_pin")
SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)   # what the target's SigLIP processor and the Loader use


class TorchvisionSamples(torch.utils.data.Dataset):
    """The usual ImageFolder-style pipeline: PIL open, RGB, Resize bicubic, ToTensor, Normalize; the
    same proxy tokens as the Loader. Per-sample stage times are kept when it runs in this process."""

    def __init__(self, root: Path, records: list, image_size: int, max_length: int) -> None:
        from torchvision import transforms as T

        self.root, self.records, self.max_length, self.image_size = root, records, max_length, image_size
        self.resize = T.Resize((image_size, image_size), interpolation=T.InterpolationMode.BICUBIC)
        self.to_tensor = T.ToTensor()
        self.normalize = T.Normalize(SIGLIP_MEAN, SIGLIP_STD)
        self.times: dict[str, list[float]] = {s: [] for s in LOADER_STAGES[:3]}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        from PIL import Image

        from harness.text.proxy import PAD, encode_sample

        r = self.records[i]
        if r.image is None:   # TinyLLaVA's zero tensor, as the Loader does; not timed
            x = torch.zeros(3, self.image_size, self.image_size)
        else:
            t0 = time.perf_counter()
            data = safe_image_path(self.root, r.image).read_bytes()
            t1 = time.perf_counter()
            img = Image.open(io.BytesIO(data)).convert("RGB")
            t2 = time.perf_counter()
            x = self.normalize(self.to_tensor(self.resize(img)))
            t3 = time.perf_counter()
            for stage, dt in zip(LOADER_STAGES, (t1 - t0, t2 - t1, t3 - t2)):
                self.times[stage].append(dt)
        ids, labels = encode_sample(r.prompt, r.answer, self.max_length)
        ids_t = torch.from_numpy(ids)
        return {"images": x, "input_ids": ids_t, "attention_mask": (ids_t != PAD).long(),
                "labels": torch.from_numpy(labels), "index": r.index}


class _TimedCollate:
    """default_collate, timed (in this process only when workers == 0)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, items: list[dict]) -> dict:
        t0 = time.perf_counter()
        out = torch.utils.data.default_collate(items)
        self.times.append(time.perf_counter() - t0)
        return out


def torchvision_loader(dataset: Any, *, split: str = "train", batch_size: int = 8, image_size: int = 384,
                       workers: int = 0, shuffle: bool = False, seed: int = 0, pin_memory: bool | None = None,
                       drop_last: bool = False, max_length: int = 2048,
                       records: list | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader with the Loader's parameters, so either can feed ``simulate`` or the bench."""
    recs = records if records is not None else dataset.records[split]
    ds = TorchvisionSamples(dataset.images, recs, image_size, max_length)
    g = torch.Generator().manual_seed(seed)
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=g,
                                       num_workers=workers, pin_memory=pin, drop_last=drop_last,
                                       collate_fn=_TimedCollate(), persistent_workers=False)
