"""Adam's relatives: ``Nadam``, ``Adamax``, ``Lamb`` and ``ScheduleFreeAdamW`` (Keras 3).

Each follows Keras 3's update equations and float32 arithmetic, written with the
``update_step(gradient, variable, learning_rate)`` hook of :class:`Optimizer` (the base does
clipping, weight decay, EMA, gradient accumulation and step counting). ``t`` below is the
1-based index of the update. Every optimizer also takes the base arguments
(``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``use_ema``,
``ema_momentum``, ``ema_overwrite_frequency``, ``loss_scale_factor``,
``gradient_accumulation_steps``, ``name``).

Example:
    >>> import numpy as np
    >>> from cnnkit.autodiff import Variable
    >>> w = Variable(np.array([1.0, -1.0], dtype="float32"), name="w")
    >>> opt = Adamax(learning_rate=0.1)
    >>> opt.apply([np.array([0.5, -0.5], dtype="float32")], [w])
    >>> w.numpy().round(4)
    array([ 0.9, -0.9], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import Optimizer, check_float_in_range, check_non_negative


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016), Keras 3's form with the momentum schedule.

    ``mu_t = beta_1 (1 - 0.5 * 0.96^t)`` and ``U_t = mu_1 ... mu_t``::

        m = m + (g - m)(1 - beta_1),   v = v + (g^2 - v)(1 - beta_2)
        m_hat = mu_{t+1} m / (1 - U_{t+1}) + (1 - mu_t) g / (1 - U_t)
        w = w - lr m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon)

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: moment decay rates in ``[0, 1)`` (defaults 0.9 and 0.999).
        epsilon: added to the root (default 1e-7).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
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
        self.beta_1 = check_float_in_range("beta_1", beta_1, 0.0, 1.0, include_high=False)
        self.beta_2 = check_float_in_range("beta_2", beta_2, 0.0, 1.0, include_high=False)
        self.epsilon = check_non_negative("epsilon", epsilon)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        dtype = var_list[0].dtype if var_list else None
        self._u_product = self.add_variable((), initializer="ones", dtype=dtype, name="u_product")

    def _backend_update_step(self, grads, variables, learning_rate) -> None:
        f = self._u_product.data.dtype.type
        t = f(self._local_step())
        self._u_product.data[...] *= f(self.beta_1) * (f(1) - f(0.5) * f(0.96) ** t)
        super()._backend_update_step(grads, variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        t = f(self._local_step())
        beta_1, beta_2, lr = f(self.beta_1), f(self.beta_2), f(learning_rate)
        u_t = beta_1 * (f(1) - f(0.5) * f(0.96) ** t)
        u_next = beta_1 * (f(1) - f(0.5) * f(0.96) ** (t + f(1)))
        u_product = f(self._u_product.data)
        u_product_next = u_product * u_next
        m = self._slot(self._momentums, variable)
        v = self._slot(self._velocities, variable)
        m += (gradient - m) * (f(1) - beta_1)
        v += (gradient * gradient - v) * (f(1) - beta_2)
        m_hat = u_next * m / (f(1) - u_product_next) + (f(1) - u_t) * gradient / (f(1) - u_product)
        v_hat = v / (f(1) - beta_2**t)
        variable.data[...] -= m_hat * lr / (xp.sqrt(v_hat) + f(self.epsilon))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adamax(Optimizer):
    """Adam with the infinity norm (Kingma & Ba, 2015, Section 7.1)::

        m = m + (g - m)(1 - beta_1),   u = max(beta_2 u, |g|)
        w = w - lr m / ((1 - beta_1^t)(u + epsilon))

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: decay rates in ``[0, 1)`` (defaults 0.9 and 0.999).
        epsilon: default 1e-7.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
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
        self.beta_1 = check_float_in_range("beta_1", beta_1, 0.0, 1.0, include_high=False)
        self.beta_2 = check_float_in_range("beta_2", beta_2, 0.0, 1.0, include_high=False)
        self.epsilon = check_non_negative("epsilon", epsilon)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        t = f(self._local_step())
        m = self._slot(self._m, variable)
        u = self._slot(self._u, variable)
        m += (gradient - m) * (f(1) - f(self.beta_1))
        xp.maximum(f(self.beta_2) * u, xp.abs(gradient), out=u)
        denom = (f(1) - f(self.beta_1) ** t) * (u + f(self.epsilon))
        variable.data[...] -= f(learning_rate) * m / denom

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Lamb(Optimizer):
    """Layer-wise adaptive moments (You et al., 2019): Adam's step scaled by a trust ratio::

        m = m + (g - m)(1 - beta_1),   v = v + (g^2 - v)(1 - beta_2)
        r = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)
        w = w - lr * (||w|| / ||r|| if both norms > 0 else 1) * r

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: decay rates in ``[0, 1)`` (defaults 0.9 and 0.999).
        epsilon: default 1e-7.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
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
        self.beta_1 = check_float_in_range("beta_1", beta_1, 0.0, 1.0, include_high=False)
        self.beta_2 = check_float_in_range("beta_2", beta_2, 0.0, 1.0, include_high=False)
        self.epsilon = check_non_negative("epsilon", epsilon)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        t = f(self._local_step())
        m = self._slot(self._momentums, variable)
        v = self._slot(self._velocities, variable)
        m += (gradient - m) * (f(1) - f(self.beta_1))
        v += (gradient * gradient - v) * (f(1) - f(self.beta_2))
        m_hat = m / (f(1) - f(self.beta_1) ** t)
        update = m_hat / (xp.sqrt(v / (f(1) - f(self.beta_2) ** t)) + f(self.epsilon))
        w_norm = xp.sqrt((variable.data**2).sum())
        u_norm = xp.sqrt((update**2).sum())
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else f(1)
        variable.data[...] -= ratio * f(learning_rate) * update

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class ScheduleFreeAdamW(Optimizer):
    """Schedule-free AdamW (Defazio et al., 2024), Keras 3's form.

    The slot ``z`` (Keras's "momentum") starts at the weights; the variable holds ``y``, the
    point where gradients are taken, and the average ``x`` is recovered from it::

        lr_t = lr * min(t / warmup_steps, 1)          (no warmup when warmup_steps == 0)
        v = v + (g^2 - v)(1 - beta_2)
        z_new = z - lr_t g / (sqrt(v / (1 - beta_2^t)) + epsilon)
        x = (y - (1 - beta_1) z_new) / beta_1                 (Keras reads z after its update)
        x = (1 - 1/t) x + z_new / t
        y = (1 - beta_1) z_new + beta_1 x

    Args:
        learning_rate: float or schedule (default 0.0025).
        beta_1, beta_2: in ``(0, 1)`` / ``[0, 1)`` (defaults 0.9 and 0.999).
        epsilon: default 1e-8.
        warmup_steps: linear warm-up length (default 0).
    """

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warmup_steps=0,
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
        self.beta_1 = check_float_in_range("beta_1", beta_1, 0.0, 1.0, include_high=False)
        if self.beta_1 == 0:
            raise ValueError("Invalid value for argument `beta_1`. Expected > 0. Received: 0")
        self.beta_2 = check_float_in_range("beta_2", beta_2, 0.0, 1.0, include_high=False)
        self.epsilon = check_non_negative("epsilon", epsilon)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(
                "Invalid value for argument `warmup_steps`. Expected an integer >= 0. "
                f"Received: warmup_steps={warmup_steps!r}"
            )
        self.warmup_steps = warmup_steps

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        for z, w in zip(self._momentums, var_list, strict=True):
            z.data[...] = w.data

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        t = f(self._local_step())
        lr = f(learning_rate)
        if self.warmup_steps > 0:
            lr = lr * min(t / f(self.warmup_steps), f(1))
        beta_1, beta_2 = f(self.beta_1), f(self.beta_2)
        z = self._slot(self._momentums, variable)
        v = self._slot(self._velocities, variable)
        v += (gradient * gradient - v) * (f(1) - beta_2)
        denom = xp.sqrt(v / (f(1) - beta_2**t)) + f(self.epsilon)
        z -= lr * gradient / denom
        weight = f(1) / t
        x = (variable.data - (f(1) - beta_1) * z) / beta_1
        x = (f(1) - weight) * x + weight * z
        variable.data[...] = (f(1) - beta_1) * z + beta_1 * x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "warmup_steps": self.warmup_steps,
        }


__all__ = ["Nadam", "Adamax", "Lamb", "ScheduleFreeAdamW"]
