"""cnnkit.activations: Keras 3 names and defaults, get/serialize/deserialize, input handling."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnkit import activations
from cnnkit.autodiff import Tensor, Variable

NAMES = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "linear",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "relu6",
    "mish",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "hard_shrink",
    "soft_shrink",
    "tanh_shrink",
    "log_sigmoid",
    "log_softmax",
    "celu",
    "squareplus",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "exponential",
]


@pytest.mark.parametrize("name", NAMES)
def test_get_returns_the_module_function(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.deserialize(activations.serialize(fn)) is fn


@pytest.mark.parametrize("name", NAMES)
def test_accepts_arrays_and_lists_and_returns_float32_tensors(name):
    fn = activations.get(name)
    for x in ([[-1.0, 0.5, 2.0]], np.array([[-1, 0, 2]]), np.array([[-1.0, 0.5, 2.0]], "float32")):
        out = fn(x)
        assert isinstance(out, Tensor)
        assert out.dtype == np.float32 and out.shape == (1, 3)


def test_float64_arrays_keep_their_dtype():
    assert activations.relu(np.array([1.0, -1.0])).dtype == np.float64


def test_get_none_is_linear_and_callables_pass_through():
    assert activations.get(None) is activations.linear

    def custom(x):
        return x

    assert activations.get(custom) is custom


def test_swish_is_silu_like_keras():
    assert activations.swish is activations.silu
    assert activations.serialize(activations.swish) == "silu"
    assert activations.get("swish") is activations.silu


def test_unknown_identifier_lists_the_valid_ones():
    message = "Could not interpret activation function identifier: 'foo'. Expected one of ["
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        activations.get("foo")
    assert "'relu'" in str(info.value) and "'swish'" in str(info.value)
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get(3)
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.deserialize("nope")


def test_keras_defaults():
    x = np.array([-1.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose(activations.leaky_relu(x).numpy(), [-0.2, 1.0])  # slope 0.2
    np.testing.assert_allclose(activations.elu(x).numpy(), [np.expm1(-1.0), 1.0], rtol=1e-6)
    exact = activations.gelu(x).numpy()  # approximate=False by default in Keras 3
    approx = activations.gelu(x, approximate=True).numpy()
    np.testing.assert_allclose(exact, [-0.15865525, 0.84134475], rtol=1e-6)
    assert not np.allclose(exact, approx, rtol=1e-6)
    np.testing.assert_allclose(activations.selu(x).numpy(), [-1.1113307, 1.050701], rtol=1e-6)


def test_relu_keras_signature():
    x = [-10.0, -5.0, 0.0, 5.0, 10.0]
    np.testing.assert_array_equal(activations.relu(x, max_value=5.0).numpy(), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(
        activations.relu(x, negative_slope=0.5).numpy(), [-5, -2.5, 0, 5, 10]
    )
    np.testing.assert_array_equal(activations.relu(x, threshold=5.0).numpy(), [0, 0, 0, 0, 10])


def test_softmax_records_its_logits():
    logits = Variable(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    out = activations.softmax(logits)
    assert out._keras_logits is logits
    assert activations.softmax(logits, axis=1)._keras_logits is logits
    assert activations.softmax(logits, axis=0)._keras_logits is None
    assert activations.sigmoid(logits)._keras_logits is None


def test_activations_differentiate():
    v = Variable(np.array([[0.5, -0.3]], dtype=np.float32))
    activations.gelu(v).sum().backward()
    assert v.grad.dtype == np.float32 and v.grad.shape == (1, 2)


def test_linear_returns_the_tensor_itself():
    t = Tensor(np.ones(2, dtype=np.float32))
    assert activations.linear(t) is t
