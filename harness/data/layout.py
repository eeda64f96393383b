"""Where a dataset's files are, and image paths resolved without ever leaving the image folder."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError

SPLITS = ("train", "val")


@dataclass(kw_only=True, frozen=True)
class DatasetPaths:
    """A dataset folder (``train.json``, ``val.json``, ``images/``) or explicit paths overriding it."""

    train: Path
    val: Path | None
    images: Path

    def split_file(self, split: str) -> Path | None:
        return self.train if split == "train" else self.val


def resolve_dataset(
    root: str | os.PathLike | None,
    *,
    train: str | os.PathLike | None = None,
    val: str | os.PathLike | None = None,
    images: str | os.PathLike | None = None,
) -> DatasetPaths:
    """Paths of a dataset; raises UsageError when a path the user named is not there."""
    base = Path(root) if root is not None else None
    if base is not None and not base.is_dir():
        raise UsageError(f"dataset folder not found: {base}")

    def pick(explicit, name: str, required: bool) -> Path | None:
        if explicit is not None:
            p = Path(explicit)
            if not p.exists():
                raise UsageError(f"{name} not found: {p}")
            return p
        if base is None:
            if required:
                raise UsageError(f"no dataset folder given and no --{name} path")
            return None
        for candidate in (base / f"{name}.json", base / f"{name}.jsonl"):
            if candidate.exists():
                return candidate
        if required:
            raise UsageError(f"{base} has no {name}.json")
        return None

    train_p = pick(train, "train", True)
    val_p = pick(val, "val", False)
    if images is not None:
        images_p = Path(images)
        if not images_p.is_dir():
            raise UsageError(f"image folder not found: {images_p}")
    else:
        images_p = (base / "images") if base is not None else train_p.parent / "images"
        if not images_p.is_dir():
            raise UsageError(f"image folder not found: {images_p}")
    return DatasetPaths(train=train_p, val=val_p, images=images_p)


class UnsafePath(ValueError):
    """An image path that is absolute, climbs out with ``..`` or resolves (via symlinks) outside the root."""


def safe_image_path(root: Path, relative: str) -> Path:
    """The file ``relative`` names under ``root``; raises UnsafePath when it would leave ``root``.

    Checked twice: lexically (absolute paths, ``..`` parts, NUL bytes) and after resolving symlinks,
    so a link planted inside the folder cannot point out of it.
    """
    if not relative or "\x00" in relative:
        raise UnsafePath("empty path or NUL byte")
    p = Path(relative)
    if p.is_absolute() or relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        raise UnsafePath("absolute path")
    if any(part == ".." for part in p.parts) or any(part == ".." for part in relative.split("\\")):
        raise UnsafePath("path climbs out with '..'")
    root_resolved = root.resolve()
    full = (root / p).resolve()
    if full != root_resolved and root_resolved not in full.parents:
        raise UnsafePath("path resolves outside the image folder (symlink)")
    return full
