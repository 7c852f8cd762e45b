"""Write ``cnnkit/ops/keras_operations.py``: how Keras 3 records each op on symbolic tensors.

Keras's op functions end ``return ClassName(<init arguments>).symbolic_call(<call arguments>)``
(or ``return ClassName(<init arguments>)(<call arguments>)``) when an input is symbolic; a
saved model names the class, its ``__init__`` arguments (the config) and the call arguments
(the node's ``args`` and ``kwargs``). This script reads the installed Keras's sources with
``ast`` and keeps, per op function (and each name Keras exports it under, or an alias that only
calls it), the class name, the module Keras writes, the ``__init__`` parameters with the
function parameter each comes from, the positional call parameters (``"*name"`` for a spread
``*name``) and the keyword call arguments with their parameters (``"**"`` for ``**name``).

Usage: ``python tools/keras_operations.py`` (needs Keras 3 installed); the test
``tests/saving/test_op_nodes.py`` checks the stored table against the installed Keras.
"""

from __future__ import annotations

import ast
import pathlib
import pprint
import sys

MODULES = ("numpy", "nn", "math", "core", "image", "linalg")
TARGET = pathlib.Path(__file__).resolve().parents[1] / "cnnkit" / "ops" / "keras_operations.py"


def _exported(fn: ast.FunctionDef) -> list[str]:
    """The names ``keras.ops`` exports ``fn`` under (``hard_silu`` is ``hard_swish`` too)."""
    names = []
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "keras_export":
            for arg in deco.args:
                paths = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
                names += [p.value.rsplit(".", 1)[-1] for p in paths if isinstance(p, ast.Constant)]
    return [fn.name] + [n for n in dict.fromkeys(names) if n != fn.name] if names else []


def _init_params(cls: ast.ClassDef) -> list[str]:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args
            return [a.arg for a in args.posonlyargs + args.args][1:] + [
                a.arg for a in args.kwonlyargs if a.arg != "name"
            ]
    return []


def _source_name(node, params) -> str | None:
    """The function parameter an argument expression passes on, if it is just that
    (``"*name"`` for ``*name``)."""
    if isinstance(node, ast.Starred):
        inner = _source_name(node.value, params)
        return None if inner is None else f"*{inner}"
    if isinstance(node, ast.Name) and node.id in params:
        return node.id
    return None


def _alias_of(fn: ast.FunctionDef, params: list[str]) -> str | None:
    """The op function ``fn`` only calls on: ``def abs(x): return absolute(x)``."""
    returns = [n for n in fn.body if isinstance(n, ast.Return)]
    if len(returns) != 1 or not isinstance(returns[0].value, ast.Call):
        return None
    call = returns[0].value
    if not isinstance(call.func, ast.Name) or call.keywords:
        return None
    if [_source_name(a, params) for a in call.args] != params:
        return None
    return call.func.id


def _made_operation(node):
    """The ``ClassName(...)`` of ``return ClassName(...).symbolic_call(...)`` or of
    ``return ClassName(...)(...)`` (Keras writes both), else ``None``."""
    if not (isinstance(node, ast.Return) and isinstance(node.value, ast.Call)):
        return None
    func = node.value.func
    if isinstance(func, ast.Attribute) and func.attr == "symbolic_call":
        func = func.value
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Name):
        return func
    return None


def table_for(module: str) -> dict:
    import keras

    path = pathlib.Path(keras.__file__).parent / "src" / "ops" / f"{module}.py"
    tree = ast.parse(path.read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    found, aliases = {}, {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or not _exported(fn):
            continue
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
        for var in (fn.args.vararg, fn.args.kwarg):
            if var is not None:
                params.append(var.arg)
        alias = _alias_of(fn, params)
        if alias is not None:
            aliases[fn.name] = alias
        for node in ast.walk(fn):
            make = _made_operation(node)
            if make is None:
                continue
            cls_name = make.func.id
            if cls_name not in classes:
                break
            init_names = _init_params(classes[cls_name])
            init = []
            ok = True
            for i, arg in enumerate(make.args):
                source = _source_name(arg, params)
                if source is None or i >= len(init_names):
                    ok = False
                    break
                init.append((init_names[i], source))
            for kw in make.keywords:
                source = _source_name(kw.value, params)
                if source is None or kw.arg is None:
                    ok = False
                    break
                init.append((kw.arg, source))
            call = []
            for arg in node.value.args:
                source = _source_name(arg, params)
                if source is None:
                    ok = False
                    break
                call.append(source)
            keywords = []
            for kw in node.value.keywords:
                source = _source_name(kw.value, params)
                if source is None:
                    ok = False
                    break
                keywords.append(("**" if kw.arg is None else kw.arg, source))
            if ok:
                entry = (cls_name, f"keras.src.ops.{module}", tuple(init), tuple(call))
                for name in _exported(fn):
                    found.setdefault(name, entry + (tuple(keywords),))
            break
    for name, target in aliases.items():
        if target in found:
            found.setdefault(name, found[target])
    return found


def build() -> dict:
    table = {}
    for module in MODULES:
        for name, entry in table_for(module).items():
            table.setdefault(name, entry)
    return dict(sorted(table.items()))


def main() -> None:
    table = build()
    text = (
        '"""How Keras 3 records each op on symbolic tensors in a saved model (generated by\n'
        "``tools/keras_operations.py`` from Keras's sources; names only).\n\n"
        "``OPERATIONS[function] = (class_name, module, init, call, call_kwargs)``: ``init``\n"
        "pairs each ``__init__`` argument of Keras's class (the node's config) with the op\n"
        "function's parameter it comes from; ``call`` lists the parameters passed as the node's\n"
        'arguments (``"*name"`` spreads ``name``); ``call_kwargs`` pairs each keyword argument\n'
        'of the node with its parameter (``"**"`` spreads one).\n'
        '"""\n\n'
        "# fmt: off\n"
        f"OPERATIONS = {pprint.pformat(table, width=100, sort_dicts=True)}\n"
        "# fmt: on\n"
    )
    TARGET.write_text(text)
    print(f"{len(table)} operations written to {TARGET}", file=sys.stderr)


if __name__ == "__main__":
    main()
