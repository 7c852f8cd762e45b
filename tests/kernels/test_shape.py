"""Flatten and dropout: shapes, Keras's inverted-dropout semantics, determinism, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import shape


@pytest.mark.parametrize(
    "in_shape, out_shape", [((2, 3, 4, 5), (2, 60)), ((3,), (3, 1)), ((0, 4, 2), (0, 8))]
)
def test_flatten_shapes(in_shape, out_shape):
    v = Variable(np.zeros(in_shape, dtype=np.float32))
    out = shape.flatten(v)
    assert out.shape == out_shape and out.dtype == np.float32
    out.backward(np.ones(out_shape, dtype=np.float32))
    assert v.grad.shape == in_shape


def test_flatten_keeps_row_major_order():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(shape.flatten(x).data, x.reshape(2, 12))


def test_flatten_rejects_scalars():
    with pytest.raises(ValueError, match="batch axis"):
        shape.flatten(np.float32(1.0).reshape(()))


def test_dropout_rate_zero_is_identity():
    t = Tensor(np.ones((3, 3), dtype=np.float32))
    assert shape.dropout(t, 0.0, np.random.default_rng(0)) is t


def test_dropout_scales_kept_values_and_zeroes_the_rest():
    x = np.ones((200, 100), dtype=np.float32)
    out = shape.dropout(x, 0.25, np.random.default_rng(0)).data
    assert out.dtype == np.float32
    kept = out != 0
    np.testing.assert_array_equal(out[kept], np.float32(1.0) / np.float32(0.75))
    assert abs(kept.mean() - 0.75) < 0.01  # 20,000 draws: 4 standard deviations ~ 0.012
    assert abs(out.mean() - 1.0) < 0.015


def test_dropout_mask_comes_from_the_generator():
    x = np.arange(1, 61, dtype=np.float32).reshape(3, 4, 5)
    a = shape.dropout(x, 0.5, np.random.default_rng(42)).data
    b = shape.dropout(x, 0.5, np.random.default_rng(42)).data
    c = shape.dropout(x, 0.5, np.random.default_rng(43)).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    keep = np.random.default_rng(42).random(x.shape, dtype=np.float32) < np.float32(0.5)
    np.testing.assert_array_equal(a != 0, keep)


def test_dropout_gradient_uses_the_same_mask():
    v = Variable(np.ones((10, 10), dtype=np.float32))
    out = shape.dropout(v, 0.4, np.random.default_rng(1))
    out.backward(np.ones((10, 10), dtype=np.float32))
    assert v.grad.dtype == np.float32
    np.testing.assert_array_equal(v.grad, out.data)  # d(out)/dx = mask / (1 - rate) = out / x


def test_dropout_rate_one_drops_everything():
    v = Variable(np.ones((2, 3), dtype=np.float32))
    out = shape.dropout(v, 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(out.data, 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(v.grad, 0.0)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_dropout_rejects_bad_rates(rate):
    message = f"Expected a float value between 0 and 1. Received: rate={rate}"
    with pytest.raises(ValueError, match=re.escape(message)):
        shape.dropout(np.ones(3, dtype=np.float32), rate, np.random.default_rng(0))
