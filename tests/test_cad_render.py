"""The ray caster against analytic silhouettes, and the look of a view."""
from __future__ import annotations

import numpy as np

from harness.cad.model import CADModel, Circle, Extrude, Line, Loop, Operation, Profile, SketchPlane
from harness.cad.render import render_view, silhouette, to_png

XY = SketchPlane((0.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))


def _rect(w, h):
    a, b, c, d = (-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)
    return Loop((Line(a, b), Line(b, c), Line(c, d), Line(d, a)))


def test_box_with_hole_and_cylinder_silhouettes_match_analytic_areas():
    plate = CADModel("p", (Extrude(XY, Profile((_rect(40, 20), Loop((Circle((0.0, 0.0), 5.0),)))),
                                   extent_one=15.0),))
    hit, px = silhouette(plate, "top")
    assert abs(hit.sum() * px * px / (800 - np.pi * 25) - 1) < 0.02
    hit, px = silhouette(plate, "front")              # side on: the hole is hidden
    assert abs(hit.sum() * px * px / (40 * 15) - 1) < 0.02
    cyl = CADModel("c", (Extrude(XY, Profile((Loop((Circle((0.0, 0.0), 10.0),)),)), extent_one=30.0),))
    hit, px = silhouette(cyl, "top")
    assert abs(hit.sum() * px * px / (np.pi * 100) - 1) < 0.02
    hit, px = silhouette(cyl, "right")
    assert abs(hit.sum() * px * px / (20 * 30) - 1) < 0.02


def test_cut_removes_material_and_join_adds_it():
    base = Extrude(XY, Profile((_rect(40, 20),)), extent_one=10.0)
    cut = Extrude(SketchPlane((0.0, 0.0, 10.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
                  Profile((_rect(10, 30),)), Operation.CUT, extent_one=-20.0)
    hit, px = silhouette(CADModel("x", (base, cut)), "top")
    assert abs(hit.sum() * px * px / (800 - 200) - 1) < 0.02
    join = Extrude(XY, Profile((_rect(10, 30),)), Operation.JOIN, extent_one=5.0)
    hit, px = silhouette(CADModel("x", (base, join)), "top")
    assert abs(hit.sum() * px * px / (800 + 100) - 1) < 0.02


def test_view_is_a_flat_shaded_cad_picture():
    m = CADModel("p", (Extrude(XY, Profile((_rect(40, 20), Loop((Circle((0.0, 0.0), 5.0),)))), extent_one=15.0),))
    img = render_view(m, "top", 512)
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    grey = img[..., 0]
    assert (grey == 255).mean() > 0.3                 # white background
    assert (grey < 60).sum() > 500                    # dark edges
    assert ((grey > 60) & (grey < 255)).mean() > 0.1  # grey faces
    assert 1000 < len(to_png(img)) < 6000
