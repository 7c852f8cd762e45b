"""The metric base classes: ``Metric``, ``Mean`` and ``MeanMetricWrapper``.

A metric object accumulates over batches (``update_state``), reports a running
value (``result``) and starts over with ``reset_state``; ``fit`` resets the
metrics at the start of every epoch. Metric maths runs on plain arrays, outside
the autodiff graph.
"""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import snake_case
from cnnkit.autodiff import Tensor, Variable
from cnnkit.backend import xp


def _array(x):
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def _host(x, dtype=None) -> np.ndarray:
    """``x`` (a Tensor, a device or host array, a list) as a host NumPy array."""
    out = backend.to_numpy(_array(x))
    return out if dtype is None else out.astype(dtype, copy=False)


class Metric:
    """Base class: subclasses implement ``update_state`` and ``result``.

    As in Keras, a subclass creates its state in ``__init__`` (after ``super().__init__``)
    with :meth:`add_variable`; the default ``reset_state`` sets those variables to zeros.
    ``__init__`` does not call ``reset_state``: variables start at their initializer's value.

    Example:
        >>> class Count(Metric):
        ...     def __init__(self, name="count", **kwargs):
        ...         super().__init__(name=name, **kwargs)
        ...         self.seen = self.add_variable(shape=(), name="seen", initializer="zeros")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.seen.assign_add(len(y_true))
        ...     def result(self):
        ...         return self.seen
        >>> m = Count()
        >>> m.update_state([1, 0, 1], [1, 1, 1])
        >>> float(m.result())
        3.0
        >>> m.reset_state()
        >>> float(m.result())
        0.0
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype or "float32"
        self._variables: list[Variable] = []

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum", name=None):
        """Create a state variable (not trainable), set from ``initializer``, and track it.

        ``aggregation`` (how distributed replicas combine it in Keras) is accepted and unused.
        """
        from cnnkit import initializers

        dtype = dtype or self.dtype
        value = initializers.get(initializer)(tuple(shape), dtype=dtype)
        variable = Variable(value, trainable=False, name=name or "variable", dtype=dtype)
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    add_weight = add_variable  # Keras's older name

    @property
    def variables(self) -> list[Variable]:
        """The state variables made with :meth:`add_variable`."""
        return list(self.__dict__.get("_variables", []))

    def reset_state(self) -> None:
        """Set every state variable to zeros (Keras's default)."""
        for variable in self.variables:
            variable.assign(xp.zeros(variable.shape, dtype=variable.dtype))

    def update_state(self, *args, **kwargs) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values it is given.

    Example:
        >>> m = Mean()
        >>> m.update_state([1, 3, 5, 7])
        >>> float(m.result())
        4.0
    """

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        values = np.asarray(_array(values), dtype="float64")
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += float(values.size)
        else:
            w = np.broadcast_to(np.asarray(_array(sample_weight), dtype="float64"), values.shape)
            self.total += float((values * w).sum())
            self.count += float(w.sum())

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0.0)


class MeanMetricWrapper(Mean):
    """Averages a per-sample function ``fn(y_true, y_pred)`` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or fn.__name__, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}
