"""Keras 3's core and math ops (``keras.ops`` beyond numpy/nn/linalg/image).

Tensor conversion and casting, gradient control (``stop_gradient``, ``custom_gradient``),
control flow written as Python loops over differentiable ops (``cond``, ``switch``,
``scan``, ``associative_scan``, ``while_loop``, ``fori_loop``, ``map``,
``vectorized_map``), indexing updates (``slice``, ``slice_update``, ``scatter``,
``scatter_update``), segment reductions, ``top_k``, ``logsumexp`` and friends.

Example:
    >>> import numpy as np
    >>> carry, ys = scan(lambda c, x: (c + x, c + x), np.array(0), np.array([1, 2, 3]))
    >>> int(carry), ys.tolist()
    (6, [1, 3, 6])
    >>> values, indices = top_k(np.array([3.0, 1.0, 5.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([5.0, 3.0], [2, 0])
"""

from __future__ import annotations

import builtins
import inspect

import numpy as np

from cnnkit.autodiff import Function, Tensor, no_grad
from cnnkit.kernels.generic import Elementwise, Reduce
from cnnkit.ops import dtypes
from cnnkit.ops import numpy as knp
from cnnkit.ops._dispatch import (
    cast_input,
    gather,
    keras_tensor_class,
    make_symbolic,
    no_grad_result,
    recording,
    standardize_axis,
    to_array,
    wrap,
)
from cnnkit.ops._dispatch import (
    data as _unwrap,
)
from cnnkit.ops.numpy import erf, erfc, erfinv, rsqrt  # noqa: F401  (Keras lists them in ops.math)

# -- conversion ------------------------------------------------------------------------------


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as an array with Keras's dtype rules; a Tensor stays a Tensor (cast if asked).

    Python ints become int32 and floats floatx; NumPy arrays keep their dtype.

    Raises:
        ValueError: for ``sparse=True`` or ``ragged=True`` (not supported).
    """
    if sparse:
        raise ValueError("`sparse=True` is not supported: cnnkit has no sparse tensors.")
    if ragged:
        raise ValueError("`ragged=True` is not supported: cnnkit has no ragged tensors.")
    if isinstance(x, Tensor):
        return x if dtype is None else cast_input(x, dtypes.standardize_dtype(dtype))
    if isinstance(x, keras_tensor_class()):  # symbolic: stays in the graph
        return x if dtype is None else cast(x, dtype)
    return to_array(x, dtype=dtype)


def convert_to_numpy(x):
    """``x`` as a NumPy array (a Tensor's value, detached)."""
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def cast(x, dtype):
    """``x`` in ``dtype`` (differentiable between float dtypes)."""
    return cast_input(x, dtypes.standardize_dtype(dtype))


def is_tensor(x) -> bool:
    """Whether ``x`` is a tensor of this backend (a cnnkit Tensor or a NumPy array)."""
    return isinstance(x, (Tensor, np.ndarray))


def shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints (``None`` for unknown symbolic dimensions)."""
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return np.shape(x)


def dtype(x) -> str:
    """The standardised dtype name of ``x`` (``"float32"``, ``"int32"``...)."""
    return dtypes.standardize_dtype(getattr(x, "dtype", None) or to_array(x).dtype)


def stop_gradient(variable):
    """``variable``'s value with no gradient flowing back through it."""
    if isinstance(variable, Tensor):
        return Tensor(variable.data)
    return variable


class _CustomGradient(Function):
    """A user function's value, with the user's gradient function as backward."""

    def forward(self, *arrays, value, grad_fn):
        self.save_for_backward(grad_fn)
        return value

    def backward(self, grad):
        (grad_fn,) = self.saved
        with no_grad():
            if _wants_upstream_keyword(grad_fn):
                grads = grad_fn(upstream=grad)
            else:
                grads = grad_fn(grad)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        out = []
        for g, parent in zip(grads, self.parents):
            if g is None:
                out.append(None)
                continue
            g = np.asarray(_unwrap(g))
            out.append(np.broadcast_to(g, parent.shape).astype(parent.dtype))
        return tuple(out)


def _wants_upstream_keyword(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return builtins.any(
        p.name == "upstream" and p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in params
    )


def custom_gradient(f):
    """Decorate ``f(*args) -> (output, grad_fn)`` so ``grad_fn(upstream)`` is its gradient.

    ``grad_fn`` is called as ``grad_fn(upstream)``, or ``grad_fn(upstream=...)`` when it takes
    a keyword-only ``upstream`` (the PyTorch-style signature), and returns one gradient per
    argument.
    """

    def wrapper(*args):
        with no_grad():
            output, grad_fn = f(*args)
        if not recording(*args):
            return output
        tensors = [a if isinstance(a, Tensor) else Tensor(to_array(a)) for a in args]
        return _CustomGradient.apply(*tensors, value=np.asarray(_unwrap(output)), grad_fn=grad_fn)

    wrapper.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapper.__doc__ = f.__doc__
    return wrapper


# -- control flow ----------------------------------------------------------------------------


def _flatten(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _flatten(item)]
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _flatten(tree[k])]
    return [tree]


def _pack(structure, leaves):
    it = iter(leaves)

    def build(s):
        if isinstance(s, (list, tuple)):
            return type(s)(build(v) for v in s)
        if isinstance(s, dict):
            return {k: build(s[k]) for k in sorted(s)}
        return next(it)

    return build(structure)


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` is true, else ``false_fn()``."""
    return true_fn() if bool(np.asarray(_unwrap(pred))) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, with ``index`` clamped to the valid range."""
    i = int(np.clip(int(np.asarray(_unwrap(index))), 0, len(branches) - 1))
    return branches[i](*operands)


def _stack_structure(items):
    if not items:
        return None
    structure = items[0]
    columns = list(zip(*(_flatten(it) for it in items)))
    return _pack(
        structure, [knp.stack(list(col)) if col[0] is not None else None for col in columns]
    )


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``: ``(carry, stacked ys)``.

    Raises:
        ValueError: when neither ``xs`` nor ``length`` gives the number of steps, or they differ.
    """
    leaves = [] if xs is None else _flatten(xs)
    n = None if not leaves else int(np.shape(_unwrap(leaves[0]))[0])
    if length is not None:
        if n is not None and n != length:
            raise ValueError(f"`length` ({length}) must match the leading axis of `xs` ({n}).")
        n = length
    if n is None:
        raise ValueError("`length` must be given when `xs` is None.")
    carry, ys = init, []
    order = builtins.range(n - 1, -1, -1) if reverse else builtins.range(n)
    for i in order:
        x = None if xs is None else _pack(xs, [knp.get_item(leaf, i) for leaf in leaves])
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    return carry, _stack_structure(ys)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive prefix scan of the associative ``f`` along ``axis`` (sequential here)."""
    leaves = _flatten(elems)
    n = int(np.shape(_unwrap(leaves[0]))[axis])
    if builtins.any(int(np.shape(_unwrap(leaf))[axis]) != n for leaf in leaves):
        raise ValueError(
            "Array inputs to associative_scan must have the same first dimension. (saw: "
            f"{[np.shape(_unwrap(leaf)) for leaf in leaves]})"
        )
    order = list(builtins.range(n - 1, -1, -1)) if reverse else list(builtins.range(n))
    outs, acc = [], None
    for i in order:
        cur = _pack(elems, [knp.take(leaf, i, axis=axis) for leaf in leaves])
        acc = cur if acc is None else (f(cur, acc) if reverse else f(acc, cur))
        outs.append(acc)
    if reverse:
        outs = outs[::-1]
    columns = list(zip(*(_flatten(o) for o in outs)))
    return _pack(elems, [knp.stack(list(col), axis=axis) for col in columns])


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds.

    A single (non-tuple) ``loop_vars`` is passed and returned as is.
    """
    is_tuple = isinstance(loop_vars, (list, tuple))
    state = tuple(loop_vars) if is_tuple else (loop_vars,)
    i = 0
    while bool(np.asarray(_unwrap(cond(*state)))):
        if maximum_iterations is not None and i >= maximum_iterations:
            break
        state = body(*state)
        state = tuple(state) if isinstance(state, (list, tuple)) and is_tuple else (state,)
        i += 1
    return state if is_tuple else state[0]


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    val = init_val
    for i in builtins.range(int(_unwrap(lower)), int(_unwrap(upper))):
        val = body_fun(i, val)
    return val


def map(f, xs):
    """``f`` applied to each slice of ``xs`` along its leading axis, results stacked."""
    leaves = _flatten(xs)
    n = int(np.shape(_unwrap(leaves[0]))[0])
    ys = [f(_pack(xs, [knp.get_item(leaf, i) for leaf in leaves])) for i in builtins.range(n)]
    return _stack_structure(ys)


def vectorized_map(function, elements):
    """``function`` over the leading axis of ``elements`` (a loop here), results stacked."""
    return map(function, elements)


# -- indexing --------------------------------------------------------------------------------


def unstack(x, num=None, axis=0):
    """Split ``x`` along ``axis`` into a list of slices without that axis.

    Raises:
        ValueError: when ``num`` differs from the length of ``axis``.
    """
    n = np.shape(_unwrap(x))[axis]
    if num is not None and num != n:
        raise ValueError(f"Argument `num` ({num}) must equal x.shape[axis] ({n}).")
    return [knp.take(x, i, axis=axis) for i in builtins.range(n)]


def _starts(start_indices):
    return [int(s) for s in np.asarray(_unwrap(start_indices)).reshape(-1)]


def slice(inputs, start_indices, shape):
    """The block of ``inputs`` starting at ``start_indices`` with extent ``shape``."""
    starts = _starts(start_indices)
    key = tuple(builtins.slice(s, s + int(n)) for s, n in zip(starts, shape))
    return knp.get_item(inputs, key)


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    starts = _starts(start_indices)
    upd_shape = np.shape(_unwrap(updates))
    key = tuple(builtins.slice(s, s + n) for s, n in zip(starts, upd_shape))
    upd = cast_input(updates, dtype(inputs))

    def f(a, u):
        out = a.copy()
        out[key] = u
        return out

    return gather(f, inputs, upd)


def _index_tuple(indices):
    idx = np.asarray(to_array(_unwrap(indices)))
    return tuple(np.moveaxis(idx, -1, 0))


def scatter(indices, values, shape):
    """A zeros array of ``shape`` with ``values`` added at ``indices`` (duplicates sum).

    ``indices`` is ``(..., k)``: each row addresses the first ``k`` axes.
    """
    idx = _index_tuple(indices)
    shape = tuple(int(s) for s in shape)
    vdtype = dtype(values)

    target = np.broadcast_shapes(*(np.shape(i) for i in idx)) + shape[len(idx) :]

    def f(v):
        out = np.zeros(shape, dtype=v.dtype)
        # values of the indexed shape: NumPy 2.4's add.at reads past a broadcast operand
        # when the index arrays have two or more dimensions
        np.add.at(out, idx, np.ascontiguousarray(np.broadcast_to(v, target)))
        return out

    if recording(values):
        return Elementwise.apply(values, f=f, rule=lambda g, y, v: g[idx], name="scatter")
    return wrap(f(to_array(_unwrap(values)).astype(vdtype)), values)


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with the elements at ``indices`` set to (or combined with) ``updates``.

    Args:
        reduction: ``None`` (replace), ``"add"``, ``"mul"``, ``"max"`` or ``"min"``.

    Raises:
        ValueError: for an unknown ``reduction``.
    """
    if reduction not in (None, "add", "mul", "max", "min"):
        raise ValueError(
            "Argument `reduction` must be one of None, 'add', 'mul', 'max', 'min'. "
            f"Received: reduction={reduction!r}"
        )
    idx = _index_tuple(indices)
    upd = cast_input(updates, dtype(inputs))
    if reduction is None:

        def f(a, u):
            out = a.copy()
            out[idx] = u
            return out

        return gather(f, inputs, upd)
    ufunc = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}[reduction]

    def g(a, u):
        out = a.copy()
        ufunc.at(out, idx, u)
        return out

    if reduction == "add" and recording(inputs, upd):
        tensors = [t if isinstance(t, Tensor) else Tensor(to_array(t)) for t in (inputs, upd)]
        return Elementwise.apply(
            *tensors, f=g, rule=lambda gr, y, a, u: (gr, gr[idx]), name="scatter_update"
        )
    return no_grad_result("scatter_update", g, inputs, upd)


# -- segments, top-k, math -------------------------------------------------------------------


def _segments(data, segment_ids, num_segments):
    ids = np.asarray(to_array(_unwrap(segment_ids))).astype(np.int64)
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    valid = (ids >= 0) & (ids < n)
    return ids, n, valid


def _segment(name, ufunc, identity_fn, rule):
    def op(data, segment_ids, num_segments=None, sorted=False):
        ids, n, valid = _segments(data, segment_ids, num_segments)
        d = dtype(data)

        def f(a):
            out = np.full((n, *a.shape[1:]), identity_fn(a.dtype), dtype=a.dtype)
            ufunc.at(out, ids[valid], a[valid])
            if name in ("segment_max", "segment_min"):  # empty segments hold the identity
                pass
            return out

        if recording(data) and "float" in d:
            return Elementwise.apply(
                data,
                f=f,
                rule=lambda g, y, a: rule(g, y, a, ids, valid),
                name=name,
            )
        return wrap(f(to_array(_unwrap(data))), data)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"``{name}``: combine the rows of ``data`` that share a segment id.\n\n"
        "Args:\n"
        "    data: ``(N, ...)`` values.\n"
        "    segment_ids: ``(N,)`` integer ids; ids outside ``[0, num_segments)`` are dropped.\n"
        "    num_segments: number of output rows (default: ``max(segment_ids) + 1``).\n"
        "    sorted: whether the ids are sorted (accepted for compatibility).\n"
    )
    return op


def _gathered(y, ids, valid, fill):
    out = np.full((ids.shape[0], *y.shape[1:]), fill, dtype=y.dtype)
    out[valid] = y[ids[valid]]
    return out


def _sum_rule(g, y, a, ids, valid):
    return _gathered(g, ids, valid, 0)


def _extreme_rule(g, y, a, ids, valid):
    hit = (a == _gathered(y, ids, valid, np.nan)) & valid.reshape((-1,) + (1,) * (a.ndim - 1))
    counts = np.zeros(y.shape, dtype=a.dtype)
    np.add.at(counts, ids[valid], hit[valid].astype(a.dtype))
    per = _gathered(counts, ids, valid, 1)
    return np.where(hit, _gathered(g, ids, valid, 0) / np.where(per == 0, 1, per), 0)


def _prod_rule(g, y, a, ids, valid):
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a != 0, _gathered(y, ids, valid, 0) / np.where(a != 0, a, 1), 0)
    return _gathered(g, ids, valid, 0) * ratio


def _lowest(dt):
    return -np.inf if np.dtype(dt).kind == "f" else np.iinfo(dt).min


def _highest(dt):
    return np.inf if np.dtype(dt).kind == "f" else np.iinfo(dt).max


segment_sum = _segment("segment_sum", np.add, lambda dt: 0, _sum_rule)
segment_prod = _segment("segment_prod", np.multiply, lambda dt: 1, _prod_rule)
segment_max = _segment("segment_max", np.maximum, _lowest, _extreme_rule)
segment_min = _segment("segment_min", np.minimum, _highest, _extreme_rule)


def top_k(x, k, sorted=True):
    """The ``k`` largest values along the last axis and their indices (int32).

    Ties keep the lower index first, as the backends do.
    """
    arr = to_array(_unwrap(x))
    order = (
        np.argsort(-arr, axis=-1, kind="stable")[..., :k]
        if arr.dtype.kind != "b"
        else (np.argsort(~arr, axis=-1, kind="stable")[..., :k])
    )
    values = gather(lambda a: np.take_along_axis(a, order, -1), x)
    return values, wrap(order.astype("int32"), x)


def in_top_k(targets, predictions, k):
    """Whether each target class is among the ``k`` highest predictions (ties count in)."""
    preds = to_array(_unwrap(predictions))
    t = to_array(_unwrap(targets)).astype(np.int64)
    target_scores = np.take_along_axis(preds, t[:, None], axis=-1)
    higher = np.sum(preds > target_scores, axis=-1)
    return wrap(higher < k, targets, predictions)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably; gradient ``softmax(x)``."""
    axis = standardize_axis(axis)
    x = cast_input(x, dtypes.float_of(dtype(x)))

    def f(a, axis=None, keepdims=False):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    if recording(x):
        return Reduce.apply(
            x, f=f, rule=lambda g, y, a: g * np.exp(a - y), axis=axis, keepdims=keepdims
        )
    return wrap(np.asarray(f(_unwrap(x), axis=axis, keepdims=keepdims)), x)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` samples every ``sequence_stride`` along the last axis.

    Output shape: ``(..., num_sequences, sequence_length)`` with
    ``num_sequences = 1 + (length - sequence_length) // sequence_stride``.
    """
    length = np.shape(_unwrap(x))[-1]
    count = 1 + (length - sequence_length) // sequence_stride
    idx = np.arange(count)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return knp.take(x, idx, axis=-1)


def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (..., N, D) and ``y`` (..., M, D).

    Raises:
        ValueError: for inputs of rank < 2 or mismatched last dimensions.
    """
    if np.ndim(_unwrap(x)) < 2 or np.ndim(_unwrap(y)) < 2:
        raise ValueError("`cdist` inputs must have rank >= 2")
    if np.shape(_unwrap(x))[-1] != np.shape(_unwrap(y))[-1]:
        raise ValueError("Last dimension of inputs to `cdist` must match")
    d = knp.subtract(knp.expand_dims(x, -2), knp.expand_dims(y, -3))
    return knp.sqrt(knp.sum(knp.multiply(d, d), axis=-1))


def logdet(x):
    """``log(det(x))`` of (batches of) positive-definite matrices."""
    from cnnkit.ops.linalg import slogdet

    sign, logabs = slogdet(x)
    return knp.where(np.asarray(_unwrap(sign)) > 0, logabs, knp.full_like(logabs, np.nan))


def rearrange(tensor, pattern, **axes_lengths):
    """Reorder and regroup axes with an einops pattern, e.g. ``"b h w c -> b (h w) c"``.

    Raises:
        ValueError: for a malformed pattern or lengths that do not fit the input shape.
    """
    left, arrow, right = pattern.partition("->")
    if not arrow:
        raise ValueError(f"Pattern must contain '->'. Received: pattern={pattern!r}")
    lgroups, rgroups = _einops_groups(left), _einops_groups(right)
    in_shape = np.shape(_unwrap(tensor))
    if len(lgroups) != len(in_shape):
        raise ValueError(
            f"Pattern {left.strip()!r} has {len(lgroups)} axes but the input has rank "
            f"{len(in_shape)} (shape {in_shape})."
        )
    sizes = dict(axes_lengths)
    for group, dim in zip(lgroups, in_shape):
        unknown = [a for a in group if a not in sizes]
        known = int(np.prod([sizes[a] for a in group if a in sizes]))
        if len(unknown) > 1:
            raise ValueError(f"Could not infer the sizes of {unknown} in {pattern!r}.")
        if unknown:
            sizes[unknown[0]] = dim // known
        if int(np.prod([sizes[a] for a in group])) != dim:
            raise ValueError(f"Shape {in_shape} does not match pattern {pattern!r}.")
    elementary = [a for g in lgroups for a in g]
    out_axes = [a for g in rgroups for a in g]
    if sorted(elementary) != sorted(out_axes):
        raise ValueError(f"Both sides of {pattern!r} must name the same axes.")
    x = knp.reshape(tensor, [sizes[a] for a in elementary])
    x = knp.transpose(x, [elementary.index(a) for a in out_axes])
    return knp.reshape(x, [int(np.prod([sizes[a] for a in g])) for g in rgroups])


def _einops_groups(side: str) -> list:
    groups, current, depth = [], None, 0
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            if depth:
                raise ValueError(f"Nested parentheses are not allowed: {side!r}")
            current, depth = [], 1
        elif token == ")":
            if not depth:
                raise ValueError(f"Unbalanced parentheses in {side!r}")
            groups.append(current)
            current, depth = None, 0
        elif depth:
            current.append(token)
        else:
            groups.append([token])
    if depth:
        raise ValueError(f"Unbalanced parentheses in {side!r}")
    return groups


def jvp(fun, primals, tangents, has_aux=False):
    """Jacobian-vector product ``(fun(*primals), J @ tangents)``, by reverse mode.

    cnnkit's engine is reverse-mode only, so the product is assembled from one backward
    pass per output element: fine for small outputs, slow for large ones.
    """
    primals, tangents = list(primals), list(tangents)
    with no_grad():
        res = fun(*primals)
    out, aux = (res[0], res[1]) if has_aux else (res, None)
    out_arr = np.asarray(_unwrap(out))
    jt = np.zeros(out_arr.size, dtype=out_arr.dtype)
    from cnnkit.autodiff import Variable

    for k in builtins.range(out_arr.size):
        xs = [Variable(np.asarray(_unwrap(p)), dtype=np.asarray(_unwrap(p)).dtype) for p in primals]
        r = fun(*xs)
        o = r[0] if has_aux else r
        seed = np.zeros(out_arr.size, dtype=out_arr.dtype)
        seed[k] = 1
        if isinstance(o, Tensor) and o.requires_grad:
            o.backward(seed.reshape(out_arr.shape))
        jt[k] = builtins.sum(
            float(np.sum(np.asarray(v.grad) * np.asarray(_unwrap(t))))
            for v, t in zip(xs, tangents)
            if v.grad is not None
        )
    tangent_out = wrap(jt.reshape(out_arr.shape), *primals)
    if has_aux:
        return out, tangent_out, aux
    return out, tangent_out


__all__ = [
    "associative_scan",
    "cast",
    "cdist",
    "cond",
    "convert_to_numpy",
    "convert_to_tensor",
    "custom_gradient",
    "dtype",
    "erf",
    "erfc",
    "erfinv",
    "extract_sequences",
    "fori_loop",
    "in_top_k",
    "is_tensor",
    "jvp",
    "logdet",
    "logsumexp",
    "map",
    "rearrange",
    "rsqrt",
    "scan",
    "scatter",
    "scatter_update",
    "segment_max",
    "segment_min",
    "segment_prod",
    "segment_sum",
    "shape",
    "slice",
    "slice_update",
    "stop_gradient",
    "switch",
    "top_k",
    "unstack",
    "vectorized_map",
    "while_loop",
]

make_symbolic(globals(), __all__)
