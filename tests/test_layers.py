"""The package's layering, read from its source: no import circles, no layer importing
one above it, optional heavy dependencies only in their own modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "latentfactors"

#: layer of each top-level part (a module or subpackage of latentfactors)
LAYERS = {
    "exceptions": 0, "_validation": 0, "_runtime": 0, "_registry": 0, "_metrics": 0,
    "_callback": 0,
    "_version": 0,
    "kernels": 1,
    "data": 2,
    "models": 3,
    "evaluation": 4, "inspection": 4, "persistence": 4, "index": 4, "testing": 4,
    "serving": 5, "distributed": 5, "cli": 5, "_quickstart": 5,
}  # fmt: skip
#: upward imports made lazily (inside a function) on purpose, with the reason
ALLOWED_UP = {
    # FactorModel.save(path) is the public convenience for persistence.save(model, path)
    ("models", "persistence"),
}
#: third-party packages only these parts may import
OWNED = {
    "fastapi": ("serving",),
    "uvicorn": ("serving",),
    "starlette": ("serving",),
    "dask": ("distributed",),
    "distributed": ("distributed",),
    "pymilvus": ("index",),
    "milvus_lite": ("index",),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["latentfactors", *parts])] = path
    return out


def _lazy_names() -> dict[str, str]:
    """``import latentfactors; latentfactors.SVD``: the public names and their modules."""
    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("latentfactors/__init__.py has no _LAZY table")


LAZY = _lazy_names()


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, at import time?) for every import in the file.

    "At import time" means anywhere outside a function or class body: module level and
    inside module-level ``try`` / ``if`` / ``with`` blocks. Type-only imports (under
    ``if TYPE_CHECKING``) are left out. ``from X import name`` counts as importing
    ``X.name`` when that is a module, and names taken from the top-level package count
    as the module that defines them.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        if _is_type_checking(node):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            top = False
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, top))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, top))
                elif mod == "latentfactors" and alias.name in LAZY:
                    found.append((LAZY[alias.name], top))
                else:
                    found.append((mod, top))
        for child in ast.iter_child_nodes(node):
            visit(child, top)

    visit(tree, True)
    return found


MODULES = _modules()


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "latentfactors" else None


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_part_has_a_layer():
    parts = {_part(m) for m in MODULES} - {None}
    # importing the top-level package from inside it: resolved to defining modules above
    # (the top layer may use the whole package as `import latentfactors as lf`)
    top = max(LAYERS.values())
    whole = [n for n, imports in GRAPH.items() for mod, _top in imports
             if mod == "latentfactors" and LAYERS.get(_part(n)) != top]  # fmt: skip
    assert not whole, f"import the defining module, not the top-level package: {whole}"
    assert parts <= set(LAYERS), f"give these a layer in LAYERS: {sorted(parts - set(LAYERS))}"


def test_no_layer_imports_a_higher_one():
    bad = []
    for name, imports in GRAPH.items():
        src = _part(name)
        if src is None:
            continue
        for mod, _top in imports:
            dst = _part(mod)
            if dst is None or dst == src or dst not in LAYERS:
                continue
            if LAYERS[dst] > LAYERS[src] and ((src, dst) not in ALLOWED_UP or _top):
                bad.append(f"{name} imports {mod} (layer {LAYERS[src]} -> {LAYERS[dst]})")
    assert not bad, "\n".join(bad)


def test_no_import_circles_between_parts():
    edges: dict[str, set[str]] = {}
    for name, imports in GRAPH.items():
        src = _part(name)
        for mod, _top in imports:
            dst = _part(mod)
            if src and dst and src != dst and (src, dst) not in ALLOWED_UP:
                edges.setdefault(src, set()).add(dst)
    cycle = _find_cycle(edges)
    assert cycle is None, " -> ".join(cycle or [])


def test_no_import_circles_between_modules_at_import_time():
    edges: dict[str, set[str]] = {}
    for name, imports in GRAPH.items():
        for mod, top in imports:
            if top and mod in MODULES and mod != name:
                # importing a package runs its __init__; a module's own package is
                # already being imported, so only edges to other modules count
                if not name.startswith(mod + "."):
                    edges.setdefault(name, set()).add(mod)
    cycle = _find_cycle(edges)
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("package", sorted(OWNED))
def test_optional_dependencies_stay_in_their_modules(package):
    bad = []
    for name, imports in GRAPH.items():
        for mod, _top in imports:
            if mod.split(".")[0] == package and _part(name) not in OWNED[package]:
                bad.append(f"{name} imports {mod}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_violation():
    """The walk is not vacuous: it finds the imports we know are there."""
    base = dict(GRAPH["latentfactors.models.base"])
    assert base.get("latentfactors.data.interactions") is True  # imported at module level
    assert any(m == "latentfactors.persistence" and not top for m, top in GRAPH[
        "latentfactors.models.base"])  # fmt: skip
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    probe = SRC / "data" / "_probe_for_the_layer_test.py"
    probe.write_text("try:\n    from .. import SVD\nexcept ImportError:\n    pass\n")
    try:
        MODULES["latentfactors.data._probe_for_the_layer_test"] = probe
        found = _imports("latentfactors.data._probe_for_the_layer_test", probe)
    finally:
        probe.unlink()
        MODULES.pop("latentfactors.data._probe_for_the_layer_test")
    assert found == [("latentfactors.models", True)]  # seen, at import time, upward


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None
