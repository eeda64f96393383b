"""The device table ``harness estimate`` reads: dense 16-bit peak (``flops.DEVICE_PEAK_TFLOPS``, the one
source of peaks) and memory per GPU, looked up by the names users type.

Memory is the vendor's figure in GiB as ``torch.cuda.get_device_properties().total_memory`` reports it
(e.g. 24 GB RTX 4090: 23.99 GiB). ``A100`` alone means the 80 GB part; ``A100 40GB`` names the other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import UsageError
from harness.estimate.flops import DEVICE_PEAK_TFLOPS

GIB = 2**30
MEMORY_GIB: dict[str, float] = {
    "A100": 79.2, "A100 40GB": 39.4, "H100 SXM": 79.2, "H100 PCIe": 79.2, "H200": 139.8, "L40S": 44.4,
    "L4": 22.0, "RTX 4090": 23.6, "RTX 3090": 23.6, "Apple M-series": 16.0,   # unified memory: the base chip
}
EXTRA_PEAKS = {"A100 40GB": DEVICE_PEAK_TFLOPS["A100"]}


@dataclass(frozen=True)
class Device:
    name: str              # as the user gave it: rows carry it
    table_name: str        # the row of the table it matched
    peak_tflops: float
    memory_bytes: int


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def known() -> dict[str, tuple[float, int]]:
    """table name -> (dense 16-bit peak TFLOP/s, memory bytes)."""
    peaks = {**DEVICE_PEAK_TFLOPS, **EXTRA_PEAKS}
    return {n: (peaks[n], int(MEMORY_GIB[n] * GIB)) for n in peaks if n in MEMORY_GIB}


def resolve_device(name: str) -> Device:
    """A device by name, case, spaces and dashes ignored ("rtx-4090", "h100 sxm"); unknown: UsageError."""
    table = known()
    by_key = {_key(n): n for n in table}
    hit = by_key.get(_key(name))
    if hit is None:
        raise UsageError(f"--device {name!r}: not in the device table; known: {', '.join(table)}")
    peak, mem = table[hit]
    return Device(name=name, table_name=hit, peak_tflops=peak, memory_bytes=mem)


def match_description(text: str) -> str | None:
    """The table name a driver's device name stands for ("NVIDIA H100 80GB HBM3" -> "H100 SXM"), if any."""
    k = _key(text)
    if "h100" in k:
        return "H100 PCIe" if "pcie" in k else "H100 SXM"
    if "a100" in k:
        return "A100 40GB" if "40gb" in k else "A100"
    for n in sorted(known(), key=len, reverse=True):
        if _key(n) in k:
            return n
    return None
