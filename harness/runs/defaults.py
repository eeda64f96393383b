"""The embedded default dataset: the seed's DeepCAD 1K shape, synthesised once into the user's cache."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.config import deepcad_1k
from harness.data import Dataset, load_dataset
from harness.data.layout import DatasetPaths, resolve_dataset
from harness.progress import SILENT, Progress
from harness.results.metadata import default_out
from harness.runs.clean import check_clean_target
from harness.runs.synth import synthesize

# Bump when the generator's output changes, so a stale cache is never reused.
DEFAULT_DATASET_VERSION = "v3"
_COMPLETE = ".complete"


def cache_dir() -> Path:
    base = os.environ.get("HARNESS_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def dataset_paths(dataset: Path | None, *, train: Path | None = None, val: Path | None = None,
                  images: Path | None = None, progress: Progress = SILENT) -> DatasetPaths:
    """The one place a command's dataset arguments become paths: the default synthetic dataset (made
    once) when neither a folder nor a train file is given."""
    if dataset is None and train is None:
        dataset = default_dataset(progress)
    return resolve_dataset(dataset, train=train, val=val, images=images)


def default_dataset(progress: Progress = SILENT) -> Path:
    """Path of the default synthetic dataset, making it first if it is not complete in the cache."""
    root = cache_dir() / f"synth-deepcad1k-seed0-{DEFAULT_DATASET_VERSION}"
    if (root / _COMPLETE).exists():
        return root
    if root.exists():  # an interrupted earlier attempt: start again rather than trust half a dataset
        shutil.rmtree(root)
    progress(f"making the default dataset (1,100 synthetic models) in {root} (once)")
    synthesize(deepcad_1k(root))
    (root / _COMPLETE).write_text("ok\n")
    return root


def open_dataset(cfg, command: str, progress: Progress = SILENT) -> tuple[DatasetPaths, Path, Dataset]:
    """What every dataset command does first: the dataset's paths (the default one made if none is given),
    the run folder, a ``--write-clean`` folder refused before any work, and the records loaded."""
    paths = dataset_paths(cfg.dataset, train=cfg.train, val=cfg.val, images=cfg.images, progress=progress)
    out = Path(cfg.out) if cfg.out else default_out(command)
    if getattr(cfg, "write_clean", None) is not None:
        check_clean_target(cfg.write_clean, paths, cfg.dataset)
    return paths, out, load_dataset(paths)
