"""Orthographic CAD-style views of a model: pack it into the kernel's tables, fit a camera, cast, shade.

Views look along a world axis (front: +Y, top: -Z, right: -X) at one scale per model, so a part keeps its
proportions across its three pictures. The pixel grid is nudged by an irrational fraction of a pixel so
rays do not run exactly through the vertices of round-numbered sketches.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from harness.cad.model import Arc, CADModel, Circle, Line, bounding_box, extrude_corners
from kernels import render as K

# view -> (ray direction, image right, image up)
VIEW_AXES = {
    "front": ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "top": ((0.0, 0.0, -1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}
MARGIN = 0.1          # of the frame, on each side
_NUDGE = 0.0137       # of a pixel (irrational-looking on purpose)


@dataclass(frozen=True)
class Packed:
    """The model as the kernel's flat tables."""
    frames: np.ndarray    # (E, 4, 3) origin, x_axis, y_axis, normal
    slabs: np.ndarray     # (E, 2)
    ops: np.ndarray       # (E,) int64
    cur_off: np.ndarray   # (E + 1,) int64
    kind: np.ndarray      # (C,) int64
    par: np.ndarray       # (C, 5)
    corners: np.ndarray   # (E, 8, 3) world boxes of the extrusions


def pack(model: CADModel) -> Packed:
    frames, slabs, ops, off, kind, par, corners = [], [], [], [0], [], [], []
    for ext in model.steps:
        p = ext.plane
        frames.append([p.origin, p.x_axis, p.y_axis, p.normal])
        slabs.append(ext.slab())
        ops.append(int(ext.operation))
        for loop in ext.profile.loops:
            for c in loop.curves:
                if isinstance(c, Line):
                    kind.append(0)
                    par.append([*c.start, *c.end, 0.0])
                elif isinstance(c, Arc):
                    kind.append(1)
                    par.append(list(c.circle()))
                elif isinstance(c, Circle):
                    kind.append(2)
                    par.append([*c.center, c.radius, 0.0, 0.0])
        off.append(len(kind))
        corners.append(extrude_corners(ext))
    return Packed(np.asarray(frames, dtype=np.float64), np.asarray(slabs, dtype=np.float64),
                  np.asarray(ops, dtype=np.int64), np.asarray(off, dtype=np.int64),
                  np.asarray(kind, dtype=np.int64), np.asarray(par, dtype=np.float64).reshape(-1, 5),
                  np.asarray(corners, dtype=np.float64))


def camera(model: CADModel, view: str, size: int) -> tuple[np.ndarray, float]:
    """(cam rows for ``kernels.render.cast``, world size of one pixel)."""
    lo, hi = bounding_box(model)
    centre, extent = (lo + hi) / 2.0, float(max(np.max(hi - lo), 1e-6))
    px = extent / (size * (1.0 - 2.0 * MARGIN))
    d, right, up = (np.asarray(v) for v in VIEW_AXES[view])
    back = float(np.linalg.norm(hi - lo)) + 1.0
    start = size / 2.0 - 0.5 - _NUDGE
    origin = centre - d * back - start * px * right + start * px * up
    return np.stack([origin, px * right, -px * up, d]), px


def _rects(packed: Packed, cam: np.ndarray, px: float, size: int) -> np.ndarray:
    """Pixel boxes each extrusion can touch (one pixel of slack each side)."""
    rel = packed.corners - cam[0]
    cols = rel @ cam[1] / (px * px)
    rows = rel @ cam[2] / (px * px)
    r = np.stack([np.floor(rows.min(1)) - 1, np.ceil(rows.max(1)) + 2,
                  np.floor(cols.min(1)) - 1, np.ceil(cols.max(1)) + 2], axis=1)
    return np.clip(r, 0, size).astype(np.int64)


def render_view(model: CADModel, view: str, size: int = 512, packed: Packed | None = None) -> np.ndarray:
    """One view as an (size, size, 3) uint8 picture."""
    packed = packed or pack(model)
    cam, px = camera(model, view, size)
    depth = np.zeros((size, size))
    normal = np.zeros((size, size, 3))
    hit = np.zeros((size, size), dtype=np.bool_)
    K.cast(cam, packed.frames, packed.slabs, packed.ops, packed.cur_off, packed.kind, packed.par,
           _rects(packed, cam, px, size), depth, normal, hit)
    d, right, up = (np.asarray(v) for v in VIEW_AXES[view])
    light = -0.75 * d + 0.5 * up + 0.43 * right
    light /= np.linalg.norm(light)
    out = np.empty((size, size, 3), dtype=np.uint8)
    K.shade(depth, normal, hit, light, d, px, out)
    return out


def silhouette(model: CADModel, view: str, size: int = 512) -> tuple[np.ndarray, float]:
    """(hit mask, pixel size in mm): for tests that check the picture against analytic areas."""
    packed = pack(model)
    cam, px = camera(model, view, size)
    depth, normal = np.zeros((size, size)), np.zeros((size, size, 3))
    hit = np.zeros((size, size), dtype=np.bool_)
    K.cast(cam, packed.frames, packed.slabs, packed.ops, packed.cur_off, packed.kind, packed.par,
           _rects(packed, cam, px, size), depth, normal, hit)
    return hit, px


def to_png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def render_pngs(model: CADModel, views: tuple[str, ...], size: int = 512) -> dict[str, bytes]:
    packed = pack(model)
    return {v: to_png(render_view(model, v, size, packed)) for v in views}
