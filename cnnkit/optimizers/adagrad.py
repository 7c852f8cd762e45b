"""Adagrad: per-coordinate learning rates from the sum of squared past gradients."""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import Optimizer, check_non_negative


class Adagrad(Optimizer):
    """The Adagrad algorithm (Keras 3 ``Adagrad``).

    For a weight ``w`` with gradient ``g`` (the accumulator ``s`` starts at
    ``initial_accumulator_value``)::

        s = s + g**2
        w = w - lr * g / sqrt(s + epsilon)

    Reference: Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization", JMLR 12 (2011).

    Args:
        learning_rate: a non-negative float or a schedule. Defaults to ``0.001``
            (Adagrad usually wants more; the paper's form is ``1.0``).
        initial_accumulator_value: non-negative starting value of the
            accumulators. Defaults to 0.1.
        epsilon: small constant added inside the square root. Defaults to 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps,
        name: see :class:`cnnkit.optimizers.Optimizer`.

    Raises:
        ValueError: negative ``initial_accumulator_value`` or ``epsilon``.

    Example:
        >>> import numpy as np
        >>> from cnnkit.autodiff import Variable
        >>> w = Variable(np.array([1.0], dtype="float32"), name="w")
        >>> opt = Adagrad(learning_rate=1.0, initial_accumulator_value=0.0, epsilon=0.0)
        >>> opt.apply([np.array([3.0], dtype="float32")], [w])  # 1 - 3 / sqrt(9)
        >>> float(w.numpy()[0])
        0.0
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str = "adagrad",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.initial_accumulator_value = check_non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = check_non_negative("epsilon", epsilon)

    def build(self, var_list: Sequence[Variable]) -> None:
        """Create one ``accumulator`` per variable, filled with ``initial_accumulator_value``."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators = [
            self.add_variable(
                var.shape,
                initializer=self.initial_accumulator_value,
                dtype=var.dtype,
                name="accumulator",
            )
            for var in var_list
        ]

    def _step_coefficients(self, learning_rate: float, step: int, dtype) -> tuple:
        f = dtype.type
        return f(learning_rate), f(self.epsilon)

    _updates_parts = True  # elementwise: slices of a variable update independently

    def _update(self, gradient, variable: Variable, coefficients: tuple) -> None:
        lr, epsilon = coefficients
        w = variable.data
        accumulator = self._slot(self._accumulators, variable)
        denominator, step = self._workspace(variable, 2)

        xp.square(gradient, out=denominator)
        accumulator += denominator  # s = s + g**2
        xp.add(accumulator, epsilon, out=denominator)
        xp.sqrt(denominator, out=denominator)
        xp.multiply(gradient, lr, out=step)
        step /= denominator
        w -= step  # w = w - lr * g / sqrt(s + epsilon)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon,
            }
        )
        return config
