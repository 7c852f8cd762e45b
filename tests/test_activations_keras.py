"""Every activation of ``keras.activations`` against Keras 3 itself (torch backend).

Runs only where Keras is importable. Values are compared in float32 on inputs that span the
kinks of the piecewise activations; the gradients are checked in the op table.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import activations
from cnnkit.autodiff import Tensor, Variable

keras = pytest.importorskip("keras")

# name -> keyword arguments (threshold has no defaults in Keras).
CASES = {
    "relu": {},
    "leaky_relu": {},
    "relu6": {},
    "softmax": {},
    "celu": {"alpha": 0.7},
    "elu": {},
    "selu": {},
    "softplus": {},
    "softsign": {},
    "squareplus": {"b": 3},
    "soft_shrink": {"threshold": 0.3},
    "sparse_plus": {},
    "silu": {},
    "swish": {},
    "gelu": {"approximate": True},
    "glu": {},
    "tanh": {},
    "tanh_shrink": {},
    "threshold": {"threshold": 0.25, "default_value": -1.5},
    "sigmoid": {},
    "sparse_sigmoid": {},
    "exponential": {},
    "hard_sigmoid": {},
    "hard_silu": {},
    "hard_swish": {},
    "hard_tanh": {},
    "hard_shrink": {"threshold": 0.4},
    "linear": {},
    "mish": {},
    "log_softmax": {},
    "log_sigmoid": {},
}


def _inputs():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((4, 6)) * 3).astype("float32")


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_keras(name):
    x = _inputs()
    kwargs = CASES[name]
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x, **kwargs))
    out = activations.get(name)(x, **kwargs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_and_glu_axes_match_keras(axis):
    x = _inputs()
    for name in ("log_softmax", "glu"):
        expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x, axis=axis))
        np.testing.assert_allclose(
            activations.get(name)(x, axis=axis).numpy(), expected, rtol=2e-6, atol=2e-6
        )


def test_sparsemax_matches_keras_where_keras_is_right():
    """Keras 3.15's sparsemax is exact only for a support of one entry (see the kernel)."""
    x = np.array([[3.0, 0.5, -1.0], [0.2, 2.5, 0.1]], dtype="float32")
    expected = keras.ops.convert_to_numpy(keras.activations.sparsemax(x))
    np.testing.assert_allclose(activations.sparsemax(x).numpy(), expected, atol=1e-7)


def test_sparsemax_is_a_projection_onto_the_simplex():
    x = _inputs()
    out = activations.sparsemax(x).numpy()
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)
    assert (out >= 0).all()
    # The projection is the argmin of ||p - x||: no random simplex point is closer.
    rng = np.random.default_rng(1)
    others = rng.dirichlet(np.ones(6), size=(2000, 4))
    dist = ((out - x) ** 2).sum(-1)
    assert (((others - x) ** 2).sum(-1) >= dist - 1e-6).all()


def test_glu_rejects_an_odd_axis():
    with pytest.raises(ValueError, match="must be even.*shape=\\(2, 3\\)"):
        activations.glu(np.ones((2, 3), "float32"))


@pytest.mark.parametrize(
    "name",
    ["softplus", "mish", "hard_silu", "celu", "log_softmax", "glu", "sparsemax", "squareplus"],
)
def test_usable_by_name_in_layers_with_keras_config(name):
    from cnnkit import layers

    dense = layers.Dense(4, activation=name)
    assert (
        dense.get_config()["activation"]
        == keras.layers.Dense(4, activation=name).get_config()["activation"]
    )
    act = layers.Activation(name)
    x = Variable(_inputs())
    out = act(x)
    out.backward(np.ones(out.shape, "float32"))
    assert x.grad.shape == x.shape and np.isfinite(x.grad).all()
    clone = layers.Activation.from_config(act.get_config())
    np.testing.assert_array_equal(clone(Tensor(x.data)).numpy(), out.numpy())
