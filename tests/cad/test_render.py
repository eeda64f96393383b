"""The ray caster against analytic silhouettes, and the look of a view."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

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


def test_small_holes_between_coarse_rays_are_still_drawn():
    """Holes ~6 px across fit between the 8-px coarse rays; the detail mask makes the kernel look closer."""
    rng = np.random.default_rng(3)               # a 6 x 5 grid, jittered off the pixel grid, never overlapping
    centres = np.stack(np.meshgrid(np.linspace(-15, 15, 6), np.linspace(-14, 14, 5)), -1).reshape(-1, 2)
    centres = centres + rng.uniform(-1.0, 1.0, size=centres.shape)
    holes = tuple(Loop((Circle((float(x), float(y)), 0.3),)) for x, y in centres)
    plate = CADModel("h", (Extrude(XY, Profile((_rect(40, 40),) + holes), extent_one=2.0),))
    hit, px = silhouette(plate, "top")
    solid, _ = silhouette(CADModel("s", (Extrude(XY, Profile((_rect(40, 40),)), extent_one=2.0),)), "top")
    missing = (solid.sum() - hit.sum()) * px * px     # the holes' area, as drawn
    assert abs(missing / (30 * np.pi * 0.09) - 1) < 0.15


def test_a_step_between_parallel_faces_is_a_thin_line():
    """A face-on step (a boss on a plate, seen from above) has equal normals and no depth twist at the
    block corners; the depth-gradient test must still refine it, so its outline is ~2 px, not a block wide."""
    boss = Extrude(SketchPlane((0.0, 0.0, 10.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
                   Profile((Loop((Line((-5.35, -4.45), (11.95, -4.45)), Line((11.95, -4.45), (11.95, 8.65)),
                                  Line((11.95, 8.65), (-5.35, 8.65)), Line((-5.35, 8.65), (-5.35, -4.45)))),)),
                   Operation.JOIN, extent_one=5.0)
    m = CADModel("s", (Extrude(XY, Profile((_rect(40, 40),)), extent_one=10.0), boss))
    grey = render_view(m, "top", 512)[..., 0]
    _, px = silhouette(m, "top")
    perimeter_px = 2 * (17.3 + 13.1) / px
    dark = (grey[60:452, 60:452] < 60).sum()          # inside the plate's own outline
    assert perimeter_px < dark < 3.0 * perimeter_px


def test_png_writer_round_trips_through_pillow_and_our_decoder():
    from kernels.png import decode
    m = CADModel("p", (Extrude(XY, Profile((_rect(40, 20), Loop((Circle((0.0, 0.0), 5.0),)))), extent_one=15.0),))
    for view, size in (("front", 512), ("top", 97)):
        img = render_view(m, view, size)
        data = to_png(img)
        with Image.open(io.BytesIO(data)) as im:
            assert im.mode == "RGB" and im.size == (size, size)
            np.testing.assert_array_equal(np.asarray(im), img)
        np.testing.assert_array_equal(decode(data), img)
    noisy = np.random.default_rng(0).integers(0, 256, size=(33, 17, 3), dtype=np.uint8)   # every byte value
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(to_png(noisy)))), noisy)
