"""The embedded default dataset: the seed's DeepCAD 1K shape, synthesised once into the user's cache."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.config import deepcad_1k

# Bump when the generator's output changes, so a stale cache is never reused.
DEFAULT_DATASET_VERSION = "v3"
_COMPLETE = ".complete"


def cache_dir() -> Path:
    base = os.environ.get("HARNESS_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def default_dataset(progress=None) -> Path:
    """Path of the default synthetic dataset, making it first if it is not complete in the cache."""
    root = cache_dir() / f"synth-deepcad1k-seed0-{DEFAULT_DATASET_VERSION}"
    if (root / _COMPLETE).exists():
        return root
    from harness.runs.synth import synthesize

    if root.exists():  # an interrupted earlier attempt: start again rather than trust half a dataset
        shutil.rmtree(root)
    if progress:
        progress(f"making the default dataset (1,100 synthetic models) in {root} (once)")
    synthesize(deepcad_1k(root))
    (root / _COMPLETE).write_text("ok\n")
    return root
