"""Optimizers with per-coordinate step sizes from accumulated statistics: ``Adadelta``,
``Ftrl`` and ``Adafactor`` (Keras 3's equations, float32 arithmetic).

They take the base arguments of :class:`cnnkit.optimizers.Optimizer` as keywords. ``t`` is the
1-based index of the update.

Example:
    >>> import numpy as np
    >>> from cnnkit.autodiff import Variable
    >>> w = Variable(np.array([1.0], dtype="float32"), name="w")
    >>> Adadelta(learning_rate=1.0).apply([np.array([2.0], dtype="float32")], [w])
    >>> w.numpy().round(5)
    array([0.99859], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit.argument_validation import is_real
from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import (
    Optimizer,
    check_bool,
    check_float_in_range,
    check_non_negative,
)


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012)::

        acc_g = rho acc_g + (1 - rho) g^2
        delta = -sqrt(acc_d + eps) / sqrt(acc_g + eps) * g
        acc_d = rho acc_d + (1 - rho) delta^2
        w = w + lr delta

    Args:
        learning_rate: float or schedule (default 0.001; the paper's method uses 1.0).
        rho: decay rate in ``[0, 1]`` (default 0.95).
        epsilon: default 1e-7.
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.95,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
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
        self.rho = check_float_in_range("rho", rho)
        self.epsilon = check_non_negative("epsilon", epsilon)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"]
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        rho, eps = f(self.rho), f(self.epsilon)
        acc_g = self._slot(self._accumulated_grads, variable)
        acc_d = self._slot(self._accumulated_delta_vars, variable)
        acc_g[...] = rho * acc_g + (f(1) - rho) * gradient * gradient
        delta = -(xp.sqrt(acc_d + eps) * gradient) / xp.sqrt(acc_g + eps)
        acc_d[...] = rho * acc_d + (f(1) - rho) * delta * delta
        variable.data[...] += f(learning_rate) * delta

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


def _non_positive(name, value) -> float:
    if not is_real(value) or value > 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a float <= 0. "
            f"Received: {name}={value!r}"
        )
    return float(value)


class Ftrl(Optimizer):
    """Follow-the-regularized-leader (McMahan et al., 2013), Keras 3's form.

    With ``p = -learning_rate_power`` and ``l2 = l2_regularization_strength + beta / (2 lr)``::

        n_new = n + g^2
        z = z + g + 2 l2_shrinkage w - (n_new^p - n^p) / lr * w
        w = (clip(z, -l1, l1) - z) / (n_new^p / lr + 2 l2)
        n = n_new

    Args:
        learning_rate: float or schedule (default 0.001).
        learning_rate_power: ``<= 0`` (default -0.5).
        initial_accumulator_value: ``>= 0``, the start of ``n`` (default 0.1).
        l1_regularization_strength, l2_regularization_strength,
        l2_shrinkage_regularization_strength: ``>= 0`` (default 0).
        beta: default 0.
    """

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
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
        self.learning_rate_power = _non_positive("learning_rate_power", learning_rate_power)
        self.initial_accumulator_value = check_non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.l1_regularization_strength = check_non_negative(
            "l1_regularization_strength", l1_regularization_strength
        )
        self.l2_regularization_strength = check_non_negative(
            "l2_regularization_strength", l2_regularization_strength
        )
        self.l2_shrinkage_regularization_strength = check_non_negative(
            "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength
        )
        self.beta = check_non_negative("beta", beta)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = [], []
        for v in var_list:
            self._accumulators.append(
                self.add_variable_from_reference(
                    v, "accumulator", initializer=self.initial_accumulator_value
                )
            )
            self._linears.append(self.add_variable_from_reference(v, "linear"))

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        lr = f(learning_rate)
        w = variable.data
        n = self._slot(self._accumulators, variable)
        z = self._slot(self._linears, variable)
        power = f(-self.learning_rate_power)
        l2 = f(self.l2_regularization_strength) + f(self.beta) / (f(2) * lr)
        new_n = n + gradient * gradient
        shrunk = gradient + f(2 * self.l2_shrinkage_regularization_strength) * w
        z += shrunk - (new_n**power - n**power) / lr * w
        quadratic = new_n**power / lr + f(2) * l2
        l1 = f(self.l1_regularization_strength)
        w[...] = (xp.clip(z, -l1, l1) - z) / quadratic
        n[...] = new_n

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018): second moments factored over the last two axes.

    ``rho_t = min(lr, 1 / sqrt(t))`` (and ``lr`` itself is capped so when ``relative_step``
    and the rate is a number), ``alpha_t = max(epsilon_2, rms(w)) rho_t``,
    ``beta_t = 1 - t^beta_2_decay``, ``G = g^2 + epsilon_1``::

        rank >= 2:  r = beta_t r + (1 - beta_t) mean(G, -1)
                    c = beta_t c + (1 - beta_t) mean(G, -2)
                    v = (r / mean(r, -1))[..., None] * c[..., None, :]
        otherwise:  v = beta_t v + (1 - beta_t) G
        u = g / sqrt(v),  w = w - alpha_t u / max(1, rms(u) / clip_threshold)

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_2_decay: default -0.8.
        epsilon_1, epsilon_2: defaults 1e-30 and 1e-3.
        clip_threshold: default 1.0.
        relative_step: cap a constant learning rate at ``1 / sqrt(t)`` (default ``True``).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
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
        self.beta_2_decay = _non_positive("beta_2_decay", beta_2_decay)
        self.epsilon_1 = check_non_negative("epsilon_1", epsilon_1)
        self.epsilon_2 = check_non_negative("epsilon_2", epsilon_2)
        self.clip_threshold = check_non_negative("clip_threshold", clip_threshold)
        self.relative_step = check_bool("relative_step", relative_step)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._r, self._c, self._v = [], [], []
        for var in var_list:
            if len(var.shape) >= 2:
                shape = tuple(var.shape)
                name = var.name
                self._r.append(self.add_variable(shape[:-1], dtype=var.dtype, name=name))
                self._c.append(
                    self.add_variable(shape[:-2] + shape[-1:], dtype=var.dtype, name=name)
                )
            else:  # not factored: scalar placeholders, so the state lines up with Keras's
                self._r.append(self.add_variable((), dtype=var.dtype, name=var.name))
                self._c.append(self.add_variable((), dtype=var.dtype, name=var.name))
            self._v.append(self.add_variable_from_reference(var, "velocity"))

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        t = f(self._local_step())
        lr = f(learning_rate)
        if not callable(self._learning_rate) and self.relative_step:
            lr = min(lr, f(1) / xp.sqrt(t))
        i = self._get_variable_index(variable)
        w = variable.data
        rho = min(lr, f(1) / xp.sqrt(t))
        alpha = max(f(self.epsilon_2), xp.sqrt(xp.mean(w * w))) * rho
        g2 = gradient * gradient + f(self.epsilon_1)
        beta_t = f(1) - t ** f(self.beta_2_decay)
        v = self._v[i].data
        if w.ndim >= 2:
            r, c = self._r[i].data, self._c[i].data
            r[...] = beta_t * r + (f(1) - beta_t) * g2.mean(axis=-1)
            c[...] = beta_t * c + (f(1) - beta_t) * g2.mean(axis=-2)
            v[...] = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v[...] = beta_t * v + (f(1) - beta_t) * g2
        u = gradient / xp.sqrt(v)
        u_hat = u / max(f(1), xp.sqrt(xp.mean(u * u)) / f(self.clip_threshold))
        w -= alpha * u_hat

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }
