"""Dtype policies (``keras.DTypePolicy``, ``keras.config.set_dtype_policy``).

A policy names the dtype a layer computes in and the dtype of its weights. cnnkit computes
in one dtype per layer, so a policy is the name of one dtype (``"float16"``, ``"float32"``,
``"float64"``, or ``"int32"``, ``"string"``... as Keras allows), with equal compute and
variable dtypes. The mixed-precision policies (``"mixed_float16"``, ``"mixed_bfloat16"``),
``bfloat16`` (NumPy has no such type), float8, complex and the quantized policies are
refused with a ``ValueError`` that says so.

The global policy is the default ``dtype`` of new layers. Until one is set it follows
``cnnkit.config.floatx()``.

Example:
    >>> from cnnkit import dtype_policies
    >>> policy = dtype_policies.DTypePolicy("float64")
    >>> policy.compute_dtype, policy.variable_dtype
    ('float64', 'float64')
"""

from __future__ import annotations

from cnnkit import backend

_SUPPORTED = ("float16", "float32", "float64")
_REFUSED = ("bfloat16", "float8_e4m3fn", "float8_e5m2", "complex64", "complex128")
_GLOBAL_POLICY: DTypePolicy | None = None


class DTypePolicy:
    """The dtype a layer computes in and stores its weights in.

    Args:
        name: a dtype name such as ``"float32"`` (default: the global policy's).

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: for a mixed-precision, ``bfloat16``, quantized or unknown policy.
    """

    def __init__(self, name: str | None = None):
        if name is None:
            name = dtype_policy().name
        if not isinstance(name, str):
            raise TypeError(
                "'name' must be a string, such as 'float32'. "
                f"Received: name={name!r} (of type {type(name).__name__})"
            )
        if name.startswith("mixed_") or name in _REFUSED:
            raise ValueError(
                f"cnnkit does not support the dtype policy {name!r}: it computes each layer "
                f"in a single NumPy dtype (floats: {_SUPPORTED}), and NumPy has no bfloat16."
            )
        try:
            name = backend.standardize_dtype(name)
        except ValueError:
            raise ValueError(
                f"Cannot convert {name!r} to a DTypePolicy. Valid policies in cnnkit are the "
                f"names of dtypes such as {_SUPPORTED}."
            ) from None
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computations and outputs."""
        return self._name

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights."""
        return self._name

    @property
    def quantization_mode(self) -> None:
        """``None``: no quantized policies in cnnkit."""
        return None

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> DTypePolicy:
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other) -> bool:
        return isinstance(other, DTypePolicy) and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)


class FloatDTypePolicy(DTypePolicy):
    """Keras's older name of :class:`DTypePolicy`."""


def set_dtype_policy(policy) -> None:
    """Set the global policy: a :class:`DTypePolicy` or its name.

    Raises:
        ValueError: for anything else, or a policy cnnkit does not support.

    Example:
        >>> set_dtype_policy("float64")
        >>> dtype_policy()
        <DTypePolicy "float64">
        >>> set_dtype_policy("float32")
    """
    global _GLOBAL_POLICY
    if isinstance(policy, str):
        policy = DTypePolicy(policy)
    if not isinstance(policy, DTypePolicy):
        raise ValueError(
            "Invalid `policy` argument. Expected the string name of a policy (such as "
            f"'float32') or a `DTypePolicy` instance. Received: policy={policy!r} "
            f"(of type {type(policy).__name__})"
        )
    _GLOBAL_POLICY = policy


def dtype_policy() -> DTypePolicy:
    """The global policy: the one set last, else the policy of ``floatx()``."""
    if _GLOBAL_POLICY is not None:
        return _GLOBAL_POLICY
    return DTypePolicy(backend.floatx())


def default_dtype() -> str:
    """The dtype of a layer created without ``dtype``: the global policy's."""
    return _GLOBAL_POLICY.variable_dtype if _GLOBAL_POLICY is not None else backend.floatx()


def get(identifier) -> DTypePolicy:
    """A policy from ``None`` (the global one), a name, a config dict or a policy."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    raise ValueError(f"Cannot interpret `dtype` argument. Received: {identifier!r}")


def serialize(policy: DTypePolicy) -> dict:
    """Keras's serialized form: ``{"module": "keras", "class_name": "DTypePolicy", ...}``."""
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": policy.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict) -> DTypePolicy:
    """The policy of a serialized ``DTypePolicy``/``FloatDTypePolicy`` dict."""
    if not isinstance(config, dict) or config.get("class_name") not in (
        "DTypePolicy",
        "FloatDTypePolicy",
    ):
        raise ValueError(f"Expected a serialized DTypePolicy. Received: {config!r}")
    return DTypePolicy(**config.get("config", {}))
