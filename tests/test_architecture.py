"""The dependencies between cnnkit's big packages, read from the source with ``ast``.

``layers``, ``models``, ``saving`` and ``export`` import each other in one direction only, as
Keras's do: ``models`` may import ``layers``, ``saving`` and ``export``; ``layers`` and
``export`` may import ``saving``; ``export`` may import ``layers``. Counting every import,
written at module level or inside a function, the graph has no cycle. ``saving`` imports
nothing from ``layers`` or ``models`` and ``export`` nothing from ``models``: saving walks
objects by what their classes declare (``_saveable_kind``, ``_is_graph_network``,
``_saved_sublayers()``...) and finds built-in classes by name in their public namespace, at
call time, as Keras imports the module a config names; the exporter tells models apart by the
same declarations.

At load, ``layers`` imports none of the others (it is the bottom of the stack, and
``import cnnkit.layers`` stays light). An import between them written inside a function says
why in a one-line comment on the line above it (or above the run of imports it belongs to).
"""

from __future__ import annotations

import ast
import subprocess
import sys
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


def test_no_import_cycle_even_through_function_level_imports():
    edges: dict[str, set[str]] = defaultdict(set)
    for _, _, source, target, _ in _imports():
        edges[source].add(target)
    cycle = _cycle(edges)
    assert cycle is None, f"import cycle through function-level imports: {' -> '.join(cycle)}"


# Imports that go against Keras's direction, wherever written.
FORBIDDEN = {("saving", "layers"), ("saving", "models"), ("export", "models")}


def test_saving_imports_no_layer_or_model_and_export_no_model():
    wrong = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno} ({source} -> {target})"
        for path, node, source, target, _ in _imports()
        if (source, target) in FORBIDDEN
    ]
    assert not wrong, "imports against the packages' direction:\n" + "\n".join(sorted(wrong))


def test_importing_saving_or_export_loads_no_layer_or_model_module():
    """What the ``ast`` check cannot see: no path through another package (``applications``,
    ``backend``...) loads the classes at import either."""
    code = (
        "import sys, cnnkit.saving; assert 'cnnkit.layers' not in sys.modules; "
        "assert 'cnnkit.models' not in sys.modules; "
        "import cnnkit.export; assert 'cnnkit.models' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT.parent)


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
