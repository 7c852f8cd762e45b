"""Ops on symbolic tensors: ``x + y``, ``x * 2.0``, ``x[:, 0]``, ``ops.mean(x, axis=1)``...

In Keras's functional API an operator or a ``keras.ops`` function applied to a KerasTensor is
recorded in the graph like a layer call (Keras 3 records an ``Operation``; tf.keras a
``TFOpLambda`` layer). Here it is an :class:`Operation` layer: its config holds the op's
non-tensor arguments (Keras's ``__init__`` arguments of the op's class), its node's
positional arguments are the op's call arguments, tensors and constants alike, and calling
the functional model applies the op to the values. A model holding them is saved as Keras
saves it (``{"module": "keras.src.ops.numpy", "class_name": "Mean", "config": {"axis": 1,
...}}``), so Keras and cnnkit load each other's files.

Example:
    >>> from cnnkit.layers import Input, Dense
    >>> from cnnkit.models import Model
    >>> inputs = Input(shape=(2,))
    >>> x = Dense(2, kernel_initializer="ones")(inputs)
    >>> model = Model(inputs, -(x + inputs) * 2.0)
    >>> model.predict(np.array([[1.0, 2.0]]), verbose=0)
    array([[ -8., -10.]], dtype=float32)
    >>> [operation.op for operation in model.operations[2:]]
    ['add', 'negative', 'multiply']
"""

from __future__ import annotations

import inspect
import operator

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.layers.base import KerasTensor, Layer

# Keras's operation names (``keras.ops``), and the operator each applies.
OPERATIONS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "true_divide": operator.truediv,
    "matmul": operator.matmul,
    "power": operator.pow,
    "negative": operator.neg,
    "absolute": operator.abs,
    "get_item": operator.getitem,
    "less": operator.lt,
    "less_equal": operator.le,
    "greater": operator.gt,
    "greater_equal": operator.ge,
}
_COMPARISONS = ("less", "less_equal", "greater", "greater_equal")


class Operation(Layer):
    """One op applied to symbolic tensors, as a node of a functional graph.

    Args:
        op: the op's name: an operator of :data:`OPERATIONS` (``"add"``, ``"matmul"``...) or
            a ``cnnkit.ops`` function Keras records the same way (``"mean"``, ``"reshape"``,
            ``"image.resize"``...: the keys of
            :data:`cnnkit.ops.keras_operations.OPERATIONS`).
        name: the node's name (default: ``op`` with a counter, as Keras's).
        **config: the op's arguments that are not call arguments, by the names of Keras's
            op class (``axis=1, keepdims=True`` for ``"mean"``).

    Call arguments:
        *operands: the op's call arguments in order: tensors and constants (numbers,
            arrays, index keys).

    Raises:
        ValueError: for an unknown ``op`` or config entry.
    """

    _keeps_integer_inputs = True
    _dtype_policy_in_config = False  # an op's `dtype` (Cast's) is its argument, a plain string

    def __init__(self, op: str, name=None, **config):
        keras_op = _keras_operation(op)
        if op not in OPERATIONS and keras_op is None:
            raise ValueError(
                "Unknown operation. Expected an operator of "
                f"{sorted(OPERATIONS)} or an op of `cnnkit.ops`. Received: op={op!r}"
            )
        init = dict(keras_op[2]) if keras_op else {}
        unknown = sorted(set(config) - set(init))
        if unknown:
            raise ValueError(
                f"Operation {op!r} takes the config entries {sorted(init)}. Received: {unknown}"
            )
        super().__init__(name=name or backend.unique_name(op.rsplit(".", 1)[-1]))
        self.op = op
        self.op_config = config

    @property
    def class_name(self) -> str:
        """Keras's class of the operation (``"Add"``, ``"GetItem"``), as ``summary`` shows it."""
        keras_op = _keras_operation(self.op)
        if keras_op is not None:
            return keras_op[0]
        return "".join(part.capitalize() for part in self.op.split("_"))

    def call(self, *operands, **kwargs):
        """The op on the operands: for an operator, on Tensors (differentiable) when one is a
        float tensor, else on their arrays (integer and boolean tensors, comparisons); for a
        ``cnnkit.ops`` function, that function with the operands, the keyword arguments and
        the config given to its parameters."""
        if self.op not in OPERATIONS:
            return self._call_function(operands, kwargs)
        apply = OPERATIONS[self.op]
        if self.op == "get_item" and isinstance(operands[1], list):
            operands = (operands[0], tuple(operands[1]))  # a key read back from JSON, as Keras
        tensors = [o for o in operands if isinstance(o, Tensor)]
        if self.op not in _COMPARISONS and any(t.dtype.kind == "f" for t in tensors):
            return apply(*operands)
        out = xp.asarray(apply(*(o.data if isinstance(o, Tensor) else o for o in operands)))
        if out.dtype.kind == "f" and out.dtype != backend.floatx():  # int * 2.0, as Keras
            out = out.astype(backend.floatx())
        return Tensor(out)

    def _call_function(self, operands, kwargs):
        """The ``cnnkit.ops`` function on the node's arguments: each positional operand to
        the parameter Keras's ``symbolic_call`` passes it as (the rest to a ``*operands``
        parameter), each keyword to its parameter, each config entry to its source."""
        _, _, init, call, call_kwargs = _keras_operation(self.op)
        named = {source: self.op_config[key] for key, source in init if key in self.op_config}
        spread = None
        for index, name in enumerate(call):
            if name.startswith("*"):
                spread = operands[index:]
                break
            named[name] = operands[index]
        sources = dict(call_kwargs)
        named.update({sources.get(key, key): value for key, value in kwargs.items()})
        function = _op_function(self.op)
        if spread is None:
            return function(**named)
        leading = []  # the parameters before `*operands` can only be given by position
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind is parameter.VAR_POSITIONAL:
                break
            leading.append(named.pop(parameter.name))
        return function(*leading, *spread, **named)

    def _symbolic_output_shape(self, inputs, shapes, kwargs, args=()):
        rule = _OUTPUT_SHAPES.get(self.op)
        if rule is not None:
            return rule(shapes, **self.op_config)
        traced = super()._symbolic_output_shape(inputs, shapes, kwargs, args)
        rule = _VALUE_DEPENDENT_SHAPES.get(self.op)
        if rule is not None and not (self.op == "where" and len(args) == 2 and None not in args):
            return rule(traced, **self.op_config)
        return traced

    def _symbolic_call(self, inputs, kwargs, args=()):
        outputs = super()._symbolic_call(inputs, kwargs, args)
        if self.op in OPERATIONS:
            outputs.dtype = _result_dtype(self.op, inputs, *args)
        return outputs

    def get_config(self) -> dict:
        """Keras's config of the op's class: its name and its ``__init__`` arguments."""
        return {"name": self.name, **self.op_config}

    def get_build_config(self):
        return None  # an op has no weights to build

    def _keras_public_name(self) -> tuple[str, str, str]:
        """``(module, class_name, registered_name)`` as Keras writes this op in a file."""
        keras_op = _keras_operation(self.op)
        if keras_op is None:
            raise ValueError(
                f"The model holds the operation {self.name!r} ({self.op!r} on symbolic "
                "tensors), which has no saved form. Write it as a layer (e.g. `layers.Add()` or "
                "a custom `Layer`) to save the model."
            )
        return keras_op[1], keras_op[0], keras_op[0]

    @classmethod
    def from_keras_config(cls, class_name: str, config) -> Operation:
        """The op node Keras saved as ``class_name`` with ``config`` (its ``__init__``
        arguments and name).

        Raises:
            ValueError: for a class that is not one of Keras's recorded ops.
        """
        for op, entry in _keras_table().items():
            if entry[0] == class_name:
                op = f"image.{op}" if entry[1].endswith(".image") else op
                config = dict(config or {})
                name = config.pop("name", None)
                return cls(op, name=name, **config)
        raise ValueError(
            f"Unknown Keras operation {class_name!r}: cnnkit knows the op classes of "
            "keras.ops (numpy, nn, math, core, image, linalg)."
        )


def _stft_shapes(shape, sequence_length, sequence_stride, fft_length, window, center, **_):
    """The shapes of ``stft``'s ``(real, imag)`` (Keras's ``STFT.compute_output_spec``)."""
    from cnnkit.ops.spectral import _stft_arguments  # checks the arguments as a call would

    _stft_arguments("stft", sequence_length, sequence_stride, fft_length, window, "float32")
    frames = None
    if shape[-1] is not None:
        padded = 2 * (fft_length // 2) if center else 0
        frames = 1 + (shape[-1] + padded - fft_length) // sequence_stride
    out = (*shape[:-1], frames, fft_length // 2 + 1)
    return [out, out]


def _istft_shape(shapes, sequence_length, sequence_stride, fft_length, length, window, center, **_):
    """The shape of ``istft``'s signal (Keras's ``ISTFT.compute_output_spec``)."""
    from cnnkit.ops.spectral import _stft_arguments

    _stft_arguments("istft", sequence_length, sequence_stride, fft_length, window, "float32")
    if not isinstance(shapes, list) or len(shapes) != 2 or len(shapes[0]) < 2:
        raise ValueError(
            "`istft` expects a tuple of two tensors (real, imag) of rank >= 2. Received "
            f"shapes: {shapes}"
        )
    if shapes[0] != shapes[1]:
        raise ValueError(
            "`istft`: the real and imaginary parts must have the same shape. Received: "
            f"x[0].shape = {shapes[0]}, x[1].shape = {shapes[1]}"
        )
    samples = length
    if length is None and shapes[0][-2] is not None:
        samples = (shapes[0][-2] - 1) * sequence_stride + fft_length
        if center:
            samples -= 2 * (fft_length // 2)
    return (*shapes[0][:-2], samples)


# Ops whose output shape follows from Keras's formula rather than from a traced run: stand-ins
# of 2 or 3 samples are shorter than a frame.
_OUTPUT_SHAPES = {"stft": _stft_shapes, "istft": _istft_shape}


def _nonzero_shapes(traced, **_):
    """``nonzero`` (and one-argument ``where``): one index vector per axis, of unknown size."""
    return [(None,) for _ in traced]


def _unique_shapes(traced, axis=None, size=None, return_index=False, return_inverse=False, **_):
    """``unique``'s outputs (Keras's ``Unique.compute_output_spec``): the values' axis and the
    first indices and counts have ``size`` entries, unknown without it; the inverse keeps its
    traced shape."""
    several = isinstance(traced, list)
    shapes = [list(s) for s in (traced if several else [traced])]
    shapes[0][0 if axis is None else axis % len(shapes[0])] = size
    inverse = 1 + bool(return_index) if return_inverse else None
    for i, shape in enumerate(shapes[1:], start=1):
        if i != inverse:
            shape[0] = size
    out = [tuple(s) for s in shapes]
    return out if several else out[0]


def _bincount_shape(traced, **_):
    """``bincount``'s counts: one per value up to the largest, a size found from the values."""
    return (*traced[:-1], None)


# Ops with an output size that follows the values rather than the shapes: the traced size (of
# zeros standing for the inputs) is replaced as Keras's output spec gives it.
_VALUE_DEPENDENT_SHAPES = {
    "nonzero": _nonzero_shapes,
    "where": _nonzero_shapes,
    "unique": _unique_shapes,
    "bincount": _bincount_shape,
}


def _keras_table() -> dict:
    # the table is data for saving and loading op nodes: read when a model holds one
    from cnnkit.ops.keras_operations import OPERATIONS as KERAS_OPERATIONS

    return KERAS_OPERATIONS


def _keras_operation(op: str):
    """Keras's ``(class_name, module, init, call)`` for ``op`` (None if Keras has none);
    ``keras.ops.image`` functions are named ``"image.<name>"``."""
    entry = _keras_table().get(op.removeprefix("image."))
    if entry is None or entry[1].endswith(".image") != op.startswith("image."):
        return None
    return entry


def _op_function(op: str):
    # cnnkit.ops imports the layers (for symbolic calls): the op is looked up when it runs
    from cnnkit import ops

    if op.startswith("image."):
        return getattr(ops.image, op.removeprefix("image."))
    return getattr(ops, op)


def _result_dtype(op: str, *operands) -> str:
    """The dtype of the result: bool for a comparison; else the tensors' common dtype, floatx
    where a division or a float constant meets integer tensors (as ``call`` computes it)."""
    if op in _COMPARISONS:
        return "bool"
    tensors = [np.dtype(t.dtype) for t in operands if isinstance(t, KerasTensor)]
    dtype = np.result_type(*tensors)
    others = [o for o in operands if not isinstance(o, KerasTensor)]
    if dtype.kind in "biu" and (
        op == "true_divide" or any(np.asarray(o).dtype.kind == "f" for o in others)
    ):
        return backend.floatx()
    return str(dtype)
