"""Arithmetic on symbolic tensors: ``x + y``, ``x * 2.0``, ``-x``, ``x @ w``, ``x[:, 0]``...

In Keras's functional API an operator applied to a KerasTensor is recorded in the graph
like a layer call (Keras 3 records an ``Operation``; tf.keras a ``TFOpLambda`` layer). Here it
is an :class:`Operation` layer: its node's positional arguments are the operands, tensors
and constants alike, and calling the functional model applies the operator to the values.

Example:
    >>> from cnnkit.layers import Input, Dense
    >>> from cnnkit.models import Model
    >>> inputs = Input(shape=(2,))
    >>> x = Dense(2, kernel_initializer="ones")(inputs)
    >>> model = Model(inputs, -(x + inputs) * 2.0)
    >>> model.predict(np.array([[1.0, 2.0]]), verbose=0)
    array([[ -8., -10.]], dtype=float32)
    >>> model.layers[-1].name.startswith("multiply")
    True
"""

from __future__ import annotations

import operator

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.layers.base import KerasTensor, Layer


def _compare(ufunc):
    def apply(a, b):  # not differentiable: a boolean tensor
        a = a.data if isinstance(a, Tensor) else a
        b = b.data if isinstance(b, Tensor) else b
        return Tensor(ufunc(a, b))

    return apply


# Keras's operation names (``keras.ops``), and what each computes on Tensors.
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
    "less": _compare(np.less),
    "less_equal": _compare(np.less_equal),
    "greater": _compare(np.greater),
    "greater_equal": _compare(np.greater_equal),
}
_COMPARISONS = ("less", "less_equal", "greater", "greater_equal")


class Operation(Layer):
    """One operator applied to symbolic tensors, as a node of a functional graph.

    Args:
        op: the operation's name, a key of :data:`OPERATIONS` (``"add"``, ``"matmul"``...).
        name: the node's name (default: ``op`` with a counter, as Keras's).

    Call arguments:
        *operands: the operator's operands in order: tensors and constants (numbers,
            arrays, index keys).

    Raises:
        ValueError: for an unknown ``op``; when a model holding one is saved (see
            :meth:`get_config`).
    """

    _keeps_integer_inputs = True

    def __init__(self, op: str, name=None, **kwargs):
        if op not in OPERATIONS:
            raise ValueError(
                f"Unknown operation. Expected one of {sorted(OPERATIONS)}. Received: op={op!r}"
            )
        super().__init__(name=name or backend.unique_name(op), **kwargs)
        self.op = op

    def call(self, *operands):
        return OPERATIONS[self.op](*operands)

    def _symbolic_call(self, inputs, kwargs, args=()):
        outputs = super()._symbolic_call(inputs, kwargs, args)
        outputs.dtype = "bool" if self.op in _COMPARISONS else _result_dtype(inputs, *args)
        return outputs

    def get_config(self) -> dict:
        raise ValueError(
            f"The model holds the operation {self.name!r} ({self.op!r} on symbolic tensors), "
            "which cnnkit cannot save yet. Write it as a layer (e.g. `layers.Add()`, "
            "`layers.Lambda(...)`, or a custom `Layer`) to save the model."
        )


def _result_dtype(*operands) -> str:
    """The dtype of an arithmetic result: the tensors' common dtype; floatx if Python or
    NumPy floats meet integer tensors."""
    tensors = [np.dtype(t.dtype) for t in operands if isinstance(t, KerasTensor)]
    dtype = np.result_type(*tensors)
    others = [o for o in operands if not isinstance(o, KerasTensor)]
    if dtype.kind in "biu" and any(np.asarray(o).dtype.kind == "f" for o in others):
        return backend.floatx()
    return str(dtype)
