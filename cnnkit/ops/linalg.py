"""Keras 3's ``keras.ops.linalg``: batched linear algebra over the last two axes.

Differentiable (through :mod:`cnnkit.kernels.linalg` or compositions of differentiable ops):
``inv``, ``det``, ``slogdet`` (its log-magnitude), ``solve``, ``solve_triangular``,
``cholesky``, ``cholesky_inverse``, ``eigh``, ``norm`` (every vector and matrix order),
singular values (``svd(..., compute_uv=False)``), ``logdet``. Decompositions without a
gradient here (``qr``, ``svd``'s singular vectors, ``eig``, ``lu_factor``) raise if a
gradient is requested through them; ``pinv`` and ``lstsq`` differentiate where the rank is
locally constant. Int and bool inputs compute in floatx.

Example:
    >>> import numpy as np
    >>> a = np.array([[2.0, 0.0], [0.0, 4.0]])
    >>> inv(a).tolist(), round(float(det(a)), 6)
    ([[0.5, 0.0], [0.0, 0.25]], 8.0)
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Tensor
from cnnkit.kernels import linalg as kl
from cnnkit.ops import dtypes
from cnnkit.ops import numpy as knp
from cnnkit.ops._dispatch import (
    cast_input,
    data,
    make_symbolic,
    no_grad_result,
    recording,
    to_array,
    wrap,
)
from cnnkit.ops.core import jvp  # noqa: F401  (Keras lists it in ops.linalg too)


def _float(x):
    return cast_input(x, dtypes.float_of(dtypes.standardize_dtype(to_array(data(x)).dtype)))


def _square(x, name):
    shape = np.shape(data(x))
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"`{name}` expects (batches of) square matrices: the last two axes must be equal. "
            f"Received: x.shape={shape}"
        )


def _apply(fn_cls, *xs, **kwargs):
    if recording(*xs):
        return fn_cls.apply(*xs, **kwargs)
    out = fn_cls(*[Tensor(to_array(data(x))) for x in xs]).forward(
        *[to_array(data(x)) for x in xs], **kwargs
    )
    return wrap(np.asarray(out), *xs)


def inv(x):
    """The inverse of (batches of) square matrices."""
    _square(x, "inv")
    return _apply(kl.Inv, _float(x))


def det(x):
    """The determinant of (batches of) square matrices."""
    _square(x, "det")
    return _apply(kl.Det, _float(x))


def slogdet(x):
    """``(sign, log|det x|)`` of (batches of) square matrices; the log is differentiable."""
    _square(x, "slogdet")
    x = _float(x)
    sign = np.linalg.slogdet(to_array(data(x)))[0]
    return wrap(sign, x), _apply(kl.LogAbsDet, x)


def solve(a, b):
    """``x`` with ``a @ x = b`` (``b`` a matrix, or a vector when 1-D)."""
    _square(a, "solve")
    dtype = dtypes.promote_types(
        dtypes.float_of(str(to_array(data(a)).dtype)), str(to_array(data(b)).dtype), float
    )
    return _apply(kl.Solve, cast_input(a, dtype), cast_input(b, dtype))


def solve_triangular(a, b, lower=False):
    """``x`` with ``a @ x = b`` for triangular ``a`` (only its ``lower``/upper triangle read)."""
    _square(a, "solve_triangular")
    dtype = dtypes.promote_types(
        dtypes.float_of(str(to_array(data(a)).dtype)), str(to_array(data(b)).dtype), float
    )
    triangle = "lower" if lower else "upper"
    return _apply(kl.Solve, cast_input(a, dtype), cast_input(b, dtype), triangle=triangle)


def cholesky(x, upper=False):
    """The Cholesky factor of (batches of) symmetric positive-definite matrices.

    Raises:
        ValueError: when a matrix is not positive definite.
    """
    _square(x, "cholesky")
    try:
        lower = _apply(kl.Cholesky, _float(x))
    except np.linalg.LinAlgError as err:
        raise ValueError(
            f"Cholesky decomposition failed: {err}. Input must be positive definite."
        ) from err
    return knp.swapaxes(lower, -1, -2) if upper else lower


def cholesky_inverse(x, upper=False):
    """The inverse of ``A`` from its Cholesky factor ``x`` (``A = x xᵀ``, or ``xᵀ x`` if upper)."""
    _square(x, "cholesky_inverse")
    xt = knp.swapaxes(x, -1, -2)
    a = knp.matmul(xt, x) if upper else knp.matmul(x, xt)
    return inv(a)


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices."""
    _square(x, "eigh")
    packed = _apply(kl.Eigh, _float(x))
    return knp.get_item(packed, (Ellipsis, 0, slice(None))), knp.get_item(
        packed, (Ellipsis, slice(1, None), slice(None))
    )


def _no_grad(name, f, *xs):
    return no_grad_result(name, f, *[_float(x) for x in xs])


def eig(x):
    """Eigenvalues and eigenvectors of real matrices with real spectra (no gradient).

    Raises:
        ValueError: when the spectrum is complex (complex numbers are out of scope).
    """
    _square(x, "eig")
    w, v = np.linalg.eig(to_array(data(_float(x))))
    if np.iscomplexobj(w) and np.any(np.abs(np.imag(w)) > 0):
        raise ValueError("`eig` found complex eigenvalues; complex numbers are not supported.")
    dtype = dtypes.float_of(str(to_array(data(x)).dtype))
    w, v = np.real(w).astype(dtype), np.real(v).astype(dtype)
    return no_grad_result("eig", lambda a: w, x), no_grad_result("eig", lambda a: v, x)


def qr(x, mode="reduced"):
    """The QR decomposition ``(q, r)`` (``mode``: reduced or complete; no gradient).

    Raises:
        ValueError: for another ``mode``.
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(
            f"`mode` argument value not supported. Expected one of {{'reduced', 'complete'}}. "
            f"Received: mode={mode}"
        )
    x = _float(x)
    q = _no_grad("qr", lambda a: np.linalg.qr(a, mode=mode)[0], x)
    r = _no_grad("qr", lambda a: np.linalg.qr(a, mode=mode)[1], x)
    return q, r


def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition ``(u, s, vh)``, or ``s`` alone (no gradient)."""
    x = _float(x)
    if not compute_uv:  # the singular values alone are differentiable
        return _apply(kl.SingularValues, x)
    parts = [
        _no_grad("svd", lambda a, i=i: np.linalg.svd(a, full_matrices=full_matrices)[i], x)
        for i in range(3)
    ]
    return tuple(parts)


def lu_factor(x):
    """LU factorisation with partial pivoting: ``(lu, pivots)`` as SciPy's ``lu_factor``."""
    import scipy.linalg as sl

    arr = to_array(data(_float(x)))
    if arr.ndim == 2:
        lu, piv = sl.lu_factor(arr)
    else:
        m, n = arr.shape[-2:]
        sig = "(m,n)->(m,n),(" + ("m" if m <= n else "n") + ")"
        lu, piv = np.vectorize(sl.lu_factor, signature=sig)(arr)
    return no_grad_result("lu_factor", lambda a: lu, x), wrap(piv.astype("int32"), x)


def lstsq(a, b, rcond=None):
    """The minimum-norm least-squares solution of ``a @ x = b`` (``pinv(a) @ b``).

    Differentiable through :func:`pinv` (where the rank of ``a`` is locally constant).
    """
    if recording(a, b):
        return knp.matmul(pinv(a, rcond=rcond), b)
    a, b = _float(a), _float(b)
    return wrap(np.linalg.lstsq(to_array(data(a)), to_array(data(b)), rcond=rcond)[0], a, b)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse (differentiable where the rank is locally constant)."""
    return _apply(kl.Pinv, _float(x), rcond=rcond)


def matrix_rank(x, tol=None):
    """The rank of (batches of) matrices (int32)."""
    arr = to_array(data(x))
    return wrap(np.asarray(np.linalg.matrix_rank(arr, tol=tol)).astype("int32"), x)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (NumPy's ``ord`` conventions); int inputs compute in floatx.

    Differentiable for every order (the ``"nuc"``, 2 and -2 matrix norms through the singular
    values).

    Raises:
        ValueError: for an ``axis`` of more than two axes or an unknown ``ord``.
    """
    x = _float(x)
    nd = np.ndim(data(x))
    if axis is None:
        axes = tuple(range(nd))
    elif isinstance(axis, int):
        axes = (axis,)
    else:
        axes = tuple(axis)
    if axis is None and ord is None:  # Frobenius / 2-norm of everything
        out = knp.sqrt(knp.sum(knp.square(x), axis=None))
        return knp.reshape(out, (1,) * nd) if keepdims else out
    if len(axes) > 2:
        raise ValueError(f"Improper number of dimensions to norm. Received: axis={axis}")
    axes = tuple(a % nd for a in axes) if nd else ()
    if len(axes) <= 1:
        out = _vector_norm(x, ord, axes[0] if axes else None)
    else:
        out = _matrix_norm(x, ord, axes)
    if keepdims:
        for a in sorted(axes):
            out = knp.expand_dims(out, a)
    return out


def _vector_norm(x, ord, axis):
    if ord is None or ord == 2:
        return knp.sqrt(knp.sum(knp.square(x), axis=axis))
    if ord == np.inf:
        return knp.max(knp.abs(x), axis=axis)
    if ord == -np.inf:
        return knp.min(knp.abs(x), axis=axis)
    if ord == 0:
        return _no_grad("norm", lambda a: np.linalg.norm(a, 0, axis=axis), x)
    if ord == 1:
        return knp.sum(knp.abs(x), axis=axis)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order {ord!r} for vectors.")
    return knp.power(knp.sum(knp.power(knp.abs(x), float(ord)), axis=axis), 1.0 / float(ord))


def _matrix_norm(x, ord, axes):
    row, col = axes
    if ord is None or ord == "fro":
        return knp.sqrt(knp.sum(knp.square(x), axis=axes))
    if ord in (1, -1):
        sums = knp.sum(knp.abs(x), axis=row)
        return (knp.max if ord == 1 else knp.min)(sums, axis=col - 1 if col > row else col)
    if ord in (np.inf, -np.inf):
        sums = knp.sum(knp.abs(x), axis=col)
        return (knp.max if ord == np.inf else knp.min)(sums, axis=row - 1 if row > col else row)
    if ord in ("nuc", 2, -2):
        s = svd(knp.moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        return {"nuc": knp.sum, 2: knp.max, -2: knp.min}[ord](s, axis=-1)
    raise ValueError(f"Invalid norm order {ord!r} for matrices.")


__all__ = [
    "cholesky",
    "cholesky_inverse",
    "det",
    "eig",
    "eigh",
    "inv",
    "jvp",
    "lstsq",
    "lu_factor",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "solve",
    "solve_triangular",
    "svd",
]

make_symbolic(globals(), __all__)
