"""The dependencies between cnnkit's big packages, read from the source with ``ast``.

``layers``, ``models``, ``saving`` and ``export`` import each other at module level in one
direction only (no cycle). An import between them written inside a function is there for a
reason (an optional dependency, or the way back of a module-level import), and says so in a
one-line comment on the line above it (or above the run of imports it belongs to).
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
