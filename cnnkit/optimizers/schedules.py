"""Learning rate schedules: the learning rate as a function of the optimizer step.

Pass a schedule as an optimizer's ``learning_rate``; before each update the
optimizer calls it with the number of updates done so far (``0`` for the first
update) and uses the result::

    schedule = ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    optimizer = cnnkit.optimizers.SGD(learning_rate=schedule)

The formulas are Keras 3's (``keras.optimizers.schedules``), evaluated in
float32 operation by operation as Keras does for a Python-float
``initial_learning_rate``, so every value is the float32 Keras returns (up to
one rounding of ``pow``/``log``/``cos``, which libm and XLA may round
differently). A schedule returns a NumPy ``float32`` scalar.

Deliberate deviations from Keras 3:
    - Arguments are validated at construction (learning rates and rates must be
      finite and non-negative, ``alpha`` in ``[0, 1]``, ``boundaries`` strictly
      increasing, ...); Keras only checks ``decay_steps > 0`` and the lengths
      of ``boundaries``/``values``.
    - The result is always float32; Keras computes in the dtype of
      ``initial_learning_rate`` (int32 when it is a Python ``int``, which makes
      integer schedules such as ``CosineDecay(0, ...)`` round oddly there).
    - ``serialize``/``deserialize`` use a fixed table of the classes below plus
      ``custom_objects``; nothing is imported or evaluated by name.

Example:
    >>> schedule = PiecewiseConstantDecay(boundaries=[2, 4], values=[0.1, 0.01, 0.001])
    >>> [round(float(schedule(step)), 4) for step in range(6)]
    [0.1, 0.1, 0.1, 0.01, 0.01, 0.001]
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import is_real

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]

_f32 = np.float32
_PI = _f32(math.pi)


class LearningRateSchedule:
    """Base class of learning rate schedules (Keras 3's ``LearningRateSchedule``).

    A subclass implements ``__call__(step)``, returning the learning rate for
    ``step`` (the number of optimizer updates done so far), and ``get_config``
    returning its constructor arguments, so that ``from_config`` and
    ``serialize``/``deserialize`` can rebuild it.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate / 2 ** int(step)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
        >>> Halving.from_config({"initial_learning_rate": 1.0})(3)
        0.125
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
            "order to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict):
        """Instantiate the schedule from ``get_config()`` output."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """Exponential decay of the learning rate.

    ``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)``,
    with ``step // decay_steps`` (a floored quotient) when ``staircase=True``.

    Args:
        initial_learning_rate: the rate at step 0 (a non-negative float).
        decay_steps: a positive number of steps over which the rate is
            multiplied by ``decay_rate``.
        decay_rate: the multiplier per ``decay_steps`` steps (non-negative).
        staircase: decay at discrete intervals (every ``decay_steps`` steps).
        name: the schedule's name (kept for Keras compatibility).

    Returns:
        A callable ``schedule(step)`` returning a float32 learning rate.

    Raises:
        ValueError: for a non-positive ``decay_steps`` or another invalid argument.

    Example:
        >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> [float(schedule(s)) for s in (0, 9, 10, 25)]
        [0.10000000149011612, 0.10000000149011612, 0.05000000074505806, 0.02500000037252903]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        super().__init__()
        self.initial_learning_rate = _check_rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_positive_steps("decay_steps", decay_steps)
        self.decay_rate = _check_rate("decay_rate", decay_rate)
        self.staircase = _check_bool("staircase", staircase)
        self.name = _check_name(name)

    def __call__(self, step):
        lr = _f32(self.initial_learning_rate)
        p = _step(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return lr * np.power(_f32(self.decay_rate), p)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A piecewise constant learning rate (step decay).

    ``lr(step) = values[0]`` for ``step <= boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` for
    ``step > boundaries[-1]``.

    Args:
        boundaries: strictly increasing step numbers (at least one).
        values: the learning rates, one more than ``boundaries``.
        name: the schedule's name (kept for Keras compatibility).

    Returns:
        A callable ``schedule(step)`` returning a float32 learning rate.

    Raises:
        ValueError: when ``len(boundaries) != len(values) - 1``, the boundaries
            are not strictly increasing, or a value is not a non-negative number.

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> [float(schedule(s)) for s in (100, 101, 200, 201)]
        [1.0, 0.5, 0.5, 0.10000000149011612]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        super().__init__()
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ValueError(
                "Arguments `boundaries` and `values` must be lists. "
                f"Received: boundaries={boundaries!r}, values={values!r}"
            )
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        if not boundaries:
            raise ValueError(
                "Argument `boundaries` must hold at least one step. Received: boundaries=[]"
            )
        for b in boundaries:
            if not is_real(b) or not math.isfinite(b):
                raise ValueError(
                    "Invalid value for argument `boundaries`. Expected finite numbers. "
                    f"Received: boundaries={boundaries}"
                )
        if any(b >= c for b, c in zip(boundaries[:-1], boundaries[1:])):
            raise ValueError(
                "Invalid value for argument `boundaries`. Expected strictly increasing steps. "
                f"Received: boundaries={boundaries}"
            )
        for v in values:
            _check_rate("values", v, received=values)
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = _check_name(name)

    def __call__(self, step):
        step = _raw_step(step)
        if isinstance(step, numbers.Integral):
            # Keras casts the boundaries to the step's (integer) dtype: truncation.
            boundaries = [int(b) for b in self.boundaries]
        else:
            boundaries = self.boundaries
        index = 0
        while index < len(boundaries) and step > boundaries[index]:
            index += 1
        return _f32(self.values[index])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate``.

    ``lr(step) = (initial - end) * (1 - s / decay_steps) ** power + end`` with
    ``s = min(step, decay_steps)``. With ``cycle=True`` the decay restarts: the
    denominator becomes ``decay_steps * ceil(step / decay_steps)`` (``decay_steps``
    at step 0) and ``s = step``.

    Args:
        initial_learning_rate: the rate at step 0 (non-negative).
        decay_steps: a positive number of steps to reach ``end_learning_rate``.
        end_learning_rate: the final rate (non-negative).
        power: the exponent of the polynomial (non-negative; ``1.0`` is linear).
        cycle: restart the decay every ``decay_steps`` steps.
        name: the schedule's name (kept for Keras compatibility).

    Returns:
        A callable ``schedule(step)`` returning a float32 learning rate.

    Raises:
        ValueError: for a non-positive ``decay_steps`` or another invalid argument.

    Example:
        >>> schedule = PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0)
        >>> [float(schedule(s)) for s in (0, 1, 2, 4, 8)]
        [1.0, 0.75, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        super().__init__()
        self.initial_learning_rate = _check_rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_positive_steps("decay_steps", decay_steps)
        self.end_learning_rate = _check_rate("end_learning_rate", end_learning_rate)
        self.power = _check_rate("power", power)
        self.cycle = _check_bool("cycle", cycle)
        self.name = _check_name(name)

    def __call__(self, step):
        lr = _f32(self.initial_learning_rate)
        end = _f32(self.end_learning_rate)
        power = _f32(self.power)
        s = _step(step)
        decay_steps = _f32(self.decay_steps)
        if self.cycle:
            # The first multiple of decay_steps at or above the step (1 at step 0).
            multiplier = _f32(1.0) if s == 0 else np.ceil(s / decay_steps)
            decay_steps = decay_steps * multiplier
        else:
            s = np.minimum(s, decay_steps)
        p = s / decay_steps
        return (lr - end) * np.power(_f32(1) - p, power) + end

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """Inverse time decay: ``lr(step) = initial / (1 + decay_rate * step / decay_steps)``.

    With ``staircase=True`` the quotient ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the rate at step 0 (non-negative).
        decay_steps: a positive number of steps (the time unit of the decay).
        decay_rate: the decay rate (non-negative).
        staircase: decay at discrete intervals (every ``decay_steps`` steps).
        name: the schedule's name (kept for Keras compatibility).

    Returns:
        A callable ``schedule(step)`` returning a float32 learning rate.

    Raises:
        ValueError: for a non-positive ``decay_steps`` or another invalid argument.

    Example:
        >>> schedule = InverseTimeDecay(1.0, decay_steps=1.0, decay_rate=0.5)
        >>> [float(schedule(s)) for s in (0, 2, 6)]
        [1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        super().__init__()
        self.initial_learning_rate = _check_rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_positive_steps("decay_steps", decay_steps)
        self.decay_rate = _check_rate("decay_rate", decay_rate)
        self.staircase = _check_bool("staircase", staircase)
        self.name = _check_name(name)

    def __call__(self, step):
        lr = _f32(self.initial_learning_rate)
        p = _step(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return lr / (_f32(1) + _f32(self.decay_rate) * p)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter, SGDR, ICLR 2017), with an optional linear warmup.

    Without warmup (``warmup_target=None``), with ``s = min(step, decay_steps)``::

        lr(step) = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps))
                                            + alpha)

    With warmup (Goyal et al., 2017), for ``step < warmup_steps`` the rate grows
    linearly from ``initial_learning_rate`` to ``warmup_target``::

        lr(step) = initial_learning_rate + (warmup_target - initial_learning_rate)
                                           * step / warmup_steps

    then decays as above from ``warmup_target``, with
    ``s = min(step, warmup_steps + decay_steps) - warmup_steps``.

    Args:
        initial_learning_rate: the rate at step 0 (non-negative).
        decay_steps: a positive number of steps to decay over.
        alpha: the final rate as a fraction of the decay's starting rate, in ``[0, 1]``.
        name: the schedule's name (kept for Keras compatibility).
        warmup_target: the rate reached at the end of the warmup, or ``None``
            for no warmup.
        warmup_steps: the number of warmup steps (non-negative).

    Returns:
        A callable ``schedule(step)`` returning a float32 learning rate.

    Raises:
        ValueError: for a non-positive ``decay_steps`` or another invalid argument.

    Example:
        >>> schedule = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
        >>> [round(float(schedule(s)), 4) for s in (0, 2, 4, 9, 14, 99)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        super().__init__()
        self.initial_learning_rate = _check_rate("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _check_positive_steps("decay_steps", decay_steps)
        self.alpha = _check_fraction("alpha", alpha)
        self.name = _check_name(name)
        if warmup_target is not None:
            _check_rate("warmup_target", warmup_target)
        self.warmup_target = warmup_target
        self.warmup_steps = _check_rate("warmup_steps", warmup_steps, what="number of steps")

    def _decay(self, step, decay_steps, decay_from):
        completed_fraction = step / decay_steps
        cosine_decayed = _f32(0.5) * (_f32(1) + np.cos(_PI * completed_fraction))
        decayed = _f32(1 - self.alpha) * cosine_decayed + _f32(self.alpha)
        return decay_from * decayed

    def __call__(self, step):
        lr = _f32(self.initial_learning_rate)
        decay_steps = _f32(self.decay_steps)
        s = _step(step)
        if self.warmup_target is None:
            return self._decay(np.minimum(s, decay_steps), decay_steps, lr)
        target = _f32(self.warmup_target)
        warmup_steps = _f32(self.warmup_steps)
        s = np.minimum(s, decay_steps + warmup_steps)
        if s < warmup_steps:
            return (target - lr) * (s / warmup_steps) + lr
        return self._decay(s - warmup_steps, decay_steps, target)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter, ICLR 2017).

    The multiplier decays from 1 to ``alpha`` over ``first_decay_steps`` steps;
    then the decay restarts, each period ``t_mul`` times longer than the last and
    starting from ``m_mul`` times the previous starting rate. In period ``i``
    (``i = 0, 1, ...``), at fraction ``f`` of that period::

        lr(step) = initial_learning_rate * ((1 - alpha) * m_mul**i * 0.5 * (1 + cos(pi * f))
                                            + alpha)

    The period is found as Keras does: ``i = floor(log(1 - c * (1 - t_mul)) / log(t_mul))``
    with ``c = step / first_decay_steps`` (``i = floor(c)`` when ``t_mul == 1``).
    With ``t_mul < 1`` the periods add up to ``first_decay_steps / (1 - t_mul)``
    steps, after which the rate is NaN, as in Keras.

    Args:
        initial_learning_rate: the rate at step 0 (non-negative).
        first_decay_steps: a positive number of steps in the first period.
        t_mul: the growth factor of the period lengths (positive).
        m_mul: the factor applied to the starting rate at each restart (non-negative).
        alpha: the minimum rate as a fraction of ``initial_learning_rate``, in ``[0, 1]``.
        name: the schedule's name (kept for Keras compatibility).

    Returns:
        A callable ``schedule(step)`` returning a float32 learning rate.

    Raises:
        ValueError: for a non-positive ``first_decay_steps`` or another invalid argument.

    Example:
        >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=2.0, m_mul=0.5)
        >>> [round(float(schedule(s)), 4) for s in (0, 2, 4, 8, 12)]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        super().__init__()
        self.initial_learning_rate = _check_rate("initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _check_positive_steps("first_decay_steps", first_decay_steps)
        if not is_real(t_mul) or not (0 < t_mul < math.inf):
            raise ValueError(
                "Invalid value for argument `t_mul`. Expected a strictly positive float. "
                f"Received: t_mul={t_mul!r}"
            )
        self.t_mul = t_mul
        self.m_mul = _check_rate("m_mul", m_mul)
        self.alpha = _check_fraction("alpha", alpha)
        self.name = _check_name(name)

    def __call__(self, step):
        lr = _f32(self.initial_learning_rate)
        alpha = _f32(self.alpha)
        t_mul = _f32(self.t_mul)
        m_mul = _f32(self.m_mul)
        completed_fraction = _step(step) / _f32(self.first_decay_steps)
        with np.errstate(invalid="ignore", divide="ignore"):  # t_mul < 1 past the last period
            if t_mul == 1:
                i_restart = np.floor(completed_fraction)
                completed_fraction = completed_fraction - i_restart
            else:
                one = _f32(1)
                i_restart = np.floor(
                    np.log(one - completed_fraction * (one - t_mul)) / np.log(t_mul)
                )
                sum_r = (one - np.power(t_mul, i_restart)) / (one - t_mul)
                completed_fraction = (completed_fraction - sum_r) / np.power(t_mul, i_restart)
            m_fac = np.power(m_mul, i_restart)
        cosine_decayed = _f32(0.5) * m_fac * (_f32(1) + np.cos(_PI * completed_fraction))
        decayed = (_f32(1) - alpha) * cosine_decayed + alpha
        return lr * decayed

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


# Names accepted by `deserialize`: a fixed table, nothing is looked up by reflection.
ALL_OBJECTS_DICT: dict[str, type[LearningRateSchedule]] = {
    "ExponentialDecay": ExponentialDecay,
    "PiecewiseConstantDecay": PiecewiseConstantDecay,
    "PolynomialDecay": PolynomialDecay,
    "InverseTimeDecay": InverseTimeDecay,
    "CosineDecay": CosineDecay,
    "CosineDecayRestarts": CosineDecayRestarts,
}


def serialize(learning_rate_schedule: LearningRateSchedule) -> dict:
    """The schedule's class and configuration, in Keras 3's serialized layout.

    Raises:
        ValueError: the argument is not a ``LearningRateSchedule``.

    Example:
        >>> serialize(ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96))["class_name"]
        'ExponentialDecay'
    """
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise ValueError(
            "Invalid value for argument `learning_rate_schedule`. Expected a "
            f"LearningRateSchedule instance. Received: {learning_rate_schedule!r}"
        )
    # cnnkit.saving imports this package: imported at call time
    from cnnkit.saving.serialization import serialize_keras_object

    return serialize_keras_object(learning_rate_schedule)


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """Rebuild a schedule from ``serialize`` output.

    Args:
        config: a dict with ``"class_name"`` and ``"config"``.
        custom_objects: optional ``{name: class}`` for schedules defined elsewhere.

    Raises:
        ValueError: the dict lacks ``"class_name"`` or names an unknown schedule.

    Example:
        >>> config = {"class_name": "PolynomialDecay",
        ...           "config": {"initial_learning_rate": 0.1, "decay_steps": 100}}
        >>> float(deserialize(config)(100))
        9.999999747378752e-05
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Invalid value for argument `config`. Expected a dict with keys 'class_name' and "
            f"'config'. Received: config={config!r}"
        )
    # cnnkit.saving imports this package: imported at call time
    from cnnkit.saving.serialization import deserialize_family_object

    def unknown(class_name):
        return ValueError(
            f"Could not interpret learning rate schedule identifier: {class_name!r}. Expected "
            f"one of {sorted(ALL_OBJECTS_DICT)} or a name in `custom_objects`."
        )

    return deserialize_family_object(config, ALL_OBJECTS_DICT, custom_objects, unknown)


# -- helpers ---------------------------------------------------------------
def _raw_step(step):
    """The step as a Python number (accepts ints, floats, 0-d arrays and Variables)."""
    data = getattr(step, "data", step)
    value = np.asarray(backend.to_numpy(data))
    if value.size != 1:
        raise ValueError(f"Expected a scalar step. Received an array of shape {value.shape}.")
    return value.reshape(()).item()


def _step(step) -> np.float32:
    return _f32(_raw_step(step))


def _check_rate(name: str, value, what: str = "float", received=None):
    if not is_real(value) or not (0 <= value < math.inf):
        shown = value if received is None else received
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a non-negative {what}. "
            f"Received: {name}={shown!r}"
        )
    return value


def _check_fraction(name: str, value):
    if not is_real(value) or not (0 <= value <= 1):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a float in [0, 1]. "
            f"Received: {name}={value!r}"
        )
    return value


def _check_positive_steps(name: str, value):
    if not is_real(value) or not (0 < value < math.inf):
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")
    return value


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a boolean. Received: {name}={value!r}"
        )
    return bool(value)


def _check_name(value):
    if value is not None and not isinstance(value, str):
        raise ValueError(
            f"Invalid value for argument `name`. Expected a string. Received: name={value!r}"
        )
    return value
