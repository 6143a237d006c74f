"""The package's layering: imports run one way, there is no import cycle (lazy imports
inside functions count too), and finml never imports streamlit or the pages."""

from __future__ import annotations

import ast
from pathlib import Path

from finml.config import PROJECT_ROOT

#: Layer of each part of finml; a module may import its own subpackage or a lower layer.
LAYERS = {
    "finml": 0,
    "finml.config": 0,
    "finml.errors": 0,
    "finml.native": 0.5,
    "finml.store": 1,
    "finml.access": 2,
    "finml.audit": 4,
    "finml.data": 3,
    "finml.models": 4,
    "finml.evaluation": 4,
    "finml.fitters": 4.3,
    "finml.run_data": 4.5,
    "finml.tasks": 4.6,
    "finml.training": 5,
    "finml.prediction": 5,
    "finml.reporting": 5,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (PROJECT_ROOT / "finml").rglob("*.py"):
        parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every module name imported anywhere in the file (top level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _part(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        m: {t for t in _imports(p) if t in modules and t != m and not m.startswith(t + ".")}
        for m, p in modules.items()
    }


def test_every_part_of_finml_has_a_layer():
    assert {_part(m) for m in _modules()} <= set(LAYERS)


def _wrong_way(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _part(m) != _part(t) and _part(t) != "finml" and LAYERS[_part(t)] >= LAYERS[_part(m)]
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_imports_run_down_the_layers():
    wrong = _wrong_way(_graph())
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_there_is_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles: {cycles}"


def test_finml_never_imports_streamlit_or_the_pages():
    for module, path in _modules().items():
        bad = {n for n in _imports(path) if n.split(".")[0] in ("streamlit", "pages")}
        assert not bad, f"{module} imports {bad}"


def test_the_checks_see_a_planted_cycle_and_a_wrong_way_import(tmp_path, monkeypatch):
    """The checks above can fail: an upward import and a lazy cycle are found."""
    import shutil

    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "finml", root / "finml", ignore=shutil.ignore_patterns("*.pyc"))
    (root / "finml" / "data" / "up.py").write_text("from finml.training import jobs\n")
    (root / "finml" / "data" / "a.py").write_text("def f():\n    from finml.data import b\n")
    (root / "finml" / "data" / "b.py").write_text("import finml.data.a\n")
    monkeypatch.setattr(f"{__name__}.PROJECT_ROOT", root)
    graph = _graph()
    assert "finml.data.up -> finml.training.jobs" in _wrong_way(graph)
    assert ["finml.data.a", "finml.data.b"] in _cycles(graph)
