"""The optimizer base class: gradient filtering, clipping, weight decay, EMA and step counting.

A concrete optimizer (``SGD``, ``Adam``, ...) only states its per-variable state
(``build``), the scalars it needs once per step (``_step_coefficients``) and how
one variable moves (``_update``). Everything shared lives here and follows
Keras 3's ``BaseOptimizer.apply`` order:

1. drop ``None`` gradients (with Keras's warning), check shapes, cast to the
   variable's dtype;
2. unscale by ``loss_scale_factor``;
3. (gradient accumulation: add to the accumulators and stop here except every
   ``gradient_accumulation_steps``-th call, which uses their mean);
4. clip (``clipnorm`` per gradient, ``global_clipnorm`` over all, or
   ``clipvalue`` elementwise);
5. decoupled weight decay ``w -= w * weight_decay * lr``;
6. the optimizer's own update, in place, in the variable's dtype;
7. exponential moving average of the weights (``use_ema``);
8. ``iterations += 1``.

Updates are in place (``out=``, ``*=``) into the variables' arrays, using two
scratch buffers reused across variables, so a step allocates almost nothing.
Per-step scalars (learning rate, bias corrections) are computed once per step
and dtype, as scalars of the variable's dtype, so no float64 temporaries appear
in float32 training.

Subclassing follows Keras: override ``build`` (call ``super().build`` and create
slots with ``add_variable_from_reference``), ``update_step(gradient, variable,
learning_rate)`` and ``get_config``. The built-in optimizers override the
faster ``_step_coefficients``/``_update`` pair instead.

Deliberate deviations from Keras 3 (numerics otherwise follow its float32 ops):
    - ``clipnorm`` leaves a gradient whose norm is within the limit untouched,
      where Keras computes ``g * c / c`` (equal up to one rounding).
    - Learning rates, momenta and other hyper-parameters may be any real number
      (Keras insists on ``float``); they are validated at construction.
    - A callable learning rate that accepts a positional argument is called with
      the step count (``int``), like a ``LearningRateSchedule``; one that takes no
      argument is called without, like Keras's plain callables.
"""

from __future__ import annotations

import inspect
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import is_real, snake_case
from cnnkit.autodiff import Tensor, Variable
from cnnkit.backend import xp
from cnnkit.kernels.threads import parallel_map, threads_for


class _ScalarVariable(Variable):
    """A 0-d variable that converts like a number: ``int(opt.iterations)``, ``float(lr)``."""

    __slots__ = ()

    def __int__(self) -> int:
        return int(self.data.item())

    def __float__(self) -> float:
        return float(self.data.item())

    def __index__(self) -> int:
        return operator.index(self.data.item())

    def __bool__(self) -> bool:
        return bool(self.data.item())

    def __format__(self, spec: str) -> str:
        return format(self.data.item(), spec)


_ELEMENTWISE_COST = 16
"""An optimizer update's cost per value in the matrix-product FLOPs of
:func:`cnnkit.kernels.threads.threads_for`, set so that updates split from a million values on.
Measured on 2 cores with Adam: 2.26 million values (the VGG-style model) took 4.0-4.3 ms
split against 6.3-7.1 ms whole; 360,000 (the lecture CNN) 0.8 ms split against 0.6-0.75."""


class _VariablePart:
    """Values ``start:stop`` of a variable (flattened), updated by thread ``thread``.

    Stands in for the variable in ``_update``: ``data`` is the slice (a view), and the
    optimizer's ``_slot``/``_workspace`` hand out the matching slices.
    """

    __slots__ = ("variable", "start", "stop", "thread", "data")

    def __init__(self, variable: Variable, start: int, stop: int, thread: int):
        self.variable, self.start, self.stop, self.thread = variable, start, stop, thread
        self.data = variable.data.reshape(-1)[start:stop]


def _split_variables(grads: list, variables: list, threads: int) -> list:
    """``threads`` lists of ``(gradient part, variable part)`` with near-equal value counts.

    The variables are laid end to end and cut into ``threads`` equal runs; a variable
    that straddles a cut is shared by two threads, each updating its own slice.
    """
    total = sum(v.data.size for v in variables)
    cuts = [total * t // threads for t in range(threads + 1)]
    shares: list = [[] for _ in range(threads)]
    offset = 0
    for g, v in zip(grads, variables, strict=True):
        size = v.data.size
        flat = xp.reshape(g, -1)
        for t in range(threads):
            start, stop = max(cuts[t], offset), min(cuts[t + 1], offset + size)
            if start < stop:
                part = _VariablePart(v, start - offset, stop - offset, t)
                shares[t].append((flat[part.start : part.stop], part))
        offset += size
    return shares


class Optimizer:
    """Base class of every optimizer (Keras 3's ``keras.optimizers.Optimizer``).

    Args:
        learning_rate: a non-negative float, or a schedule: any callable that
            takes the step (number of updates done so far, an ``int``) and returns
            the rate, such as ``cnnkit.optimizers.schedules.ExponentialDecay``. A
            callable that takes no argument is called without one.
        weight_decay: if set, decoupled weight decay ``w -= w * weight_decay * lr``
            is applied before each update (see ``exclude_from_weight_decay``).
        clipnorm: if set, each gradient is rescaled so that its L2 norm is at most
            this value.
        clipvalue: if set, each gradient is clipped elementwise to
            ``[-clipvalue, clipvalue]``.
        global_clipnorm: if set, all gradients are rescaled together so that their
            joint L2 norm is at most this value. Only one of ``clipnorm``,
            ``clipvalue`` and ``global_clipnorm`` may be set.
        use_ema: keep an exponential moving average of the weights
            (``average = ema_momentum * average + (1 - ema_momentum) * w``).
        ema_momentum: momentum of that average, in ``[0, 1]``.
        ema_overwrite_frequency: if set, overwrite the weights with their average
            every this many steps; otherwise call ``finalize_variable_values``.
        loss_scale_factor: if set, gradients are divided by it (use
            ``scale_loss`` on the loss).
        gradient_accumulation_steps: if set (an integer >= 2), gradients are
            accumulated and the weights updated with their mean every this many
            calls.
        name: the optimizer's name, used as the prefix of its variables' paths.

    Raises:
        ValueError: on an unknown keyword or an out-of-range argument.
    """

    def __init__(
        self,
        learning_rate,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs,
    ):
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.", stacklevel=2
            )
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")

        self.name = name if name is not None else snake_case(type(self).__name__)
        self.weight_decay = _optional_non_negative("weight_decay", weight_decay)
        self.clipnorm = _optional_non_negative("clipnorm", clipnorm)
        self.clipvalue = _optional_non_negative("clipvalue", clipvalue)
        self.global_clipnorm = _optional_non_negative("global_clipnorm", global_clipnorm)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        self.use_ema = check_bool("use_ema", use_ema)
        if self.use_ema:
            if not is_real(ema_momentum) or not 0 <= ema_momentum <= 1:
                raise ValueError(
                    "`ema_momentum` must be in the range [0, 1]. "
                    f"Received: ema_momentum={ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. "
                    f"Received: ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        self.ema_momentum = float(ema_momentum) if is_real(ema_momentum) else ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if loss_scale_factor is not None and (
            not is_real(loss_scale_factor) or not loss_scale_factor > 0
        ):
            raise ValueError(
                "Invalid value for argument `loss_scale_factor`. Expected a strictly positive "
                f"float or None. Received: loss_scale_factor={loss_scale_factor!r}"
            )
        self.loss_scale_factor = loss_scale_factor
        if gradient_accumulation_steps and (
            not isinstance(gradient_accumulation_steps, int) or not gradient_accumulation_steps >= 2
        ):
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        self.gradient_accumulation_steps = gradient_accumulation_steps

        self.built = False
        self._variables: list[Variable] = []
        self._trainable_variables: list[Variable] = []
        self._trainable_variables_indices: dict[int, int] = {}
        self._workspaces: dict = {}  # dtype -> list of flat scratch buffers
        self._exclude_from_weight_decay: set[int] = set()
        self._exclude_from_weight_decay_pattern: re.Pattern | None = None
        self._exclude_from_weight_decay_cache: dict[int, bool] = {}

        self._iterations = self._scalar_variable(0, "iteration", "int64")
        self._learning_rate = None
        self._lr_takes_step = False
        if callable(learning_rate):
            self._set_schedule(learning_rate)
        else:
            value = _check_learning_rate(learning_rate)
            self._learning_rate = self._scalar_variable(value, "learning_rate", backend.floatx())

    # -- variables --------------------------------------------------------
    def _scalar_variable(self, value, name: str, dtype) -> _ScalarVariable:
        var = _ScalarVariable(value, trainable=False, name=name, dtype=dtype)
        var.path = f"{self.name}/{name}"
        self._variables.append(var)
        return var

    @property
    def variables(self) -> list[Variable]:
        """All optimizer state, in Keras's order: iteration, learning rate, then slots."""
        return self._variables[:]

    @property
    def iterations(self) -> Variable:
        """Number of updates done so far (an int64 variable; ``int(opt.iterations)``)."""
        if self.gradient_accumulation_steps:
            steps = int(self._iterations.data) // self.gradient_accumulation_steps
            return _ScalarVariable(steps, trainable=False, name="iteration", dtype="int64")
        return self._iterations

    def _local_step(self) -> int:
        """The 1-based index of the update being made (``iterations + 1``)."""
        count = int(self._iterations.data)
        if self.gradient_accumulation_steps:
            count //= self.gradient_accumulation_steps
        return count + 1

    def add_variable(
        self,
        shape,
        initializer="zeros",
        dtype=None,
        aggregation: str = "none",
        layout=None,
        name: str | None = None,
    ) -> Variable:
        """Create a non-trainable optimizer variable and track it in ``variables``.

        Args:
            shape: its shape.
            initializer: ``"zeros"``, ``"ones"``, a number (constant fill) or a
                callable ``initializer(shape, dtype=dtype)``.
            dtype: defaults to ``backend.floatx()``.
            aggregation, layout: accepted for Keras compatibility; ignored.
            name: its name; its path is ``"<optimizer name>/<name>"``.
        """
        del aggregation, layout  # single device: nothing to aggregate or lay out
        dtype = xp.dtype(dtype if dtype is not None else backend.floatx())
        shape = tuple(shape)
        if isinstance(initializer, str) and initializer in ("zeros", "ones"):
            value = (xp.zeros if initializer == "zeros" else xp.ones)(shape, dtype=dtype)
        elif is_real(initializer):
            value = xp.full(shape, initializer, dtype=dtype)
        elif callable(initializer):
            value = initializer(shape, dtype=dtype)
        else:
            raise ValueError(
                "Invalid value for argument `initializer`. Expected 'zeros', 'ones', a number "
                f"or a callable. Received: initializer={initializer!r}"
            )
        var = Variable(value, trainable=False, name=name or "variable", dtype=dtype)
        var.path = f"{self.name}/{var.name}"
        self._variables.append(var)
        return var

    def add_variable_from_reference(
        self, reference_variable: Variable, name: str | None = None, initializer="zeros"
    ) -> Variable:
        """An optimizer variable shaped like ``reference_variable``, named after its path."""
        prefix = getattr(reference_variable, "path", None) or str(reference_variable.name)
        full_name = prefix.replace("/", "_").replace(":", "_") + "_" + (name or "var")
        return self.add_variable(
            reference_variable.shape, initializer, dtype=reference_variable.dtype, name=full_name
        )

    def add_optimizer_variables(
        self, trainable_variables: Sequence[Variable], name, initializer="zeros"
    ):
        """One slot per trainable variable for each name (interleaved, as Keras does).

        Returns a list for a single name, a tuple of lists for a list of names.
        """
        names = [name] if isinstance(name, str) else list(name)
        slots: tuple[list[Variable], ...] = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, slot_name in enumerate(names):
                slots[i].append(self.add_variable_from_reference(variable, slot_name, initializer))
        return slots[0] if isinstance(name, str) else slots

    def build(self, variables: Sequence[Variable]) -> None:
        """Create the optimizer state for ``variables`` (called by the first ``apply``).

        Subclasses create their slots after calling ``super().build(variables)``.
        """
        variables = list(variables)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                variables, "average"
            )
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = [
                self.add_variable_from_reference(v, "gradient_accumulator") for v in variables
            ]
        for i, variable in enumerate(variables):
            self._trainable_variables_indices[id(variable)] = i
        self._trainable_variables = variables[:]
        self._reserve_workspace(variables)
        self.built = True

    def _get_variable_index(self, variable: Variable) -> int:
        if isinstance(variable, _VariablePart):
            variable = variable.variable
        return self._trainable_variables_indices[id(variable)]

    def _slot(self, slots: list, variable) -> object:
        """The values of ``variable``'s slot in ``slots`` (its part's slice for a part)."""
        data = slots[self._get_variable_index(variable)].data
        if isinstance(variable, _VariablePart):
            return data.reshape(-1)[variable.start : variable.stop]
        return data

    def _check_variables_are_known(self, variables: Iterable[Variable]) -> None:
        indices = self._trainable_variables_indices
        for v in variables:
            if id(v) not in indices:
                raise ValueError(
                    f"Unknown variable: {v}. This optimizer can only be called for the variables "
                    "it was originally built with. When working with a new set of variables, you "
                    "should recreate a new optimizer instance."
                )

    def set_weights(self, weights: Sequence) -> None:
        """Set ``variables`` from a list of arrays (same order and shapes)."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`."
            )
        weights = list(weights)
        if len(weights) != len(self._variables):
            raise ValueError(
                f"Optimizer '{self.name}' has {len(self._variables)} variables, but "
                f"{len(weights)} weights were provided."
            )
        for variable, weight in zip(self._variables, weights, strict=True):
            weight = xp.asarray(weight)
            if variable.shape != weight.shape:
                raise ValueError(
                    f"Optimizer variable {variable.path} has shape {variable.shape} not "
                    f"compatible with provided weight shape {weight.shape}."
                )
            variable.assign(weight)

    def save_own_variables(self, store) -> None:
        """Write ``variables`` into ``store`` under keys ``"0"``, ``"1"``, ..."""
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store) -> None:
        """Read ``variables`` back from ``store`` (skipped, with a warning, on a count mismatch)."""
        if len(store.keys()) != len(self._variables):
            msg = (
                f"Skipping variable loading for optimizer '{self.name}', because it has "
                f"{len(self._variables)} variables whereas the saved optimizer has "
                f"{len(store.keys())} variables. "
            )
            if len(self._variables) == 0:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, variable in enumerate(self._variables):
            variable.assign(store[str(i)])

    # -- learning rate ----------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate: a float32 scalar variable, or a schedule's current value.

        Settable with a number (``opt.learning_rate = 0.01``, in place, as callbacks
        do) or with a schedule/callable, which replaces the variable.
        """
        if isinstance(self._learning_rate, Variable):
            return self._learning_rate
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if callable(value):
            if isinstance(self._learning_rate, Variable):
                lr = self._learning_rate  # by identity: tensors compare element-wise
                self._variables = [v for v in self._variables if v is not lr]
            self._set_schedule(value)
            return
        if not isinstance(self._learning_rate, Variable):
            raise TypeError(
                "This optimizer was created with a learning rate schedule (a callable) as its "
                "`learning_rate`, hence its learning rate is not settable to a number. If you "
                "need the learning rate to be settable, instantiate the optimizer with a float "
                "`learning_rate`."
            )
        self._learning_rate.data[...] = _check_learning_rate(value)

    def _set_schedule(self, schedule: Callable) -> None:
        self._learning_rate = schedule
        self._lr_takes_step = _takes_positional_argument(schedule)

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return float(lr.data)
        value = lr(int(self._iterations.data)) if self._lr_takes_step else lr()
        return float(backend.to_numpy(value))

    # -- applying gradients -----------------------------------------------
    def apply_gradients(self, grads_and_vars: Iterable) -> Variable:
        """Apply ``(gradient, variable)`` pairs; returns ``iterations`` (as tf.keras did)."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs, strict=True)
            self.apply(grads, variables)
        return self._iterations

    def apply(self, grads: Sequence, trainable_variables: Sequence[Variable] | None = None) -> None:
        """Update ``trainable_variables`` in place from ``grads`` (one per variable).

        Args:
            grads: arrays (or ``None`` for a variable without gradient, skipped with a
                warning), each of its variable's shape.
            trainable_variables: the variables; may be omitted once the optimizer is
                built, to mean the variables it was built with.

        Raises:
            ValueError: unknown variables, mismatched counts or shapes, or no
                gradient at all.
        """
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
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"Received {len(grads)} gradients for {len(variables)} variables; expected one "
                "gradient (or None) per variable."
            )
        if trainable_variables is not None:
            if not self.built:
                self.build(variables)
                self.built = True
            self._check_variables_are_known(variables)

        grads, variables = self._filter_empty_gradients(grads, variables)
        grads = [_as_gradient(g, v) for g, v in zip(grads, variables, strict=True)]
        # Non-finite gradients are applied silently, as Keras does (no RuntimeWarnings).
        with np.errstate(all="ignore"):
            if self.loss_scale_factor is not None:
                grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]
            self._backend_apply_gradients(grads, variables)
        for variable in variables:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))
        self._iterations.data += 1

    def _filter_empty_gradients(self, grads: list, variables: list) -> tuple[list, list]:
        if all(g is not None for g in grads):
            return grads, variables
        missing = [v.path for g, v in zip(grads, variables, strict=True) if g is None]
        kept = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable.")
        warnings.warn(
            f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
            "`model.compile()`, did you forget to provide a `loss` argument?",
            stacklevel=3,
        )
        return [g for g, _ in kept], [v for _, v in kept]

    def _backend_apply_gradients(self, grads: list, variables: list) -> None:
        learning_rate = self._current_learning_rate()
        steps = self.gradient_accumulation_steps
        if steps:
            accumulators = [
                self._accumulated_gradients[self._get_variable_index(v)] for v in variables
            ]
            if (int(self._iterations.data) + 1) % steps == 0:
                grads = [xp.add(g, a.data) for g, a in zip(grads, accumulators, strict=True)]
                for g in grads:
                    g /= g.dtype.type(steps)
                grads = self._clip_gradients(grads)
                self._apply_weight_decay(variables, learning_rate)
                self._backend_update_step(grads, variables, learning_rate)
                for a in self._accumulated_gradients:
                    a.data.fill(0)
            else:
                for g, a in zip(grads, accumulators, strict=True):
                    a.data += g
        else:
            grads = self._clip_gradients(grads)
            self._apply_weight_decay(variables, learning_rate)
            self._backend_update_step(grads, variables, learning_rate)

        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            frequency = self.ema_overwrite_frequency
            if frequency and self._local_step() % frequency == 0:
                self._overwrite_model_variables_with_average_value(self._trainable_variables)

    # Built-in optimizers update slices of a variable independently (every update is
    # elementwise and reads its slots through `_slot` and `_workspace`); a subclass that
    # overrides `update_step` or `_update` in its own way is always run whole.
    _updates_parts = False

    def _backend_update_step(self, grads: list, variables: list, learning_rate: float) -> None:
        step = self._local_step()
        per_dtype: dict = {}
        for v in variables:
            dtype = v.data.dtype
            if dtype not in per_dtype:
                per_dtype[dtype] = self._step_coefficients(learning_rate, step, dtype)
        size = sum(v.data.size for v in variables)
        threads = threads_for(size * _ELEMENTWISE_COST) if self._splits_updates() else 1
        if threads < 2:
            for g, v in zip(grads, variables, strict=True):
                self._update(g, v, per_dtype[v.data.dtype])
            return

        def update(share):
            for g, part in share:
                self._update(g, part, per_dtype[part.data.dtype])

        parallel_map(update, _split_variables(grads, variables, threads))

    def _splits_updates(self) -> bool:
        """Whether the class that defines ``_update`` declared it safe on variable parts."""
        owner = next(k for k in type(self).__mro__ if "_update" in k.__dict__)
        return bool(owner.__dict__.get("_updates_parts", False))

    def _step_coefficients(self, learning_rate: float, step: int, dtype) -> tuple:
        """Scalars shared by every variable of ``dtype`` in one step (built once per step).

        Args:
            learning_rate: the current learning rate.
            step: the 1-based index of this update (``iterations + 1``).
            dtype: the variables' dtype; return scalars of that dtype.
        """
        del step
        return (dtype.type(learning_rate),)

    def _update(self, gradient, variable: Variable, coefficients: tuple) -> None:
        """Move one variable in place. Defaults to Keras's ``update_step`` hook."""
        self.update_step(gradient, variable, coefficients[0])

    def assign(self, variable: Variable, value) -> None:
        """``variable[...] = value`` (Keras's hook for custom optimizers)."""
        variable.assign(value)

    def assign_add(self, variable: Variable, value) -> None:
        """``variable += value`` in place."""
        variable.assign_add(value)

    def assign_sub(self, variable: Variable, value) -> None:
        """``variable -= value`` in place."""
        variable.assign_sub(value)

    def update_step(self, gradient, variable: Variable, learning_rate) -> None:
        """Update one variable from its gradient (Keras's hook for custom optimizers)."""
        if type(self)._update is Optimizer._update:
            raise NotImplementedError(
                f"{type(self).__name__} must implement "
                "`update_step(gradient, variable, learning_rate)`."
            )
        dtype = variable.data.dtype
        coefficients = self._step_coefficients(float(learning_rate), self._local_step(), dtype)
        self._update(_as_gradient(gradient, variable), variable, coefficients)

    def _workspace(self, variable: Variable, count: int) -> list:
        """``count`` scratch arrays shaped like ``variable``, shared across variables.

        Each thread of a parallel update (a :class:`_VariablePart`) has its own.
        """
        data = variable.data
        key = (data.dtype, variable.thread if isinstance(variable, _VariablePart) else 0)
        buffers = self._workspaces.get(key)
        if buffers is None or len(buffers) < count or buffers[0].size < data.size:
            size = max(data.size, buffers[0].size if buffers else 0)
            n = max(count, len(buffers) if buffers else 0)
            buffers = [xp.empty(size, dtype=data.dtype) for _ in range(n)]
            self._workspaces[key] = buffers
        return [b[: data.size].reshape(data.shape) for b in buffers[:count]]

    def _reserve_workspace(self, variables: Sequence[Variable]) -> None:
        """Size the scratch buffers for the largest variable of each dtype (two buffers)."""
        largest: dict = {}
        for v in variables:
            largest[v.data.dtype] = max(largest.get(v.data.dtype, 0), v.data.size)
        for dtype, size in largest.items():
            buffers = self._workspaces.get((dtype, 0))
            if buffers is None or buffers[0].size < size:
                self._workspaces[(dtype, 0)] = [xp.empty(size, dtype=dtype) for _ in range(2)]

    # -- clipping ---------------------------------------------------------
    def _clip_gradients(self, grads: list) -> list:
        if self.clipnorm:
            return [self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm:
            return _clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue:
            limit = self.clipvalue
            return [xp.clip(g, -limit, limit) for g in grads]
        return grads

    def _clip_by_norm(self, gradient):
        squared = float(xp.vdot(gradient, gradient))
        if squared <= self.clipnorm * self.clipnorm:  # within the limit (NaN goes below)
            return gradient
        f = gradient.dtype.type
        clipped = xp.multiply(gradient, f(self.clipnorm))
        clipped /= f(math.sqrt(squared))
        return clipped

    # -- weight decay -----------------------------------------------------
    def exclude_from_weight_decay(
        self, var_list: Sequence[Variable] | None = None, var_names: Sequence[str] | None = None
    ) -> None:
        """Exclude variables from weight decay (call before the optimizer is built).

        Args:
            var_list: variables to exclude.
            var_names: substrings (regular expressions); a variable whose name
                contains any of them is excluded, e.g. ``["bias"]``.
        """
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before "
                "the optimizer is built."
            )
        self._exclude_from_weight_decay = {id(v) for v in var_list} if var_list else set()
        if var_names:
            self._exclude_from_weight_decay_pattern = re.compile("|".join(set(var_names)))
        else:
            self._exclude_from_weight_decay_pattern = None
        self._exclude_from_weight_decay_cache = {}

    def _use_weight_decay(self, variable: Variable) -> bool:
        key = id(variable)
        cached = self._exclude_from_weight_decay_cache.get(key)
        if cached is not None:
            return cached
        pattern = self._exclude_from_weight_decay_pattern
        use = key not in self._exclude_from_weight_decay and not (
            pattern is not None and pattern.search(variable.name) is not None
        )
        self._exclude_from_weight_decay_cache[key] = use
        return use

    def _apply_weight_decay(self, variables: Sequence[Variable], learning_rate: float) -> None:
        if self.weight_decay is None:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                w = variable.data
                f = w.dtype.type
                (tmp,) = self._workspace(variable, 1)
                xp.multiply(w, f(self.weight_decay), out=tmp)  # w - w * wd * lr, as Keras
                tmp *= f(learning_rate)
                w -= tmp

    # -- moving average of the weights ------------------------------------
    def _update_model_variables_moving_average(self, trainable_variables) -> None:
        first_step = self._local_step() == 1
        for variable, average in zip(
            trainable_variables, self._model_variables_moving_average, strict=True
        ):
            if first_step:
                average.data[...] = variable.data
                continue
            f = variable.data.dtype.type
            momentum = f(self.ema_momentum)
            (tmp,) = self._workspace(variable, 1)
            average.data *= momentum
            xp.multiply(variable.data, f(1) - momentum, out=tmp)
            average.data += tmp

    def _overwrite_model_variables_with_average_value(self, trainable_variables) -> None:
        averages = self._model_variables_moving_average
        if len(trainable_variables) != len(averages):
            raise ValueError(
                f"The length of model variables ({len(trainable_variables)}) to override does not "
                f"match the length of model variables stored in the optimizer ({len(averages)}). "
                "Please check if the optimizer was called on your model."
            )
        for variable, average in zip(trainable_variables, averages, strict=True):
            variable.data[...] = average.data

    def finalize_variable_values(self, var_list: Sequence[Variable]) -> None:
        """At the end of training, replace the weights by their moving average (``use_ema``)."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(list(var_list))

    def scale_loss(self, loss):
        """Multiply the loss by ``loss_scale_factor`` (if set) before differentiating it."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    # -- configuration ----------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments, with Keras 3's keys (no state)."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            learning_rate = float(lr.data)
        elif hasattr(lr, "get_config"):
            # cnnkit.saving imports the optimizers: imported at call time
            from cnnkit.saving.serialization import serialize_keras_object

            learning_rate = serialize_keras_object(lr)
        else:
            learning_rate = lr
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """Create an optimizer from ``get_config()`` output (a serialized schedule is rebuilt)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _deserialize_schedule(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# -- helpers ---------------------------------------------------------------
def _as_gradient(gradient, variable: Variable):
    """The gradient as an array of the variable's shape and dtype (never modified in place)."""
    if isinstance(gradient, Tensor):
        gradient = gradient.data
    elif not isinstance(gradient, xp.ndarray):
        gradient = xp.asarray(gradient)
    if gradient.shape != variable.data.shape:
        raise ValueError(
            f"Gradient for variable `{variable.path}` has shape {gradient.shape}, but the "
            f"variable has shape {variable.data.shape}."
        )
    if gradient.dtype != variable.data.dtype:
        gradient = gradient.astype(variable.data.dtype)
    return gradient


def _clip_by_global_norm(grads: list, clip_norm: float) -> list:
    """Rescale all gradients by ``clip_norm / max(global_norm, clip_norm)`` (Keras's formula).

    The scale is computed in each gradient's dtype exactly as Keras does, so an
    infinite or NaN global norm turns every gradient into NaN.
    """
    squared = sum(float(xp.vdot(g, g)) for g in grads)
    clipped = []
    for g in grads:
        f = g.dtype.type
        norm = f(math.sqrt(squared))
        scale = f(clip_norm) * min(f(1) / norm, f(1) / f(clip_norm)) + (norm - norm)
        clipped.append(g if scale == 1 else g * scale)
    return clipped


def _deserialize_schedule(config: dict, custom_objects: dict | None):
    # the package imports this module before its schedules: looked up at call time
    from cnnkit.optimizers import schedules

    return schedules.deserialize(config, custom_objects=custom_objects)


def _takes_positional_argument(fn: Callable) -> bool:
    """Whether ``fn`` can be called with one positional argument (the step)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume a schedule
        return True
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in positional for p in parameters)


def _check_learning_rate(value) -> float:
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if not is_real(value) or not (0 <= value < math.inf):
        raise ValueError(
            "Invalid value for argument `learning_rate`. Expected a non-negative float, or a "
            "schedule (a callable that takes the step and returns the learning rate). "
            f"Received: learning_rate={value!r}"
        )
    return float(value)


def check_float_in_range(
    name: str, value, low: float = 0.0, high: float = 1.0, include_high: bool = True
) -> float:
    """``float(value)`` if it is a real number in ``[low, high]`` (or ``[low, high)``).

    Raises:
        ValueError: naming the argument and echoing the value, Keras style.
    """
    ok = is_real(value) and low <= value and (value <= high if include_high else value < high)
    if not ok:
        bracket = "]" if include_high else ")"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a float in "
            f"[{low:g}, {high:g}{bracket}. Received: {name}={value!r}"
        )
    return float(value)


def check_non_negative(name: str, value) -> float:
    """``float(value)`` if it is a finite real number >= 0, else a ``ValueError``."""
    if not is_real(value) or not (0 <= value < math.inf):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _optional_non_negative(name: str, value) -> float | None:
    if value is None:
        return None
    if not is_real(value) or not (0 <= value < math.inf):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a non-negative float or None. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_bool(name: str, value) -> bool:
    """``bool(value)`` if it is a boolean, else a ``ValueError`` naming the argument."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a boolean. Received: {name}={value!r}"
        )
    return bool(value)
