"""The contact sheet of a run's flagged images: which files it may open (only inside the image folder,
through the same path check as the image pass), picked and drawn by ``harness.results.contact_sheet``."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from harness.checks.registry import checks
from harness.data.layout import UnsafePath, safe_image_path
from harness.results.contact_sheet import Gallery, contact_sheet_png, flagged_images


def flagged_gallery(tables: dict[str, pa.Table], images_root: Path, *, max_pixels: int) -> tuple[Gallery, bytes | None]:
    """The gallery (for the report) and its PNG (None when nothing is flagged)."""
    gallery = flagged_images(tables["findings"], tables["images"], tables["records"],
                             pictures={spec.id for spec in checks() if spec.pictures})

    def locate(name: str) -> Path | None:
        try:
            return safe_image_path(images_root, name)
        except UnsafePath:
            return None

    return gallery, contact_sheet_png(gallery, locate, max_pixels=max_pixels)
