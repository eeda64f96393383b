"""Orthographic CAD-style views of a model: pack it into the kernel's tables, fit a camera, cast, shade.

Views look along a world axis (front: +Y, top: -Z, right: -X) at one scale per model, so a part keeps its
proportions across its three pictures. The pixel grid is nudged by an irrational fraction of a pixel so
rays do not run exactly through the vertices of round-numbered sketches.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from harness.cad.model import (
    Arc,
    CADModel,
    Circle,
    Extrude,
    Line,
    Loop,
    Operation,
    Profile,
    SketchPlane,
    bounding_box,
    extrude_corners,
)
from kernels import render as K

# view -> (ray direction, image right, image up)
VIEW_AXES = {
    "front": ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "top": ((0.0, 0.0, -1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}
MARGIN = 0.1          # of the frame, on each side
_NUDGE = 0.0137       # of a pixel (irrational-looking on purpose)
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
try:                  # zlib-ng deflates these images about 4x faster than zlib at the same level
    from zlib_ng.zlib_ng import compress as _deflate
except ImportError:   # a declared dependency, but the format does not need it
    from zlib import compress as _deflate


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


def detail_mask(packed: Packed, cam: np.ndarray, px: float, size: int) -> np.ndarray:
    """Per coarse block, how closely the kernel must look whatever the block's corners say: 1 (cast its
    ``BLOCK`` grid) where it touches a curve whose box (its 2D bounds times the extrusion's slab,
    projected) is under two coarse blocks across one way: a thin wall or a notch could slip between the
    coarse rays; 2 (cast every pixel) where that box is that small both ways: a small hole or boss, which
    the ``BLOCK`` grid would clip to the blocks whose corners it happens to cover."""
    n = (size + K.COARSE - 1) // K.COARSE
    mask = np.zeros((n, n), dtype=np.uint8)
    if packed.kind.size == 0:
        return mask
    p, kind = packed.par, packed.kind
    # 2D bounds of each curve: a line's end points; an arc's start, middle and end; a circle's box
    a0, a1, am = p[:, 3], p[:, 3] + p[:, 4], p[:, 3] + p[:, 4] / 2
    arc_x = p[:, :1] + p[:, 2:3] * np.cos(np.stack([a0, a1, am], 1))
    arc_y = p[:, 1:2] + p[:, 2:3] * np.sin(np.stack([a0, a1, am], 1))
    u0 = np.where(kind == 0, np.minimum(p[:, 0], p[:, 2]), np.where(kind == 1, arc_x.min(1), p[:, 0] - p[:, 2]))
    u1 = np.where(kind == 0, np.maximum(p[:, 0], p[:, 2]), np.where(kind == 1, arc_x.max(1), p[:, 0] + p[:, 2]))
    v0 = np.where(kind == 0, np.minimum(p[:, 1], p[:, 3]), np.where(kind == 1, arc_y.min(1), p[:, 1] - p[:, 2]))
    v1 = np.where(kind == 0, np.maximum(p[:, 1], p[:, 3]), np.where(kind == 1, arc_y.max(1), p[:, 1] + p[:, 2]))
    ext = np.repeat(np.arange(len(packed.ops)), np.diff(packed.cur_off))
    fr, sl = packed.frames[ext], packed.slabs[ext]
    corners = np.stack([fr[:, 0] + u[:, None] * fr[:, 1] + v[:, None] * fr[:, 2] + w[:, None] * fr[:, 3]
                        for u in (u0, u1) for v in (v0, v1) for w in (sl[:, 0], sl[:, 1])], axis=1)
    rel = corners - cam[0]
    rows, cols = rel @ cam[2] / (px * px), rel @ cam[1] / (px * px)
    r0, r1, c0, c1 = rows.min(1), rows.max(1), cols.min(1), cols.max(1)
    seen = (r1 > -K.COARSE) & (c1 > -K.COARSE) & (r0 < size + K.COARSE) & (c0 < size + K.COARSE)
    level = np.where(np.maximum(r1 - r0, c1 - c0) < 2 * K.COARSE, 2,
                     np.where(np.minimum(r1 - r0, c1 - c0) < 2 * K.COARSE, 1, 0)).astype(np.uint8) * seen
    lo = lambda a: np.clip(np.floor((a - 1) / K.COARSE), 0, n - 1).astype(np.int64)  # noqa: E731
    hi = lambda a: np.clip(np.floor((a + 1) / K.COARSE), 0, n - 1).astype(np.int64)  # noqa: E731
    pick = level > 0
    for a, b, c, d, v in zip(lo(r0[pick]), hi(r1[pick]), lo(c0[pick]), hi(c1[pick]), level[pick]):
        np.maximum(mask[a:b + 1, c:d + 1], v, out=mask[a:b + 1, c:d + 1])
    return mask


def _cast(model: CADModel, view: str, size: int, packed: Packed):
    cam, px = camera(model, view, size)
    depth = np.empty((size, size))          # the kernel writes every hit flag, and depth and normal
    normal = np.empty((size, size, 3))      # wherever there is a hit (nothing reads them elsewhere)
    hit = np.empty((size, size), dtype=np.bool_)
    K.cast(cam, packed.frames, packed.slabs, packed.ops, packed.cur_off, packed.kind, packed.par,
           _rects(packed, cam, px, size), detail_mask(packed, cam, px, size), depth, normal, hit)
    return depth, normal, hit, px


def render_view(model: CADModel, view: str, size: int = 512, packed: Packed | None = None) -> np.ndarray:
    """One view as an (size, size, 3) uint8 picture."""
    depth, normal, hit, px = _cast(model, view, size, packed or pack(model))
    d, right, up = (np.asarray(v) for v in VIEW_AXES[view])
    light = -0.75 * d + 0.5 * up + 0.43 * right
    light /= np.linalg.norm(light)
    out = np.empty((size, size, 3), dtype=np.uint8)
    K.shade(depth, normal, hit, light, d, px, out)
    return out


def silhouette(model: CADModel, view: str, size: int = 512) -> tuple[np.ndarray, float]:
    """(hit mask, pixel size in mm): for tests that check the picture against analytic areas."""
    _, _, hit, px = _cast(model, view, size, pack(model))
    return hit, px


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def to_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG: every row with the Up filter, deflated by zlib-ng at level 6.

    The renders are flat greys, so rows mostly repeat the one above: Up turns them into zeros. Against
    Pillow's ``save(format="PNG", compress_level=6)`` on these renders it is about 7x faster, files ~6%
    larger (``benchmarks/bench_synth.py`` measures both in one run).
    """
    h, w, _ = rgb.shape
    flat = np.ascontiguousarray(rgb, dtype=np.uint8).reshape(h, w * 3)
    raw = np.empty((h, w * 3 + 1), dtype=np.uint8)
    raw[:, 0] = 2                                   # filter type Up
    raw[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=raw[1:, 1:])   # modulo 256, as PNG's filters are
    return (_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", _deflate(raw.tobytes(), 6)) + _chunk(b"IEND", b""))


def render_pngs(model: CADModel, views: tuple[str, ...], size: int = 512) -> dict[str, bytes]:
    packed = pack(model)
    return {v: to_png(render_view(model, v, size, packed)) for v in views}


def warm_up() -> None:
    """Compile (or load from numba's cache) the render kernels by drawing one tiny part; call it in a
    parent process before forking workers, so they inherit the machine code instead of each compiling."""
    sq = Loop((Line((0.0, 0.0), (1.0, 0.0)), Line((1.0, 0.0), (1.0, 1.0)), Line((1.0, 1.0), (0.0, 1.0)),
               Line((0.0, 1.0), (0.0, 0.0))))
    arc = Loop((Line((2.0, 0.0), (3.0, 0.0)), Arc((3.0, 0.0), (2.0, 0.0), (2.5, 0.5))))
    plane = SketchPlane((0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))
    steps = (Extrude(plane, Profile((sq,))), Extrude(plane, Profile((arc,)), Operation.JOIN),
             Extrude(plane, Profile((Loop((Circle((0.5, 0.5), 0.2),)),)), Operation.CUT))
    render_view(CADModel("warm-up", steps), "top", 16)
