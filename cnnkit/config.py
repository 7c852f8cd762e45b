"""Global settings, as ``keras.config`` has them.

Every name of ``keras.config`` is here; each one is wired to the part of cnnkit that has
the behaviour:

- ``floatx``/``set_floatx``, ``epsilon``/``set_epsilon``, ``image_data_format``/
  ``set_image_data_format``, ``backend``, ``max_epochs``/``set_max_epochs`` and
  ``max_steps_per_epoch``/``set_max_steps_per_epoch`` live in :mod:`cnnkit.backend`
  (``fit`` obeys the two caps);
- ``dtype_policy``/``set_dtype_policy`` in :mod:`cnnkit.dtype_policies` (float policies
  only; the global policy is the default dtype of new layers);
- interactive logging in :mod:`cnnkit.io_utils` (``ProgbarLogger`` writes to the
  ``"cnnkit"`` logger when it is off).

Where cnnkit differs from Keras, written down:

- ``image_data_format`` may be set to ``"channels_first"``, but cnnkit's image layers
  compute channels-last only: created without an explicit ``data_format`` they then raise
  a ``ValueError`` saying so.
- ``enable_unsafe_deserialization()`` warns and changes nothing: cnnkit never runs code
  stored in a file (lambdas), whatever ``safe_mode`` says.
- Traceback filtering and flash attention are flags only: cnnkit never rewrites
  tracebacks and has no flash-attention kernel; the functions record and report the
  setting so Keras code that toggles them runs.
- ``set_backend`` accepts only ``"numpy"``; ``is_nnx_enabled()`` is ``False``.
- The ``KERAS_MAX_EPOCHS``-style environment variables are not read (no environment
  switches in cnnkit).

Example:
    >>> from cnnkit import config
    >>> config.floatx(), config.epsilon(), config.image_data_format(), config.backend()
    ('float32', 1e-07, 'channels_last', 'numpy')
"""

from __future__ import annotations

import warnings

from cnnkit.backend import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    max_epochs,
    max_steps_per_epoch,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    set_max_epochs,
    set_max_steps_per_epoch,
)
from cnnkit.dtype_policies import dtype_policy, set_dtype_policy
from cnnkit.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)

__all__ = [
    "backend",
    "disable_flash_attention",
    "disable_interactive_logging",
    "disable_traceback_filtering",
    "dtype_policy",
    "enable_flash_attention",
    "enable_interactive_logging",
    "enable_traceback_filtering",
    "enable_unsafe_deserialization",
    "epsilon",
    "floatx",
    "image_data_format",
    "is_flash_attention_enabled",
    "is_interactive_logging_enabled",
    "is_nnx_enabled",
    "is_traceback_filtering_enabled",
    "max_epochs",
    "max_steps_per_epoch",
    "set_backend",
    "set_dtype_policy",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
    "set_max_epochs",
    "set_max_steps_per_epoch",
]

_TRACEBACK_FILTERING = True
_FLASH_ATTENTION: bool | None = None  # None: "use it where possible", Keras's default


def enable_traceback_filtering() -> None:
    """Record that traceback filtering is on (cnnkit never rewrites tracebacks)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = True


def disable_traceback_filtering() -> None:
    """Record that traceback filtering is off (cnnkit's tracebacks are always whole)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = False


def is_traceback_filtering_enabled() -> bool:
    """The recorded setting (``True`` by default, as in Keras)."""
    return _TRACEBACK_FILTERING


def enable_flash_attention() -> None:
    """Record Keras's default: flash attention where possible (cnnkit has none)."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = None


def disable_flash_attention() -> None:
    """Record that flash attention is off."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = False


def is_flash_attention_enabled() -> bool | None:
    """``False`` once disabled, otherwise ``None`` ("where possible"), as in Keras."""
    return _FLASH_ATTENTION


def is_nnx_enabled() -> bool:
    """Always ``False``: Flax NNX is a JAX-backend feature."""
    return False


def set_backend(backend: str) -> None:
    """Keras switches its backend here; cnnkit has one, ``"numpy"``.

    Raises:
        ValueError: for any other backend name.
    """
    if backend != "numpy":
        raise ValueError(
            f"cnnkit runs on NumPy only: the backend cannot be switched to {backend!r}. "
            "Use Keras itself for the 'tensorflow', 'jax' and 'torch' backends."
        )


def enable_unsafe_deserialization() -> None:
    """Keras lets ``load_model`` run lambdas stored in files after this; cnnkit never does.

    Warns (``UserWarning``) and changes nothing: a file cannot make cnnkit run code.
    Rebuild such layers in code and load only their weights.
    """
    warnings.warn(
        "cnnkit never deserializes code (lambdas) from files, so "
        "`enable_unsafe_deserialization()` has no effect.",
        UserWarning,
        stacklevel=2,
    )
