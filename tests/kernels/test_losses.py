"""Loss ops: hand-computed values, clipping, extreme logits, label checks, PyTorch agreement.

Values and float64 gradients of every loss op are also checked in ``test_op_table.py``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnkit.autodiff import Variable
from cnnkit.kernels import losses

EPS = 1e-7


def test_sparse_from_probabilities_by_hand():
    p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]], dtype=np.float32)
    out = losses.sparse_categorical_crossentropy(np.array([1, 2]), p)
    assert out.dtype == np.float32 and out.shape == (2,)
    np.testing.assert_allclose(out.data, [-np.log(0.95), -np.log(0.1)], rtol=1e-6)


def test_probabilities_are_normalised_before_the_log():
    p = np.array([[2.0, 6.0]])  # sums to 8: p = [0.25, 0.75]
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([1], p).data, [-np.log(0.75)])
    np.testing.assert_allclose(
        losses.categorical_crossentropy(np.array([[1.0, 0.0]]), p).data, [-np.log(0.25)]
    )


def test_clipping_bounds_the_loss_and_stops_the_gradient():
    v = Variable(np.array([[0.0, 1.0], [1.0, 0.0]]))
    out = losses.sparse_categorical_crossentropy(np.array([0, 0]), v)
    np.testing.assert_allclose(out.data, [-np.log(EPS), -np.log(1 - EPS)])
    out.sum().backward()
    np.testing.assert_array_equal(v.grad, 0.0)  # both rows are clipped
    v = Variable(np.array([[0.0, 1.0]]))
    out = losses.binary_crossentropy(np.array([[1.0, 0.0]]), v)
    np.testing.assert_allclose(out.data, [-np.log(EPS)], rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(v.grad, 0.0)


def test_categorical_clip_uses_the_float32_epsilon():
    p = np.array([[1.0, 0.0]], dtype=np.float32)
    out = losses.categorical_crossentropy(np.array([[0.0, 1.0]]), p)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, [-np.log(np.float32(EPS))], rtol=1e-6)


def test_binary_by_hand():
    y = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = np.array([[0.6, 0.4], [0.4, 0.6]])
    expected = [(-np.log(0.4) - np.log(0.4)) / 2, (-np.log(0.6) - np.log(0.4)) / 2]
    np.testing.assert_allclose(losses.binary_crossentropy(y, p).data, expected)


def test_regression_losses_by_hand():
    y = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = np.array([[1.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(losses.mean_squared_error(y, p).data, [0.5, 0.5])
    np.testing.assert_allclose(losses.mean_absolute_error(y, p - 3).data, [2.5, 2.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_losses_and_gradients(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=dtype)
    cases = [
        lambda v: losses.sparse_categorical_crossentropy(np.array([1, 1]), v, from_logits=True),
        lambda v: losses.categorical_crossentropy(np.eye(3)[[1, 1]], v, from_logits=True),
        lambda v: losses.binary_crossentropy(np.array([[1.0, 0.0, 1.0]] * 2), v, True),
    ]
    for fn in cases:
        v = Variable(z)
        out = fn(v)
        assert out.dtype == dtype
        assert np.isfinite(out.data).all()
        out.sum().backward()
        assert np.isfinite(v.grad).all()
    v = Variable(z)
    out = losses.sparse_categorical_crossentropy(np.array([1, 1]), v, from_logits=True)
    np.testing.assert_allclose(out.data, [2e4, 0.0])
    out.sum().backward()
    np.testing.assert_allclose(v.grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)
    out = losses.binary_crossentropy(np.array([[0.0]]), np.array([[1e4]], dtype=dtype), True)
    np.testing.assert_allclose(out.data, [1e4])


@pytest.mark.parametrize(
    "labels", [np.array([0, 2, 1]), np.array([0.0, 2.0, 1.0]), np.array([[0], [2], [1]])]
)
def test_labels_as_int_float_or_column(labels):
    z = np.random.default_rng(0).standard_normal((3, 4))
    out = losses.sparse_categorical_crossentropy(labels, z, from_logits=True)
    expected = losses.sparse_categorical_crossentropy(np.array([0, 2, 1]), z, from_logits=True)
    np.testing.assert_array_equal(out.data, expected.data)


@pytest.mark.parametrize("label", [10, -1, 11])
def test_out_of_range_label_message(label):
    message = f"Received a label value of {label} which is outside the valid range of [0, 10)"
    with pytest.raises(ValueError, match=re.escape(message)):
        losses.sparse_categorical_crossentropy(np.array([3, label, 2]), np.ones((3, 10)))


def test_first_bad_label_is_reported():
    message = "Received a label value of -1 which is outside the valid range of [0, 10)"
    with pytest.raises(ValueError, match=re.escape(message)):
        losses.sparse_categorical_crossentropy(np.array([3, -1, 12]), np.ones((3, 10)))


def test_shape_mismatches():
    with pytest.raises(ValueError, match=r"y_true\.shape=\(4,\), y_pred\.shape=\(3, 10\)"):
        losses.sparse_categorical_crossentropy(np.zeros(4, dtype=int), np.ones((3, 10)))
    with pytest.raises(ValueError, match=r"3 classes but `y_pred` has 4"):
        losses.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"y_true\.shape=\(3, 2\), y_pred\.shape=\(2, 2\)"):
        losses.mean_squared_error(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"y_true\.shape=\(3, 2\), y_pred\.shape=\(2, 2\)"):
        losses.binary_crossentropy(np.ones((3, 2)), np.ones((2, 2)))


def test_regression_losses_differentiate_both_arguments():
    y, p = Variable(np.array([[1.0, 2.0]])), Variable(np.array([[2.0, 0.0]]))
    losses.mean_squared_error(y, p).sum().backward()
    np.testing.assert_allclose(p.grad, [[1.0, -2.0]])
    np.testing.assert_allclose(y.grad, [[-1.0, 2.0]])


@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    z = 4 * rng.standard_normal((6, 5))
    labels = rng.integers(0, 5, size=6)
    soft = rng.dirichlet(np.ones(5), size=6)
    y01 = rng.uniform(0, 1, size=(6, 5))
    probs = rng.uniform(0.05, 0.95, size=(6, 5))
    cases = [
        (
            lambda v: losses.sparse_categorical_crossentropy(labels, v, from_logits=True),
            lambda t: F.cross_entropy(t, torch.tensor(labels), reduction="none"),
            z,
        ),
        (
            lambda v: losses.categorical_crossentropy(soft, v, from_logits=True),
            lambda t: F.cross_entropy(t, torch.tensor(soft), reduction="none"),
            z,
        ),
        (
            lambda v: losses.binary_crossentropy(y01, v, from_logits=True),
            lambda t: F.binary_cross_entropy_with_logits(
                t, torch.tensor(y01), reduction="none"
            ).mean(-1),
            z,
        ),
        (
            lambda v: losses.binary_crossentropy(y01, v),
            lambda t: F.binary_cross_entropy(t, torch.tensor(y01), reduction="none").mean(-1),
            probs,
        ),
        (
            lambda v: losses.mean_squared_error(y01, v),
            lambda t: F.mse_loss(t, torch.tensor(y01), reduction="none").mean(-1),
            z,
        ),
        (
            lambda v: losses.mean_absolute_error(y01, v),
            lambda t: F.l1_loss(t, torch.tensor(y01), reduction="none").mean(-1),
            z,
        ),
    ]
    grad = rng.standard_normal(6)
    for ours, theirs, x in cases:
        v = Variable(x)
        out = ours(v)
        out.backward(grad)
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.tensor(grad))
        np.testing.assert_allclose(out.data, yt.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(v.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-14)
