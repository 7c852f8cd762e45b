"""``LossScaleOptimizer``: dynamic loss scaling around another optimizer (Keras 3).

The loss is multiplied by a scale before differentiation (``scale_loss``); the gradients are
divided by it before the inner optimizer sees them. A step whose gradients are all finite is
applied, and after ``dynamic_growth_steps`` such steps in a row the scale doubles; a step with
an infinite or NaN gradient is skipped and halves the scale. Useful with float16 training; in
float32 it only costs the checks.

Example:
    >>> import numpy as np
    >>> from cnnkit.autodiff import Variable
    >>> from cnnkit.optimizers import SGD
    >>> w = Variable(np.array([1.0], dtype="float32"), name="w")
    >>> opt = LossScaleOptimizer(SGD(0.1), initial_scale=4.0)
    >>> opt.apply([np.array([np.inf], dtype="float32")], [w])  # skipped, scale halved
    >>> opt.apply([np.array([2.0], dtype="float32")], [w])  # gradient 2 / 2 = 1
    >>> w.numpy(), float(opt.dynamic_scale), int(opt.iterations)
    (array([0.9], dtype=float32), 2.0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnkit.autodiff import Tensor, Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import Optimizer

_BASE_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around ``inner_optimizer``.

    Args:
        inner_optimizer: the optimizer that applies the unscaled gradients (its own
            ``loss_scale_factor`` is switched off).
        initial_scale: the first scale (default ``2**15``).
        dynamic_growth_steps: finite steps in a row before the scale doubles (default 2000).
        name: optional name.

    Raises:
        ValueError: ``dynamic=False``, or a base optimizer argument (set those on the inner
            optimizer), as in Keras.
    """

    def __init__(
        self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, **kwargs
    ):
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                "`loss_scale_factor` directly on the `inner_optimizer`."
            )
        for key, default in _BASE_DEFAULTS.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise ValueError(
                    f"LossScaleOptimizer does not support `{key}`. Instead, set `{key}` on the "
                    "`inner_optimizer`."
                )
        if kwargs:
            raise ValueError(
                f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`."
            )
        if not isinstance(inner_optimizer, Optimizer):
            raise ValueError(
                "Invalid value for argument `inner_optimizer`. Expected an Optimizer. "
                f"Received: inner_optimizer={inner_optimizer!r}"
            )
        if (
            isinstance(dynamic_growth_steps, bool)
            or not isinstance(dynamic_growth_steps, int)
            or (dynamic_growth_steps < 1)
        ):
            raise ValueError(
                "Invalid value for argument `dynamic_growth_steps`. Expected an integer >= 1. "
                f"Received: dynamic_growth_steps={dynamic_growth_steps!r}"
            )
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.inner_optimizer.loss_scale_factor = None

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        self.step_counter = self.add_variable((), dtype="int64", name="step_counter")
        self.dynamic_scale = self.add_variable(
            (), initializer=self.initial_scale, dtype="float32", name="dynamic_scale"
        )
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self) -> list[Variable]:
        """Own state (iteration, learning rate, step counter, scale), then the inner's."""
        return self._variables + self.inner_optimizer.variables

    def apply(self, grads: Sequence, trainable_variables: Sequence[Variable] | None = None) -> None:
        grads = [g.data if isinstance(g, Tensor) else g for g in grads]
        if not self.built:
            self.build(trainable_variables)
        finite = all(bool(xp.isfinite(g).all()) for g in grads if g is not None)
        if not finite:
            self.step_counter.data[...] = 0
            self.dynamic_scale.data[...] *= np.float32(0.5)
            return
        scale = self.dynamic_scale.data
        unscaled = [None if g is None else g / scale.astype(g.dtype) for g in grads]
        self.inner_optimizer.apply(unscaled, trainable_variables)
        if int(self.step_counter.data) == self.dynamic_growth_steps - 1:
            self.step_counter.data[...] = 0
            self.dynamic_scale.data[...] *= np.float32(2.0)
        else:
            self.step_counter.data[...] += 1

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if not hasattr(self, "inner_optimizer"):  # the base constructor's placeholder
            Optimizer.learning_rate.fset(self, value)
            return
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self) -> Variable:
        return self.inner_optimizer.iterations

    def scale_loss(self, loss):
        """``loss`` times the current scale (the initial one before the first step)."""
        scale = float(self.dynamic_scale.data) if self.built else self.initial_scale
        return loss * scale

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def set_weights(self, weights) -> None:
        weights = list(weights)
        own = len(self._variables)
        for variable, weight in zip(self._variables, weights[:own], strict=True):
            variable.assign(xp.asarray(weight))
        self.inner_optimizer.set_weights(weights[own:])

    def save_own_variables(self, store) -> None:
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store) -> None:
        variables = self.variables
        if len(store.keys()) != len(variables):
            Optimizer.load_own_variables(self, store)  # warns about the mismatch
            return
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])

    def get_config(self) -> dict:
        from cnnkit.optimizers import serialize

        return {
            "name": self.name,
            "inner_optimizer": serialize(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        from cnnkit.optimizers import deserialize

        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)
