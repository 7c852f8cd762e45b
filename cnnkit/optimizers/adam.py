"""Adam and AdamW (Adam with decoupled weight decay), in Keras's "epsilon hat" form."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import (
    Optimizer,
    check_bool,
    check_float_in_range,
    check_non_negative,
)


class Adam(Optimizer):
    """The Adam algorithm (Keras 3 ``Adam``).

    For a weight ``w`` with gradient ``g`` at step ``t = 1, 2, ...`` (moments
    ``m`` and ``v`` start at zero)::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        if amsgrad:
            v_hat = maximum(v_hat, v); v = v_hat
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - alpha * m / (sqrt(v) + epsilon)

    ``epsilon`` is the "epsilon hat" of Kingma and Ba (the formula just before
    their Section 2.1), added to ``sqrt(v)`` *before* bias correction, not the
    epsilon of their Algorithm 1 (PyTorch's). The step scalars are computed in
    the variable's dtype, as Keras does.

    References: Kingma and Ba, "Adam: A Method for Stochastic Optimization",
    ICLR 2015 (arXiv:1412.6980); Reddi et al., "On the Convergence of Adam and
    Beyond", ICLR 2018 (``amsgrad``).

    Args:
        learning_rate: a non-negative float or a schedule. Defaults to ``0.001``.
        beta_1: decay rate of the first-moment estimates, in ``[0, 1)``.
            Defaults to 0.9.
        beta_2: decay rate of the second-moment estimates, in ``[0, 1)``.
            Defaults to 0.999.
        epsilon: the "epsilon hat" above. Defaults to 1e-7.
        amsgrad: use the AMSGrad variant. Defaults to ``False``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps,
        name: see :class:`cnnkit.optimizers.Optimizer`.

    Raises:
        ValueError: a beta outside ``[0, 1)``, negative ``epsilon``, or any
            invalid common argument.

    Example:
        >>> import numpy as np
        >>> from cnnkit.autodiff import Variable
        >>> w = Variable(np.array([1.0], dtype="float32"), name="w")
        >>> opt = Adam(learning_rate=0.1)
        >>> opt.apply([np.array([0.5], dtype="float32")], [w])  # first step moves by ~lr
        >>> round(float(w.numpy()[0]), 4), int(opt.iterations)
        (0.9, 1)
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str = "adam",
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
        self.beta_1 = check_float_in_range("beta_1", beta_1, 0.0, 1.0, include_high=False)
        self.beta_2 = check_float_in_range("beta_2", beta_2, 0.0, 1.0, include_high=False)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.amsgrad = check_bool("amsgrad", amsgrad)

    def build(self, var_list: Sequence[Variable]) -> None:
        """Create ``momentum`` and ``velocity`` slots (interleaved), then ``velocity_hat``."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        self._velocity_hats = []
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def _step_coefficients(self, learning_rate: float, step: int, dtype) -> tuple:
        f = dtype.type
        t = f(step)
        beta_1_power = f(self.beta_1) ** t
        beta_2_power = f(self.beta_2) ** t
        alpha = f(learning_rate) * np.sqrt(f(1) - beta_2_power) / (f(1) - beta_1_power)
        return alpha, f(1 - self.beta_1), f(1 - self.beta_2), f(self.epsilon)

    _updates_parts = True  # elementwise: slices of a variable update independently

    def _update(self, gradient, variable: Variable, coefficients: tuple) -> None:
        alpha, one_minus_beta_1, one_minus_beta_2, epsilon = coefficients
        w = variable.data
        m = self._slot(self._momentums, variable)
        v = self._slot(self._velocities, variable)
        tmp, step = self._workspace(variable, 2)

        xp.subtract(gradient, m, out=tmp)
        tmp *= one_minus_beta_1
        m += tmp  # m = m + (g - m) * (1 - beta_1)
        xp.square(gradient, out=tmp)
        tmp -= v
        tmp *= one_minus_beta_2
        v += tmp  # v = v + (g**2 - v) * (1 - beta_2)
        if self.amsgrad:
            v_hat = self._slot(self._velocity_hats, variable)
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        xp.sqrt(v, out=tmp)
        tmp += epsilon
        xp.multiply(m, alpha, out=step)
        step /= tmp
        w -= step  # w = w - alpha * m / (sqrt(v) + epsilon)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3 ``AdamW``).

    Each step first decays the weights, ``w = w - w * weight_decay * lr``, then
    applies the :class:`Adam` update. Variables can be left out with
    ``exclude_from_weight_decay(var_names=["bias"])``.

    Reference: Loshchilov and Hutter, "Decoupled Weight Decay Regularization",
    ICLR 2019 (arXiv:1711.05101).

    Args:
        learning_rate: a non-negative float or a schedule. Defaults to ``0.001``.
        weight_decay: the decay rate, a non-negative float. Defaults to 0.004.
        beta_1, beta_2, epsilon, amsgrad: as for :class:`Adam`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps,
        name: see :class:`cnnkit.optimizers.Optimizer`.

    Raises:
        ValueError: ``weight_decay=None``, or any invalid :class:`Adam` argument.

    Example:
        >>> import numpy as np
        >>> from cnnkit.autodiff import Variable
        >>> w = Variable(np.array([1.0], dtype="float32"), name="w")
        >>> opt = AdamW(learning_rate=0.1, weight_decay=0.5)
        >>> opt.apply([np.array([0.0], dtype="float32")], [w])  # decay only: 1 - 0.5 * 0.1
        >>> round(float(w.numpy()[0]), 4)
        0.95
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str = "adamw",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
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
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
