"""``cnnkit.ops`` core and math ops: conversion, gradient control, control flow, scatter and
segment ops, ``top_k``, ``logsumexp``... values against NumPy and float64 gradient checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnkit import ops
from cnnkit.autodiff import Tensor, Variable
from tests.harness import gradcheck

_erf = np.vectorize(math.erf)


def test_convert_to_tensor_follows_keras_dtypes():
    assert ops.convert_to_tensor(3).dtype == np.int32
    assert ops.convert_to_tensor(3.0).dtype == np.float32
    assert ops.convert_to_tensor([1, 2]).dtype == np.int32
    assert ops.convert_to_tensor([1, 2.5]).dtype == np.float32
    assert ops.convert_to_tensor(True).dtype == np.bool_
    assert ops.convert_to_tensor(np.ones(2, "float64")).dtype == np.float64
    assert ops.convert_to_tensor([1, 2], dtype="float16").dtype == np.float16
    v = Variable(np.ones(2))
    assert ops.convert_to_tensor(v) is v
    with pytest.raises(ValueError, match="sparse"):
        ops.convert_to_tensor(np.ones(2), sparse=True)


def test_convert_to_numpy_shape_dtype_is_tensor():
    t = Tensor(np.arange(6, dtype="int64").reshape(2, 3))
    assert isinstance(ops.convert_to_numpy(t), np.ndarray)
    assert ops.shape(t) == (2, 3)
    assert ops.dtype(t) == "int64"
    assert ops.dtype(np.ones(1, "float16")) == "float16"
    assert ops.is_tensor(t) and ops.is_tensor(np.ones(1)) and not ops.is_tensor([1.0])
    assert ops.cast(np.array([1.7, -1.7]), "int32").tolist() == [1, -1]


def test_stop_gradient_blocks_the_gradient():
    v = Variable(np.array([1.0, 2.0]))
    out = ops.sum(ops.multiply(v, ops.stop_gradient(v)))
    out.backward()
    np.testing.assert_allclose(v.grad, [1.0, 2.0])  # d(v * const)/dv = const


def test_custom_gradient_replaces_the_gradient():
    @ops.custom_gradient
    def clip_grad(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.clip(upstream, -0.5, 0.5)

        return x * 1.0, grad

    v = Variable(np.array([1.0, 2.0]))
    ops.sum(ops.multiply(clip_grad(v), np.array([2.0, 0.25]))).backward()
    np.testing.assert_allclose(v.grad, [0.5, 0.25])
    np.testing.assert_allclose(clip_grad(np.array([3.0])), [3.0])


def test_custom_gradient_with_torch_style_keyword():
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream):
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log(1 + e), grad

    x = np.array([0.5, -1.0])
    v = Variable(x)
    ops.sum(log1pexp(v)).backward()
    np.testing.assert_allclose(v.grad, 1 / (1 + np.exp(-x)))


def test_cond_and_switch():
    assert ops.cond(np.array(True), lambda: 1, lambda: 2) == 1
    assert ops.cond(False, lambda: 1, lambda: 2) == 2
    branches = [lambda x: x + 1, lambda x: x * 10]
    assert ops.switch(1, branches, 3) == 30
    assert ops.switch(7, branches, 3) == 30  # clamped
    assert ops.switch(-2, branches, 3) == 4


def test_scan_matches_cumsum_and_differentiates():
    xs = np.array([1.0, 2.0, 3.0, 4.0])
    carry, ys = ops.scan(lambda c, x: (c + x, c * x), np.array(0.0), xs)
    assert float(carry) == 10.0
    np.testing.assert_allclose(ys, [0.0, 2.0, 9.0, 24.0])
    carry_r, ys_r = ops.scan(lambda c, x: (c + x, c), np.array(0.0), xs, reverse=True)
    np.testing.assert_allclose(ys_r, [9.0, 7.0, 4.0, 0.0])
    _, counted = ops.scan(lambda c, _: (c + 1, c), 0, None, length=3)
    assert list(np.asarray(counted)) == [0, 1, 2]
    gradcheck(lambda x: ops.scan(lambda c, e: (c * e + e, c), np.array(1.0), x)[0], xs)
    with pytest.raises(ValueError, match="length"):
        ops.scan(lambda c, x: (c, x), 0, None)


def test_associative_scan_is_an_inclusive_prefix_scan():
    x = np.arange(1.0, 7.0).reshape(3, 2)
    np.testing.assert_allclose(ops.associative_scan(ops.add, x), np.cumsum(x, axis=0))
    np.testing.assert_allclose(ops.associative_scan(ops.multiply, x, axis=1), np.cumprod(x, axis=1))
    np.testing.assert_allclose(
        ops.associative_scan(ops.add, x, reverse=True), np.cumsum(x[::-1], axis=0)[::-1]
    )
    gradcheck(lambda t: ops.associative_scan(ops.multiply, t), x)


def test_loops_and_maps():
    assert ops.while_loop(lambda i: i < 10, lambda i: i + 3, 0) == 12
    i, s = ops.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s + i), (0, 0))
    assert (i, s) == (4, 6)
    assert ops.while_loop(lambda i: True, lambda i: i + 1, 0, maximum_iterations=5) == 5
    assert ops.fori_loop(0, 5, lambda i, v: v + i, 0) == 10
    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(ops.map(lambda r: ops.sum(r), x), x.sum(axis=1))
    np.testing.assert_allclose(ops.vectorized_map(lambda r: r * 2, x), x * 2)
    gradcheck(lambda t: ops.map(lambda r: ops.prod(r), t), x + 1)


def test_unstack_slice_and_slice_update():
    x = np.arange(12.0).reshape(3, 4)
    parts = ops.unstack(x, axis=1)
    assert len(parts) == 4 and np.array_equal(parts[2], x[:, 2])
    with pytest.raises(ValueError, match="num"):
        ops.unstack(x, num=2)
    np.testing.assert_array_equal(ops.slice(x, (1, 1), (2, 2)), x[1:3, 1:3])
    updated = ops.slice_update(x, (0, 2), np.zeros((2, 2)))
    expected = x.copy()
    expected[0:2, 2:4] = 0
    np.testing.assert_array_equal(updated, expected)
    gradcheck(lambda a, u: ops.slice_update(a, [1, 0], u), x, np.ones((1, 3)))
    gradcheck(lambda a: ops.slice(a, [0, 1], [3, 2]), x)


def test_scatter_sums_duplicates_and_differentiates():
    idx = np.array([[0, 1], [1, 0], [0, 1]])
    out = ops.scatter(idx, np.array([1.0, 2.0, 3.0]), (2, 2))
    np.testing.assert_array_equal(out, [[0.0, 4.0], [2.0, 0.0]])
    gradcheck(lambda v: ops.scatter(idx, v, (2, 2)), np.array([1.0, 2.0, 3.0]))
    rows = ops.scatter(np.array([[1]]), np.array([[5.0, 6.0]]), (2, 2))
    np.testing.assert_array_equal(rows, [[0, 0], [5, 6]])


def test_scatter_update_replaces_or_reduces():
    x = np.zeros((2, 3))
    idx = np.array([[0, 0], [1, 2]])
    np.testing.assert_array_equal(
        ops.scatter_update(x, idx, np.array([1.0, 2.0])), [[1, 0, 0], [0, 0, 2]]
    )
    np.testing.assert_array_equal(
        ops.scatter_update(np.ones((2, 3)), idx, np.array([1.0, 2.0]), reduction="add"),
        [[2, 1, 1], [1, 1, 3]],
    )
    np.testing.assert_array_equal(
        ops.scatter_update(np.ones((2, 3)), idx, np.array([5.0, 0.0]), reduction="max"),
        [[5, 1, 1], [1, 1, 1]],
    )
    gradcheck(lambda a, u: ops.scatter_update(a, idx, u), np.ones((2, 3)), np.array([1.0, 2.0]))
    gradcheck(
        lambda a, u: ops.scatter_update(a, idx, u, reduction="add"),
        np.ones((2, 3)),
        np.array([1.0, 2.0]),
    )
    with pytest.raises(ValueError, match="reduction"):
        ops.scatter_update(x, idx, np.ones(2), reduction="mean")


@pytest.mark.parametrize(
    "name, ufunc, identity",
    [
        ("segment_sum", np.add, 0.0),
        ("segment_prod", np.multiply, 1.0),
        ("segment_max", np.maximum, -np.inf),
        ("segment_min", np.minimum, np.inf),
    ],
)
def test_segment_ops_match_a_loop(name, ufunc, identity):
    rng = np.random.default_rng(0)
    data = rng.uniform(0.5, 2.0, size=(6, 2))
    ids = np.array([0, 2, 0, 1, 2, 2])
    op = getattr(ops, name)
    expected = np.full((4, 2), identity)
    for row, i in zip(data, ids):
        expected[i] = ufunc(expected[i], row)
    np.testing.assert_allclose(op(data, ids, num_segments=4), expected)
    np.testing.assert_allclose(op(data, ids), expected[:3])
    gradcheck(lambda d: op(d, ids), data)


def test_top_k_and_in_top_k():
    x = np.array([[1.0, 5.0, 3.0, 5.0], [4.0, 2.0, 0.0, 1.0]])
    values, indices = ops.top_k(x, 2)
    np.testing.assert_array_equal(values, [[5.0, 5.0], [4.0, 2.0]])
    np.testing.assert_array_equal(indices, [[1, 3], [0, 1]])
    assert indices.dtype == np.int32
    gradcheck(lambda t: ops.top_k(t, 3)[0], np.array([[0.1, 0.5, 0.3, 0.2]]))
    np.testing.assert_array_equal(ops.in_top_k(np.array([2, 1]), x, 2), [False, True])


def test_logsumexp_and_math_functions():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(ops.logsumexp(x, axis=1), np.log(np.exp(x).sum(axis=1)))
    np.testing.assert_allclose(
        ops.logsumexp(x * 1000, keepdims=True), np.max(x * 1000, keepdims=True), rtol=1e-3
    )
    gradcheck(lambda t: ops.logsumexp(t, axis=0), x)
    np.testing.assert_allclose(ops.erf(x), _erf(x), rtol=1e-6)
    np.testing.assert_allclose(ops.erfc(x), 1 - _erf(x), rtol=1e-6, atol=1e-7)
    y = rng.uniform(-0.9, 0.9, size=5)
    np.testing.assert_allclose(_erf(ops.erfinv(y)), y, rtol=1e-10)
    np.testing.assert_allclose(ops.rsqrt(np.array([4.0, 0.25])), [0.5, 2.0])
    for fn, arr in [
        (ops.erf, x),
        (ops.erfc, x),
        (ops.erfinv, y),
        (ops.rsqrt, np.abs(x) + 0.5),
    ]:
        gradcheck(fn, arr)


def test_extract_sequences_frames_the_last_axis():
    x = np.arange(10.0).reshape(1, 10)
    frames = ops.extract_sequences(x, 4, 3)
    np.testing.assert_array_equal(frames, [[[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]])
    gradcheck(lambda t: ops.extract_sequences(t, 3, 2), np.arange(7.0))


def test_cdist_matches_scipy():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(ops.cdist(a, b), cdist(a, b))
    gradcheck(ops.cdist, a, b)
    with pytest.raises(ValueError, match="rank"):
        ops.cdist(np.ones(3), np.ones(3))


def test_rearrange_follows_einops_patterns():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.rearrange(x, "b h w -> b (h w)"), x.reshape(2, 12))
    np.testing.assert_array_equal(ops.rearrange(x, "b h w -> w b h"), x.transpose(2, 0, 1))
    split = ops.rearrange(x, "b h (w c) -> b c h w", c=2)
    np.testing.assert_array_equal(split, x.reshape(2, 3, 2, 2).transpose(0, 3, 1, 2))
    gradcheck(lambda t: ops.rearrange(t, "b h w -> (w b) h"), x)
    with pytest.raises(ValueError, match="->"):
        ops.rearrange(x, "b h w")
    with pytest.raises(ValueError, match="rank"):
        ops.rearrange(x, "b h -> h b")


def test_jvp_matches_the_jacobian_product():
    def f(x, y):
        return ops.multiply(ops.sin(x), y)

    x, y = np.array([0.1, 0.5]), np.array([2.0, 3.0])
    tx, ty = np.array([1.0, 0.0]), np.array([0.5, 1.0])
    out, tangent = ops.jvp(f, (x, y), (tx, ty))
    np.testing.assert_allclose(out, np.sin(x) * y)
    np.testing.assert_allclose(tangent, np.cos(x) * y * tx + np.sin(x) * ty)


def test_logdet_of_positive_definite_matrices():
    a = np.array([[4.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(ops.logdet(a), np.log(np.linalg.det(a)))
    gradcheck(lambda m: ops.logdet(ops.matmul(m, ops.transpose(m)) + np.eye(2)), a)


def test_ops_on_symbolic_inputs_build_a_functional_model():
    from cnnkit.layers import Dense, Input
    from cnnkit.models import Model

    inputs = Input((3,))
    hidden = Dense(4, kernel_initializer="ones")(inputs)
    centred = ops.subtract(hidden, ops.mean(hidden, axis=-1, keepdims=True))
    assert ops.convert_to_tensor(hidden) is hidden
    assert ops.shape(hidden) == (None, 4) and ops.dtype(hidden) == "float32"
    values, _ = ops.top_k(ops.cast(ops.convert_to_tensor(hidden, "float64"), "float32"), 2)
    joined = ops.concatenate([ops.relu(centred), ops.square(inputs)], axis=-1)
    assert joined.shape == (None, 7) and values.shape == (None, 2)
    model = Model(inputs, [joined, values])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    got_joined, got_values = model.predict(x, verbose=0)
    dense = x @ np.ones((3, 4), "float32")
    np.testing.assert_allclose(
        got_joined,
        np.concatenate([np.maximum(dense - dense.mean(-1, keepdims=True), 0), x**2], -1),
        rtol=1e-6,
    )
    np.testing.assert_allclose(got_values, dense[:, :2], rtol=1e-6)
    model = Model(inputs, ops.sum(ops.multiply(values, 2.0), axis=-1, keepdims=True))
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, np.zeros((2, 1), "float32"), epochs=1, verbose=0)
    assert not np.allclose(model.get_weights()[0], before)


def test_scatter_broadcasts_values_over_two_dimensional_indices():
    # (2, 2, 1) indices with (2,) values broadcast to their (2, 2) rows
    got = ops.scatter(np.array([[[0], [1]], [[1], [2]]]), np.array([1.0, 2.0]), (4,))
    np.testing.assert_array_equal(got, [1.0, 3.0, 2.0, 0.0])
