"""The CAD construction sequence: sketch planes, 2D curves, loops, profiles and extrusions.

Units are millimetres. Curves live in the sketch plane's own 2D frame (x_axis, y_axis = normal x x_axis),
as in OpenECAD's code, so one model both emits code and renders from the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Operation(IntEnum):
    NEW_BODY = 0
    JOIN = 1
    CUT = 2
    INTERSECT = 3


class Extent(IntEnum):
    ONE_SIDE = 0
    SYMMETRIC = 1
    TWO_SIDES = 2


def _vec(v, n: int) -> tuple[float, ...]:
    a = tuple(float(x) for x in v)
    if len(a) != n:
        raise ValueError(f"expected {n} numbers, got {len(a)}")
    return a


@dataclass(frozen=True)
class SketchPlane:
    origin: tuple[float, float, float]
    normal: tuple[float, float, float]
    x_axis: tuple[float, float, float]

    @property
    def y_axis(self) -> np.ndarray:
        return np.cross(np.asarray(self.normal), np.asarray(self.x_axis))

    def to_world(self, uv: np.ndarray) -> np.ndarray:
        """Sketch coordinates (..., 2) to world points (..., 3)."""
        uv = np.asarray(uv, dtype=np.float64)
        return (np.asarray(self.origin) + uv[..., :1] * np.asarray(self.x_axis)
                + uv[..., 1:2] * self.y_axis)


@dataclass(frozen=True)
class Line:
    start: tuple[float, float]
    end: tuple[float, float]


@dataclass(frozen=True)
class Arc:
    """A circular arc through ``start``, ``mid`` and ``end`` (OpenECAD's three-point form)."""
    start: tuple[float, float]
    end: tuple[float, float]
    mid: tuple[float, float]

    def circle(self) -> tuple[float, float, float, float, float]:
        """(cx, cy, r, a0, sweep): centre, radius, start angle and positive CCW sweep covering the arc."""
        (ax, ay), (bx, by), (cx, cy) = self.start, self.mid, self.end
        d = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
        if abs(d) < 1e-12:
            raise ValueError("arc points are collinear")
        sa, sb, sc = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
        ox = (sa * (by - cy) + sb * (cy - ay) + sc * (ay - by)) / d
        oy = (sa * (cx - bx) + sb * (ax - cx) + sc * (bx - ax)) / d
        r = float(np.hypot(ax - ox, ay - oy))
        a_s, a_m, a_e = (np.arctan2(y - oy, x - ox) for x, y in (self.start, self.mid, self.end))
        two_pi = 2.0 * np.pi
        sweep_e = (a_e - a_s) % two_pi
        if (a_m - a_s) % two_pi <= sweep_e:       # mid lies on the CCW way from start to end
            return ox, oy, r, float(a_s), float(sweep_e)
        return ox, oy, r, float(a_e), float(two_pi - sweep_e)


@dataclass(frozen=True)
class Circle:
    center: tuple[float, float]
    radius: float


Curve = Line | Arc | Circle


@dataclass(frozen=True)
class Loop:
    curves: tuple[Curve, ...]


@dataclass(frozen=True)
class Profile:
    """Loops of one face; the first is the outer boundary, the rest are holes (even-odd inside test)."""
    loops: tuple[Loop, ...]


@dataclass(frozen=True)
class Extrude:
    plane: SketchPlane
    profile: Profile
    operation: Operation = Operation.NEW_BODY
    extent_type: Extent = Extent.ONE_SIDE
    extent_one: float = 1.0
    extent_two: float = 0.0
    # add_sketchplane_ref arguments when the plane was given relative to an earlier extrusion (import only)
    plane_ref: dict | None = None

    def slab(self) -> tuple[float, float]:
        """The extrusion's range along the sketch normal (OpenECAD/DeepCAD semantics)."""
        e1, e2 = self.extent_one, self.extent_two
        if self.extent_type == Extent.SYMMETRIC:
            lo, hi = -abs(e1), abs(e1)
        elif self.extent_type == Extent.TWO_SIDES:
            lo, hi = -e2, e1
        else:
            lo, hi = 0.0, e1
        return (min(lo, hi), max(lo, hi))


@dataclass(frozen=True)
class CADModel:
    id: str
    steps: tuple[Extrude, ...]


def curve_points(curve: Curve) -> np.ndarray:
    """Points bounding a curve in sketch coordinates (for bounding boxes)."""
    if isinstance(curve, Line):
        return np.array([curve.start, curve.end], dtype=np.float64)
    if isinstance(curve, Circle):
        (x, y), r = curve.center, curve.radius
        return np.array([[x - r, y - r], [x + r, y + r]], dtype=np.float64)
    ox, oy, r, a0, sw = curve.circle()
    ang = a0 + np.linspace(0.0, sw, 33)
    return np.stack([ox + r * np.cos(ang), oy + r * np.sin(ang)], axis=1)


def extrude_corners(ext: Extrude) -> np.ndarray:
    """The 8 world corners of the box bounding one extrusion."""
    pts = np.concatenate([curve_points(c) for lp in ext.profile.loops for c in lp.curves])
    (u0, v0), (u1, v1) = pts.min(axis=0), pts.max(axis=0)
    w0, w1 = ext.slab()
    o, x, y, n = (np.asarray(ext.plane.origin), np.asarray(ext.plane.x_axis), ext.plane.y_axis,
                  np.asarray(ext.plane.normal))
    return np.array([o + u * x + v * y + w * n for u in (u0, u1) for v in (v0, v1) for w in (w0, w1)])


def bounding_box(model: CADModel) -> tuple[np.ndarray, np.ndarray]:
    """World box of the material-adding steps (cuts never grow a solid)."""
    adds = [s for s in model.steps if s.operation in (Operation.NEW_BODY, Operation.JOIN)] or list(model.steps)
    pts = np.concatenate([extrude_corners(s) for s in adds])
    return pts.min(axis=0), pts.max(axis=0)
