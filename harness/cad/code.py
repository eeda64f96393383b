"""OpenECAD-style code from a CAD model, spaced exactly as OpenECAD's converter prints it.

Numbers go through numpy's own array printing (``array2string`` of values rounded to 4 decimals), so
``[-32.5, -10. ]``, ``[ 0., -1.,  0.]`` and ``2.`` come out as numpy writes them, not as we imitate them.
"""
from __future__ import annotations

import numpy as np

from harness.cad.model import Arc, CADModel, Circle, Extrude, Line

API = ("add_sketchplane", "add_sketchplane_ref", "add_line", "add_arc", "add_circle", "add_loop",
       "add_profile", "add_sketch", "add_extrude")


def fmt(value) -> str:
    """A vector or a scalar as numpy prints it after rounding to 4 decimals."""
    return np.array2string(np.round(np.asarray(value, dtype=np.float64), 4), separator=", ")


def _plane(i: int, ext: Extrude) -> list[str]:
    ref = ext.plane_ref
    if ref is None:
        p = ext.plane
        return [f"SketchPlane{i} = add_sketchplane(",
                f"\torigin= {fmt(p.origin)}, normal= {fmt(p.normal)}, x_axis= {fmt(p.x_axis)})"]
    if ref["type"] == "line":        # the converter spaces these keywords without a blank before '='
        args = [f"Extrude{ref['extrude']}", f"origin= {fmt(ref['origin'])}", 'type= "line"',
                f"line= {ref['line']}"]
        eq = "= "
    else:
        args = [f"Extrude{ref['extrude']}", f"origin = {fmt(ref['origin'])}", f'type = "{ref["type"]}"']
        eq = " = "
    if ref.get("angle"):
        args.append(f"angle{eq}{ref['angle']}")
    if ref.get("reverse"):
        args.append(f"reverse{eq}True")
    return [f"SketchPlane{i} = add_sketchplane_ref(", "\t" + ", ".join(args) + ")"]


def _curve(name: str, c) -> str:
    if isinstance(c, Line):
        return f"Line{name} = add_line(start= {fmt(c.start)}, end= {fmt(c.end)})"
    if isinstance(c, Arc):
        return f"Arc{name} = add_arc(start= {fmt(c.start)}, end= {fmt(c.end)}, mid= {fmt(c.mid)})"
    if isinstance(c, Circle):
        return f"Circle{name} = add_circle(center= {fmt(c.center)}, radius= {fmt(c.radius)})"
    raise TypeError(f"unknown curve {type(c).__name__}")


def step_lines(i: int, ext: Extrude) -> list[str]:
    out = _plane(i, ext)
    out.append(f"Loops{i} = []")
    for j, loop in enumerate(ext.profile.loops):
        out.append(f"Curves{i}_{j} = []")
        out.extend(_curve(f"{i}_{j}_{k}", c) for k, c in enumerate(loop.curves))
        out.append(f"Loop{i}_{j} = add_loop(Curves{i}_{j})")
    out += [f"Profile{i} = add_profile(Loops{i})",
            f"Sketch{i} = add_sketch(sketch_plane= SketchPlane{i}, profile= Profile{i})",
            f"Extrude{i} = add_extrude(sketch= Sketch{i},",
            f"\toperation= {int(ext.operation)}, type= {int(ext.extent_type)}, "
            f"extent_one= {fmt(ext.extent_one)}, extent_two= {fmt(ext.extent_two)})"]
    return out


def to_code(model: CADModel) -> str:
    """The answer text of a training sample: one block per sketch + extrude, newline-terminated."""
    lines: list[str] = []
    for i, ext in enumerate(model.steps):
        lines.extend(step_lines(i, ext))
    return "\n".join(lines) + "\n"
