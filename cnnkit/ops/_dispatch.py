"""How an op in ``cnnkit.ops`` meets its inputs: arrays in, arrays out; tensors in, tensors out.

Every op accepts NumPy arrays, Python scalars and :class:`cnnkit.autodiff.Tensor`s. On
arrays and scalars it returns a NumPy array (like Keras's NumPy backend). When any input is a
Tensor it returns a Tensor; when one of them requires a gradient and grad mode is on, the
result is recorded through a differentiable Function from :mod:`cnnkit.kernels.generic`.
"""

from __future__ import annotations

import inspect

import numpy as np

from cnnkit.autodiff import Reshape, Tensor, grad_enabled
from cnnkit.kernels.generic import Elementwise, Gather, NonDifferentiable, Permute, Reduce
from cnnkit.ops import dtypes


def data(x):
    """The array behind a Tensor (or the value itself)."""
    return x.data if isinstance(x, Tensor) else x


def any_tensor(*xs) -> bool:
    return any(isinstance(x, Tensor) for x in xs)


def recording(*xs) -> bool:
    """Whether an op on ``xs`` must be recorded for backpropagation."""
    return grad_enabled() and any(isinstance(x, Tensor) and x.requires_grad for x in xs)


def to_array(x, dtype=None) -> np.ndarray:
    """``x`` as an array with Keras's ``convert_to_tensor`` dtype rules.

    Python ints become int32, floats floatx, nested lists take the promoted dtype of their
    elements; arrays keep their dtype unless ``dtype`` is given.
    """
    x = data(x)
    if dtype is not None:
        dtype = dtypes.standardize_dtype(dtype)
        return np.asarray(x, dtype=dtype)
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (bool, np.bool_)):
        return np.asarray(x, dtype=bool)
    if isinstance(x, int):
        return np.asarray(x, dtype="int32")
    if isinstance(x, float):
        return np.asarray(x, dtype=dtypes.standardize_dtype(None))
    if isinstance(x, np.generic):
        return np.asarray(x)
    if isinstance(x, (list, tuple)):
        leaves = np.asarray([data(v) for v in x] if x and isinstance(x[0], Tensor) else x)
        if leaves.dtype.kind == "f" and leaves.dtype != np.float64:
            return leaves
        if leaves.dtype.kind in "iuf":
            py = _python_kinds(x)
            if py == {float} or py == {int, float}:
                return leaves.astype(dtypes.standardize_dtype(None))
            if py == {int}:
                return leaves.astype("int32")
        return leaves
    return np.asarray(x)


def _python_kinds(x) -> set:
    kinds, stack = set(), [x]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, bool):
            kinds.add(bool)
        elif isinstance(v, int):
            kinds.add(int)
        elif isinstance(v, float):
            kinds.add(float)
        else:
            kinds.add(object)
    return kinds


def wrap(value, *inputs):
    """``value`` (an array) as a Tensor when an input was a Tensor, else as an array."""
    if any_tensor(*inputs):
        return value if isinstance(value, Tensor) else Tensor(np.asarray(value))
    return value


def cast_input(x, dtype: str):
    """``x`` in ``dtype``: arrays are converted; a Tensor is cast differentiably."""
    if isinstance(x, Tensor):
        if x.dtype == np.dtype(dtype):
            return x
        if recording(x):
            return Elementwise.apply(
                x,
                f=lambda a: a.astype(dtype),
                rule=lambda g, y, a: g,
                name="cast",
            )
        return Tensor(x.data.astype(dtype))
    return _raw(x).astype(dtype, copy=False)


def _raw(x) -> np.ndarray:
    """``x`` as an array without Keras's inference (for a conversion to a known dtype)."""
    x = data(x)
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], Tensor):
        return np.asarray([data(v) for v in x])
    return np.asarray(x)


def elementwise(name, f, rule, *xs, dtype: str):
    """Apply ``f`` to ``xs`` cast to ``dtype``; differentiable by ``rule`` when recording.

    ``rule=None`` marks an op without a gradient: an integer/boolean result is a constant, a
    float result raises if a gradient is requested through it.
    """
    if recording(*xs):
        cast = [cast_input(x, dtype) for x in xs]
        if rule is not None:
            return Elementwise.apply(*cast, f=f, rule=rule, name=name)
        return no_grad_result(name, f, *cast)
    arrays = [_raw(x).astype(dtype, copy=False) for x in xs]
    return wrap(np.asarray(f(*arrays)), *xs)


def no_grad_result(name, f, *xs):
    """An op result through which no gradient flows (see :class:`NonDifferentiable`)."""
    arrays = [data(x) if isinstance(x, Tensor) else x for x in xs]
    if recording(*xs):
        probe = f(*[to_array(a) for a in arrays])
        if np.asarray(probe).dtype.kind == "f":
            tensors = [x if isinstance(x, Tensor) else Tensor(to_array(x)) for x in xs]
            return NonDifferentiable.apply(*tensors, f=lambda *a: probe, name=name)
        return IntegerResult(np.asarray(probe), name)
    return wrap(np.asarray(f(*[to_array(a) for a in arrays])), *xs)


class IntegerResult(Tensor):
    """An integer or boolean op result computed from tensors that require gradients.

    It is a constant in the graph (``x * (x > 0)`` differentiates through ``x`` only, as on
    Keras's backends); calling ``backward`` on it says which op cut the gradient.
    """

    __slots__ = ("op_name",)

    def __init__(self, data, op_name: str):
        super().__init__(data)
        self.op_name = op_name

    def backward(self, grad=None) -> None:
        raise RuntimeError(
            f"`ops.{self.op_name}` is not differentiable: its {self.dtype} result carries no "
            "gradient back to its inputs."
        )


def gather(f, *xs, f_index=None, index=None):
    """Apply an element-moving op ``f``; differentiable through :class:`Gather`."""
    if recording(*xs):
        tensors = [x if isinstance(x, Tensor) else Tensor(to_array(x)) for x in xs]
        return Gather.apply(*tensors, f=f, f_index=f_index, index=index)
    return wrap(np.asarray(f(*[to_array(x) for x in xs])), *xs)


def reshaping(f, x):
    """An op that only changes the shape (``reshape``, ``expand_dims``, ``squeeze``...)."""
    if recording(x):
        return Reshape.apply(x, shape=np.shape(f(x.data)))
    return gather(f, x)


def permuting(f, x):
    """An op that only permutes axes (``transpose``, ``swapaxes``, ``moveaxis``)."""
    if recording(x):
        probe = np.zeros((2,) * x.ndim, dtype=np.int8)  # every axis has its own stride
        strides = list(probe.strides)
        perm = tuple(strides.index(s) for s in f(probe).strides)
        return Permute.apply(x, perm=perm)
    return gather(f, x)


def reduce(f, rule, x, axis, keepdims, dtype=None):
    """A reduction ``f(x, axis=, keepdims=)``; differentiable by ``rule(g, y, x)``."""
    if dtype is not None:
        x = cast_input(x, dtype)
    if recording(x) and rule is not None:
        return Reduce.apply(x, f=f, rule=rule, axis=axis, keepdims=keepdims)
    if recording(x):
        return no_grad_result("reduce", lambda a: f(a, axis=axis, keepdims=keepdims), x)
    return wrap(np.asarray(f(to_array(x), axis=axis, keepdims=keepdims)), x)


def standardize_axis(axis):
    """``axis`` as an int, a tuple of ints or ``None`` (Keras accepts lists)."""
    if isinstance(axis, list):
        return tuple(int(a) for a in axis)
    if axis is None or isinstance(axis, tuple):
        return axis
    return int(axis)


# -- symbolic inputs (the functional API) ----------------------------------------------------

_KERAS_TENSOR = []  # the KerasTensor class, imported on first use (layers import this module)


def keras_tensor_class():
    if not _KERAS_TENSOR:
        from cnnkit.layers.base import KerasTensor

        _KERAS_TENSOR.append(KerasTensor)
    return _KERAS_TENSOR[0]


def _is_symbolic(x, cls) -> bool:
    if isinstance(x, cls):
        return True
    return isinstance(x, (list, tuple)) and any(isinstance(v, cls) for v in x)


def symbolic(fn, op_name=None):
    """Let ``fn`` take symbolic ``KerasTensor``s: the call becomes a node of the graph.

    In the functional API (``x = Input(...); y = ops.mean(x, axis=1)``) Keras records an op
    on symbolic inputs as a node; here it becomes an :class:`cnnkit.layers.operations.
    Operation` whose config is the op's non-tensor arguments, saved and loaded as Keras's
    (the op classes of :mod:`cnnkit.ops.keras_operations`). An op Keras has no class for, or
    a symbolic tensor where Keras takes a constant, becomes a :class:`cnnkit.layers.Lambda`
    whose output shape is found by tracing: such a model runs and trains but cannot be saved.
    ``op_name`` is the op's name in the table when it is not ``fn``'s (``"image.resize"``).
    """
    name = op_name or fn.__name__

    def op(*args, **kwargs):
        cls = keras_tensor_class()
        if any(_is_symbolic(a, cls) for a in args) or any(
            _is_symbolic(v, cls) for v in kwargs.values()
        ):
            node = _operation_node(fn, name, args, kwargs, cls)
            if node is not None:
                return node
            return _symbolic_call(fn, args, kwargs, cls)
        return fn(*args, **kwargs)

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = fn.__doc__
    op.__module__ = fn.__module__
    op.__wrapped__ = fn
    op.takes_symbolic = True
    return op


def _operation_node(fn, name, args, kwargs, cls):
    """``fn(*args, **kwargs)`` on symbolic tensors as an ``Operation`` node, as Keras records
    it: the call arguments Keras passes to its op class's ``symbolic_call`` are the node's
    arguments (positional and keyword), the others its config. None when Keras has no class
    for ``fn``, a symbolic tensor sits in a config argument, or no positional argument is."""
    from cnnkit.layers.base import standardize_data_format
    from cnnkit.layers.operations import Operation, _keras_operation

    entry = _keras_operation(name)
    if entry is None:
        return None
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return None  # the op itself will raise its own error
    bound.apply_defaults()
    values = bound.arguments
    _, _, init, call, call_kwargs = entry
    config = {key: values[source] for key, source in init if source in values}
    if any(_is_symbolic(v, cls) for v in config.values()):
        return None
    if "data_format" in config:  # Keras's op functions write the standardized format
        config["data_format"] = standardize_data_format(config["data_format"])
    operands = []
    for parameter in call:
        if parameter.removeprefix("*") not in values:
            return None
        if parameter.startswith("*"):
            operands += list(values[parameter[1:]])
        else:
            operands.append(values[parameter])
    node_kwargs = {}
    for key, source in call_kwargs:
        if key == "**":
            node_kwargs.update(values.get(source, {}))
        elif source in values:
            node_kwargs[key] = values[source]
    used = {parameter.removeprefix("*") for parameter in call}
    used |= {source for _, source in init} | {source for _, source in call_kwargs}
    if any(key not in used and _is_symbolic(value, cls) for key, value in values.items()):
        return None
    if not any(_is_symbolic(v, cls) for v in operands):
        return None  # a layer call finds its symbolic inputs among the positional arguments
    return Operation(name, **config)(*operands, **node_kwargs)


def _symbolic_call(fn, args, kwargs, cls):
    from cnnkit.layers.core import Lambda

    leaves: list = []

    def mark(x):
        if isinstance(x, cls):
            leaves.append(x)
            return _Slot(len(leaves) - 1)
        if isinstance(x, (list, tuple)) and any(isinstance(v, cls) for v in x):
            return type(x)(mark(v) for v in x)
        return x

    t_args = [mark(a) for a in args]
    t_kwargs = {k: mark(v) for k, v in kwargs.items()}

    def fill(x, values):
        if isinstance(x, _Slot):
            return values[x.index]
        if isinstance(x, (list, tuple)):
            return type(x)(fill(v, values) for v in x)
        return x

    def function(inputs):
        values = list(inputs) if len(leaves) > 1 else [inputs]
        return fn(
            *[fill(a, values) for a in t_args], **{k: fill(v, values) for k, v in t_kwargs.items()}
        )

    return Lambda(function)(list(leaves) if len(leaves) > 1 else leaves[0])


class _Slot:
    """Where the ``index``-th symbolic input goes back into an op's arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


# Ops that inspect their inputs or run user functions: not recorded as graph nodes.
NOT_SYMBOLIC = frozenset(
    {
        "convert_to_numpy",
        "convert_to_tensor",
        "shape",
        "dtype",
        "is_tensor",
        "ndim",
        "size",
        "cond",
        "switch",
        "scan",
        "associative_scan",
        "while_loop",
        "fori_loop",
        "map",
        "vectorized_map",
        "custom_gradient",
        "jvp",
        "vectorize",
    }
)


def make_symbolic(namespace: dict, names, prefix: str = "") -> None:
    """Wrap the ops ``names`` of a module's ``namespace`` with :func:`symbolic`; ``prefix``
    names a submodule's ops in the table (``"image."``)."""
    for name in names:
        fn = namespace[name]
        if name not in NOT_SYMBOLIC and not getattr(fn, "takes_symbolic", False):
            namespace[name] = symbolic(fn, prefix + name)
