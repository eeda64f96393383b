"""The house rules that keep the layout the architecture: no import circle anywhere (deferred imports
included), few modules at the top of ``harness/``, numba compiled in one place, ``--help`` without numba."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "kernels")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, at the top or inside a function alike. ``from a import b``
    counts as importing ``a.b`` when that is a module, else ``a``."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:   # relative: resolve against this module's package
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:   # ``import a.b.c`` of a name below a module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (c := visit(n)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_no_import_circle_anywhere():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_circle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(g) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_at_most_five_modules_at_the_top_of_harness():
    top = sorted(p.name for p in (ROOT / "harness").glob("*.py"))
    assert len(top) <= 5, top


JIT_NAMES = {"jit", "njit", "vectorize", "guvectorize", "cfunc", "stencil", "generated_jit"}


def jit_uses(source: str) -> list[str]:
    """Places that reach numba's compilers: ``from numba import njit`` or ``numba.njit`` (any alias)."""
    found = []
    tree = ast.parse(source)
    aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
               if a.name.split(".")[0] == "numba"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "numba":
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if a.name in JIT_NAMES]
        elif (isinstance(node, ast.Attribute) and node.attr in JIT_NAMES and isinstance(node.value, ast.Name)
              and node.value.id in aliases):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_only_kernels_jit_calls_numbas_jit():
    offenders = []
    for pkg in ("harness", "kernels", "benchmarks"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path != ROOT / "kernels" / "_jit.py":
                offenders += [f"{path.relative_to(ROOT)} {u}" for u in jit_uses(path.read_text())]
    assert not offenders, offenders


def test_the_jit_guard_sees_a_direct_njit():
    assert jit_uses("import numba\n@numba.njit\ndef f(): pass\n")
    assert jit_uses("from numba import njit\n")
    assert jit_uses("import numba as nb\nf = nb.jit(lambda: 0)\n")
    assert not jit_uses("import numba\nnumba.set_num_threads(1)\n")
    assert jit_uses((ROOT / "kernels" / "_jit.py").read_text())   # the one place that does


def test_help_imports_neither_numba_nor_torch():
    code = ("import sys; from click.testing import CliRunner; from harness.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
            "print(' '.join(m for m in ('numba', 'torch', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"harness --help imported: {out.stdout.strip()}"
