"""Keras 3's ``keras.mixed_precision`` namespace: dtype policies under their older names.

``set_global_policy``/``global_policy`` are ``set_dtype_policy``/``dtype_policy`` of
:mod:`cnnkit.dtype_policies`, and ``Policy`` is :class:`~cnnkit.dtype_policies.DTypePolicy`,
as in Keras. cnnkit computes each layer in one dtype, so the mixed policies
(``"mixed_float16"``, ``"mixed_bfloat16"``) are refused with a ``ValueError`` that says so;
``"float16"``, ``"float32"`` and ``"float64"`` are accepted.

Example:
    >>> from cnnkit import mixed_precision
    >>> mixed_precision.set_global_policy("float64")
    >>> mixed_precision.global_policy().compute_dtype
    'float64'
    >>> mixed_precision.set_global_policy("float32")
"""

from __future__ import annotations

from cnnkit.dtype_policies import DTypePolicy, dtype_policy, set_dtype_policy
from cnnkit.optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy

__all__ = [
    "DTypePolicy",
    "LossScaleOptimizer",
    "Policy",
    "dtype_policy",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]
