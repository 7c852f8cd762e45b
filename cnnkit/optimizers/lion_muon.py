"""Optimizers whose step is normalised rather than scaled by moments: ``Lion`` (the sign of an
interpolated momentum) and ``Muon`` (an orthogonalised momentum for matrices, AdamW for the
rest), with Keras 3's equations and float32 arithmetic.

They take the base arguments of :class:`cnnkit.optimizers.Optimizer` as keywords.

Example:
    >>> import numpy as np
    >>> from cnnkit.autodiff import Variable
    >>> w = Variable(np.array([1.0, 1.0], dtype="float32"), name="w")
    >>> Lion(learning_rate=0.1).apply([np.array([3.0, -0.01], dtype="float32")], [w])
    >>> w.numpy()
    array([0.9, 1.1], dtype=float32)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from cnnkit.autodiff import Variable
from cnnkit.backend import xp
from cnnkit.optimizers.base import Optimizer, check_bool, check_float_in_range, check_non_negative


class Lion(Optimizer):
    """EvoLved sIgn mOmeNtum (Chen et al., 2023)::

        w = w - lr sign(beta_1 m + (1 - beta_1) g)
        m = beta_2 m + (1 - beta_2) g

    Args:
        learning_rate: float or schedule (default 0.001; typically 3-10x smaller than Adam's).
        beta_1: in ``(0, 1]`` (default 0.9); 0 would make it signSGD.
        beta_2: in ``[0, 1]`` (default 0.99).

    Raises:
        ValueError: ``beta_1`` outside ``(0, 1]``.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.99,
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
        self.beta_1 = check_float_in_range("beta_1", beta_1)
        if self.beta_1 == 0:
            raise ValueError(
                "Argument `beta_1` must be in the (0, 1] range. Otherwise, the optimizer "
                f"degenerates to SignSGD. Received: beta_1={beta_1}."
            )
        self.beta_2 = check_float_in_range("beta_2", beta_2)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate) -> None:
        f = variable.data.dtype.type
        beta_1, beta_2 = f(self.beta_1), f(self.beta_2)
        m = self._slot(self._momentums, variable)
        variable.data[...] -= f(learning_rate) * xp.sign(m * beta_1 + gradient * (f(1) - beta_1))
        m[...] = m * beta_2 + gradient * (f(1) - beta_2)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Muon(Optimizer):
    """MomentUm Orthogonalized by Newton-Schulz (Jordan et al., 2024), Keras 3's form.

    2-D weights (except embeddings and ``exclude_layers``) follow Muon::

        m = momentum m + g
        u = g + momentum m  (nesterov)  or  m
        O = NewtonSchulz5(u)   (X = u / (||u||_F + 1e-7), then ns_steps times
                                A = X X^T, X = a X + (b A + c A A) X; on the wider side)
        w = w - lr O sqrt(max(rows, cols)) rms_rate      (no factor when rms_rate is None)

    The others follow AdamW with ``adam_beta_1``, ``adam_beta_2``, ``epsilon`` and the
    learning rate times ``adam_lr_ratio``. Decoupled weight decay uses ``weight_decay`` for
    the Muon weights and ``adam_weight_decay`` for the others.

    Args:
        learning_rate: float or schedule (default 0.001).
        adam_beta_1, adam_beta_2, adam_weight_decay, epsilon: the AdamW part.
        weight_decay: decay of the Muon weights (default 0.004).
        exclude_layers: regular expressions; weights whose path matches one use AdamW.
        exclude_embeddings: weights with "embedding" in their path use AdamW (default True).
        muon_a, muon_b, muon_c: the Newton-Schulz quintic's coefficients.
        adam_lr_ratio: the AdamW learning rate factor (default 1).
        momentum: default 0.95.
        ns_steps: Newton-Schulz iterations (default 5).
        nesterov: default True.
        rms_rate: the Moonlight update scale (default 0.2), or None.
    """

    def __init__(
        self,
        learning_rate=0.001,
        adam_beta_1=0.9,
        adam_beta_2=0.999,
        adam_weight_decay=0.004,
        epsilon=1e-7,
        weight_decay=0.004,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        exclude_layers=None,
        exclude_embeddings=True,
        muon_a=3.4445,
        muon_b=-4.7750,
        muon_c=2.0315,
        adam_lr_ratio=1,
        momentum=0.95,
        ns_steps=5,
        nesterov=True,
        rms_rate=0.2,
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
        self.adam_beta_1 = check_float_in_range("adam_beta_1", adam_beta_1, include_high=False)
        self.adam_beta_2 = check_float_in_range("adam_beta_2", adam_beta_2, include_high=False)
        self.adam_weight_decay = (
            None
            if adam_weight_decay is None
            else check_non_negative("adam_weight_decay", adam_weight_decay)
        )
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.exclude_layers = list(exclude_layers or [])
        self.exclude_embeddings = check_bool("exclude_embeddings", exclude_embeddings)
        self.muon_a, self.muon_b, self.muon_c = float(muon_a), float(muon_b), float(muon_c)
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = check_float_in_range("momentum", momentum)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(
                "Invalid value for argument `ns_steps`. Expected an integer >= 0. "
                f"Received: ns_steps={ns_steps!r}"
            )
        self.ns_steps = ns_steps
        self.nesterov = check_bool("nesterov", nesterov)
        self.rms_rate = rms_rate

    def _should_use_adamw(self, variable) -> bool:
        if len(variable.shape) != 2:
            return True
        path = getattr(variable, "path", None) or variable.name
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(pattern, path) for pattern in self.exclude_layers)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        super().build(var_list)
        self.momentums, self.adam_velocities = [], []
        for var in var_list:
            self.momentums.append(self.add_variable_from_reference(var, "momentum"))
            adam = self._should_use_adamw(var)
            self.adam_velocities.append(
                self.add_variable_from_reference(var, "velocity") if adam else None
            )

    def update_step(self, gradient, variable, learning_rate) -> None:
        i = self._get_variable_index(variable)
        if self.adam_velocities[i] is not None:
            self._adamw_step(gradient, variable, learning_rate * self.adam_lr_ratio, i)
        else:
            self._muon_step(gradient, variable, learning_rate, i)

    def _muon_step(self, gradient, variable, learning_rate, i) -> None:
        f = variable.data.dtype.type
        m = self.momentums[i].data
        m += gradient + m * (f(self.momentum) - f(1))
        u = gradient + f(self.momentum) * m if self.nesterov else m
        update = f(learning_rate) * self.zeropower_via_newtonschulz5(u, self.ns_steps)
        if self.rms_rate is not None:
            update = update * f(math.sqrt(max(update.shape[0], update.shape[1])))
            update = update * f(self.rms_rate)
        variable.data[...] -= update

    def _adamw_step(self, gradient, variable, learning_rate, i) -> None:
        f = variable.data.dtype.type
        t = f(self._local_step())
        lr = f(learning_rate)
        alpha = lr * xp.sqrt(f(1) - f(self.adam_beta_2) ** t) / (f(1) - f(self.adam_beta_1) ** t)
        m, v = self.momentums[i].data, self.adam_velocities[i].data
        m += (gradient - m) * (f(1) - f(self.adam_beta_1))
        v += (gradient * gradient - v) * (f(1) - f(self.adam_beta_2))
        variable.data[...] -= m * alpha / (xp.sqrt(v) + f(self.epsilon))

    def zeropower_via_newtonschulz5(self, x, steps: int):
        """The Newton-Schulz quintic iteration toward the orthogonal factor of ``x`` (2-D+)."""
        if x.ndim < 2:
            raise ValueError(
                "Expected gradient or momentum to have at least 2 dimensions. "
                f"Received: shape={x.shape}"
            )
        f = x.dtype.type
        a, b, c = f(self.muon_a), f(self.muon_b), f(self.muon_c)
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = xp.swapaxes(x, -1, -2)
        norm = xp.sqrt((x * x).sum(axis=(-2, -1), keepdims=True))
        x = x / (norm + f(1e-7))
        for _ in range(steps):
            gram = x @ xp.swapaxes(x, -1, -2)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return xp.swapaxes(x, -1, -2) if tall else x

    def _apply_weight_decay(self, variables, learning_rate) -> None:
        for variable in variables:
            if not self._use_weight_decay(variable):
                continue
            decay = (
                self.adam_weight_decay if self._should_use_adamw(variable) else (self.weight_decay)
            )
            if decay is None:
                continue
            f = variable.data.dtype.type
            w = variable.data
            w[...] = w - w * f(decay) * f(learning_rate)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "adam_beta_1": self.adam_beta_1,
            "adam_beta_2": self.adam_beta_2,
            "epsilon": self.epsilon,
            "exclude_layers": self.exclude_layers,
            "muon_a": self.muon_a,
            "muon_b": self.muon_b,
            "muon_c": self.muon_c,
            "adam_lr_ratio": self.adam_lr_ratio,
            "momentum": self.momentum,
            "ns_steps": self.ns_steps,
            "nesterov": self.nesterov,
            "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay,
            "rms_rate": self.rms_rate,
        }
