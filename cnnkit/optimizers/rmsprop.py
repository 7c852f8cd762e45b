"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import (
    Optimizer,
    check_bool,
    check_float_in_range,
    check_non_negative,
)


class RMSprop(Optimizer):
    """The RMSprop algorithm (Keras 3 ``RMSprop``).

    For a weight ``w`` with gradient ``g`` (all slots start at zero)::

        v = rho * v + (1 - rho) * g**2                      # velocity
        if centered:
            a = rho * a + (1 - rho) * g                     # average gradient
            increment = lr * g / sqrt(v - a**2 + epsilon)
        else:
            increment = lr * g / sqrt(v + epsilon)
        if momentum > 0:
            m = momentum * m + increment
            w = w - m
        else:
            w = w - increment

    Reference: Hinton, "Neural Networks for Machine Learning", lecture 6e (2012).

    Args:
        learning_rate: a non-negative float or a schedule. Defaults to ``0.001``.
        rho: discounting factor of the squared gradients, in ``[0, 1]``. Defaults
            to 0.9.
        momentum: plain momentum in ``[0, 1]``. Defaults to 0.
        epsilon: small constant added inside the square root. Defaults to 1e-7.
        centered: normalise by the estimated variance of the gradient instead of
            its uncentered second moment. Defaults to ``False``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps,
        name: see :class:`cnnkit.optimizers.Optimizer`.

    Raises:
        ValueError: ``rho`` or ``momentum`` outside ``[0, 1]``, negative ``epsilon``.

    Example:
        >>> import numpy as np
        >>> from cnnkit.autodiff import Variable
        >>> w = Variable(np.array([10.0], dtype="float32"), name="w")
        >>> opt = RMSprop(learning_rate=0.1)
        >>> opt.apply([w.numpy().copy()], [w])  # loss = w**2 / 2, gradient = w
        >>> round(float(w.numpy()[0]), 5)
        9.68377
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str = "rmsprop",
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
        self.rho = check_float_in_range("rho", rho, 0.0, 1.0)
        self.momentum = check_float_in_range("momentum", momentum, 0.0, 1.0)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.centered = check_bool("centered", centered)

    def build(self, var_list: Sequence[Variable]) -> None:
        """Create the ``velocity`` slots, then ``momentum`` and ``average_gradient`` if used."""
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")

    def _step_coefficients(self, learning_rate: float, step: int, dtype) -> tuple:
        f = dtype.type
        return f(learning_rate), f(self.rho), f(1 - self.rho), f(self.momentum), f(self.epsilon)

    _updates_parts = True  # elementwise: slices of a variable update independently

    def _update(self, gradient, variable: Variable, coefficients: tuple) -> None:
        lr, rho, one_minus_rho, momentum, epsilon = coefficients
        w = variable.data
        velocity = self._slot(self._velocities, variable)
        denominator, increment = self._workspace(variable, 2)

        velocity *= rho
        xp.square(gradient, out=denominator)
        denominator *= one_minus_rho
        velocity += denominator  # v = rho * v + (1 - rho) * g**2
        if self.centered:
            average = self._slot(self._average_gradients, variable)
            average *= rho
            xp.multiply(gradient, one_minus_rho, out=denominator)
            average += denominator  # a = rho * a + (1 - rho) * g
            xp.square(average, out=denominator)
            xp.subtract(velocity, denominator, out=denominator)
            denominator += epsilon  # v - a**2 + epsilon
        else:
            xp.add(velocity, epsilon, out=denominator)
        xp.sqrt(denominator, out=denominator)
        xp.multiply(gradient, lr, out=increment)
        increment /= denominator
        if self.momentum > 0:
            m = self._slot(self._momentums, variable)
            m *= momentum
            m += increment
            w -= m
        else:
            w -= increment

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config
