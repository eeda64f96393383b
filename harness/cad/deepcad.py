"""DeepCAD ``cad_json`` -> CAD model + OpenECAD code, as OpenECAD's own converter writes it.

The rules, read from the public converter (OpenECAD_Project ``Bethany/lib``: DeepCAD's cadlib plus
``cad2code.py``) and checked against its output for the 16 shared samples:

* **One block per profile.** An extrusion of n profiles becomes n blocks with the same extent; when it
  makes a new body, only the first block does and the others join.
* **Planes through DeepCAD's polar form.** The normal and x axis are round-tripped through (theta, phi,
  gamma) and the y axis through (theta, phi), with cadlib's quirks: components rounded to 6 decimals and
  phi = arctan(y / (x + 1e-15)), so tiny non-zeros and signed zeros print as the converter's do.
* **Loops** start at their left-most start point and run counter-clockwise (cadlib's ``Loop.reorder``, an
  arc's end points swapped but its middle kept); a profile's loops are sorted by their boxes' lower-left
  corners. An arc's middle is the point at the mean of its start and end angles from its reference vector.
* **Planes relative to earlier blocks** (``add_sketchplane_ref``), the first earlier block that fits
  wins: "sameplane" (the origin lies on its plane, normals parallel), "extent_one" / "extent_two" (the
  origin lies on the normal through its origin, at its extent), "line" (the plane stands on one of its
  lines, normals not parallel and not pointing the same way); ``angle`` turns its x axis onto ours
  (multiples of pi written as ``np.pi/2`` and so on), ``reverse`` flips its normal. Tolerances are the
  converter's 1e-10 on millimetre values, so the float arithmetic here follows the same steps.
Everything is in millimetres; values keep full precision and are rounded to 4 decimals only when printed.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from harness.cad.code import to_code
from harness.cad.model import Arc, CADModel, Circle, Extent, Extrude, Line, Loop, Operation, Profile, SketchPlane

_OPS = {"NewBody": Operation.NEW_BODY, "Join": Operation.JOIN, "Cut": Operation.CUT,
        "Intersect": Operation.INTERSECT}
_EXTENTS = {"OneSide": Extent.ONE_SIDE, "Symmetric": Extent.SYMMETRIC, "TwoSides": Extent.TWO_SIDES}
MM = 1000.0
TOL = 1e-10
_PI_NAMES = ((np.pi, "np.pi"), (np.pi / 2, "np.pi/2"), (np.pi / 3, "np.pi/3"), (np.pi / 4, "np.pi/4"),
             (np.pi / 6, "np.pi/6"), (2 * np.pi, "2*np.pi"), (3 * np.pi / 2, "3*np.pi/2"),
             (3 * np.pi / 4, "3*np.pi/4"), (5 * np.pi / 6, "5*np.pi/6"), (5 * np.pi / 3, "5*np.pi/3"),
             (7 * np.pi / 6, "7*np.pi/6"), (4 * np.pi / 3, "4*np.pi/3"))


def _v(d: dict) -> np.ndarray:
    return np.array([d["x"], d["y"], d["z"]], dtype=np.float64)


def _p2(d: dict) -> np.ndarray:
    return np.array([d["x"] * MM, d["y"] * MM])


# -- planes through DeepCAD's polar parameters ----------------------------------------------------------

def _to_polar(vec: np.ndarray) -> tuple[float, float]:
    vec = vec.round(6)
    return np.arccos(vec[2] / np.linalg.norm(vec)), np.arctan(vec[1] / (vec[0] + 1e-15))


def _from_polar(theta, phi) -> np.ndarray:
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])


def _ref_x(theta, phi) -> np.ndarray:
    """(1, 0, 0) turned by theta about y, then by phi about z."""
    x = np.array([np.cos(theta), 0.0, -np.sin(theta)])
    return np.array([np.cos(phi) * x[0] - np.sin(phi) * x[1], np.sin(phi) * x[0] + np.cos(phi) * x[1], x[2]])


class _Plane:
    """A sketch plane as cadlib rebuilds it: origin (mm), normal, x axis and a separately kept y axis."""

    def __init__(self, tr: dict):
        self.origin = _v(tr["origin"]) * MM
        normal, x_axis = _v(tr["z_axis"]), _v(tr["x_axis"])
        theta, phi = _to_polar(normal)
        rx = _ref_x(theta, phi)
        gamma = np.arccos(np.dot(x_axis, rx).round(6))
        if np.dot(np.cross(rx, x_axis), normal) < 0:
            gamma = -gamma
        self.normal = _from_polar(theta, phi)
        self.x = rx * np.cos(gamma) + np.cross(self.normal, rx) * np.sin(gamma)
        self.y = _from_polar(*_to_polar(_v(tr["y_axis"])))


def _parallel(a, b) -> bool:
    return bool(np.all(np.abs(np.cross(a, b)) < TOL))


def _on_plane(origin, x, y, p) -> bool:
    return abs(np.dot(p - origin, np.cross(x, y))) < TOL


def _to_2d(origin, x, y, p) -> np.ndarray:
    return np.linalg.lstsq(np.vstack([x, y]).T, p - origin, rcond=None)[0]


def _angle(v1, v2, axis) -> float:
    """Counter-clockwise angle about ``axis`` from v1 to v2."""
    axis = axis / np.linalg.norm(axis)
    n = np.linalg.norm(v1) * np.linalg.norm(v2)
    return np.arctan2(np.dot(np.cross(v1, v2), axis) / n, np.dot(v1, v2) / n)


def _angle_text(a) -> str:
    for value, name in _PI_NAMES:
        if abs(abs(a) - value) < TOL:
            return name if a > 0 else "-" + name
    return str(np.float64(a).round(6))


# -- curves, loops and profiles as cadlib orders them --------------------------------------------------

class _Curve:
    """A curve in its sketch's 2D frame (mm). ``kind``: line, arc or circle."""

    def __init__(self, c: dict):
        t = c["type"]
        if t == "Line3D":
            self.kind, self.start, self.end = "line", _p2(c["start_point"]), _p2(c["end_point"])
        elif t == "Arc3D":
            self.kind, self.start, self.end = "arc", _p2(c["start_point"]), _p2(c["end_point"])
            self.center, self.radius = _p2(c["center_point"]), c["radius"] * MM
            a = (c["start_angle"] + c["end_angle"]) / 2
            ref = np.array([c["reference_vector"]["x"], c["reference_vector"]["y"]])
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            self.mid = self.center + (rot @ ref) * self.radius
        elif t == "Circle3D":
            self.kind, self.center, self.radius = "circle", _p2(c["center_point"]), c["radius"] * MM
            self.start = np.array([self.center[0] - self.radius, self.center[1]])
            self.end = np.array([self.center[0] + self.radius, self.center[1]])
        else:
            raise ValueError(f"unsupported curve type {t}")

    def reverse(self) -> None:
        if self.kind != "circle":
            self.start, self.end = self.end, self.start

    def direction(self, from_start: bool = True) -> np.ndarray:
        if self.kind == "line":
            return self.end - self.start
        if self.kind == "arc":
            return self.mid - self.start if from_start else self.end - self.mid
        return self.center - self.start

    def bbox(self) -> np.ndarray:
        if self.kind == "line":
            pts = [self.start, self.end]
        elif self.kind == "circle":
            return np.stack([self.center - self.radius, self.center + self.radius])
        else:
            s, e = self._ccw_angles()
            cx, cy, r = self.center[0], self.center[1], self.radius
            pts = [self.start, self.end]
            if s < 0 < e:
                pts.append(np.array([cx + r, cy]))
            if s < np.pi / 2 < e or s < -np.pi / 2 * 3 < e:
                pts.append(np.array([cx, cy + r]))
            if s < np.pi < e or s < -np.pi < e:
                pts.append(np.array([cx - r, cy]))
            if s < np.pi / 2 * 3 < e or s < -np.pi / 2 < e:
                pts.append(np.array([cx, cy - r]))
        pts = np.stack(pts)
        return np.stack([pts.min(axis=0), pts.max(axis=0)])

    def _ccw_angles(self, eps: float = 1e-8) -> tuple[float, float]:
        def ang(p):
            v = (p - self.center) / (np.linalg.norm(p - self.center) + eps)
            return math.atan2(v[1], v[0]) % (2 * math.pi)
        s, m, e = ang(self.start), ang(self.mid), ang(self.end)
        s, e = min(s, e), max(s, e)
        if not s < m < e:
            s, e = e - 2 * np.pi, s
        return s, e

    def to_model(self):
        if self.kind == "line":
            return Line(tuple(self.start), tuple(self.end))
        if self.kind == "arc":
            return Arc(tuple(self.start), tuple(self.end), tuple(self.mid))
        return Circle(tuple(self.center), float(self.radius))


def _close(a, b) -> bool:
    return bool(np.allclose(a, b))


def _reorder_loop(curves: list[_Curve]) -> list[_Curve]:
    """Chain the curves, start at the left-most start point (then lowest), run counter-clockwise."""
    if len(curves) <= 1:
        return curves
    if _close(curves[0].start, curves[1].start) or _close(curves[0].start, curves[1].end):
        curves[0].reverse()
    first, sx, sy = -1, 10000.0, 10000.0
    for i, c in enumerate(curves):
        if i < len(curves) - 1 and _close(c.end, curves[i + 1].end):
            curves[i + 1].reverse()
        x, y = round(c.start[0], 6), round(c.start[1], 6)
        if x < round(sx, 6) or (x == round(sx, 6) and y < round(sy, 6)):
            first, (sx, sy) = i, c.start
    curves = curves[first:] + curves[:first]
    if curves[0].kind == "circle" or curves[-1].kind == "circle":
        return curves
    (ax, ay), (bx, by) = curves[-1].direction(from_start=False), curves[0].direction()
    if ax * by - ay * bx <= 0:                    # the loop closes clockwise
        for c in curves:
            c.reverse()
        curves.reverse()
    return curves


def _profile(prof: dict) -> list[list[_Curve]]:
    loops = [_reorder_loop([_Curve(c) for c in lp["profile_curves"]]) for lp in prof["loops"]]
    if len(loops) > 1:
        lows = np.stack([np.concatenate([c.bbox() for c in lp]).min(axis=0) for lp in loops]).round(6)
        loops = [loops[i] for i in np.lexsort(lows.T[[1, 0]])]
    return loops


# -- the sequence ------------------------------------------------------------------------------------

class _Step:
    def __init__(self, plane: _Plane, loops, op: Operation, extent: Extent, e1: float, e2: float):
        self.plane, self.loops, self.op, self.extent, self.e1, self.e2 = plane, loops, op, extent, e1, e2


def _steps(data: dict) -> list[_Step]:
    ents, steps = data["entities"], []
    for item in data["sequence"]:
        if item["type"] != "ExtrudeFeature":
            continue
        ext = ents[item["entity"]]
        op = ext["operation"].replace("FeatureOperation", "")
        et = ext["extent_type"].replace("FeatureExtentType", "")
        if op not in _OPS or et not in _EXTENTS:
            raise ValueError(f"unsupported extrude ({op}, {et})")
        e1 = ext["extent_one"]["distance"]["value"] * MM
        e2 = ext["extent_two"]["distance"]["value"] * MM if et == "TwoSides" else 0.0
        for n, ref in enumerate(ext["profiles"]):
            sk = ents[ref["sketch"]]
            step_op = Operation.JOIN if (n > 0 and _OPS[op] == Operation.NEW_BODY) else _OPS[op]
            steps.append(_Step(_Plane(sk["transform"]), _profile(sk["profiles"][ref["profile"]]), step_op,
                               _EXTENTS[et], e1, e2))
    if not steps:
        raise ValueError("no extrusion in the sequence")
    return steps


def _plane_ref(steps: list[_Step], index: int) -> dict | None:
    """``add_sketchplane_ref`` arguments for step ``index``, or None for an absolute plane."""
    t = steps[index].plane
    for i in range(index):
        r = steps[i].plane
        if _parallel(t.normal, r.normal):
            reverse = not np.dot(t.normal, r.normal) > 0
            off = t.origin - r.origin
            along = _parallel(off, r.normal)
            dist = abs(np.dot(t.origin - r.origin, np.cross(r.x, r.y)))
            if _on_plane(r.origin, r.x, r.y, t.origin):
                kind, base = "sameplane", r.origin
            elif along and np.dot(off, r.normal) > 0 and abs(dist - abs(steps[i].e1)) < TOL:
                kind, base = "extent_one", r.origin + r.normal * steps[i].e1
            elif along and np.dot(off, r.normal) < 0 and abs(dist - abs(steps[i].e2)) < TOL:
                kind, base = "extent_two", r.origin - r.normal * steps[i].e2
            else:
                continue
            return {"extrude": i, "type": kind, "origin": _to_2d(base, r.x, r.y, t.origin),
                    "angle": _angle_or_none(r.x, t.x, r.normal), "reverse": reverse}
        if np.dot(t.normal, r.normal) < TOL:
            for j, loop in enumerate(steps[i].loops):
                for k, c in enumerate(loop):
                    if c.kind != "line":
                        continue
                    s = r.origin + c.start[0] * r.x + c.start[1] * r.y
                    e = r.origin + c.end[0] * r.x + c.end[1] * r.y
                    lx = (e - s) / np.linalg.norm(e - s)
                    ln = _n_from_x_and_y(lx, r.normal)
                    if _parallel(t.normal, ln) and _on_plane(s, lx, r.normal, t.origin):
                        return {"extrude": i, "type": "line", "line": f"Line{i}_{j}_{k}",
                                "origin": _to_2d(s, lx, r.normal, t.origin),
                                "angle": _angle_or_none(lx, t.x, ln), "reverse": not np.dot(t.normal, ln) > 0}
    return None


def _angle_or_none(v1, v2, axis) -> str | None:
    a = _angle(v1, v2, axis)
    return _angle_text(a) if abs(a) > TOL else None


def _n_from_x_and_y(x, y) -> np.ndarray:
    """The unit n with y = n x x."""
    n = np.cross(x, y)
    n = n / np.linalg.norm(n)
    return n if np.allclose(np.cross(n, x), y) else -n


def convert(data: dict, model_id: str = "") -> CADModel:
    steps = _steps(data)
    out = []
    for i, s in enumerate(steps):
        plane = SketchPlane(tuple(s.plane.origin), tuple(s.plane.normal), tuple(s.plane.x))
        loops = tuple(Loop(tuple(c.to_model() for c in lp)) for lp in s.loops)
        out.append(Extrude(plane, Profile(loops), s.op, s.extent, float(s.e1), float(s.e2),
                           plane_ref=_plane_ref(steps, i)))
    return CADModel(model_id, tuple(out))


def load(path: str | Path) -> tuple[CADModel, str]:
    path = Path(path)
    model = convert(json.loads(path.read_text()), path.stem)
    return model, to_code(model)


def split_ids(split_file: Path) -> tuple[set[str], set[str]]:
    """(train ids, val ids) from DeepCAD's split JSON (entries like "0000/00000007")."""
    data = json.loads(Path(split_file).read_text())
    ids = lambda keys: {Path(s).name for k in keys for s in data.get(k, [])}  # noqa: E731
    return ids(["train"]), ids(["validation", "val"])


def find_models(root: Path, limit: int | None = None, split_file: Path | None = None) -> list[str]:
    """cad_json files under ``root`` (flat or nested), sorted by id, optionally restricted to a split."""
    paths = sorted(Path(root).rglob("*.json"), key=lambda p: p.stem)
    if split_file is not None:
        train, val = split_ids(split_file)
        paths = [p for p in paths if p.stem in train or p.stem in val]
    return [str(p) for p in paths[:limit]]
