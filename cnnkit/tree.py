"""Nested structures of lists, tuples, dicts and namedtuples (``keras.tree``).

A *structure* is a leaf or a container of structures. Containers are ``list``,
``tuple``, namedtuples, ``collections.deque`` and the dicts (``dict``,
``OrderedDict``, ``defaultdict``); anything else, ``None`` included, is a leaf
(strings, arrays, tensors, numbers, sets, other classes).

The order of the leaves is Keras's: sequences in order, a ``dict`` by sorted key
(so dicts with the same keys flatten alike whatever their insertion order), an
``OrderedDict`` in its own order. Rebuilding a dict keeps its original key order.

Two structures are *the same* when, at every level, the containers have the same
type (a ``list`` and a ``tuple`` differ, and so do two namedtuple classes even
with the same fields; the three dict types match each other) and the same
length or keys. :func:`assert_same_paths` is looser: it compares only the paths
(indices and keys) of the leaves.

Example:
    >>> from cnnkit import tree
    >>> tree.flatten({"b": [1, 2], "a": (3, None)})
    [3, None, 1, 2]
    >>> tree.map_structure(lambda x: x * 10, {"b": [1, 2], "a": 3})
    {'b': [10, 20], 'a': 30}
    >>> tree.pack_sequence_as(((0, 0), 0), [1, 2, 3])
    ((1, 2), 3)
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "MAP_TO_NONE",
    "assert_same_paths",
    "assert_same_structure",
    "flatten",
    "flatten_with_path",
    "is_nested",
    "lists_to_tuples",
    "map_shape_structure",
    "map_structure",
    "map_structure_up_to",
    "pack_sequence_as",
    "traverse",
]


class MAP_TO_NONE:  # noqa: N801 - Keras's name
    """Returned by a :func:`traverse` function to put ``None`` in place of a subtree."""


_DICTS = (dict, collections.OrderedDict, collections.defaultdict)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and type(x) is not tuple and hasattr(type(x), "_fields")


def _is_node(x, none_is_leaf: bool = True) -> bool:
    if x is None:
        return not none_is_leaf
    kind = type(x)
    return kind in (list, tuple, collections.deque) or kind in _DICTS or _is_namedtuple(x)


def _keys(x) -> list:
    """The keys (dicts) or indices (sequences) of a container's children, in leaf order."""
    if x is None:
        return []
    if type(x) in _DICTS:
        if type(x) is collections.OrderedDict:
            return list(x)
        try:
            return sorted(x)
        except TypeError as error:
            raise TypeError(
                f"The keys of a dict in a structure must be sortable. Received keys: {list(x)}"
            ) from error
    return list(range(len(x)))


def _children(x) -> list:
    if x is None:
        return []
    if type(x) in _DICTS:
        return [x[k] for k in _keys(x)]
    return list(x)


def _rebuild(x, children: list):
    """A container like ``x`` holding ``children`` (given in leaf order)."""
    kind = type(x)
    if x is None:
        return None
    if kind in _DICTS:
        by_key = dict(zip(_keys(x), children, strict=True))
        items = [(k, by_key[k]) for k in x]  # the original insertion order
        if kind is collections.defaultdict:
            return collections.defaultdict(x.default_factory, items)
        return kind(items)
    if kind is list:
        return list(children)
    if kind is tuple:
        return tuple(children)
    if kind is collections.deque:
        return collections.deque(children, maxlen=x.maxlen)
    return kind(*children)  # a namedtuple


def _same_node(a, b) -> bool:
    """Whether two containers match: same type (the dicts match each other) and keys."""
    if type(a) in _DICTS and type(b) in _DICTS:
        return set(a) == set(b)
    return type(a) is type(b) and len(_children(a)) == len(_children(b))


def _mismatch(path: tuple, a, b) -> ValueError:
    return ValueError(
        "The two structures don't have the same nested structure. At path "
        f"{path}: {_describe(a)} against {_describe(b)}."
    )


def _describe(x) -> str:
    if _is_node(x):
        return f"{type(x).__name__} of {len(_children(x))} item(s) (keys {_keys(x)})"
    return f"a leaf of type {type(x).__name__}"


def is_nested(structure) -> bool:
    """Whether ``structure`` is a container (``None`` and strings are leaves).

    Example:
        >>> is_nested([1]), is_nested("ab"), is_nested(None)
        (True, False, False)
    """
    return _is_node(structure)


def flatten(structure) -> list:
    """The leaves of ``structure``, in order (dicts by sorted key).

    Example:
        >>> flatten([[1, 2, 3], [4, [5], [[6]]]])
        [1, 2, 3, 4, 5, 6]
        >>> flatten({100: "world!", 6: "Hello"}), flatten(None)
        (['Hello', 'world!'], [None])
    """
    leaves: list = []
    stack = [structure]
    while stack:
        x = stack.pop()
        if _is_node(x):
            stack.extend(reversed(_children(x)))
        else:
            leaves.append(x)
    return leaves


def flatten_with_path(structure) -> list[tuple[tuple, Any]]:
    """``(path, leaf)`` pairs; a path is the tuple of indices and keys leading to the leaf.

    Example:
        >>> flatten_with_path([{"foo": 42}])
        [((0, 'foo'), 42)]
    """
    out: list = []
    stack = [((), structure)]
    while stack:
        path, x = stack.pop()
        if _is_node(x):
            pairs = zip(_keys(x), _children(x), strict=True)
            stack.extend(reversed([((*path, k), c) for k, c in pairs]))
        else:
            out.append((path, x))
    return out


def _map(func: Callable, structures: tuple, none_is_leaf: bool, path: tuple = ()):
    first = structures[0]
    if not _is_node(first, none_is_leaf):
        for other in structures[1:]:
            if _is_node(other, none_is_leaf):
                raise _mismatch(path, first, other)
        return func(*structures)
    for other in structures[1:]:
        if not _is_node(other, none_is_leaf) or not _same_node(first, other):
            raise _mismatch(path, first, other)
    keys = _keys(first)
    columns = [[s[k] for k in keys] if type(s) in _DICTS else _children(s) for s in structures]
    mapped = [
        _map(func, args, none_is_leaf, (*path, k))
        for k, args in zip(keys, zip(*columns, strict=True), strict=True)
    ]
    return _rebuild(first, mapped)


def map_structure(func: Callable, *structures, none_is_leaf: bool = True):
    """Apply ``func`` to the leaves of ``structures``, which must have the same structure.

    Args:
        func: a callable taking one leaf of each structure.
        *structures: one or more structures of the same layout.
        none_is_leaf: whether ``None`` is passed to ``func`` (``True``) or kept as ``None``.

    Returns:
        A structure like the first one, holding ``func``'s results.

    Raises:
        ValueError: if no structure is given, or they differ (the message gives the path).

    Example:
        >>> map_structure(lambda x, y: x * y, [[1], [2]], [[3], [4]])
        [[3], [8]]
    """
    if not structures:
        raise ValueError("Must provide at least one structure")
    return _map(func, structures, none_is_leaf)


def map_structure_up_to(shallow_structure, func: Callable, *structures):
    """:func:`map_structure` down to the leaves of ``shallow_structure`` only.

    Where ``shallow_structure`` has a leaf, ``func`` receives the whole subtrees of
    ``structures`` found there.

    Raises:
        ValueError: if no structure is given, or one is shallower than or differs from
            ``shallow_structure``.

    Example:
        >>> map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]])
        ['[1, 1]', ['2', '2']]
    """
    if not structures:
        raise ValueError("Must provide at least one structure")

    def walk(shallow, values: tuple, path: tuple):
        if not _is_node(shallow):
            return func(*values)
        for value in values:
            if not _is_node(value) or not _same_node(shallow, value):
                raise _mismatch(path, shallow, value)
        keys = _keys(shallow)
        mapped = [walk(shallow[k], tuple(v[k] for v in values), (*path, k)) for k in keys]
        return _rebuild(shallow, mapped)

    return walk(shallow_structure, structures, ())


def assert_same_structure(a, b, check_types=None) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` are nested the same way.

    Args:
        a, b: structures.
        check_types: deprecated in Keras and ignored (a ``DeprecationWarning`` if given).

    Example:
        >>> assert_same_structure([(0, 1)], [(2, 3)])
        >>> assert_same_structure([0, 1], (2, 3))
        Traceback (most recent call last):
        ...
        ValueError: The two structures don't have the same nested structure. At path ()...
    """
    if check_types is not None:
        import warnings

        warnings.warn(
            "The `check_types` argument is deprecated and no longer has any effect. For a "
            "looser check, use `keras.tree.assert_same_paths()`.",
            DeprecationWarning,
            stacklevel=2,
        )
    _map(lambda *_: None, (a, b), True)


def assert_same_paths(a, b) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same leaf paths (types ignored).

    Example:
        >>> assert_same_paths([0, 1], (2, 3))
    """
    a_paths = {p for p, _ in flatten_with_path(a)}
    b_paths = {p for p, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        message = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            message += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            message += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(message)


def pack_sequence_as(structure, flat_sequence: Iterable):
    """Put the items of ``flat_sequence`` into the leaves of ``structure``, in leaf order.

    Raises:
        TypeError: if ``flat_sequence`` is not iterable.
        ValueError: if it has more or fewer items than ``structure`` has leaves.

    Example:
        >>> pack_sequence_as({"key3": "", "key1": "", "key2": ""}, ["v1", "v2", "v3"])
        {'key3': 'v3', 'key1': 'v1', 'key2': 'v2'}
    """
    try:
        items = list(flat_sequence)
    except TypeError as error:
        raise TypeError(
            "`flat_sequence` must be an iterable. Received: "
            f"flat_sequence of type {type(flat_sequence).__name__}"
        ) from error
    count = len(flatten(structure))
    if len(items) != count:
        raise ValueError(
            f"The structure has {count} leaves but `flat_sequence` has {len(items)} items."
        )
    position = iter(items)
    return _map(lambda _: next(position), (structure,), True)


def traverse(func: Callable, structure, top_down: bool = True):
    """Apply ``func`` to every subtree of ``structure``, containers included.

    Top-down (the default), ``func`` sees a container before its children: a result
    other than ``None`` replaces the subtree (its children are not visited), ``None``
    means "keep going". Bottom-up, ``func`` sees each container after its children
    were traversed; ``None`` keeps the traversed subtree. Returning
    :class:`MAP_TO_NONE` puts ``None`` in place of a subtree.

    Raises:
        TypeError: if ``func`` is not callable.

    Example:
        >>> traverse(lambda x: x + 1 if isinstance(x, int) else None, [1, (2, 3)])
        [2, (3, 4)]
    """
    if not callable(func):
        raise TypeError(f"`func` must be callable. Received: func={func!r}")

    def children_of(x):
        if not _is_node(x):
            return x
        return _rebuild(x, [visit(c) for c in _children(x)])

    def visit(x):
        if top_down:
            result = func(x)
            if result is None:
                return children_of(x)
        else:
            x = children_of(x)
            result = func(x)
            if result is None:
                return x
        return None if result is MAP_TO_NONE else result

    return visit(structure)


def lists_to_tuples(structure):
    """The structure with every ``list`` turned into a ``tuple``.

    Example:
        >>> lists_to_tuples([1, {"a": [2]}])
        (1, {'a': (2,)})
    """
    return traverse(lambda x: tuple(x) if type(x) is list else None, structure, top_down=False)


def _is_shape(x) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(e, (int, type(None))) for e in x)


def map_shape_structure(func: Callable, structure):
    """:func:`map_structure` where tuples and lists of ints and ``None`` are leaves (shapes).

    Example:
        >>> map_shape_structure(lambda s: s[1:], {"x": (None, 3), "y": [(None, 4, 5)]})
        {'x': (3,), 'y': [(4, 5)]}
    """

    def walk(x):
        if _is_shape(x) or not _is_node(x):
            return func(x)
        return _rebuild(x, [walk(c) for c in _children(x)])

    return walk(structure)
