"""The compute device: which one to train on, how to seed, time and measure it, and how to describe it."""
from __future__ import annotations

import contextlib
import os
import platform
import resource
import sys
from collections.abc import Iterator
from typing import Any

import torch

from harness.errors import UsageError


def pick_device(requested: str) -> torch.device:
    """cuda > mps > cpu for "auto"; an explicit device that is absent is a usage error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available")
    if requested == "mps" and not has_mps:
        raise UsageError("--device mps: no MPS device is available")
    return torch.device(requested)


def use_compile(setting: str, device: torch.device) -> bool:
    """auto = off on CPU (measured 0.92x eager after a 22 s compile on a 2-core CPU), on elsewhere."""
    return setting == "on" or (setting == "auto" and device.type != "cpu")


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch; on CPU also insist on deterministic kernels, restoring the caller's setting after
    (CUDA would also need CUBLAS_WORKSPACE_CONFIG set before start-up, so it is left alone there)."""
    torch.manual_seed(seed)
    before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def set_threads() -> int:
    """Every core this process may use: intra-op threads for convolutions and the GRU."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def peak_memory(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    if device.type == "mps":
        return int(torch.mps.driver_allocated_memory()), "mps driver_allocated_memory"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss      # KiB on Linux, bytes on macOS
    return int(rss if sys.platform == "darwin" else rss * 1024), "process peak RSS"


def describe(device: str | None = None) -> dict[str, Any]:
    """The host and the accelerators torch sees, for run metadata; ``device``: the one this run uses."""
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                            "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["cuda"] = torch.cuda.get_device_name(0)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        info["mps"] = True
    if device:
        info["device"] = device
    return info
