"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import Optimizer, check_bool, check_float_in_range


class SGD(Optimizer):
    """Gradient descent, with optional momentum (Keras 3 ``SGD``).

    Update rule for a weight ``w`` with gradient ``g``, when ``momentum`` is 0::

        w = w - learning_rate * g

    with momentum (velocity ``v`` starts at zero)::

        v = momentum * v - learning_rate * g
        w = w + v

    with ``nesterov=True``::

        v = momentum * v - learning_rate * g
        w = w + momentum * v - learning_rate * g

    Reference: Sutskever et al., "On the importance of initialization and momentum
    in deep learning", ICML 2013.

    Args:
        learning_rate: a non-negative float or a schedule (callable of the step).
            Defaults to ``0.01``.
        momentum: float in ``[0, 1]``; 0 is plain gradient descent. Defaults to 0.
        nesterov: whether to use Nesterov momentum. Defaults to ``False``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps,
        name: see :class:`cnnkit.optimizers.Optimizer`.

    Raises:
        ValueError: ``momentum`` outside ``[0, 1]``, or any invalid common argument.

    Example:
        >>> import numpy as np
        >>> from cnnkit.autodiff import Variable
        >>> w = Variable(np.array([1.0, 2.0], dtype="float32"), name="w")
        >>> opt = SGD(learning_rate=0.1)
        >>> opt.apply([np.array([1.0, -1.0], dtype="float32")], [w])
        >>> w.numpy()
        array([0.9, 2.1], dtype=float32)
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str = "SGD",
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
        self.momentum = check_float_in_range("momentum", momentum, 0.0, 1.0)
        self.nesterov = check_bool("nesterov", nesterov)

    def build(self, variables: Sequence[Variable]) -> None:
        """Create one ``momentum`` slot per variable (only when ``momentum != 0``)."""
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def _step_coefficients(self, learning_rate: float, step: int, dtype) -> tuple:
        f = dtype.type
        return f(learning_rate), f(self.momentum)

    _updates_parts = True  # elementwise: slices of a variable update independently

    def _update(self, gradient, variable: Variable, coefficients: tuple) -> None:
        lr, momentum = coefficients
        w = variable.data
        step, nesterov_step = self._workspace(variable, 2)
        xp.multiply(gradient, lr, out=step)  # lr * g
        if self.momentum == 0:
            w -= step
            return
        v = self._slot(self.momentums, variable)
        v *= momentum
        v -= step  # v = momentum * v - lr * g
        if self.nesterov:
            xp.multiply(v, momentum, out=nesterov_step)
            nesterov_step -= step
            w += nesterov_step
        else:
            w += v

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
