"""Grouped convolutions (``groups``) of Conv1D/Conv2D: values against PyTorch and Keras,
float64 gradients, lifecycle and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import backend
from cnnkit import layers as L
from tests.harness import gradcheck, run_layer_test

CASES = [(6, 6, 3), (6, 12, 3), (2, 4, 3), (3, 9, 2)]  # groups, filters, kernel


def _layer(cls, groups, filters, kernel, shape, seed=0, **kwargs):
    layer = cls(filters, kernel, groups=groups, **kwargs)
    layer.build(shape)
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape).astype("float32") for w in layer.weights])
    return layer


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("groups, filters, kernel", CASES)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_groups_equal_torch(groups, filters, kernel, padding):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 9, 8, 6)).astype("float32")
    layer = _layer(L.Conv2D, groups, filters, kernel, (None, 9, 8, 6), padding=padding)
    kernel_t = torch.from_numpy(np.transpose(layer.get_weights()[0], (3, 2, 0, 1)).copy())
    xt = torch.from_numpy(np.transpose(x, (0, 3, 1, 2)).copy())
    want = torch.nn.functional.conv2d(
        xt, kernel_t, torch.from_numpy(layer.get_weights()[1]), padding=padding, groups=groups
    )
    got = np.asarray(layer(x))
    np.testing.assert_allclose(got, want.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("groups, filters, kernel", CASES)
def test_conv1d_and_conv2d_groups_equal_keras(groups, filters, kernel):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    for ours_cls, theirs_cls, shape in (
        (L.Conv2D, keras.layers.Conv2D, (2, 9, 8, 6)),
        (L.Conv1D, keras.layers.Conv1D, (2, 9, 6)),
    ):
        x = rng.standard_normal(shape).astype("float32")
        ours = _layer(ours_cls, groups, filters, kernel, (None, *shape[1:]), padding="same")
        theirs = theirs_cls(filters, kernel, groups=groups, padding="same")
        theirs.build((None, *shape[1:]))
        theirs.set_weights(ours.get_weights())
        want = keras.ops.convert_to_numpy(theirs(x))
        np.testing.assert_allclose(np.asarray(ours(x)), want, rtol=1e-5, atol=1e-5)
        assert ours.get_config()["groups"] == groups


@pytest.mark.parametrize("groups, filters", [(4, 4), (2, 6)])
def test_grouped_conv_gradients(groups, filters):
    with backend.floatx_scope("float64"):
        layer = L.Conv2D(filters, 3, groups=groups, padding="same")
        layer.build((None, 5, 5, 4))

    def fn(x, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer.call(x)

    rng = np.random.default_rng(3)
    gradcheck(
        fn,
        rng.standard_normal((2, 5, 5, 4)),
        rng.standard_normal((3, 3, 4 // groups, filters)),
        rng.standard_normal(filters),
    )


def test_grouped_conv_lifecycle_and_errors():
    run_layer_test(L.Conv2D, {"filters": 6, "kernel_size": 3, "groups": 3}, (2, 6, 6, 3))
    run_layer_test(L.Conv1D, {"filters": 4, "kernel_size": 2, "groups": 2}, (2, 6, 4))
    with pytest.raises(ValueError, match=r"divisible by the number of groups.*groups=4, filters=6"):
        L.Conv2D(6, 3, groups=4)
    with pytest.raises(ValueError, match=r"input channels.*groups=2, input channels 3"):
        L.Conv2D(4, 3, groups=2)(np.ones((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match="groups"):
        L.Conv2D(4, 3, groups=0)
