"""One-way layers: no import cycle among bayescale's modules, and no import of a higher floor.

The floors are the table in docs/architecture.md (one place); imports inside functions
count as much as those at the top (they run, and they tie the modules together all the same).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bayescale"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """bayescale modules imported anywhere in ``path`` (functions and TYPE_CHECKING included)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if is_pkg else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        # a submodule named in the import counts as itself; its package's face is then not
        # imported for that name (``from . import constants`` imports bayescale.constants)
        hits = {c for c in candidates if c in known}
        if any(c != target for c in hits):
            hits.discard(target)
        out |= {h for h in hits if h != name}
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def _floors() -> dict[str, int]:
    """Module -> floor number, from the table in docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    floors = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*(\d+)\s[^|]*\|\s*`([^`]+)\.py`\s*\|", line)
        if m:
            path = PACKAGE / f"{m.group(2)}.py"
            floors[_module_name(path)] = int(m.group(1))
    return floors


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_floor():
    missing = sorted(set(_modules()) - set(_floors()))
    stale = sorted(set(_floors()) - set(_modules()))
    assert not missing, f"modules missing from the table in docs/architecture.md: {missing}"
    assert not stale, f"the Layout table names modules that do not exist: {stale}"


def test_imports_only_go_down():
    floors = _floors()
    upward = [
        f"{mod} (floor {floors[mod]}) imports {dep} (floor {floors[dep]})"
        for mod, deps in _graph().items()
        for dep in sorted(deps)
        if mod in floors and dep in floors and floors[dep] > floors[mod]
    ]
    assert not upward, "\n".join(upward)


def test_layer_check_sees_an_import_inside_a_function(tmp_path):
    """The parser counts lazy imports: a function-level upward import is an edge."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from .fit import Fit\n    return Fit\n")
    known = {"bayescale.fit", "bayescale.m"}
    assert _imports("bayescale.m", src, known) == {"bayescale.fit"}


@pytest.mark.parametrize("module", ["bayescale.laws.base", "bayescale.sampling"])
def test_lower_floors_know_nothing_of_fits_or_drift_estimation(module):
    deps = _graph()[module]
    assert not deps & {"bayescale.fit", "bayescale.fitting", "bayescale.backtest"}
