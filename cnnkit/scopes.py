"""Context managers of Keras's top level: ``keras.name_scope`` and ``keras.device``.

- ``name_scope("block1")`` prefixes the paths of the weights created inside it
  (``block1/dense/kernel``), as Keras does; scopes nest.
- ``device("cpu")`` accepts the CPU, where cnnkit always computes, and refuses
  accelerators with a clear error (cnnkit runs on NumPy).

Example:
    >>> import cnnkit
    >>> with cnnkit.name_scope("block1"):
    ...     layer = cnnkit.layers.Dense(2, name="proj")
    ...     layer.build((None, 3))
    >>> layer.kernel.path
    'block1/proj/kernel'
"""

from __future__ import annotations

import contextlib
import re
import threading

_STATE = threading.local()


def _stack() -> list:
    if not hasattr(_STATE, "stack"):
        _STATE.stack = []
    return _STATE.stack


class name_scope:  # noqa: N801 - Keras's name
    """A sub-namespace for the paths of variables created inside it.

    Args:
        name: the scope's name (a string without ``/``).
        caller: optional object opening the scope; with ``deduplicate``, re-entering a
            scope of the same name and caller does not nest it again.
        deduplicate: see ``caller``.
        override_parent: an absolute path that replaces the enclosing scopes' path.

    Raises:
        ValueError: if ``name`` is not a string or contains ``/``.
    """

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError(
                "Argument `name` must be a string and cannot contain character `/`. "
                f"Received: name={name!r}"
            )
        self.name = name
        self.caller = caller
        self.deduplicate = deduplicate
        self.override_parent = override_parent
        self._pop_on_exit = False

    def __enter__(self) -> name_scope:
        stack = _stack()
        if self.deduplicate and stack and self.caller is not None:
            parent = stack[-1]
            if parent.caller is self.caller and parent.name == self.name:
                return self
        stack.append(self)
        self._pop_on_exit = True
        return self

    def __exit__(self, *exc) -> None:
        if self._pop_on_exit:
            _stack().pop()
            self._pop_on_exit = False


def current_path() -> str:
    """The ``/``-joined names of the open scopes (``""`` outside any)."""
    parts: list[str] = []
    for scope in _stack():
        if scope.override_parent is not None:
            parts = [p for p in scope.override_parent.split("/") if p]
        parts.append(scope.name)
    return "/".join(parts)


_CPU = re.compile(r"^cpu(:\d+)?$")


@contextlib.contextmanager
def device(device_name: str):
    """Run the block on ``device_name``: ``"cpu"`` or ``"cpu:N"`` (cnnkit's only device).

    Raises:
        ValueError: for an accelerator (``"gpu:0"``, ``"cuda"``, ``"tpu"``...) or a
            non-string name.

    Example:
        >>> with device("cpu:0"):
        ...     pass
    """
    if not isinstance(device_name, str):
        raise ValueError(
            "Invalid value for argument `device_name`. Expected a string like 'cpu'. "
            f"Received: device_name={device_name!r}"
        )
    if not _CPU.match(device_name.lower()):
        raise ValueError(
            f"cnnkit computes on the CPU with NumPy only; it cannot use device "
            f"{device_name!r}. Use 'cpu' (or Keras itself for accelerators)."
        )
    yield device_name.lower()
