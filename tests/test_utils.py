"""Tests for cnnkit.utils: set_random_seed, to_categorical and normalize."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.utils import normalize, set_random_seed, to_categorical

# --------------------------------------------------------------------------- set_random_seed


def _draws():
    return (
        backend.rng().random(3).tolist(),
        np.random.random(3).tolist(),  # noqa: NPY002 - checking the legacy global generator
        [random.random() for _ in range(3)],
    )


def test_set_random_seed_seeds_every_generator():
    set_random_seed(1)
    first = _draws()
    set_random_seed(1)
    assert _draws() == first
    set_random_seed(2)
    second = _draws()
    for a, b in zip(first, second, strict=True):
        assert a != b


def test_set_random_seed_accepts_numpy_integers():
    set_random_seed(np.int64(5))
    a = backend.rng().random()
    set_random_seed(5)
    assert backend.rng().random() == a


@pytest.mark.parametrize("seed", [1.0, "1", None, True])
def test_set_random_seed_rejects_non_integers(seed):
    with pytest.raises(ValueError, match=r"Expected `seed` argument to be an integer. Received"):
        set_random_seed(seed)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_set_random_seed_rejects_out_of_range(seed):
    with pytest.raises(ValueError, match=rf"\[0, 2\*\*32 - 1\]. Received: seed={seed}"):
        set_random_seed(seed)


# --------------------------------------------------------------------------- to_categorical


def test_to_categorical_values():
    out = to_categorical([0, 2, 1, 2], num_classes=4)
    expected = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32


def test_to_categorical_infers_num_classes():
    assert to_categorical(np.array([3, 0])).shape == (2, 4)


@pytest.mark.parametrize(
    "shape, out_shape",
    [
        ((6,), (6, 3)),
        ((6, 1), (6, 3)),
        ((2, 3), (2, 3, 3)),
        ((2, 3, 1), (2, 3, 3)),
        ((1,), (1, 3)),
        ((), (3,)),
    ],
)
def test_to_categorical_shapes_like_keras(shape, out_shape):
    labels = np.arange(int(np.prod(shape))).reshape(shape) % 3
    out = to_categorical(labels, num_classes=3)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.argmax(-1), labels.reshape(out_shape[:-1]))
    np.testing.assert_array_equal(out.sum(-1), 1.0)


def test_to_categorical_integer_valued_floats_and_dtype_policy():
    np.testing.assert_array_equal(to_categorical([1.0, 0.0]), [[0, 1], [1, 0]])
    with backend.floatx_scope("float64"):
        assert to_categorical([0, 1]).dtype == np.float64


@pytest.mark.parametrize(
    "x, num_classes, message",
    [
        ([0, 3], 3, r"Expected class labels in \[0, 3\) for num_classes=3. Received label: 3"),
        ([0, -1], 3, r"Received label: -1"),
        ([0, -1], None, r"Expected class labels >= 0. Received label: -1"),
        ([0.0, 1.5], None, r"Expected integer class labels. Received a non-integer label: 1.5"),
        ([0.0, np.nan], 2, r"non-integer label: nan"),
        ([0, 1], 0, r"argument `num_classes`. Expected a strictly positive.*num_classes=0"),
        ([], None, r"Cannot infer `num_classes` from an empty `x`"),
    ],
)
def test_to_categorical_errors(x, num_classes, message):
    with pytest.raises(ValueError, match=message):
        to_categorical(x, num_classes=num_classes)


def test_to_categorical_type_errors():
    with pytest.raises(TypeError, match="Expected integer class labels"):
        to_categorical(["cat", "dog"])
    with pytest.raises(TypeError, match="argument `num_classes`"):
        to_categorical([0, 1], num_classes=2.0)


def test_to_categorical_empty_with_num_classes():
    assert to_categorical(np.zeros((0,), dtype=int), num_classes=4).shape == (0, 4)


# --------------------------------------------------------------------------- normalize


def test_normalize_l2_last_axis():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_normalize_against_numpy_norm(axis, order):
    x = np.random.default_rng(0).standard_normal((4, 5))
    expected_norm = (
        np.linalg.norm(x.ravel(), ord=order)
        if axis is None
        else np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    )
    np.testing.assert_allclose(normalize(x, axis=axis, order=order), x / expected_norm)


def test_normalize_dtypes():
    assert normalize(np.ones((2, 2), dtype=np.float32)).dtype == np.float32
    assert normalize([[1, 1]]).dtype == np.float32
    np.testing.assert_allclose(normalize(np.float64(-2.0)), [-1.0])


@pytest.mark.parametrize("order", [0, -1, 1.5, "a"])
def test_normalize_rejects_bad_order(order):
    with pytest.raises(ValueError, match=r"Argument `order` must be an int >= 1. Received"):
        normalize(np.ones(3), order=order)
