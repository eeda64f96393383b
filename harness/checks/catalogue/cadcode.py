"""Does an answer parse as OpenECAD-style code? A syntax and name check with Python's ``ast``, never run.

OpenECAD executes the answer with its own API to rebuild the model; an answer that does not parse teaches
the model code it cannot run. Allowed: assignments to a name (or bare calls) whose value is a call of the
API or a list literal; call arguments built from finite numbers, strings, booleans, lists/tuples and names
defined by an earlier statement, and arithmetic of numbers and ``np.pi`` (angles). ``...`` is accepted
here: placeholder parameters have their own check.
"""
from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Iterable

from harness.checks.findings import Finding
from harness.checks.registry import register
from harness.data.records import ANSWER, turn_slots

API = frozenset(("add_sketchplane", "add_sketchplane_ref", "add_line", "add_arc", "add_circle", "add_loop",
                 "add_profile", "add_sketch", "add_extrude"))
# An answer is meant to be OpenECAD code when a line of it starts with a call of the API, bare or assigned
# to a name (`Line0 = add_line(`, `add_extrude(`), as every line the converter writes does. Prose that names
# a function mid-sentence, other code (`parser.add_argument(`) and seed-style summaries are not judged.
CODE_LINE = re.compile(r"^[ \t]*(?:[A-Za-z_]\w*[ \t]*=[ \t]*)?(?:" + "|".join(sorted(API, key=len, reverse=True))
                       + r")[ \t]*\(", re.MULTILINE)


def is_cad_code(text: str) -> bool:
    """Is this answer meant to be OpenECAD code (a line starts with an API call)? Cheap: one regex search."""
    return CODE_LINE.search(text) is not None


class CodeError(ValueError):
    """Why a text is not valid OpenECAD-style code, with the line it was found on."""


# OpenECAD writes angles of line-referenced sketch planes as `np.pi`, `-np.pi/2`: numeric expressions of
# numbers and pi with the four operations are allowed where a number is.
_PI = {("np", "pi"), ("numpy", "pi"), ("math", "pi")}
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _number(node: ast.AST) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        if not math.isfinite(node.value):
            raise CodeError(f"line {node.lineno}: number {node.value!r} is not finite")
        return
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in _PI:
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _number(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITH):
        _number(node.left)
        return _number(node.right)
    raise CodeError(f"line {node.lineno}: {type(node).__name__} is not a number in an arithmetic expression")


def _value(node: ast.AST, defined: set[str]) -> None:
    if isinstance(node, ast.Constant):
        v = node.value
        if v is Ellipsis or isinstance(v, (str, bool)) or v is None:
            return
        if isinstance(v, (int, float)):
            if not math.isfinite(v):
                raise CodeError(f"line {node.lineno}: number {v!r} is not finite")
            return
        raise CodeError(f"line {node.lineno}: constant {v!r} is not allowed")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _value(node.operand, defined)
    if isinstance(node, (ast.List, ast.Tuple)):
        for e in node.elts:
            _value(e, defined)
        return
    if isinstance(node, (ast.Attribute, ast.BinOp)):
        return _number(node)
    if isinstance(node, ast.Name):
        if node.id not in defined:
            raise CodeError(f"line {node.lineno}: name {node.id!r} used before it is defined")
        return
    raise CodeError(f"line {node.lineno}: {type(node).__name__} is not allowed in an argument")


def _call(node: ast.AST, defined: set[str]) -> None:
    if isinstance(node, ast.List):         # `Loops0 = []`
        return _value(node, defined)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise CodeError(f"line {node.lineno}: only calls of the OpenECAD API and list literals are allowed")
    if node.func.id not in API:
        raise CodeError(f"line {node.lineno}: {node.func.id!r} is not an OpenECAD API function")
    for a in node.args:
        _value(a, defined)
    for k in node.keywords:
        if k.arg is None:
            raise CodeError(f"line {node.lineno}: ** arguments are not allowed")
        _value(k.value, defined)


def validate_code(text: str) -> None:
    """Raise CodeError when ``text`` is not OpenECAD-style code; return None when it is."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise CodeError(f"line {e.lineno}: syntax error: {e.msg}") from None
    except ValueError as e:                 # NUL bytes in the source
        raise CodeError(str(e)) from None
    if not tree.body:
        raise CodeError("no statements")
    defined: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise CodeError(f"line {stmt.lineno}: only assignments to a single name are allowed")
            _call(stmt.value, defined)
            defined.add(stmt.targets[0].id)
        elif isinstance(stmt, ast.Expr):
            _call(stmt.value, defined)
        else:
            raise CodeError(f"line {stmt.lineno}: {type(stmt).__name__} statements are not allowed")


@register("record.code_does_not_parse", kind="record", severity="warning",
          description="an answer meant to be OpenECAD code (a line of it starts with a call of the API, bare or "
                      "assigned to a name) that does not parse as the API's code; answers by TinyLLaVA's "
                      "positional pairing; other answers (prose, other code) are not judged",
          api=sorted(API), code_line=CODE_LINE.pattern)
def check_code_parses(record, ctx) -> Iterable[Finding]:
    if record.turns is None:
        return
    for i, ((_, text), slot) in enumerate(zip(record.turns, turn_slots(record.turns))):
        if slot != ANSWER or not is_cad_code(text):
            continue
        # A model's views share their answer: parsed once per distinct text.
        problem = (ctx.once(("code_does_not_parse", text), functools.partial(_problem, text)) if ctx is not None
                   else _problem(text))
        if problem is not None:
            # No image: the finding is about the answer text (each view of a model shares it).
            yield check_code_parses.finding(f"turn {i}: code does not parse: {problem}", split=record.split,
                                            record_index=record.index)


def _problem(text: str) -> str | None:
    try:
        validate_code(text)
    except CodeError as e:
        return str(e)
    return None
