"""A small reverse-mode automatic differentiation engine.

A :class:`Tensor` wraps an array (``.data``). Applying a :class:`Function`
to tensors runs its ``forward`` on the arrays and, when gradients are needed,
remembers the function instance (the *context*) on the output. Calling
``loss.backward()`` walks the recorded graph in reverse topological order
(built with an explicit stack, no recursion) and calls each function's
``backward``, accumulating gradients into the leaves' ``.grad``.

An op is written once, forward and backward side by side::

    class Mul(Function):
        def forward(self, a, b):
            self.save_for_backward(a, b)
            return a * b

        def backward(self, grad):
            a, b = self.saved
            return grad * b, grad * a

    Mul.apply(x, y)          # -> Tensor

Gradients flowing into a broadcast input are summed back to its shape with
:func:`unbroadcast`. A backward that returns a gradient whose shape differs
from its input's is a ``RuntimeError`` naming the op.

Example:
    >>> import numpy as np
    >>> x = Variable(np.array([1.0, 2.0, 3.0]))
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([2., 4., 6.])
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from cnnkit import backend
from cnnkit.backend import xp

# Grad mode belongs to the thread (a context variable: each thread has its own, so a
# `predict` in one thread never stops the graph of a training step in another), and
# `cnnkit.kernels.threads.parallel_map` runs its workers in a copy of the caller's context.
_GRAD_ENABLED = contextvars.ContextVar("cnnkit_grad_enabled", default=True)


@contextlib.contextmanager
def no_grad():
    """Run a block without recording the graph (inference, metrics, weight updates).

    The mode is the calling thread's own; work that
    :func:`cnnkit.kernels.threads.parallel_map` hands to its worker threads runs in the
    caller's mode.

    Example:
        >>> with no_grad():
        ...     grad_enabled()
        False
        >>> grad_enabled()
        True
    """
    token = _GRAD_ENABLED.set(False)
    try:
        yield
    finally:
        _GRAD_ENABLED.reset(token)


def grad_enabled() -> bool:
    """Whether operations are being recorded for backpropagation (in this thread)."""
    return _GRAD_ENABLED.get()


class Tensor:
    """An array with an optional gradient and the function that produced it.

    Args:
        data: array-like; floats keep their dtype, everything else is taken as-is.
        requires_grad: whether gradients should flow to this tensor.

    ``np.asarray(tensor)`` gives the underlying array, so eager layer calls
    return values NumPy accepts directly.
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_ctx",
        "_keras_logits",
        "_keras_mask",
        "__weakref__",
    )
    __array_priority__ = 100

    def __init__(self, data, requires_grad: bool = False):
        self.data = data if isinstance(data, xp.ndarray) else xp.asarray(data)
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx: Function | None = None
        self._keras_logits: Tensor | None = None  # set by softmax, read by cross-entropy
        self._keras_mask = None  # boolean (batch, steps) array set by masking layers

    # -- array protocol -------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The value as a host NumPy array."""
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_numpy(self.data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        return int(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    # -- differentiation ------------------------------------------------
    def backward(self, grad=None) -> None:
        """Backpropagate from this tensor, accumulating ``.grad`` on the leaves.

        Args:
            grad: gradient of the final objective with respect to this tensor;
                defaults to ones (so a scalar loss needs no argument).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require gradients: "
                "none of its inputs is a trainable Variable, or it was computed under no_grad()."
            )
        if grad is None:
            grad = xp.ones_like(self.data)
        order = _topological_order(self)
        grads: dict[int, object] = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            ctx = node._ctx
            if ctx is None:  # a leaf: accumulate
                if g is not None:
                    node.grad = g if node.grad is None else node.grad + g
                continue
            node._ctx = None  # free the graph (and what it saved) as we go
            if g is None:
                continue
            parent_grads = ctx.backward(g)
            if not isinstance(parent_grads, tuple):
                parent_grads = (parent_grads,)
            for parent, pg in zip(ctx.parents, parent_grads):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.data.shape:
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward returned a gradient of shape {pg.shape} "
                        f"for an input of shape {parent.data.shape}."
                    )
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor(self.data)

    # -- arithmetic (all through Functions, so they differentiate) -------
    def __add__(self, other):
        return Add.apply(self, other)

    def __radd__(self, other):
        return Add.apply(other, self)

    def __sub__(self, other):
        return Sub.apply(self, other)

    def __rsub__(self, other):
        return Sub.apply(other, self)

    def __mul__(self, other):
        return Mul.apply(self, other)

    def __rmul__(self, other):
        return Mul.apply(other, self)

    def __truediv__(self, other):
        return Div.apply(self, other)

    def __rtruediv__(self, other):
        return Div.apply(other, self)

    def __neg__(self):
        return Mul.apply(self, -1.0)

    def __matmul__(self, other):
        return MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return MatMul.apply(other, self)

    def __abs__(self):
        return Abs.apply(self)

    def __pow__(self, exponent: float):
        return Pow.apply(self, exponent=float(exponent))

    def __getitem__(self, index):
        return GetItem.apply(self, index=index)

    # -- comparisons: element-wise boolean tensors, no gradient (as torch's, under Keras) --
    __hash__ = object.__hash__  # tensors stay usable as dict keys and set members, by identity

    def _compare(self, other, ufunc) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(ufunc(self.data, other))

    def __eq__(self, other):
        return self._compare(other, xp.equal)

    def __ne__(self, other):
        return self._compare(other, xp.not_equal)

    def __lt__(self, other):
        return self._compare(other, xp.less)

    def __le__(self, other):
        return self._compare(other, xp.less_equal)

    def __gt__(self, other):
        return self._compare(other, xp.greater)

    def __ge__(self, other):
        return self._compare(other, xp.greater_equal)

    def __bool__(self) -> bool:
        return bool(self.data)  # NumPy's rule: one element, else "ambiguous"

    def sum(self, axis=None, keepdims: bool = False):
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    def abs(self):
        return Abs.apply(self)

    def square(self):
        return Mul.apply(self, self)

    def sqrt(self):
        return Pow.apply(self, exponent=0.5)


class Variable(Tensor):
    """A named, persistent tensor: a layer weight or an optimizer slot.

    Args:
        value: initial value (array-like).
        trainable: whether optimizers update it and gradients flow to it.
        name: a short name such as ``"kernel"``.

    Example:
        >>> v = Variable(np.zeros((2, 3), dtype="float32"), name="kernel")
        >>> v.assign(np.ones((2, 3)))
        >>> float(v.numpy().sum())
        6.0
    """

    __slots__ = ("name", "trainable", "path", "regularizer", "constraint")

    def __init__(self, value, trainable: bool = True, name: str = "variable", dtype=None):
        data = xp.array(value, dtype=dtype if dtype is not None else None, copy=True)
        if dtype is None and data.dtype.kind not in "fc":
            data = data.astype(backend.floatx())
        super().__init__(data, requires_grad=trainable)
        self.trainable = trainable
        self.name = name
        self.path = name
        self.regularizer = None
        self.constraint = None  # applied by the optimizer after each update

    @property
    def value(self):
        """The variable as a backend tensor (Keras's ``Variable.value``): a Tensor sharing its
        data, so ``v.value.grad`` is the gradient left by ``loss.backward()``, as on Keras's
        torch backend, and ``v.value.numpy()``/``np.asarray(v.value)`` give the array."""
        return self

    def assign(self, value) -> None:
        """Overwrite the value in place (shape must match)."""
        value = xp.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(
                f"Cannot assign to variable `{self.path}`: expected shape {self.data.shape}, "
                f"received shape {value.shape}."
            )
        self.data[...] = value

    def assign_add(self, value) -> None:
        self.data += value

    def assign_sub(self, value) -> None:
        self.data -= value

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


def as_tensor(x) -> Tensor:
    """Wrap arrays and Python numbers; tensors pass through unchanged."""
    if isinstance(x, Tensor):
        return x
    return Tensor(x)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors that need gradients, each after everything it depends on (explicit stack)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes that broadcasting expanded, giving ``shape``."""
    if grad.shape == shape:
        return grad
    ndim_extra = grad.ndim - len(shape)
    if ndim_extra > 0:
        grad = grad.sum(axis=tuple(range(ndim_extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def sum_rows(grad):
    """Sum over every axis but the last: ``(..., F) -> (F,)``, as one BLAS product.

    The gradient of a per-channel bias. ``ones @ g`` is several times faster than
    ``g.sum(axis=0)`` for the tall, narrow matrices of convolutions.
    """
    g2d = grad.reshape(-1, grad.shape[-1])
    return xp.ones(g2d.shape[0], dtype=g2d.dtype) @ g2d


_WIDE_ROW = 2048  # values per row of the wide view rowwise() works on


def rowwise(ufunc, a2d, v, out=None):
    """``ufunc(a2d, v)`` with ``v`` (C,) broadcast over the rows of ``a2d`` (M, C).

    NumPy runs a broadcast over a short last axis as M short inner loops. Viewing
    ``r`` rows at a time as one row of ``r*C`` values, against ``v`` tiled ``r``
    times, gives the same result with ``r`` times longer loops (about 1.7x faster
    for C = 32). ``v`` may also be that tile already, from :func:`row_tile` (an op
    that applies it to many blocks of rows makes it once). ``out`` may be ``a2d``
    itself (in place).
    """
    m, c = a2d.shape
    if v.shape[-1] == c:
        r = math.gcd(m, max(1, _WIDE_ROW // max(c, 1)))
        wide_v = None
    else:  # a tile of r copies of the (C,) vector
        r, wide_v = v.shape[-1] // c, v
        if m % r:
            r, v = 1, v[:c]
    if r == 1 or not a2d.flags.c_contiguous or (out is not None and not out.flags.c_contiguous):
        return ufunc(a2d, v, out=out)
    if wide_v is None:
        wide_v = xp.tile(v, r)
    wide = (m // r, r * c)
    result = ufunc(a2d.reshape(wide), wide_v, out=None if out is None else out.reshape(wide))
    return out if out is not None else result.reshape(m, c)


def row_tile(v, rows: int):
    """``v`` (C,) tiled for :func:`rowwise` on blocks whose row counts are multiples of ``rows``.

    Example:
        >>> import numpy as np
        >>> row_tile(np.array([1.0, 2.0]), 2).tolist()  # blocks of 2, 4, 6... rows
        [1.0, 2.0, 1.0, 2.0]
    """
    c = v.shape[0]
    return xp.tile(v, math.gcd(rows, max(1, _WIDE_ROW // max(c, 1))))


_ZERO_ROWS: dict = {}


def relu_(a):
    """``max(a, 0)`` in place on a C-contiguous array; returns ``a``.

    ``np.maximum(a, 0)`` with a scalar takes NumPy's slow non-SIMD path (about 4x slower);
    against a row of zeros, broadcast with :func:`rowwise`, it runs at full speed. The
    rows of zeros are made once per width and dtype, and kept read-only.
    """
    a2d = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    m, c = a2d.shape
    width = c * math.gcd(m, max(1, _WIDE_ROW // max(c, 1)))
    key = (width, a.dtype)
    zeros = _ZERO_ROWS.get(key)
    if zeros is None:
        zeros = xp.zeros(width, dtype=a.dtype)
        zeros.flags.writeable = False
        _ZERO_ROWS[key] = zeros
    rowwise(xp.maximum, a2d, zeros, out=a2d)
    return a


class Function:
    """Base class of every differentiable op: ``forward`` and ``backward`` side by side.

    Subclasses implement ``forward(self, *arrays, **kwargs) -> array`` and
    ``backward(self, grad) -> grad or tuple of grads`` (one per tensor input,
    ``None`` where no gradient flows). ``self.needs_grad[i]`` tells whether
    input ``i`` wants a gradient, so backward can skip needless work.
    """

    def __init__(self, *parents: Tensor):
        self.parents = parents
        self.needs_grad = tuple(p.requires_grad for p in parents)
        self.saved: tuple = ()

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs) -> Tensor:
        """Run the op on tensors (or arrays/numbers) and record it when gradients are needed."""
        tensors = tuple(x if isinstance(x, Tensor) else _constant(x) for x in inputs)
        ctx = cls(*tensors)
        out = ctx.forward(*(t.data for t in tensors), **kwargs)
        if _GRAD_ENABLED.get() and any(ctx.needs_grad):
            result = Tensor(out, requires_grad=True)
            result._ctx = ctx
            return result
        return Tensor(out)


def _constant(x) -> Tensor:
    """A non-differentiable operand; Python scalars take the float dtype of the graph."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Tensor(xp.asarray(x, dtype=backend.floatx()))
    return Tensor(x)


# ---------------------------------------------------------------------------
# Elementary ops used by losses, regularizers and user code.
# Layer-level ops (conv, pooling, activations, ...) live in cnnkit/kernels/.
# ---------------------------------------------------------------------------


def _same_float(a, b):
    """Keep Python/NumPy scalars from promoting float32 arrays to float64."""
    if a.ndim == 0 and b.ndim > 0 and a.dtype != b.dtype and b.dtype.kind == "f":
        a = a.astype(b.dtype)
    elif b.ndim == 0 and a.ndim > 0 and a.dtype != b.dtype and a.dtype.kind == "f":
        b = b.astype(a.dtype)
    return a, b


class Add(Function):
    def forward(self, a, b):
        a, b = _same_float(a, b)
        self.save_for_backward(a.shape, b.shape)
        return a + b

    def backward(self, grad):
        sa, sb = self.saved
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class Sub(Function):
    def forward(self, a, b):
        a, b = _same_float(a, b)
        self.save_for_backward(a.shape, b.shape)
        return a - b

    def backward(self, grad):
        sa, sb = self.saved
        return unbroadcast(grad, sa), unbroadcast(-grad, sb)


class Mul(Function):
    def forward(self, a, b):
        a, b = _same_float(a, b)
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        ga = unbroadcast(grad * b, a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(grad * a, b.shape) if self.needs_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        a, b = _same_float(a, b)
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved
        ga = unbroadcast(grad / b, a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(-grad * a / (b * b), b.shape) if self.needs_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, exponent: float):
        self.save_for_backward(a, exponent)
        return a ** a.dtype.type(exponent)

    def backward(self, grad):
        a, exponent = self.saved
        return grad * (a.dtype.type(exponent) * a ** a.dtype.type(exponent - 1.0))


class Abs(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return xp.abs(a)

    def backward(self, grad):
        (a,) = self.saved
        return grad * xp.sign(a)


class MatMul(Function):
    """``a @ b`` with NumPy's ``matmul`` rules: batched over leading axes, 1-D operands promoted.

    Backward, with ``aᵀ`` swapping the last two axes: ``da = g @ bᵀ`` and ``db = aᵀ @ g``,
    each summed over the axes broadcasting added. The common layer case, ``a`` (..., K) and
    a 2-D ``b`` (K, M), takes ``db`` as one product of ``a`` and ``g`` flattened to rows.
    """

    def forward(self, a, b):
        a, b = _same_float(a, b)
        self.save_for_backward(a, b)
        return xp.matmul(a, b)

    def backward(self, grad):
        a, b = self.saved
        a2 = a[None, :] if a.ndim == 1 else a  # promoted as matmul does
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if self.needs_grad[0]:
            ga = unbroadcast(xp.matmul(g, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            if b2.ndim == 2:
                rows_a = a2.reshape(-1, a2.shape[-1])
                gb = (rows_a.T @ g.reshape(-1, g.shape[-1])).reshape(b.shape)
            else:
                gb = unbroadcast(xp.matmul(xp.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class Sum(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.save_for_backward(a.shape, axis, keepdims)
        return xp.sum(a, axis=axis, keepdims=keepdims)

    def backward(self, grad):
        shape, axis, keepdims = self.saved
        if axis is not None and not keepdims:
            grad = xp.expand_dims(grad, axis)
        return xp.broadcast_to(grad, shape)


class Mean(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.save_for_backward(a.shape, axis, keepdims)
        return xp.mean(a, axis=axis, keepdims=keepdims)

    def backward(self, grad):
        shape, axis, keepdims = self.saved
        axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([shape[i] for i in axes]))
        if axis is not None and not keepdims:
            grad = xp.expand_dims(grad, axis)
        return xp.broadcast_to(grad / grad.dtype.type(count), shape)


class Reshape(Function):
    def forward(self, a, shape):
        self.save_for_backward(a.shape)
        return a.reshape(shape)

    def backward(self, grad):
        (shape,) = self.saved
        return grad.reshape(shape)


class GetItem(Function):
    def forward(self, a, index):
        self.save_for_backward(a.shape, a.dtype, index)
        return a[index]

    def backward(self, grad):
        shape, dtype, index = self.saved
        out = xp.zeros(shape, dtype=dtype)
        np.add.at(out, index, grad)
        return out
