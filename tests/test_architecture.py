"""The dependencies between cnnkit's big packages, read from the source with ``ast``.

``layers``, ``models``, ``saving`` and ``export`` import each other at module level in one
direction only (no cycle). An import between them written inside a function is there for a
reason (an optional dependency, or the way back of a module-level import), and says so in a
one-line comment on the line above it (or above the run of imports it belongs to).

Function-level imports count too: with the few documented ways back removed (a layer's
``get_config`` serializing its initializers, ``Model.save``, ``Model.export``), every import
between the packages, wherever written, goes one way. ``saving`` knows no model class: a model
declares what saving needs (``_is_graph_network``, ``_saveable_kind``, its own
``get_config``/``from_config``), as Keras's models do.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "cnnkit"
PACKAGES = ("layers", "models", "saving", "export")
MODEL_CLASSES = {"Functional", "Sequential", "Model"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "cnnkit" and parts[1] in PACKAGES else None


def _targets(node, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolved against this module's package
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return [".".join(base + ([node.module] if node.module else []))]
    if node.module == "cnnkit":  # ``from cnnkit import layers, models``: the subpackages
        return [f"cnnkit.{alias.name}" for alias in node.names]
    return [node.module or ""]


def _imports():
    """``(path, node, from_package, to_package, in_function)`` for every import between them."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            module = _module_name(path)
            top = {id(node) for node in tree.body}
            for node in ast.walk(tree):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                for target in _targets(node, module, path.name == "__init__.py"):
                    to = _package(target)
                    if to and to != package:
                        yield path, node, package, to, id(node) not in top


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the package graph, or ``None``."""
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
            if nxt not in state:
                found = visit(nxt, [*trail, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in PACKAGES:
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_no_module_level_import_cycle_between_the_packages():
    edges: dict[str, set[str]] = defaultdict(set)
    for _, _, source, target, in_function in _imports():
        if not in_function:
            edges[source].add(target)
    assert _cycle(edges) is None, f"module-level import cycle: {' -> '.join(_cycle(edges))}"
    assert not edges["layers"], f"cnnkit.layers imports {sorted(edges['layers'])} at load"


def _has_reason(lines: list[str], node) -> bool:
    """A ``#`` comment on the import, or on the line above the run of imports it belongs to."""
    if any("#" in lines[i] for i in range(node.lineno - 1, node.end_lineno)):
        return True
    i = node.lineno - 2
    while i >= 0 and lines[i].lstrip().startswith(("from ", "import ")):
        i -= 1
    return i >= 0 and "#" in lines[i]


def test_every_function_level_import_between_the_packages_says_why():
    missing = []
    for path, node, source, target, in_function in _imports():
        if in_function:
            lines = path.read_text(encoding="utf-8").splitlines()
            if not _has_reason(lines, node):
                missing.append(
                    f"{path.relative_to(ROOT.parent)}:{node.lineno} ({source} -> {target})"
                )
    assert not missing, "function-level imports without a comment saying why:\n" + "\n".join(
        sorted(set(missing))
    )


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"layers": {"models"}, "models": {"saving"}, "saving": {"layers"}})
    assert _cycle({"layers": {"models"}, "models": set()}) is None


# The ways back: a lower package reaching up, inside a function only, for a method Keras puts
# on its classes. Every other import between the packages goes one way:
# export -> saving -> models -> layers (an arrow: "may import").
WAYS_BACK = {
    ("layers", "saving"): "Layer.get_config serializes initializers, regularizers...",
    ("models", "saving"): "Model.save / get_config / to_json, which saving implements",
    ("models", "export"): "Model.export, which the exporter implements",
}


def test_no_import_cycle_even_through_function_level_imports():
    edges: dict[str, set[str]] = defaultdict(set)
    way_back_at_load = []
    for path, node, source, target, in_function in _imports():
        if (source, target) in WAYS_BACK:
            if not in_function:
                way_back_at_load.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
            continue
        edges[source].add(target)
    assert not way_back_at_load, f"a way back imported at load: {way_back_at_load}"
    cycle = _cycle(edges)
    assert cycle is None, f"import cycle through function-level imports: {' -> '.join(cycle)}"


def _names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def test_saving_never_names_a_model_class():
    """No ``isinstance``/``issubclass`` against ``Model``, ``Sequential`` or ``Functional`` in
    ``cnnkit/saving``, no import of ``cnnkit.models``' modules or classes there (the package is
    only searched by name for built-in classes), and no ``__module__.startswith("cnnkit")``."""
    problems = []
    for path in sorted((ROOT / "saving").rglob("*.py")):
        where = path.relative_to(ROOT.parent)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                "isinstance",
                "issubclass",
            ):
                named = _names(node.args[1]) & MODEL_CLASSES if len(node.args) > 1 else set()
                if named:
                    problems.append(f"{where}:{node.lineno} {node.func.id} {sorted(named)}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnkit.models"):
                problems.append(f"{where}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module == "cnnkit":
                named = {alias.name for alias in node.names} & MODEL_CLASSES
                if named:
                    problems.append(f"{where}:{node.lineno} imports {sorted(named)}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "startswith"
                and "__module__" in _names(node.func.value)
            ):
                problems.append(f"{where}:{node.lineno} decides by a class's module name")
    assert not problems, "cnnkit/saving knows model classes:\n" + "\n".join(problems)


def test_the_model_class_check_sees_an_isinstance():
    tree = ast.parse("isinstance(m, (Sequential, layers.Dense))")
    call = tree.body[0].value
    assert _names(call.args[1]) & MODEL_CLASSES == {"Sequential"}
