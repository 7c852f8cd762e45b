"""Tests for cnnkit.tree against Keras's optree implementation of keras.tree.

Keras's JAX, TensorFlow and NumPy backends run ``keras.tree`` on optree; its PyTorch
backend on torch's pytree, which differs in corners (nested dicts keep their insertion
order, ``map_structure`` maps a leaf against a container). cnnkit follows optree's.
"""

from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest

from cnnkit import tree

P = collections.namedtuple("P", ["x", "y"])
Q = collections.namedtuple("Q", ["x", "y"])


def _structures():
    return [
        1,
        None,
        "abc",
        np.ones(2),
        [1, [1, 2]],
        (3, None),
        {"b": [1, 2], "a": (3, None)},
        P(1, [2, 3]),
        Q(1, [2, 3]),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        collections.defaultdict(list, {"z": 1, "y": [2, 3]}),
        {"k": {"c": 1, "a": [2, {"z": 3}]}},
        collections.deque([1, (2, 3)]),
        [],
        (),
        {},
        [[[]]],
        {1: "x", 0: "y"},
        [1, 2],
        (1, 2),
    ]


def _outcome(fn, *args, **kwargs):
    try:
        return "ok", repr(fn(*args, **kwargs))
    except (ValueError, TypeError) as error:
        return "error", type(error).__name__


@pytest.fixture(scope="module")
def optree_keras():
    pytest.importorskip("keras")
    pytest.importorskip("optree")
    from keras.src.tree import optree_impl

    return optree_impl


def _wrap(x):
    return (x,)


def _pair(x, y):
    return (x, y)


@pytest.mark.parametrize("name", ["flatten", "flatten_with_path", "is_nested", "lists_to_tuples"])
def test_one_structure_functions_match_keras(optree_keras, name):
    for s in _structures():
        assert _outcome(getattr(tree, name), s) == _outcome(getattr(optree_keras, name), s), s


def test_map_and_pack_match_keras(optree_keras):
    for s in _structures():
        for none_is_leaf in (True, False):
            ours = _outcome(tree.map_structure, _wrap, s, none_is_leaf=none_is_leaf)
            theirs = _outcome(optree_keras.map_structure, _wrap, s, none_is_leaf=none_is_leaf)
            assert ours == theirs, s
        flat = list(range(len(optree_keras.flatten(s))))
        ours = _outcome(tree.pack_sequence_as, s, flat)
        assert ours == _outcome(optree_keras.pack_sequence_as, s, flat), s


def test_two_structure_functions_match_keras(optree_keras):
    for a, b in itertools.product(_structures(), repeat=2):
        for name in ("assert_same_structure", "assert_same_paths"):
            ours = _outcome(getattr(tree, name), a, b)[0]
            assert ours == _outcome(getattr(optree_keras, name), a, b)[0], (name, a, b)
        if tree.is_nested(a):
            ours = _outcome(tree.map_structure, _pair, a, b)
            assert ours == _outcome(optree_keras.map_structure, _pair, a, b), (a, b)


def test_flatten_orders_dicts_by_key_and_rebuilds_in_insertion_order():
    structure = {"key3": "", "key1": "", "key2": ""}
    assert tree.flatten({"b": 1, "a": 2}) == [2, 1]
    assert tree.flatten(collections.OrderedDict([("b", 1), ("a", 2)])) == [1, 2]
    packed = tree.pack_sequence_as(structure, ["v1", "v2", "v3"])
    assert list(packed.items()) == [("key3", "v3"), ("key1", "v1"), ("key2", "v2")]


def test_map_structure_up_to_keeps_subtrees_below_the_shallow_structure():
    assert tree.map_structure_up_to([None, None], len, [[1, 1], [2, 2]]) == [2, 2]
    assert tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]]) == [
        "[1, 1]",
        ["2", "2"],
    ]
    assert tree.map_structure_up_to({"a": 0}, lambda x, y: x + y, {"a": 1}, {"a": 2}) == {"a": 3}
    with pytest.raises(ValueError, match="same nested structure"):
        tree.map_structure_up_to([None, [None]], str, [1, 2])
    with pytest.raises(ValueError, match="at least one structure"):
        tree.map_structure_up_to([None], str)


def test_traverse_top_down_bottom_up_and_map_to_none():
    double = lambda x: x * 2 if isinstance(x, int) else None  # noqa: E731
    assert tree.traverse(double, [1, (2, 3), {"a": 4}]) == [2, (4, 6), {"a": 8}]
    drop_tuples = lambda x: tree.MAP_TO_NONE if isinstance(x, tuple) else None  # noqa: E731
    assert tree.traverse(drop_tuples, [1, (2, 3)]) == [1, None]
    seen = []
    tree.traverse(lambda x: seen.append(x), [1, [2]], top_down=False)
    assert seen == [1, 2, [2], [1, [2]]]
    with pytest.raises(TypeError, match="callable"):
        tree.traverse(3, [1])


def test_map_shape_structure_treats_int_tuples_as_leaves():
    shapes = {"x": (None, 3), "y": [(None, 4, 5), ()]}
    assert tree.map_shape_structure(lambda s: len(s), shapes) == {"x": 2, "y": [3, 0]}


def test_errors_name_the_path_and_the_counts():
    with pytest.raises(ValueError, match=r"At path \(1,\)"):
        tree.assert_same_structure([1, [2]], [1, (2,)])
    with pytest.raises(ValueError, match="has 2 leaves but `flat_sequence` has 1"):
        tree.pack_sequence_as([0, 0], [1])
    with pytest.raises(TypeError, match="iterable"):
        tree.pack_sequence_as(0, 5)
    with pytest.raises(ValueError, match="missing in `b`"):
        tree.assert_same_paths({"a": 1}, {"b": 1})
    with pytest.warns(DeprecationWarning, match="check_types"):
        tree.assert_same_structure([1], [2], check_types=True)
