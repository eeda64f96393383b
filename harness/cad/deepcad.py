"""DeepCAD ``cad_json`` -> CAD model + OpenECAD code.

Each ExtrudeFeature becomes one block: the sketch's transform gives the plane (metres -> millimetres),
its profile loops are expressed in the sketch's own 2D frame, arcs in OpenECAD's three-point form.
Not yet reproduced: OpenECAD's ``add_sketchplane_ref`` shorthand for planes that coincide with an earlier
extrusion's (every plane is written out in full), so the code differs from OpenECAD's where it uses one.
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
# cad_json curve points are already in the sketch's own frame (z = 0)
_LOCAL = (np.zeros(3), np.eye(3)[0], np.eye(3)[1], np.eye(3)[2])


def _v(d: dict) -> np.ndarray:
    return np.array([d["x"], d["y"], d["z"]], dtype=np.float64)


def _r(x) -> tuple[float, ...]:
    return tuple(float(v) + 0.0 for v in np.round(np.asarray(x, dtype=np.float64), 4))


def _curve(c: dict, o, x, y, z):
    loc = lambda p: _r([(p - o) @ x * MM, (p - o) @ y * MM])  # noqa: E731
    t = c["type"]
    if t == "Line3D":
        return Line(loc(_v(c["start_point"])), loc(_v(c["end_point"])))
    if t == "Circle3D":
        return Circle(loc(_v(c["center_point"])), round(float(c["radius"]) * MM, 4))
    if t == "Arc3D":
        cen, s, e = _v(c["center_point"]), _v(c["start_point"]), _v(c["end_point"])
        r = float(c["radius"])
        (cx, cy), (sx, sy), (ex, ey) = [((p - o) @ x, (p - o) @ y) for p in (cen, s, e)]
        a_s, a_e = math.atan2(sy - cy, sx - cx), math.atan2(ey - cy, ex - cx)
        ccw = float(_v(c["normal"]) @ z) > 0      # the arc turns about its own normal
        sweep = (a_e - a_s) % (2 * math.pi) if ccw else -((a_s - a_e) % (2 * math.pi))
        a_m = a_s + sweep / 2
        mid = (o + (cx + r * math.cos(a_m)) * x + (cy + r * math.sin(a_m)) * y)
        return Arc(loc(s), loc(e), loc(mid))
    raise ValueError(f"unsupported curve type {t}")


def _reorder(curves: list) -> tuple:
    """Chain a loop end to start, then start it at the curve whose start is left-most (x, then y), as
    DeepCAD's loop normalisation does."""
    if len(curves) < 2 or isinstance(curves[0], Circle):
        return tuple(curves)
    out = [curves[0]]
    if not np.allclose(out[0].end, curves[1].start, atol=1e-3) and not np.allclose(out[0].end, curves[1].end, atol=1e-3):
        out[0] = _flip(out[0])
    for c in curves[1:]:
        out.append(c if np.allclose(c.start, out[-1].end, atol=1e-3) else _flip(c))
    k = min(range(len(out)), key=lambda i: (out[i].start[0], out[i].start[1]))
    return tuple(out[k:] + out[:k])


def _flip(c):
    return Line(c.end, c.start) if isinstance(c, Line) else Arc(c.end, c.start, c.mid)


def convert(data: dict, model_id: str = "") -> CADModel:
    ents = data["entities"]
    steps = []
    for item in data["sequence"]:
        if item["type"] != "ExtrudeFeature":
            continue
        ext = ents[item["entity"]]
        loops, plane = [], None
        for ref in ext["profiles"]:
            sk = ents[ref["sketch"]]
            tr = sk["transform"]
            o, x, y, z = (_v(tr[k]) for k in ("origin", "x_axis", "y_axis", "z_axis"))
            plane = plane or SketchPlane(_r(o * MM), _r(z), _r(x))
            for lp in sk["profiles"][ref["profile"]]["loops"]:
                loops.append(Loop(_reorder([_curve(c, *_LOCAL) for c in lp["profile_curves"]])))
        op = ext["operation"].replace("FeatureOperation", "")
        et = ext["extent_type"].replace("FeatureExtentType", "")
        if op not in _OPS or et not in _EXTENTS or plane is None:
            raise ValueError(f"unsupported extrude ({op}, {et})")
        e1 = round(float(ext["extent_one"]["distance"]["value"]) * MM, 4)
        e2 = round(float(ext.get("extent_two", {}).get("distance", {}).get("value", 0.0)) * MM, 4)
        steps.append(Extrude(plane, Profile(tuple(loops)), _OPS[op], _EXTENTS[et], e1,
                             e2 if _EXTENTS[et] == Extent.TWO_SIDES else 0.0))
    if not steps:
        raise ValueError("no extrusion in the sequence")
    return CADModel(model_id, tuple(steps))


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
