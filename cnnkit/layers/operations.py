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
    >>> [operation.op for operation in model.operations[2:]]
    ['add', 'negative', 'multiply']
"""

from __future__ import annotations

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

    @property
    def class_name(self) -> str:
        """Keras's class of the operation (``"Add"``, ``"GetItem"``), as ``summary`` shows it."""
        return "".join(part.capitalize() for part in self.op.split("_"))

    def call(self, *operands):
        """The operator on the operands: on Tensors (differentiable) when one is a float
        tensor, else on their arrays (integer and boolean tensors, comparisons)."""
        apply = OPERATIONS[self.op]
        tensors = [o for o in operands if isinstance(o, Tensor)]
        if self.op not in _COMPARISONS and any(t.dtype.kind == "f" for t in tensors):
            return apply(*operands)
        out = xp.asarray(apply(*(o.data if isinstance(o, Tensor) else o for o in operands)))
        if out.dtype.kind == "f" and out.dtype != backend.floatx():  # int * 2.0, as Keras
            out = out.astype(backend.floatx())
        return Tensor(out)

    def _symbolic_call(self, inputs, kwargs, args=()):
        outputs = super()._symbolic_call(inputs, kwargs, args)
        outputs.dtype = _result_dtype(self.op, inputs, *args)
        return outputs

    def get_config(self) -> dict:
        raise ValueError(
            f"The model holds the operation {self.name!r} ({self.op!r} on symbolic tensors), "
            "which cnnkit cannot save yet. Write it as a layer (e.g. `layers.Add()`, "
            "`layers.Lambda(...)`, or a custom `Layer`) to save the model."
        )


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
