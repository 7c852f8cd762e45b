"""Table-driven differentiable kernels behind ``cnnkit.ops``.

Four Functions carry the gradients of some two hundred NumPy-like ops:

- :class:`Elementwise` ``y = f(*xs)`` with a derivative rule ``rule(g, y, *xs) -> grads``;
  gradients of broadcast inputs are summed back with :func:`unbroadcast`.
- :class:`Gather` for every op that only moves, copies or drops elements (transpose, flip,
  take, pad, concatenate, where, sort values, slice updates...). Its forward gets the values;
  the op applied to the *positions* ``1..n`` of the inputs' elements gives, for every output
  element, the input element it came from (``0`` for a constant such as padding), so the
  backward is one ``bincount`` of the output gradient onto those positions.
  Pure reshapes and axis permutations take the cheaper ``Reshape`` and :class:`Permute`.
- :class:`Reduce` ``y = f(x, axis)`` with a rule ``rule(g, y, x)`` on kept-dims shapes.
- :class:`Einsum` for contractions (``einsum``, ``tensordot``, ``dot``...): the gradient of
  each operand is another einsum of the output gradient with the other operands.

:class:`NonDifferentiable` marks float results with no gradient: backward raises.
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Function, unbroadcast


def _cast_grads(grads, arrays, needs):
    out = []
    for g, a, need in zip(grads, arrays, needs):
        if g is None or not need:
            out.append(None)
            continue
        g = unbroadcast(np.asarray(g), a.shape)
        g = g.astype(a.dtype, copy=False)
        out.append(g if g.flags.c_contiguous and g.flags.writeable else g.copy())
    return tuple(out)


class Elementwise(Function):
    """``y = f(*xs)``; backward ``rule(g, y, *xs)`` returns one gradient per input.

    The inputs arrive already cast to the computation dtype; the rule's gradients are
    summed over broadcast axes and cast back to each input's dtype.
    """

    def forward(self, *arrays, f, rule, name="op"):
        y = f(*arrays)
        self.save_for_backward(arrays, y, rule)
        return y

    def backward(self, grad):
        arrays, y, rule = self.saved
        grads = rule(grad, y, *arrays)
        if not isinstance(grads, tuple):
            grads = (grads,)
        return _cast_grads(grads, arrays, self.needs_grad)


class Gather(Function):
    """An op that only moves elements: ``y = f(*xs)``, ``index = f_index(*positions)``.

    ``positions[i]`` numbers input ``i``'s elements ``offset+1 .. offset+size`` (shared
    numbering over the inputs); ``index`` is the same op applied to them, so ``index[j]`` is
    the source of output element ``j`` (0: a constant).
    """

    def forward(self, *arrays, f, f_index=None, index=None):
        y = f(*arrays)
        if index is None:
            positions, offset = [], 1
            for a in arrays:
                positions.append(
                    np.arange(offset, offset + a.size, dtype=np.int64).reshape(a.shape)
                )
                offset += a.size
            index = (f_index or f)(*positions)
        self.save_for_backward([(a.shape, a.dtype) for a in arrays], np.asarray(index))
        return y

    def backward(self, grad):
        specs, index = self.saved
        total = 1 + sum(int(np.prod(s)) for s, _ in specs)
        flat = np.bincount(index.reshape(-1), weights=grad.reshape(-1), minlength=total)
        grads, offset = [], 1
        for (shape, dtype), need in zip(specs, self.needs_grad):
            size = int(np.prod(shape))
            grads.append(
                flat[offset : offset + size].reshape(shape).astype(dtype) if need else None
            )
            offset += size
        return tuple(grads)


class Permute(Function):
    """``np.transpose(x, perm)``; backward is the inverse permutation (no index bookkeeping)."""

    def forward(self, x, perm):
        self.save_for_backward(tuple(np.argsort(perm)))
        return np.transpose(x, perm)

    def backward(self, grad):
        (inverse,) = self.saved
        return np.transpose(grad, inverse)


class Reduce(Function):
    """``y = f(x, axis, keepdims)``; backward ``rule(g, y, x)`` with ``g`` and ``y`` kept-dims."""

    def forward(self, x, f, rule, axis=None, keepdims=False):
        y = f(x, axis=axis, keepdims=True)
        self.save_for_backward(x, y, rule)
        if keepdims:
            return y
        return y.reshape(()) if axis is None else np.squeeze(y, axis=axis)

    def backward(self, grad):
        x, y, rule = self.saved
        g = grad.reshape(y.shape)
        return np.broadcast_to(rule(g, y, x), x.shape).astype(x.dtype)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_einsum(subscripts: str, shapes: list) -> tuple[list, str]:
    """Explicit subscripts, with ``...`` replaced by letters: ``(inputs, output)``."""
    subscripts = subscripts.replace(" ", "")
    lhs, arrow, out = subscripts.partition("->")
    inputs = lhs.split(",")
    unused = [c for c in _LETTERS if c not in subscripts]
    ell_ndim = max(
        (len(s) - len(sub.replace("...", "")) for sub, s in zip(inputs, shapes) if "..." in sub),
        default=0,
    )
    ell = "".join(unused[:ell_ndim])
    for i, (sub, shape) in enumerate(zip(inputs, shapes)):
        if "..." in sub:
            n = len(shape) - len(sub.replace("...", ""))
            inputs[i] = sub.replace("...", ell[ell_ndim - n :] if n else "")
    if not arrow:
        counts = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return inputs, out


class Einsum(Function):
    """``np.einsum`` with each operand's gradient as an einsum of ``g`` and the others."""

    def forward(self, *arrays, subscripts):
        inputs, out = parse_einsum(subscripts, [a.shape for a in arrays])
        self.save_for_backward(arrays, inputs, out)
        return np.einsum(",".join(inputs) + "->" + out, *arrays, optimize=len(arrays) > 2)

    def backward(self, grad):
        arrays, inputs, out = self.saved
        grads = []
        for k, (a, sub) in enumerate(zip(arrays, inputs)):
            if not self.needs_grad[k]:
                grads.append(None)
                continue
            if len(set(sub)) != len(sub):
                raise NotImplementedError(
                    f"einsum gradient with a repeated index in one operand ('{sub}') is not "
                    "supported; take the diagonal with `ops.diagonal` first."
                )
            terms, operands = [out], [grad]
            for j, (b, sub_b) in enumerate(zip(arrays, inputs)):
                if j != k:
                    terms.append(sub_b)
                    operands.append(b)
            present = set("".join(terms))
            for axis, c in enumerate(sub):  # letters summed away only in this operand
                if c not in present:
                    terms.append(c)
                    operands.append(np.ones(a.shape[axis], dtype=grad.dtype))
            spec = ",".join(terms) + "->" + sub
            g = np.einsum(spec, *operands, optimize=len(operands) > 2)
            grads.append(np.broadcast_to(g, a.shape).astype(a.dtype))
        return tuple(grads)


class Cumulative(Function):
    """``cumsum`` / ``cumprod`` along ``axis`` (the input is already flattened for ``None``)."""

    def forward(self, x, axis, product=False):
        y = np.cumprod(x, axis=axis) if product else np.cumsum(x, axis=axis)
        self.save_for_backward(x, y, axis, product)
        return y

    def backward(self, grad):
        x, y, axis, product = self.saved

        def reverse_cumsum(v):
            return np.flip(np.cumsum(np.flip(v, axis), axis=axis), axis)

        if not product:
            return reverse_cumsum(grad)
        # d y_j / d x_i = y_j / x_i for j >= i (x_i != 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nan_to_num(reverse_cumsum(grad * y) / x).astype(x.dtype)


class NonDifferentiable(Function):
    """A float result through which no gradient flows (Keras's backends refuse it too)."""

    def forward(self, *arrays, f, name):
        self.name = name
        return f(*arrays)

    def backward(self, grad):
        raise RuntimeError(
            f"`ops.{self.name}` is not differentiable: a gradient was requested through it. "
            "Wrap its result in `ops.stop_gradient` if it should be treated as a constant."
        )
