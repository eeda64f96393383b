"""Random DeepCAD-like construction sequences: 1 to 6 sketch + extrude steps on axis-aligned planes.

The first step makes a body; later ones sketch on a face of the part so far and join material onto it or
cut into it (occasionally a new body). Profiles are rectangles, circles, rounded rectangles, slots and
star-shaped polygons with some edges bulged into arcs, optionally with holes. Step and vertex counts are
heavy-tailed so answer lengths spread like DeepCAD's (most short, a few tens of kilobytes).
Every number is snapped to a per-model grid and rounded to the 4 decimals the code prints, so the
rendered solid is exactly the one the code describes.
"""
from __future__ import annotations

import numpy as np

from harness.cad.model import (
    Arc,
    CADModel,
    Circle,
    Extent,
    Extrude,
    Line,
    Loop,
    Operation,
    Profile,
    SketchPlane,
    bounding_box,
)

# normal -> x_axis, as DeepCAD's planes carry them (the -Y plane's x axis prints a signed zero)
_PLANES = (((0.0, 0.0, 1.0), (1.0, 0.0, 0.0)), ((0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
           ((0.0, -1.0, 0.0), (1.0, 0.0, -0.0)), ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
           ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))
_GRIDS = (0.5, 0.25, 1.0, 1.27, 0.1, 2.54)


def model_id(seed: int, index: int) -> str:
    """Eight digits, fixed by the seed and the model's position."""
    return f"{(seed * 1_000_003 + index) % 100_000_000:08d}"


class _Gen:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.grid = float(rng.choice(_GRIDS))
        self.complex = rng.random() < 0.009      # the long tail: many steps of many-sided profiles

    def q(self, x: float) -> float:
        """Snap to the model's grid, never to zero size."""
        return round(round(x / self.grid) * self.grid, 4)

    def pt(self, x: float, y: float) -> tuple[float, float]:
        return (self.q(x), self.q(y))

    # profiles inside the box centre (cu, cv), half sizes (hw, hh) -----------------------------------
    def rect(self, cu, cv, hw, hh) -> list:
        a, b, c, d = self.pt(cu - hw, cv - hh), self.pt(cu + hw, cv - hh), self.pt(cu + hw, cv + hh), \
            self.pt(cu - hw, cv + hh)
        return [Line(a, b), Line(b, c), Line(c, d), Line(d, a)]

    def circle(self, cu, cv, r) -> list:
        return [Circle(self.pt(cu, cv), max(self.q(r), self.grid))]

    def rounded(self, cu, cv, hw, hh) -> list:
        r = self.q(self.rng.uniform(0.15, 0.45) * min(hw, hh))
        if r <= 0 or r >= min(hw, hh):
            return self.rect(cu, cv, hw, hh)
        x0, x1, y0, y1 = self.q(cu - hw), self.q(cu + hw), self.q(cv - hh), self.q(cv + hh)
        k = r * (1 - np.sqrt(0.5))
        arc = lambda s, e, m: Arc(s, e, (round(m[0], 4), round(m[1], 4)))  # noqa: E731
        return [Line((x0 + r, y0), (x1 - r, y0)), arc((x1 - r, y0), (x1, y0 + r), (x1 - k, y0 + k)),
                Line((x1, y0 + r), (x1, y1 - r)), arc((x1, y1 - r), (x1 - r, y1), (x1 - k, y1 - k)),
                Line((x1 - r, y1), (x0 + r, y1)), arc((x0 + r, y1), (x0, y1 - r), (x0 + k, y1 - k)),
                Line((x0, y1 - r), (x0, y0 + r)), arc((x0, y0 + r), (x0 + r, y0), (x0 + k, y0 + k))]

    def slot(self, cu, cv, hw, hh) -> list:
        r = self.q(min(hw, hh) * 0.9)
        if r <= 0:
            return self.rect(cu, cv, hw, hh)
        if hw >= hh:
            a, b = self.q(cu - hw + r), self.q(cu + hw - r)
            y0, y1, c = self.q(cv) - r, self.q(cv) + r, self.q(cv)
            return [Line((a, y0), (b, y0)), Arc((b, y0), (b, y1), (round(b + r, 4), c)),
                    Line((b, y1), (a, y1)), Arc((a, y1), (a, y0), (round(a - r, 4), c))]
        a, b = self.q(cv - hh + r), self.q(cv + hh - r)
        x0, x1, c = self.q(cu) - r, self.q(cu) + r, self.q(cu)
        return [Line((x1, a), (x1, b)), Arc((x1, b), (x0, b), (c, round(b + r, 4))),
                Line((x0, b), (x0, a)), Arc((x0, a), (x1, a), (c, round(a - r, 4)))]

    def polygon(self, cu, cv, hw, hh) -> list:
        rng = self.rng
        n = 3 + rng.geometric(0.45) + (rng.pareto(1.2) * 4 if rng.random() < 0.08 else 0)
        n = int(min(n * (rng.uniform(4, 12) if self.complex else 1), 60))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.55, 1.0, n)
        pts = [self.pt(cu + hw * r * np.cos(a), cv + hh * r * np.sin(a)) for a, r in zip(ang, rad)]
        pts = [p for i, p in enumerate(pts) if p != pts[i - 1]]
        xs, ys = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
        area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
        # Clustered angles make slivers a fraction of a pixel wide in some views: a degenerate part that
        # the validator rightly flags. Keep polygons that fill a fair share of their box.
        if len(pts) < 3 or area < 0.25 * (4 * hw * hh):
            return self.rect(cu, cv, hw, hh)
        out: list = []
        for i, s in enumerate(pts):
            e = pts[(i + 1) % len(pts)]
            ln = np.hypot(e[0] - s[0], e[1] - s[1])
            if rng.random() < 0.2 and ln > 4 * self.grid:   # bulge outwards: sagitta a fraction of the chord
                mx, my = (s[0] + e[0]) / 2, (s[1] + e[1]) / 2
                nx, ny = (e[1] - s[1]) / ln, -(e[0] - s[0]) / ln
                h = rng.uniform(0.08, 0.3) * ln
                out.append(Arc(s, e, (round(mx + nx * h, 4), round(my + ny * h, 4))))
            else:
                out.append(Line(s, e))
        return out

    def holes(self, cu, cv, hw, hh) -> list[Loop]:
        """Circular holes: one centred, or a pattern near the corners of the inner box."""
        rng = self.rng
        if rng.random() < 0.5:
            return [Loop(tuple(self.circle(cu, cv, rng.uniform(0.15, 0.4) * min(hw, hh))))]
        r = rng.uniform(0.06, 0.15) * min(hw, hh)
        n = int(rng.choice([2, 4, 4, 6, 8]))
        xs = np.linspace(cu - 0.6 * hw, cu + 0.6 * hw, max(2, n // 2))
        loops = [Loop(tuple(self.circle(x, y, r))) for x in xs for y in (cv - 0.6 * hh, cv + 0.6 * hh)]
        return loops[:n]

    def profile(self, cu, cv, hw, hh) -> Profile:
        p = [.05, .05, .1, .05, .75] if self.complex else [.36, .24, .12, .1, .18]
        kind = self.rng.choice(["rect", "circle", "rounded", "slot", "polygon"], p=p)
        if kind == "circle":
            outer = self.circle(cu, cv, min(hw, hh))
        else:
            outer = getattr(self, str(kind))(cu, cv, hw, hh)
        loops = [Loop(tuple(outer))]
        if kind in ("rect", "circle", "rounded") and self.rng.random() < 0.3:
            loops += self.holes(cu, cv, hw if kind != "circle" else min(hw, hh) / 1.4,
                                hh if kind != "circle" else min(hw, hh) / 1.4)
        return Profile(tuple(loops))


def _frame(normal, x_axis):
    n, x = np.asarray(normal), np.asarray(x_axis)
    return n, x, np.cross(n, x)


def generate(seed: int, index: int) -> CADModel:
    """One random model, fixed by (seed, index)."""
    rng = np.random.default_rng([seed, index])
    g = _Gen(rng)
    n_steps = int(rng.integers(3, 10)) if g.complex else int(min(rng.geometric(0.8), 6))
    size = float(rng.uniform(15, 120))
    steps: list[Extrude] = []
    for k in range(n_steps):
        normal, x_axis = _PLANES[int(rng.choice(6, p=[.3, .08, .3, .08, .16, .08]))]
        n, x, y = _frame(normal, x_axis)
        if k == 0:
            off = g.q(rng.choice([0.0, rng.uniform(-0.3, 0.3) * size]))
            hw, hh = size / 2 * rng.uniform(0.4, 1.0), size / 2 * rng.uniform(0.4, 1.0)
            cu, cv = (rng.uniform(-0.2, 0.2, 2) * size) if rng.random() < 0.3 else (0.0, 0.0)
            op, depth = Operation.NEW_BODY, g.q(rng.uniform(0.05, 0.8) * size) or g.grid
        else:
            lo, hi = bounding_box(CADModel("", tuple(steps)))
            face = max(float(hi @ n), float(lo @ n))        # the part's outer face along this normal
            off = g.q(face)
            span_u = sorted((float(lo @ x), float(hi @ x)))
            span_v = sorted((float(lo @ y), float(hi @ y)))
            fw, fh = (span_u[1] - span_u[0]) / 2, (span_v[1] - span_v[0]) / 2
            cu = (span_u[0] + span_u[1]) / 2 + rng.uniform(-0.4, 0.4) * fw
            cv = (span_v[0] + span_v[1]) / 2 + rng.uniform(-0.4, 0.4) * fh
            hw, hh = max(fw, 1.0) * rng.uniform(0.15, 0.6), max(fh, 1.0) * rng.uniform(0.15, 0.6)
            thick = float(np.ptp([lo @ n, hi @ n]))
            op = Operation(int(rng.choice([1, 2, 0], p=[.5, .42, .08])))
            if op == Operation.CUT:
                depth = -(g.q(rng.uniform(0.2, 1.0) * thick) or g.grid)
            else:
                depth = g.q(rng.uniform(0.1, 0.6) * size) or g.grid
        origin = tuple(round(float(v), 4) + 0.0 for v in n * off)
        plane = SketchPlane(origin, normal, x_axis)
        prof = g.profile(cu, cv, max(hw, 2 * g.grid), max(hh, 2 * g.grid))
        ext_type = Extent.SYMMETRIC if (k > 0 and rng.random() < 0.05) else Extent.ONE_SIDE
        e1 = abs(depth) if ext_type == Extent.SYMMETRIC else depth
        steps.append(Extrude(plane, prof, op, ext_type, float(e1), 0.0))
    return CADModel(model_id(seed, index), tuple(steps))
