"""What a run ran on: versions, device, which PIL build, git commit. Attached to every table written."""
from __future__ import annotations

import dataclasses
import functools
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__


def pil_flavour() -> dict[str, Any]:
    """Which PIL is active. Both distributions install the same ``PIL`` package, and pip can leave both
    sets of metadata behind (stock Pillow's files over pillow-simd's), so the imported module's version
    decides, never the metadata: pillow-simd's carries ``.post``, stock Pillow's does not."""
    import PIL

    version = str(getattr(PIL, "__version__", "unknown"))
    simd = ".post" in version
    return {"name": "pillow-simd" if simd else "Pillow", "version": version, "simd": simd,
            "cpu_avx2": cpu_has("avx2")}


def cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(flag in line.split() for line in f if line.startswith("flags"))
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    # Read from package metadata: importing ray (slow, absent on some machines) just to print it is waste.
    from importlib import metadata

    out = {"harness": __version__, "python": sys.version.split()[0]}
    for dist in ("torch", "torchvision", "numpy", "numba", "pyarrow", "ray", "click", "zlib-ng"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def host_description() -> dict[str, Any]:
    """The machine, without importing torch (seconds of start-up a validation run never needs)."""
    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}


def config_dict(config: Any) -> dict[str, Any] | None:
    """A config as JSON-able data (paths and tuples become strings and lists in the JSON encoder)."""
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config


def run_metadata(command: str, config: Any, *, device: dict[str, Any] | None = None,
                 **extra: Any) -> dict[str, Any]:
    """The one description of a run, attached to every table it writes and saved as ``run.json``:
    command, config, versions, PIL build, device (``harness.train.device.describe`` where a run trains;
    the host otherwise), git commit, time, host; ``extra`` adds command-specific keys (checks, stats)."""
    return {
        "command": command,
        "config": config_dict(config),
        "versions": versions(),
        "pil": pil_flavour(),
        "device": device or host_description(),
        "git_commit": git_commit(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        **extra,
    }


def default_out(kind: str) -> Path:
    """``results/<UTC time>-<kind>/`` under the current directory."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("results") / f"{stamp}-{kind}"
