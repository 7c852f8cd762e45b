"""``cnnkit.ops.linalg``: values against NumPy/SciPy and float64 gradient checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

from cnnkit import ops
from cnnkit.autodiff import Variable
from tests.harness import gradcheck

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
SPD = A @ np.swapaxes(A, -1, -2) + np.eye(3)
B = RNG.standard_normal((2, 3, 2))


def _spd(m):
    """A symmetric positive-definite matrix built from ``m`` (differentiably)."""
    return ops.matmul(m, ops.swapaxes(m, -1, -2)) + 3 * np.eye(m.shape[-1])


def _sym(m):
    return m + ops.swapaxes(m, -1, -2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_match_numpy(dtype):
    a, spd, b = A.astype(dtype), SPD.astype(dtype), B.astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(ops.inv(a), np.linalg.inv(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(ops.det(a), np.linalg.det(a), rtol=tol)
    sign, logabs = ops.slogdet(a)
    ref_sign, ref_logabs = np.linalg.slogdet(a)
    np.testing.assert_array_equal(sign, ref_sign)
    np.testing.assert_allclose(logabs, ref_logabs, rtol=tol)
    np.testing.assert_allclose(ops.solve(a, b), np.linalg.solve(a, b), rtol=tol, atol=tol)
    np.testing.assert_allclose(
        ops.solve(a[0], b[0, :, 0]), np.linalg.solve(a[0], b[0, :, 0]), rtol=tol, atol=tol
    )
    np.testing.assert_allclose(ops.cholesky(spd), np.linalg.cholesky(spd), rtol=tol, atol=tol)
    np.testing.assert_allclose(
        ops.cholesky(spd, upper=True),
        np.swapaxes(np.linalg.cholesky(spd), -1, -2),
        rtol=tol,
        atol=tol,
    )
    w, v = ops.eigh(spd)
    ref_w, _ = np.linalg.eigh(spd)
    np.testing.assert_allclose(w, ref_w, rtol=tol)
    np.testing.assert_allclose(v @ (w[..., None] * np.swapaxes(v, -1, -2)), spd, rtol=tol, atol=tol)
    for lower in (True, False):
        np.testing.assert_allclose(
            ops.solve_triangular(a[0], b[0], lower=lower),
            sl.solve_triangular(a[0], b[0], lower=lower),
            rtol=tol,
            atol=tol,
        )
    assert ops.inv(a).dtype == np.dtype(dtype)


def test_decompositions_match_numpy_and_scipy():
    m = RNG.standard_normal((4, 3))
    q, r = ops.qr(m)
    np.testing.assert_allclose(q @ r, m, atol=1e-12)
    assert q.shape == (4, 3)
    q, r = ops.qr(m, mode="complete")
    assert q.shape == (4, 4)
    u, s, vh = ops.svd(m, full_matrices=False)
    np.testing.assert_allclose(u * s @ vh, m, atol=1e-12)
    np.testing.assert_allclose(ops.svd(m, compute_uv=False), np.linalg.svd(m, compute_uv=False))
    lu, piv = ops.lu_factor(A[0])
    ref_lu, ref_piv = sl.lu_factor(A[0])
    np.testing.assert_allclose(lu, ref_lu)
    np.testing.assert_array_equal(piv, ref_piv)
    lu_b, piv_b = ops.lu_factor(A)
    np.testing.assert_allclose(lu_b[1], sl.lu_factor(A[1])[0])
    np.testing.assert_allclose(ops.lstsq(m, np.ones(4)), np.linalg.lstsq(m, np.ones(4))[0])
    np.testing.assert_allclose(ops.pinv(m), np.linalg.pinv(m), atol=1e-12)
    assert int(ops.matrix_rank(np.ones((3, 3)))) == 1
    np.testing.assert_allclose(
        ops.cholesky_inverse(np.linalg.cholesky(SPD[0])), np.linalg.inv(SPD[0])
    )
    upper = np.swapaxes(np.linalg.cholesky(SPD[0]), -1, -2)
    np.testing.assert_allclose(
        ops.cholesky_inverse(upper, upper=True), np.linalg.inv(SPD[0]), rtol=1e-10
    )
    w, v = ops.eig(np.array([[2.0, 1.0], [0.0, 3.0]]))
    np.testing.assert_allclose(np.sort(w), [2.0, 3.0])
    with pytest.raises(ValueError, match="complex"):
        ops.eig(np.array([[0.0, -1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="mode"):
        ops.qr(m, mode="r")


NORMS = [
    (None, None),
    (None, 1),
    (1, 0),
    (3, -1),
    (0.5, 1),
    (np.inf, 1),
    (-np.inf, 0),
    (0, 1),
    ("fro", (0, 1)),
    (1, (0, 1)),
    (-1, (1, 0)),
    (np.inf, (0, 1)),
    (-np.inf, (0, 1)),
    ("nuc", (0, 1)),
    (2, (0, 1)),
    (-2, (0, 1)),
]


@pytest.mark.parametrize("ord, axis", NORMS, ids=[f"{o}-{a}" for o, a in NORMS])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_matches_numpy(ord, axis, keepdims):
    x = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(
        ops.norm(x, ord=ord, axis=axis, keepdims=keepdims),
        np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims),
        rtol=1e-12,
    )


def test_norm_of_ints_is_float():
    assert ops.norm(np.array([3, 4])).dtype == np.float32
    assert float(ops.norm(np.array([3, 4]))) == 5.0


GRADS = {
    "inv": (ops.inv, [A]),
    "det": (ops.det, [A]),
    "slogdet": (lambda a: ops.slogdet(a)[1], [A]),
    "solve": (ops.solve, [A, B]),
    "solve_vector": (ops.solve, [A[0], B[0, :, 0]]),
    "solve_batched_b": (ops.solve, [A[0], B]),
    "solve_triangular_lower": (lambda a, b: ops.solve_triangular(a, b, lower=True), [A, B]),
    "solve_triangular_upper": (lambda a, b: ops.solve_triangular(a, b), [A, B]),
    "cholesky": (lambda m: ops.cholesky(_spd(m)), [A]),
    "cholesky_upper": (lambda m: ops.cholesky(_spd(m), upper=True), [A[0]]),
    "cholesky_inverse": (lambda m: ops.cholesky_inverse(ops.tril(m)), [A]),
    "eigh_values": (lambda m: ops.eigh(_sym(m))[0], [A]),
    "eigh_vectors": (lambda m: ops.abs(ops.eigh(_sym(m))[1]), [A[0]]),
    "norm_vector": (lambda x: ops.norm(x, axis=-1), [B]),
    "norm_3": (lambda x: ops.norm(x, ord=3, axis=0), [B[0] + 2]),
    "norm_inf": (lambda x: ops.norm(x, ord=np.inf, axis=1), [B]),
    "norm_fro": (lambda x: ops.norm(x, ord="fro", axis=(1, 2)), [B]),
    "norm_matrix_1": (lambda x: ops.norm(x, ord=1, axis=(1, 2)), [B]),
    "norm_all": (lambda x: ops.norm(x, keepdims=True), [B]),
    "logdet": (lambda m: ops.logdet(_spd(m)), [A]),
    "singular_values": (lambda m: ops.svd(m, compute_uv=False), [B]),
    "pinv_tall": (ops.pinv, [B]),
    "pinv_wide": (lambda m: ops.pinv(ops.swapaxes(m, -1, -2)), [B[0]]),
    "lstsq": (ops.lstsq, [B[0], A[0, :, :2]]),
    "norm_nuc": (lambda x: ops.norm(x, ord="nuc", axis=(1, 2)), [B]),
    "norm_2": (lambda x: ops.norm(x, ord=2, axis=(2, 1)), [B]),
    "norm_minus_2": (lambda x: ops.norm(x, ord=-2, axis=(1, 2)), [B]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradient_float64(name):
    fn, inputs = GRADS[name]
    gradcheck(fn, *inputs)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m: ops.qr(m)[1],
        lambda m: ops.svd(m)[1],
        lambda m: ops.eig(m)[0],
        lambda m: ops.lu_factor(m)[0],
    ],
    ids=["qr", "svd", "eig", "lu_factor"],
)
def test_decompositions_without_gradient_raise(fn):
    v = Variable(A[0])
    with pytest.raises(RuntimeError, match="is not differentiable"):
        ops.sum(fn(v)).backward()


def test_non_square_input_is_refused():
    with pytest.raises(ValueError, match="square"):
        ops.inv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="positive definite"):
        ops.cholesky(-np.eye(2))
