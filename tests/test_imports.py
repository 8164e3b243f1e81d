"""Dependencies between keras_archs' packages, read from the source with `ast`.

Packages: keras_archs.applications, .layers, .registry, .validation, .weights, .convert,
.data, .training, .export, .bench, .nas, .cli and the top level (keras_archs/__init__.py). Every
import counts: at module level and inside functions, `import x`, `from x import y`
(relative ones resolved) and `importlib.import_module("x")` with a string literal.

- No cycle between packages: dependencies point one way.
- keras_archs.registry, .validation and .weights import no family module
  (keras_archs.applications.*): the families import them, not the other way round.
- No module uses another package's private (`_`-prefixed) name, by `from ... import _x`
  or by `module._x` on an imported keras_archs module: what a package shares, it names
  publicly.
"""

from __future__ import annotations

import ast
import itertools
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "keras_archs")
PACKAGES = (
    "applications",
    "layers",
    "registry",
    "validation",
    "weights",
    "convert",
    "data",
    "training",
    "export",
    "bench",
    "nas",
    "cli",
)
TOP = "keras_archs"


def _modules():
    """{dotted module name: path} of every keras_archs source file."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[: -len(".py")]
                parts = rel.split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


MODULES = _modules()


def package_of(module):
    """The package a keras_archs module belongs to (TOP for keras_archs itself)."""
    parts = module.split(".")
    if parts[0] != TOP:
        return None
    if len(parts) == 1:
        return TOP
    return parts[1] if parts[1] in PACKAGES else TOP


class Import:
    """One import: the module it names, the names taken from it, and where."""

    def __init__(self, module, names, line):
        self.module, self.names, self.line = module, names, line


def _resolve(current, node):
    """The absolute module of a `from ... import` (relative imports resolved)."""
    if not node.level:
        return node.module
    is_package = MODULES.get(current, "").endswith("__init__.py")
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module):
    """Every keras_archs import of `module` (any depth in the file)."""
    with open(MODULES[module]) as f:
        tree = ast.parse(f.read(), MODULES[module])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                # `from keras_archs import layers` imports the module keras_archs.layers.
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append(Import(sub, [], node.lineno))
                else:
                    found.append(Import(target, [alias.name], node.lineno))
        elif (
            isinstance(node, ast.Call)
            and _is_import_module(node.func)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(node.args[0].value, [], node.lineno))
    return [i for i in found if i.module and i.module.split(".")[0] == TOP]


def _is_import_module(func):
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id == "import_module"


def package_graph():
    """{package: {imported package: [(module, line), ...]}} across packages."""
    graph = {}
    for module in MODULES:
        source = package_of(module)
        for imp in imports_of(module):
            target = package_of(imp.module)
            if target is not None and target != source:
                graph.setdefault(source, {}).setdefault(target, []).append((module, imp.line))
    return graph


def find_cycle(graph):
    """One cycle of package names ([a, b, ..., a]) or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt, [*path, nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_every_module_parses_and_is_found():
    assert "keras_archs.registry" in MODULES and "keras_archs.applications.resnet" in MODULES
    for module in MODULES:
        imports_of(module)  # a syntax error fails here with the file named


def test_no_cycle_between_packages():
    graph = package_graph()
    cycle = find_cycle(graph)
    if cycle:
        where = [
            f"{a} -> {b}: " + ", ".join(f"{m}:{line}" for m, line in graph[a][b][:3])
            for a, b in itertools.pairwise(cycle)
        ]
        pytest.fail("import cycle between packages:\n" + "\n".join(where))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {"c": []}}) is None


@pytest.mark.parametrize("package", ["registry", "validation", "weights"])
def test_foundation_imports_no_family(package):
    offenders = [
        f"{module}:{imp.line} imports {imp.module}"
        for module in MODULES
        if package_of(module) == package
        for imp in imports_of(module)
        if imp.module == f"{TOP}.applications" or imp.module.startswith(f"{TOP}.applications.")
    ]
    assert not offenders, "\n".join(offenders)


def _private_attribute_uses(module):
    """`alias._name` where alias is a keras_archs module of another package imported in
    this file (`import keras_archs.x as alias`, `from keras_archs import x`)."""
    with open(MODULES[module]) as f:
        tree = ast.parse(f.read())
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == TOP:
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__"):
                continue
            base = ast.unparse(node.value)
            if base in aliases and package_of(aliases[base]) != package_of(module):
                uses.append((f"{aliases[base]}.{node.attr}", node.lineno))
    return uses


def private_offenders(modules):
    """Uses of another package's private name by `modules`, as readable lines."""
    offenders = []
    for module in modules:
        source = package_of(module)
        for imp in imports_of(module):
            if package_of(imp.module) == source:
                continue
            for name in imp.names:
                if name.startswith("_") and not name.startswith("__"):
                    offenders.append(f"{module}:{imp.line} imports {name} from {imp.module}")
            private = [p for p in imp.module.split(".")[1:] if p.startswith("_")]
            if private:
                offenders.append(f"{module}:{imp.line} imports the private module {imp.module}")
        for name, line in _private_attribute_uses(module):
            offenders.append(f"{module}:{line} uses {name}")
    return offenders


def test_no_private_names_across_packages():
    offenders = private_offenders(MODULES)
    assert not offenders, "\n".join(offenders)


def test_the_private_check_finds_private_uses(tmp_path, monkeypatch):
    source = tmp_path / "fake.py"
    source.write_text(
        "import importlib\n"
        "from keras_archs import registry\n"
        "from keras_archs.validation import is_int\n"
        "def f():\n"
        "    from keras_archs.registry import _REGISTRY\n"
        "    from ..applications import _image\n"
        "    importlib.import_module('keras_archs.layers._utils')\n"
        "    return registry._ALIASES\n"
    )
    monkeypatch.setitem(MODULES, "keras_archs.export.fake", str(source))
    found = private_offenders(["keras_archs.export.fake"])
    assert any("_REGISTRY" in line for line in found), found
    assert any("keras_archs.applications._image" in line for line in found), found
    assert any("keras_archs.layers._utils" in line for line in found), found
    assert any("keras_archs.registry._ALIASES" in line for line in found), found
    assert len(found) == 4, found
