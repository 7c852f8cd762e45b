"""The reference kernels (``set_kernels("reference")``) against the NumPy kernels.

:mod:`cnnkit.kernels.reference_ops` implements every primitive that
:func:`cnnkit.kernels.dispatch.ops` hands out (the convolutions' correlate and its two
gradients, the depthwise correlation and its gradients, the pooling windows, the global
pools, batch normalisation and Dense's products) with single-threaded loops over kernel
offsets or pixels.
``tests/kernels/test_op_table.py`` checks every row of the op table on both implementations
against the row's independent reference and float64 central differences; here each row's
values and gradients on the reference kernels are compared with the NumPy kernels' for the
same inputs, and two float32 chains (one with a chunked workspace) check them at float32
rounding.
Rows whose ops call no dispatched primitive run the same code twice (cheap, and they keep the
table whole).
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import conv, dense, dispatch, norm, pool, reference_ops, shape
from tests.kernels.test_op_table import CASES, IDS


@pytest.fixture
def reference_kernels():
    with dispatch.use_kernels("reference"):
        yield


def _value_and_grads(case, inputs, seed=1):
    """The op's output and the gradients of ``sum(out * r)`` for a fixed random ``r``."""
    tensors, wrt = case.tensors(inputs)
    out = case.fn(*tensors)
    r = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(r)).sum().backward()
    return out.data, [tensors[i].grad for i in wrt]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_and_gradients_equal_the_numpy_kernels(case):
    inputs = case.inputs(seed=3)
    out, grads = _value_and_grads(case, inputs)
    with dispatch.use_kernels("reference"):
        ref_out, ref_grads = _value_and_grads(case, inputs)
    np.testing.assert_allclose(ref_out, out, rtol=1e-10, atol=1e-12)
    assert len(ref_grads) == len(grads)
    for ref_grad, grad in zip(ref_grads, grads):
        np.testing.assert_allclose(ref_grad, grad, rtol=1e-10, atol=1e-12)


def test_the_table_really_ran_on_the_reference_kernels(reference_kernels, monkeypatch):
    products, matmul = [], reference_ops.matmul

    def counted(*args, **kwargs):
        products.append(args)
        return matmul(*args, **kwargs)

    monkeypatch.setattr(reference_ops, "matmul", counted)
    dispatch.kernels_report(reset=True)
    for case in CASES:
        case.fn(*[Tensor(a) for a in case.inputs()])
    report = dispatch.kernels_report(reset=True)
    ops = ("conv2d", "conv2d_transpose", "dense", "max_pool2d", "avg_pool2d", "depthwise_conv2d")
    ops += ("global_max_pool2d", "global_avg_pool2d", "batch_norm", "batch_norm_inference")
    for op in ops:
        assert set(report[op]) == {"reference"}, (op, report[op])
    assert products  # the Dense rows' products


@pytest.mark.parametrize(
    "padding, strides, pool_size", [("valid", 2, 2), ("same", 2, 3), ("valid", 1, 3)]
)
def test_float32_layers_agree_on_both_implementations(padding, strides, pool_size):
    """A float32 conv → pool → transposed conv chain, with a chunked workspace: the NumPy
    kernels (threads, column matrices) and the reference loops agree to float32 rounding."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 12, 12, 3)).astype(np.float32)
    k1 = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    k2 = rng.standard_normal((3, 3, 4, 8)).astype(np.float32)

    def run():
        xv, k1v, k2v = Variable(x), Variable(k1), Variable(k2)
        h = conv.conv2d(xv, k1v, None, (strides, strides), padding, relu=True)
        h = pool.max_pool2d(h, pool_size, strides, padding)
        h = pool.avg_pool2d(h, pool_size, 1, "same")
        out = conv.conv2d_transpose(h, k2v, None, (2, 2), "same")
        out.backward(np.cos(np.arange(out.data.size, dtype=np.float32)).reshape(out.shape))
        return [out.data, xv.grad, k1v.grad, k2v.grad]

    expected = run()
    with dispatch.use_kernels("reference"):
        got = run()
    for a, b in zip(got, expected):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * np.abs(b).max())


def test_float32_depthwise_norm_pool_dense_agree_on_both_implementations():
    """A float32 depthwise conv → batch norm → global pools → dense chain, in training mode:
    values and gradients of the NumPy kernels and the reference loops agree to float32
    rounding."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 9, 9, 4)).astype(np.float32)
    dk = rng.standard_normal((3, 3, 4, 2)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, 8).astype(np.float32), np.zeros(8, np.float32)
    wk = rng.standard_normal((16, 3)).astype(np.float32)

    def run():
        vs = [Variable(a) for a in (x, dk, gamma, beta, wk)]
        xv, dkv, gv, bv, wv = vs
        h = conv.depthwise_conv2d(xv, dkv, None, (2, 2), "same")
        h, _, _ = norm.batch_normalization_training(h, -1, offset=bv, scale=gv)
        pooled = shape.concatenate([pool.global_max_pool2d(h), pool.global_avg_pool2d(h)], -1)
        out = dense.dense(pooled, wv, relu=False)
        out.backward(np.cos(np.arange(out.data.size, dtype=np.float32)).reshape(out.shape))
        return [out.data] + [v.grad for v in vs]

    expected = run()
    with dispatch.use_kernels("reference"):
        got = run()
    for a, b in zip(got, expected):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * np.abs(b).max())
