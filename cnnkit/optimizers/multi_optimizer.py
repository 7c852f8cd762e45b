"""``MultiOptimizer`` and ``OptimizerMap``: a different optimizer for each group of variables
(Keras 3), e.g. a small learning rate for a pre-trained encoder and a larger one for a new head.

``OptimizerMap(default_optimizer, {pattern: optimizer})`` picks, for a variable's ``path``,
the optimizer whose regular expression matches it in full (an exact key first), else the
default. ``MultiOptimizer`` builds each optimizer on its own variables and hands it their
gradients; its ``iterations`` counts its own ``apply`` calls.

Example:
    >>> import numpy as np
    >>> from cnnkit.autodiff import Variable
    >>> from cnnkit.optimizers import SGD
    >>> enc = Variable(np.ones(2, "float32"), name="kernel"); enc.path = "encoder/kernel"
    >>> head = Variable(np.ones(2, "float32"), name="kernel"); head.path = "head/kernel"
    >>> opt = MultiOptimizer(OptimizerMap(SGD(0.1), {"encoder/.*": SGD(0.0)}))
    >>> opt.apply([np.ones(2, "float32"), np.ones(2, "float32")], [enc, head])
    >>> enc.numpy(), head.numpy()
    (array([1., 1.], dtype=float32), array([0.9, 0.9], dtype=float32))
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence

from cnnkit.autodiff import Variable
from cnnkit.optimizers.base import Optimizer
from cnnkit.optimizers.loss_scale_optimizer import LossScaleOptimizer


def _check_inner(optimizer, what: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"{what} must be an Optimizer instance. Received: {optimizer!r}")
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError(f"{what} cannot be a LossScaleOptimizer.")
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError(f"{what} cannot be a MultiOptimizer.")


class OptimizerMap(MutableMapping):
    """Variable path patterns (regular expressions, matched in full) to optimizers.

    Args:
        default_optimizer: the optimizer of the variables no pattern matches.
        optimizer_map: optional ``{pattern: optimizer}``.

    Raises:
        TypeError: a default that is not an optimizer, or a map that is not a dict.
        ValueError: from lookups, a variable that two patterns match.
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(
                f"default_optimizer must be an Optimizer instance. Received: {default_optimizer!r}"
            )
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = dict(optimizer_map or {})

    @property
    def default_optimizer(self) -> Optimizer:
        return self._default_optimizer

    def __getitem__(self, key: str) -> Optimizer:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(
                f"Multiple optimizers assigned to variable {key!r} (patterns {matching})."
            )
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key: str, optimizer) -> None:
        if not isinstance(key, str):
            raise ValueError(f"key must be a string. Received: {key!r}")
        if key in self._optimizer_map:
            raise ValueError(f"{key!r} already exists in the OptimizerMap; keys must be unique.")
        _check_inner(optimizer, "optimizer")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable) -> Optimizer:
        return self[getattr(variable, "path", None) or variable.name]

    def get_config(self) -> dict:
        from cnnkit.optimizers import serialize

        return {
            "default_optimizer": serialize(self._default_optimizer),
            "optimizer_map": {k: serialize(v) for k, v in self._optimizer_map.items()},
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        from cnnkit.optimizers import deserialize

        default = deserialize(config["default_optimizer"], custom_objects=custom_objects)
        mapping = {
            k: deserialize(v, custom_objects=custom_objects)
            for k, v in (config.get("optimizer_map") or {}).items()
        }
        return cls(default, mapping)


class MultiOptimizer(Optimizer):
    """Dispatch each variable's gradient to its own optimizer.

    Args:
        optimizer_map: an :class:`OptimizerMap`, or a callable ``variable -> optimizer``
            (not serialisable).
        loss_scale_factor: set on every inner optimizer.
        name: optional name.

    ``learning_rate`` is not defined on a MultiOptimizer (set it on the inner optimizers).

    Raises:
        ValueError: from ``build``, a variable whose optimizer is not an Optimizer, a
            LossScaleOptimizer or a MultiOptimizer.
    """

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        self._inner_optimizers: list[Optimizer] = []
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        candidates = list(optimizer_map.values()) if hasattr(optimizer_map, "values") else []
        default = getattr(optimizer_map, "default_optimizer", None)
        if default is not None:
            candidates.append(default)
        for opt in candidates:
            if not any(opt is o for o in self._inner_optimizers):
                opt.loss_scale_factor = loss_scale_factor
                self._inner_optimizers.append(opt)

    def build(self, var_list: Sequence[Variable]) -> None:
        if self.built:
            return
        var_list = list(var_list)
        self._var_to_optimizer: dict[int, int] = {}
        groups: list[list] = [[] for _ in self._inner_optimizers]
        for var in var_list:
            opt = self._optimizer_map(var)
            _check_inner(opt, f"The optimizer of variable {getattr(var, 'path', var.name)!r}")
            index = next((i for i, o in enumerate(self._inner_optimizers) if o is opt), None)
            if index is None:
                opt.loss_scale_factor = self.loss_scale_factor
                self._inner_optimizers.append(opt)
                groups.append([])
                index = len(self._inner_optimizers) - 1
            self._var_to_optimizer[id(var)] = index
            groups[index].append(var)
        for opt, variables in zip(self._inner_optimizers, groups, strict=True):
            if variables:
                opt.build(variables)
        super().build(var_list)

    @property
    def optimizers(self) -> list[Optimizer]:
        """The inner optimizers."""
        return self._inner_optimizers

    @property
    def variables(self) -> list[Variable]:
        """Own iteration counter, then every inner optimizer's variables."""
        out = self._variables[:]
        for opt in self._inner_optimizers:
            out.extend(opt.variables)
        return out

    @property
    def learning_rate(self):
        if not hasattr(self, "_optimizer_map"):  # the base constructor's placeholder
            return Optimizer.learning_rate.fget(self)
        raise AttributeError(
            "Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate "
            "on the individual sub-optimizers instead."
        )

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        raise AttributeError(
            "Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the "
            "individual sub-optimizers instead."
        )

    @property
    def loss_scale_factor(self):
        return getattr(self, "_loss_scale_factor", None)

    @loss_scale_factor.setter
    def loss_scale_factor(self, value) -> None:
        self._loss_scale_factor = value
        for opt in getattr(self, "_inner_optimizers", []):
            opt.loss_scale_factor = value

    def apply(self, grads: Sequence, trainable_variables: Sequence[Variable] | None = None) -> None:
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first."
                )
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                "Gradients must match trainable variables one-to-one. Received "
                f"{len(grads)} gradients and {len(trainable_variables)} variables."
            )
        self._check_variables_are_known(trainable_variables)
        groups: list[list] = [[] for _ in self._inner_optimizers]
        for grad, var in zip(grads, trainable_variables, strict=True):
            groups[self._var_to_optimizer[id(var)]].append((grad, var))
        for opt, pairs in zip(self._inner_optimizers, groups, strict=True):
            if pairs:
                opt.apply([g for g, _ in pairs], [v for _, v in pairs])
        self._iterations.data += 1

    def finalize_variable_values(self, var_list) -> None:
        groups: list[list] = [[] for _ in self._inner_optimizers]
        for var in var_list:
            groups[self._var_to_optimizer[id(var)]].append(var)
        for opt, variables in zip(self._inner_optimizers, groups, strict=True):
            if variables:
                opt.finalize_variable_values(variables)

    def set_weights(self, weights) -> None:
        if not self.built:
            Optimizer.set_weights(self, weights)  # raises the "not built" error
        weights = list(weights)
        own = len(self._variables)
        for variable, weight in zip(self._variables, weights[:own], strict=True):
            variable.assign(weight)
        start = own
        for opt in self._inner_optimizers:
            count = len(opt.variables)
            if count:
                opt.set_weights(weights[start : start + count])
                start += count

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
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise ValueError(
                "A MultiOptimizer built from a callable cannot be serialized; use an OptimizerMap."
            )
        return {
            "optimizer_map": {
                "module": "keras.optimizers",
                "class_name": "OptimizerMap",
                "config": self._optimizer_map.get_config(),
                "registered_name": None,
            },
            "loss_scale_factor": self.loss_scale_factor,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        mapping = config["optimizer_map"]
        if isinstance(mapping, dict) and "config" in mapping:
            mapping = OptimizerMap.from_config(mapping["config"], custom_objects)
        config["optimizer_map"] = mapping
        return cls(**config)
