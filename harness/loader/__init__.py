"""The data loader (``Loader``: kernels decode, resize, normalise, collate into reused buffers), the
torchvision pipeline it is measured against, and test 3 of the dry run (``check``)."""
from harness.loader.pipeline import STAGES, Loader, pick_resize_backend, pil_resize_normalize_into

__all__ = ["STAGES", "Loader", "pick_resize_backend", "pil_resize_normalize_into"]
