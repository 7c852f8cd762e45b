"""Batch-normalisation specifics: batch statistics, float32 numerics, layouts, PyTorch agreement.

Values and float64 gradient checks of both ops are rows of ``test_op_table.py``; here the
gradients of a larger float32 problem are compared with the paper's unfused backward.
"""

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import norm


def paper_backward(x, gamma, grad, epsilon):
    """Ioffe & Szegedy (2015), Algorithm 1's backward, step by step in float64, C last."""
    axes = tuple(range(x.ndim - 1))
    m = x.size // x.shape[-1]
    mu = x.mean(axis=axes)
    var = ((x - mu) ** 2).mean(axis=axes)
    xhat = (x - mu) / np.sqrt(var + epsilon)
    dxhat = grad * gamma
    dvar = (dxhat * (x - mu)).sum(axis=axes) * -0.5 * (var + epsilon) ** -1.5
    dmu = -(dxhat / np.sqrt(var + epsilon)).sum(axis=axes) + dvar * (-2 * (x - mu)).mean(axis=axes)
    dx = dxhat / np.sqrt(var + epsilon) + dvar * 2 * (x - mu) / m + dmu / m
    return dx, (grad * xhat).sum(axis=axes), grad.sum(axis=axes)


def _train(x, gamma, beta, grad, axis=-1, epsilon=1e-3):
    xv, gv, bv = Variable(x), Variable(gamma), Variable(beta)
    out, mean, var = norm.batch_normalization_training(xv, axis, bv, gv, epsilon)
    out.backward(grad)
    return out.data, mean, var, xv.grad, gv.grad, bv.grad


def test_batch_statistics_are_mean_and_biased_variance():
    rng = np.random.default_rng(0)
    x = (3 + 2 * rng.standard_normal((4, 5, 5, 3))).astype("float32")
    out, mean, var = norm.batch_normalization_training(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(var, x64.var(axis=(0, 1, 2)), rtol=1e-5)  # ddof=0
    assert mean.dtype == var.dtype == np.float32
    assert not isinstance(mean, Tensor) and mean.shape == (3,)


def test_variance_is_stable_for_a_large_mean_in_float32():
    # E[x^2] - E[x]^2 loses every digit here in float32 (x^2 ~ 1e8, var ~ 1)
    rng = np.random.default_rng(1)
    x = (1e4 + rng.standard_normal((256, 4))).astype("float32")
    out, _, var = norm.batch_normalization_training(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(var, x64.var(axis=0), rtol=1e-3)
    np.testing.assert_allclose(out.data.std(axis=0), 1.0, rtol=1e-3)


def test_float32_gradients_match_the_papers_backward():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 6, 6, 16)).astype("float32")
    gamma = rng.uniform(0.5, 1.5, 16).astype("float32")
    beta = rng.standard_normal(16).astype("float32")
    grad = rng.standard_normal(x.shape).astype("float32")
    out, _, _, dx, dgamma, dbeta = _train(x, gamma, beta, grad)
    assert out.dtype == dx.dtype == dgamma.dtype == dbeta.dtype == np.float32
    ref_dx, ref_dgamma, ref_dbeta = paper_backward(
        x.astype(np.float64), gamma.astype(np.float64), grad.astype(np.float64), 1e-3
    )
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dgamma, ref_dgamma, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, ref_dbeta, rtol=1e-4, atol=1e-4)
    # the input gradient is orthogonal to the constants and to xhat, per channel
    np.testing.assert_allclose(dx.sum(axis=(0, 1, 2)), 0.0, atol=1e-4)


def test_channel_axis_elsewhere_equals_channels_last():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 2, 5)).astype("float32")  # channels on axis 1
    gamma, beta = rng.standard_normal(4).astype("float32"), rng.standard_normal(4).astype("f4")
    grad = rng.standard_normal(x.shape).astype("float32")
    last = _train(np.moveaxis(x, 1, -1), gamma, beta, np.moveaxis(grad, 1, -1))
    for axis in (1, -3):
        out, mean, var, dx, dgamma, dbeta = _train(x, gamma, beta, grad, axis=axis)
        np.testing.assert_allclose(np.moveaxis(out, 1, -1), last[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.moveaxis(dx, 1, -1), last[3], rtol=1e-4, atol=1e-5)
        for got, want in zip((mean, var, dgamma, dbeta), (last[1], last[2], *last[4:])):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_inference_is_one_affine_map():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 3, 4)).astype("float32")
    mean, gamma, beta = (rng.standard_normal(4).astype("float32") for _ in range(3))
    var = rng.uniform(0.5, 2.0, 4).astype("float32")
    out = norm.batch_normalization(x, mean, var, offset=beta, scale=gamma, epsilon=1e-3)
    scale = gamma / np.sqrt(var + np.float32(1e-3))
    np.testing.assert_allclose(out.data, x * scale + (beta - mean * scale), rtol=1e-6, atol=1e-6)
    assert out.dtype == np.float32


def test_statistics_of_another_dtype_keep_the_input_dtype():
    x = np.ones((2, 3), "float32")
    stats = np.zeros(3), np.ones(3), np.ones(3), np.zeros(3)  # float64
    assert norm.batch_normalization(x, *stats[:2], scale=stats[2], offset=stats[3]).dtype == "f4"
    out, _, _ = norm.batch_normalization_training(x, scale=stats[2], offset=stats[3])
    assert out.dtype == np.float32


@pytest.mark.parametrize("mode", ["training", "inference"])
def test_constant_parameters_get_no_gradient(mode):
    rng = np.random.default_rng(5)
    x = Variable(rng.standard_normal((5, 3)).astype("float32"))
    gamma, beta = Tensor(np.full(3, 2.0, "float32")), Tensor(np.zeros(3, "float32"))
    if mode == "training":
        out = norm.batch_normalization_training(x, offset=beta, scale=gamma)[0]
    else:
        stats = Tensor(np.zeros(3, "float32")), Tensor(np.ones(3, "float32"))
        out = norm.batch_normalization(x, *stats, offset=beta, scale=gamma)
    (out * out).sum().backward()
    assert x.grad is not None and x.grad.shape == (5, 3)
    assert gamma.grad is None and beta.grad is None


def test_parameters_alone_can_need_gradients():
    x = np.random.default_rng(6).standard_normal((5, 3)).astype("float32")
    gamma, beta = Variable(np.ones(3, "float32")), Variable(np.zeros(3, "float32"))
    out = norm.batch_normalization_training(x, offset=beta, scale=gamma)[0]
    out.backward(np.ones_like(x))
    np.testing.assert_allclose(beta.grad, 5.0)
    np.testing.assert_allclose(gamma.grad, 0.0, atol=1e-5)  # sum of xhat is zero


def test_invalid_axis_and_empty_batch_are_reported():
    x = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=r"`axis`.*rank 2.*Received: axis=2"):
        norm.batch_normalization_training(x, axis=2)
    with pytest.raises(ValueError, match=r"`axis`.*Received: axis=-3"):
        norm.batch_normalization(x, np.zeros(3), np.ones(3), axis=-3)
    with pytest.raises(ValueError, match=r"non-empty batch"):
        norm.batch_normalization_training(np.ones((0, 3), "float32"))


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4, 2)])
def test_training_mode_matches_torch(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype("float32")
    channels = shape[-1]
    gamma = rng.uniform(0.5, 1.5, channels).astype("float32")
    beta = rng.standard_normal(channels).astype("float32")
    grad = rng.standard_normal(shape).astype("float32")
    out, _, _, dx, dgamma, dbeta = _train(x, gamma, beta, grad)

    # torch is channels-first: move C to axis 1 and back
    tx = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    tg = torch.tensor(gamma, requires_grad=True)
    tb = torch.tensor(beta, requires_grad=True)
    tout = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-3)
    tout.backward(torch.tensor(np.moveaxis(grad, -1, 1).copy()))
    np.testing.assert_allclose(out, np.moveaxis(tout.detach().numpy(), 1, -1), atol=1e-5)
    np.testing.assert_allclose(dx, np.moveaxis(tx.grad.numpy(), 1, -1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dbeta, tb.grad.numpy(), rtol=1e-4, atol=1e-5)
