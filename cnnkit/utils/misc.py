"""Small ``keras.utils`` helpers: batch packing, symbolic tensors, dtypes, ``Config``,
interactive logging switches and ``Progbar``.

Example:
    >>> import numpy as np
    >>> unpack_x_y_sample_weight((np.zeros(2), np.ones(2)))[2] is None
    True
    >>> standardize_dtype(float)
    'float32'
"""

from __future__ import annotations

import sys
import time

import numpy as np

from cnnkit import backend

_INTERACTIVE = {"enabled": True}


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, as Keras packs a batch (a lone
    ``x`` that is a tuple or list is returned as ``(x,)`` so that it stays one input)."""
    if y is None:
        if not isinstance(x, (tuple, list)):
            return x
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` of a batch (missing parts are ``None``)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
        f"found: {data}"
    )


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor (an ``Input`` or a layer's output on one)."""
    return backend.is_keras_tensor(x)


def get_source_inputs(tensor) -> list:
    """The ``Input`` tensors that ``tensor`` was computed from, in the order met."""
    from cnnkit.layers.base import KerasTensor

    if not isinstance(tensor, KerasTensor):
        raise ValueError(f"Expected a symbolic tensor (KerasTensor). Received: {tensor!r}")
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        history = t._keras_history
        node = history[1] if history else None
        if node is None or not node.input_tensors:
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            continue
        stack.extend(reversed(node.input_tensors))
    return found


_PYTHON_DTYPES = {bool: "bool", int: "int32", float: "float32", str: "string", complex: "complex64"}
_ALLOWED_DTYPES = (
    "float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
    "int32", "int64", "bfloat16", "bool", "string", "complex64", "complex128",
)  # fmt: skip


def standardize_dtype(dtype) -> str:
    """A dtype (string, NumPy dtype or type, Python type) as Keras 3's standard name.

    As Keras with a non-TensorFlow backend, ``int`` and ``"int"`` give ``"int32"``.
    """
    if dtype is None:
        from cnnkit import backend

        return backend.floatx()
    if dtype == "int":
        return "int32"
    if isinstance(dtype, type) and dtype in _PYTHON_DTYPES:
        return _PYTHON_DTYPES[dtype]
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    if dtype not in _ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {dtype}")
    return dtype


class Config:
    """A mutable mapping of settings readable as attributes, freezable (``keras.utils.Config``).

    Example:
        >>> config = Config(learning_rate=0.1)
        >>> config.momentum = 0.9
        >>> config.freeze()
        >>> config.frozen, config.as_dict()
        (True, {'learning_rate': 0.1, 'momentum': 0.9})
    """

    __attrs__ = None

    def __init__(self, **kwargs):
        object.__setattr__(self, "_config", dict(kwargs))
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        object.__setattr__(self, "_frozen", False)

    def _raise_if_frozen(self) -> None:
        if self._frozen:
            raise ValueError("Cannot mutate attribute(s) because the config is frozen.")

    def as_dict(self) -> dict:
        return dict(self._config)

    def to_json(self) -> str:
        import json

        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def pop(self, *args):
        self._raise_if_frozen()
        return self._config.pop(*args)

    def update(self, *args, **kwargs):
        self._raise_if_frozen()
        return self._config.update(*args, **kwargs)

    def get(self, key, default=None):
        return self._config.get(key, default)

    def __setattr__(self, name, value):
        self._raise_if_frozen()
        self._config[name] = value

    def __getattr__(self, name):
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        raise AttributeError(f"Unknown attribute: '{name}'")

    def __setitem__(self, key, value):
        self._raise_if_frozen()
        self._config[key] = value

    def __getitem__(self, key):
        return self._config[key]

    def __delitem__(self, key):
        self._raise_if_frozen()
        del self._config[key]

    def __contains__(self, item):
        return item in self._config

    def __len__(self):
        return len(self._config)

    def __iter__(self):
        return iter(self._config)

    def __repr__(self):
        return f"<Config {self._config}>"


def enable_interactive_logging() -> None:
    """Print progress bars and messages (the default)."""
    _INTERACTIVE["enabled"] = True


def disable_interactive_logging() -> None:
    """Silence progress output (``Progbar`` draws nothing)."""
    _INTERACTIVE["enabled"] = False


def is_interactive_logging_enabled() -> bool:
    return _INTERACTIVE["enabled"]


def clear_session(free_memory: bool = True) -> None:
    """Reset cnnkit's global state: layer name counters (``backend.clear_session``)."""
    from cnnkit import backend

    backend.clear_session()


class Progbar:
    """A text progress bar (``keras.utils.Progbar``).

    Values passed to ``update``/``add`` are averaged over the steps since the start, unless
    their name is in ``stateful_metrics`` (shown as given).

    Args:
        target: total number of steps, or ``None`` if unknown.
        width: bar width in characters.
        verbose: 0 silent, 1 bar, 2 one line at the end.
        interval: minimum seconds between redraws.
        stateful_metrics: names of values shown as given, not averaged.
        unit_name: the name of a step in the per-step time.

    Example:
        >>> import io
        >>> bar = Progbar(4, verbose=2, stream=io.StringIO())
        >>> bar.update(2, [("loss", 1.0)]); bar.update(4, [("loss", 3.0)])
        >>> bar._values["loss"]
        [8.0, 4]
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        unit_name="step",
        stream=None,
    ):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._stream = stream
        self._values: dict = {}
        self._order: list = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._finalized = False

    def _out(self):
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current, values=None, finalize=None) -> None:
        """Set the step to ``current`` and record ``values`` (``[(name, value), ...]``)."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if name not in self._order:
                self._order.append(name)
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
                continue
            steps = max(current - self._seen_so_far, 1)
            total, count = self._values.get(name, [0.0, 0])
            self._values[name] = [total + float(np.mean(value)) * steps, count + steps]
        self._seen_so_far = current
        if not is_interactive_logging_enabled() or not self.verbose:
            return
        now = time.time()
        if self.verbose == 1:
            if not finalize and now - self._last_update < self.interval:
                return
            self._last_update = now
            end = "\n" if finalize else ""
            self._out().write("\r" + self._line(current) + end)
        elif finalize:
            self._out().write(self._line(current, bar=False) + "\n")
        self._out().flush()

    def add(self, n, values=None) -> None:
        """Advance by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    def _line(self, current, bar: bool = True) -> str:
        parts = []
        if bar:
            if self.target:
                filled = int(self.width * min(current, self.target) / self.target)
                digits = len(str(self.target))
                parts.append(
                    f"{current:>{digits}}/{self.target} "
                    + "\u2501" * filled
                    + "\u2500" * (self.width - filled)
                )
            else:
                parts.append(f"{current}/Unknown")
        elapsed = time.time() - self._start
        per = elapsed / max(current, 1)
        parts.append(f"{elapsed:.0f}s {per * 1e3:.0f}ms/{self.unit_name}")
        for name in self._order:
            total, count = self._values[name]
            parts.append(f"{name}: {total / max(count, 1):.4f}")
        return " - ".join(parts)
