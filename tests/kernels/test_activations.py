"""Activation ops: erf/erfc accuracy, Keras's relu variants, extreme inputs, PyTorch agreement.

Values and float64 gradients of every activation are also checked in ``test_op_table.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import activations as act

special = pytest.importorskip("scipy.special")


def _grid():
    return np.concatenate(
        [
            np.linspace(-30, 30, 2001),
            np.linspace(-1.2, 1.2, 2001),
            [0.0, -0.0, 1.0, -1.0, 8.0, -8.0, 26.0, 27.5, 1e10, -1e10, 1e-300],
        ]
    )


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_float64_accuracy(name):
    x = _grid()
    ours, theirs = getattr(act, name)(x), getattr(special, name)(x)
    assert ours.dtype == np.float64
    tiny = np.abs(theirs) < 1e-300  # underflow region: absolute check only
    np.testing.assert_allclose(ours[~tiny], theirs[~tiny], rtol=1e-13)
    np.testing.assert_allclose(ours[tiny], theirs[tiny], atol=1e-300)


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_float32_accuracy(name):
    x = _grid().astype(np.float32)
    ours = getattr(act, name)(x)
    assert ours.dtype == np.float32
    theirs = getattr(special, name)(x.astype(np.float64)).astype(np.float32)
    normal = np.abs(theirs) > np.finfo(np.float32).tiny
    np.testing.assert_allclose(ours[normal], theirs[normal], rtol=1e-6)


def test_gelu_exact_float32_accuracy_including_the_tail():
    x = np.linspace(-12, 12, 4001).astype(np.float32)
    out = act.gelu(x).data
    x64 = x.astype(np.float64)
    expected = 0.5 * x64 * special.erfc(-x64 / np.sqrt(2.0))
    normal = np.abs(expected) > np.finfo(np.float32).tiny
    np.testing.assert_allclose(out[normal], expected[normal], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, expected",
    [  # the examples of Keras 3's relu docstring
        ({}, [0.0, 0.0, 0.0, 5.0, 10.0]),
        ({"negative_slope": 0.5}, [-5.0, -2.5, 0.0, 5.0, 10.0]),
        ({"max_value": 5.0}, [0.0, 0.0, 0.0, 5.0, 5.0]),
        ({"threshold": 5.0}, [0.0, 0.0, 0.0, 0.0, 10.0]),
        ({"negative_slope": 0.5, "threshold": 5.0}, [-7.5, -5.0, -2.5, 0.0, 10.0]),
    ],
)
def test_relu_variants_match_keras_examples(kwargs, expected):
    x = np.array([-10.0, -5.0, 0.0, 5.0, 10.0], dtype=np.float32)
    out = act.relu(x, **kwargs)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.array(expected, dtype=np.float32))


def test_relu_gradient_masks_and_slopes():
    v = Variable(np.array([-2.0, -0.5, 0.7, 3.0, 7.0]))
    act.relu(v, negative_slope=0.1, max_value=6.0, threshold=0.5).sum().backward()
    np.testing.assert_allclose(v.grad, [0.1, 0.1, 1.0, 1.0, 0.0])


@pytest.mark.parametrize(
    "fn",
    [act.sigmoid, act.tanh, act.elu, act.selu, act.silu, act.gelu, act.leaky_relu, act.softmax],
)
def test_extreme_inputs_stay_finite_without_warnings(fn):
    # pytest turns RuntimeWarning (overflow in exp) into an error.
    for dtype in (np.float32, np.float64):
        v = Variable(np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=dtype))
        out = fn(v)
        assert out.dtype == dtype
        assert np.isfinite(out.data).all()
        out.backward(np.ones(out.shape, dtype=dtype))
        assert np.isfinite(v.grad).all()


def test_sigmoid_and_softmax_saturate_exactly():
    np.testing.assert_array_equal(act.sigmoid(np.array([-1e4, 1e4])).data, [0.0, 1.0])
    np.testing.assert_array_equal(act.softmax(np.array([[1e4, -1e4]])).data, [[1.0, 0.0]])


def test_softmax_rows_sum_to_one_and_float32():
    x = np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32) * 30
    out = act.softmax(x).data
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)


def test_linear_is_identity():
    t = Tensor(np.ones(3, dtype=np.float32))
    assert act.linear(t) is t


TORCH_ACTIVATIONS = [
    ("relu", act.relu, lambda F, x: F.relu(x)),
    ("leaky_relu", act.leaky_relu, lambda F, x: F.leaky_relu(x, 0.2)),
    ("elu", lambda x: act.elu(x, alpha=1.3), lambda F, x: F.elu(x, 1.3)),
    ("selu", act.selu, lambda F, x: F.selu(x)),
    ("sigmoid", act.sigmoid, lambda F, x: F.sigmoid(x)),
    ("tanh", act.tanh, lambda F, x: F.tanh(x)),
    ("silu", act.silu, lambda F, x: F.silu(x)),
    ("gelu", act.gelu, lambda F, x: F.gelu(x)),
    ("gelu_tanh", lambda x: act.gelu(x, True), lambda F, x: F.gelu(x, approximate="tanh")),
    ("softmax", act.softmax, lambda F, x: F.softmax(x, dim=-1)),
    ("softmax_axis0", lambda x: act.softmax(x, axis=0), lambda F, x: F.softmax(x, dim=0)),
    ("relu6", lambda x: act.relu(x, max_value=6.0), lambda F, x: F.relu6(x)),
]


@pytest.mark.torch
@pytest.mark.parametrize(
    "ours, theirs", [a[1:] for a in TORCH_ACTIVATIONS], ids=[a[0] for a in TORCH_ACTIVATIONS]
)
def test_matches_torch_values_and_gradients(ours, theirs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.uniform(-8, 8, size=(6, 7))
    x[np.abs(x) < 0.05] += 0.1  # away from the kinks at 0
    x[np.abs(x - 6) < 0.05] += 0.1
    grad = rng.standard_normal(x.shape)
    v = Variable(x)
    out = ours(v)
    out.backward(grad)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(torch.nn.functional, xt)
    yt.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-13)
