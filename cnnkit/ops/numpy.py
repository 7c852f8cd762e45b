"""Keras 3's ``keras.ops.numpy``: NumPy-like ops with Keras's dtype rules, differentiable.

Every op takes NumPy arrays, Python scalars and cnnkit Tensors. Arrays in give arrays out
(as Keras's NumPy backend); a Tensor in gives a Tensor out, recorded for backpropagation when
an input requires a gradient. Dtypes follow :mod:`cnnkit.ops.dtypes` (Keras's promotion
lattice; Python scalars are weak: ``int8 array + 1`` stays ``int8``).

Gradients are table-driven (see :mod:`cnnkit.kernels.generic`): an element-wise op is a
NumPy function and a derivative rule; an op that only moves elements (``transpose``,
``take``, ``pad``, ``where``, ``sort``...) differentiates by tracking where each element
went; reductions carry a rule on kept-dims shapes; contractions are einsums. Ops with integer
or boolean results (comparisons, ``argmax``, ``argsort``...) give constants; float results with
no gradient (``histogram``, ``nanmedian``...) raise if a gradient is requested through them.

Example:
    >>> import numpy as np
    >>> from cnnkit.ops import numpy as knp
    >>> knp.add(np.array([1, 2], dtype="int8"), 1).dtype
    dtype('int8')
    >>> knp.mean(np.arange(4)).item()
    1.5
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from cnnkit.autodiff import Add, Div, MatMul, Mean, Mul, Sub, Sum, Tensor
from cnnkit.kernels.generic import Cumulative, Einsum
from cnnkit.ops import dtypes
from cnnkit.ops._dispatch import (
    cast_input,
    data,
    elementwise,
    gather,
    make_symbolic,
    no_grad_result,
    permuting,
    recording,
    reduce,
    reshaping,
    standardize_axis,
    to_array,
    wrap,
)

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _dt(x) -> str | type:
    """An input's dtype for promotion: Python scalars are weak (``int``/``float``)."""
    if isinstance(x, (int, float)) and not isinstance(x, (bool, np.generic)):
        return int if isinstance(x, int) else float
    if isinstance(x, (Tensor, np.ndarray, np.generic)):
        return dtypes.standardize_dtype(x.dtype)
    return dtypes.standardize_dtype(to_array(x).dtype)


def _strong(x) -> str:
    """An input's dtype as an array (a Python int is int32, a float floatx)."""
    d = _dt(x)
    if d is int:
        return "int32"
    if d is float:
        return dtypes.standardize_dtype(None)
    return d


def _float_dtype(x) -> str:
    return dtypes.float_of(_strong(x))


def _make(name, fn, doc):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


# --------------------------------------------------------------------------------------------
# Element-wise unary ops: name -> (NumPy function, derivative dy/dx from (x, y) or None).
# ``_FLOAT_UNARY`` compute in float (int and bool inputs become floatx);
# ``_SAME_UNARY`` keep the input dtype (bool becomes int32 where arithmetic needs it).
# --------------------------------------------------------------------------------------------


def _erf(x):
    from cnnkit.kernels.activations import erf

    return erf(x).astype(x.dtype, copy=False)


def _erfc(x):
    from cnnkit.kernels.activations import erfc

    return erfc(x).astype(x.dtype, copy=False)


def _erfinv(x):
    from scipy.special import erfinv

    return erfinv(x).astype(x.dtype, copy=False)


def _i0(x):
    from scipy.special import i0

    return i0(x).astype(x.dtype, copy=False)


def _i1(x):
    from scipy.special import i1

    return i1(x).astype(x.dtype, copy=False)


def _sinc_grad(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (np.cos(np.pi * x) - y) / x
    return np.where(x == 0, 0.0, d).astype(x.dtype)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

_FLOAT_UNARY = {
    "sin": (np.sin, lambda x, y: np.cos(x)),
    "cos": (np.cos, lambda x, y: -np.sin(x)),
    "tan": (np.tan, lambda x, y: 1 + y * y),
    "arcsin": (np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x)),
    "arccos": (np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x)),
    "arctan": (np.arctan, lambda x, y: 1 / (1 + x * x)),
    "sinh": (np.sinh, lambda x, y: np.cosh(x)),
    "cosh": (np.cosh, lambda x, y: np.sinh(x)),
    "tanh": (np.tanh, lambda x, y: 1 - y * y),
    "arcsinh": (np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1)),
    "arccosh": (np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1)),
    "arctanh": (np.arctanh, lambda x, y: 1 / (1 - x * x)),
    "exp": (np.exp, lambda x, y: y),
    "exp2": (np.exp2, lambda x, y: y * _LN2),
    "expm1": (np.expm1, lambda x, y: y + 1),
    "log": (np.log, lambda x, y: 1 / x),
    "log2": (np.log2, lambda x, y: 1 / (x * _LN2)),
    "log10": (np.log10, lambda x, y: 1 / (x * _LN10)),
    "log1p": (np.log1p, lambda x, y: 1 / (1 + x)),
    "sqrt": (np.sqrt, lambda x, y: 0.5 / y),
    "cbrt": (np.cbrt, lambda x, y: 1 / (3 * y * y)),
    "reciprocal": (np.reciprocal, lambda x, y: -y * y),
    "deg2rad": (np.deg2rad, lambda x, y: np.full_like(x, np.pi / 180)),
    "rad2deg": (np.rad2deg, lambda x, y: np.full_like(x, 180 / np.pi)),
    "sinc": (np.sinc, _sinc_grad),
    "i0": (_i0, lambda x, y: _i1(x)),
    "fabs": (np.fabs, lambda x, y: np.sign(x)),
    "floor": (np.floor, lambda x, y: np.zeros_like(x)),
    "ceil": (np.ceil, lambda x, y: np.zeros_like(x)),
    # Keras's ops.math
    "erf": (_erf, lambda x, y: _TWO_OVER_SQRT_PI * np.exp(-x * x)),
    "erfc": (_erfc, lambda x, y: -_TWO_OVER_SQRT_PI * np.exp(-x * x)),
    "erfinv": (_erfinv, lambda x, y: np.exp(y * y) / _TWO_OVER_SQRT_PI),
    "rsqrt": (lambda x: 1 / np.sqrt(x), lambda x, y: -0.5 * y * y * y),
}


_INT64_TO_FLOAT64 = ("cbrt", "deg2rad", "rad2deg", "i0")  # as Keras: exact for large ints


def _float_unary(name):
    f, d = _FLOAT_UNARY[name]

    def op(x):
        dtype = _float_dtype(x)
        if name in _INT64_TO_FLOAT64 and _strong(x) == "int64":
            dtype = "float64"
        with np.errstate(all="ignore"):
            return elementwise(name, f, lambda g, y, a: g * d(a, y), x, dtype=dtype)

    return _make(name, op, f"Element-wise ``{name}``; int and bool inputs compute in floatx.")


sin = _float_unary("sin")
cos = _float_unary("cos")
tan = _float_unary("tan")
arcsin = _float_unary("arcsin")
arccos = _float_unary("arccos")
arctan = _float_unary("arctan")
sinh = _float_unary("sinh")
cosh = _float_unary("cosh")
tanh = _float_unary("tanh")
arcsinh = _float_unary("arcsinh")
arccosh = _float_unary("arccosh")
arctanh = _float_unary("arctanh")
exp = _float_unary("exp")
exp2 = _float_unary("exp2")
expm1 = _float_unary("expm1")
log = _float_unary("log")
log2 = _float_unary("log2")
log10 = _float_unary("log10")
log1p = _float_unary("log1p")
sqrt = _float_unary("sqrt")
cbrt = _float_unary("cbrt")
reciprocal = _float_unary("reciprocal")
deg2rad = _float_unary("deg2rad")
rad2deg = _float_unary("rad2deg")
sinc = _float_unary("sinc")
i0 = _float_unary("i0")
fabs = _float_unary("fabs")
floor = _float_unary("floor")
ceil = _float_unary("ceil")
erf = _float_unary("erf")
erfc = _float_unary("erfc")
erfinv = _float_unary("erfinv")
rsqrt = _float_unary("rsqrt")

_SAME_UNARY = {
    "abs": (np.abs, lambda x, y: np.sign(x)),
    "negative": (np.negative, lambda x, y: -np.ones_like(x)),
    "square": (np.square, lambda x, y: 2 * x),
    "sign": (np.sign, None),
    "trunc": (np.trunc, None),
}


def _same_unary(name):
    f, d = _SAME_UNARY[name]
    rule = None if d is None else (lambda g, y, a: g * d(a, y))

    def op(x):
        dtype = _strong(x)
        if dtype == "bool" and name in ("square", "negative"):
            dtype = "int32"
        if dtype == "bool" and name == "sign":  # Keras: the sign of a bool is itself
            return elementwise(name, np.copy, None, x, dtype="bool")
        if rule is None and "float" in dtype and recording(x):  # piecewise constant: zero slope
            return elementwise(name, f, lambda g, y, a: np.zeros_like(g), x, dtype=dtype)
        return elementwise(name, f, rule, x, dtype=dtype)

    return _make(name, op, f"Element-wise ``{name}``, keeping the input dtype.")


abs = _same_unary("abs")
negative = _same_unary("negative")
square = _same_unary("square")
sign = _same_unary("sign")
trunc = _same_unary("trunc")

absolute = _make("absolute", lambda x: abs(x), "Element-wise absolute value (alias of ``abs``).")


def round(x, decimals=0):
    """Round half to even to ``decimals`` places (zero gradient), keeping the dtype."""
    dtype = _strong(x)
    if dtype == "bool":
        dtype = "int32"
    rule = (lambda g, y, a: np.zeros_like(g)) if "float" in dtype else None
    return elementwise("round", lambda a: np.round(a, decimals), rule, x, dtype=dtype)


def _bool_unary(name, f):
    def op(x):
        return elementwise(name, lambda a: f(a), None, x, dtype=_strong(x))

    return _make(name, op, f"Element-wise ``{name}``: a boolean array.")


isnan = _bool_unary("isnan", np.isnan)
isinf = _bool_unary("isinf", np.isinf)
isfinite = _bool_unary("isfinite", np.isfinite)
isneginf = _bool_unary("isneginf", np.isneginf)
isposinf = _bool_unary("isposinf", np.isposinf)
signbit = _bool_unary("signbit", np.signbit)
logical_not = _bool_unary("logical_not", np.logical_not)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """Replace NaN and infinities; the gradient flows through the finite elements."""
    return elementwise(
        "nan_to_num",
        lambda a: np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf),
        lambda g, y, a: g * np.isfinite(a),
        x,
        dtype=_strong(x),
    )


# --------------------------------------------------------------------------------------------
# Element-wise binary ops: name -> (NumPy function, rule (g, y, a, b) -> (ga, gb), kind).
# kind "same": compute in the promoted dtype; "float": in float (ints promote to floatx);
# "int": integer/bool inputs only.
# --------------------------------------------------------------------------------------------


def _maximum_rule(g, y, a, b):
    win, tie = (a > b), (a == b)
    return g * (win + 0.5 * tie), g * ((~win & ~tie) + 0.5 * tie)


def _minimum_rule(g, y, a, b):
    win, tie = (a < b), (a == b)
    return g * (win + 0.5 * tie), g * ((~win & ~tie) + 0.5 * tie)


def _power_rule(g, y, a, b):
    with np.errstate(all="ignore"):
        ga = g * b * np.power(a, b - 1) if a.dtype.kind == "f" else None
        gb = g * y * np.log(np.where(a > 0, a, 1)) if b.dtype.kind == "f" else None
    return ga, gb


def _divide_no_nan(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0, a / np.where(b == 0, 1, b)).astype(a.dtype)


def _divide_no_nan_rule(g, y, a, b):
    safe = np.where(b == 0, 1, b)
    return np.where(b == 0, 0, g / safe), np.where(b == 0, 0, -g * y / safe)


_BINARY = {
    "add": (np.add, lambda g, y, a, b: (g, g), "same"),
    "subtract": (np.subtract, lambda g, y, a, b: (g, -g), "same"),
    "multiply": (np.multiply, lambda g, y, a, b: (g * b, g * a), "same"),
    "divide": (np.true_divide, lambda g, y, a, b: (g / b, -g * y / b), "float"),
    "true_divide": (np.true_divide, lambda g, y, a, b: (g / b, -g * y / b), "float"),
    "divide_no_nan": (_divide_no_nan, _divide_no_nan_rule, "float"),
    "power": (np.power, _power_rule, "same"),
    "maximum": (np.maximum, _maximum_rule, "same"),
    "minimum": (np.minimum, _minimum_rule, "same"),
    "fmax": (np.fmax, _maximum_rule, "same"),
    "fmin": (np.fmin, _minimum_rule, "same"),
    "mod": (np.mod, lambda g, y, a, b: (g, -g * np.floor(a / b)), "same"),
    "fmod": (np.fmod, lambda g, y, a, b: (g, -g * np.trunc(a / b)), "same"),
    "floor_divide": (np.floor_divide, None, "same"),
    "arctan2": (
        np.arctan2,
        lambda g, y, a, b: (g * b / (a * a + b * b), -g * a / (a * a + b * b)),
        "float",
    ),
    "hypot": (np.hypot, lambda g, y, a, b: (g * a / y, g * b / y), "float"),
    "logaddexp": (
        np.logaddexp,
        lambda g, y, a, b: (g * np.exp(a - y), g * np.exp(b - y)),
        "float",
    ),
    "logaddexp2": (
        np.logaddexp2,
        lambda g, y, a, b: (g * np.exp2(a - y), g * np.exp2(b - y)),
        "float",
    ),
    "heaviside": (np.heaviside, None, "float"),
    "nextafter": (np.nextafter, None, "float"),
    "gcd": (np.gcd, None, "int"),
    "lcm": (np.lcm, None, "int"),
    "bitwise_and": (np.bitwise_and, None, "int"),
    "bitwise_or": (np.bitwise_or, None, "int"),
    "bitwise_xor": (np.bitwise_xor, None, "int"),
    "bitwise_left_shift": (np.left_shift, None, "int"),
    "bitwise_right_shift": (np.right_shift, None, "int"),
    "left_shift": (np.left_shift, None, "int"),
    "right_shift": (np.right_shift, None, "int"),
}


# the engine's own Functions (they keep less for backward than a generic rule)
_ARITHMETIC = {"add": Add, "subtract": Sub, "multiply": Mul, "divide": Div, "true_divide": Div}
_STRONG_SCALARS = ("arctan2", "hypot", "logaddexp", "logaddexp2", "heaviside")


def _binary(name):
    f, rule, kind = _BINARY[name]

    def op(x1, x2):
        if name == "heaviside" and _strong(x1) == _strong(x2) == "bool":
            return elementwise(name, lambda a, b: np.where(a, True, b), None, x1, x2, dtype="bool")
        if name in _STRONG_SCALARS:  # Keras converts Python scalars to arrays first here
            dtype = dtypes.promote_types(_strong(x1), _strong(x2), float)
        elif kind == "float":
            dtype = dtypes.promote_types(_dt(x1), _dt(x2), float)
        else:
            dtype = dtypes.promote_types(_dt(x1), _dt(x2))
            if kind == "int" and ("float" in dtype):
                raise TypeError(
                    f"`ops.{name}` expects integer or boolean inputs. Received: "
                    f"x1.dtype={_strong(x1)}, x2.dtype={_strong(x2)}"
                )
        if dtype == "bool" and name in ("subtract", "power", "mod", "fmod"):
            dtype = "int32"
        if name in _ARITHMETIC and "float" in dtype and recording(x1, x2):
            return _ARITHMETIC[name].apply(cast_input(x1, dtype), cast_input(x2, dtype))
        with np.errstate(all="ignore"):
            return elementwise(name, f, rule, x1, x2, dtype=dtype)

    if "shift" in name or "bitwise" in name:  # Keras names these operands x and y

        def int_op(x, y):
            return op(x, y)

        return _make(name, int_op, f"Element-wise ``{name}`` of integer or boolean inputs.")
    return _make(name, op, f"Element-wise ``{name}`` of two broadcast inputs (Keras dtypes).")


add = _binary("add")
subtract = _binary("subtract")
multiply = _binary("multiply")
divide = _binary("divide")
true_divide = _binary("true_divide")
divide_no_nan = _binary("divide_no_nan")
power = _binary("power")
maximum = _binary("maximum")
minimum = _binary("minimum")
fmax = _binary("fmax")
fmin = _binary("fmin")
mod = _binary("mod")
fmod = _binary("fmod")
floor_divide = _binary("floor_divide")
arctan2 = _binary("arctan2")
hypot = _binary("hypot")
logaddexp = _binary("logaddexp")
logaddexp2 = _binary("logaddexp2")
heaviside = _binary("heaviside")
nextafter = _binary("nextafter")
gcd = _binary("gcd")
lcm = _binary("lcm")
bitwise_and = _binary("bitwise_and")
bitwise_or = _binary("bitwise_or")
bitwise_xor = _binary("bitwise_xor")
bitwise_left_shift = _binary("bitwise_left_shift")
bitwise_right_shift = _binary("bitwise_right_shift")
left_shift = _binary("left_shift")
right_shift = _binary("right_shift")


def bitwise_invert(x):
    """Bitwise NOT of integer or boolean ``x``."""
    return elementwise("bitwise_invert", np.invert, None, x, dtype=_strong(x))


bitwise_not = _make("bitwise_not", lambda x: bitwise_invert(x), "Alias of ``bitwise_invert``.")


def ldexp(x1, x2):
    """``x1 * 2**x2`` (``x2`` an integer array); differentiable in ``x1``."""
    if "float" in _strong(x2):
        raise TypeError(f"`ops.ldexp` expects an integer `x2`. Received: x2.dtype={_strong(x2)}")
    return _ldexp(x1, x2, _float_dtype(x1))


def _ldexp(x1, x2, dtype):
    b = to_array(data(x2)).astype(np.int32)
    return elementwise(
        "ldexp",
        lambda a: np.ldexp(a, b).astype(dtype),
        lambda g, y, a: g * np.exp2(b).astype(a.dtype),
        x1,
        dtype=dtype,
    )


def _comparison(name, f):
    def op(x1, x2):
        dtype = dtypes.promote_types(_dt(x1), _dt(x2))
        return elementwise(name, f, None, x1, x2, dtype=dtype)

    return _make(name, op, f"Element-wise ``{name}``: a boolean array.")


equal = _comparison("equal", np.equal)
not_equal = _comparison("not_equal", np.not_equal)
greater = _comparison("greater", np.greater)
greater_equal = _comparison("greater_equal", np.greater_equal)
less = _comparison("less", np.less)
less_equal = _comparison("less_equal", np.less_equal)
logical_and = _comparison("logical_and", np.logical_and)
logical_or = _comparison("logical_or", np.logical_or)
logical_xor = _comparison("logical_xor", np.logical_xor)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Element-wise ``|x1 - x2| <= atol + rtol * |x2|``: a boolean array."""
    dtype = dtypes.promote_types(_dt(x1), _dt(x2))
    return elementwise(
        "isclose",
        lambda a, b: np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan),
        None,
        x1,
        x2,
        dtype=dtype,
    )


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every element is close (see :func:`isclose`): a boolean scalar."""
    return all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def clip(x, x_min, x_max):
    """Limit values to ``[x_min, x_max]``; the gradient flows where ``x`` is inside."""
    dtype = _strong(x)
    if dtype == "bool":
        dtype = "int32"
    lo, hi = data(x_min), data(x_max)
    return elementwise(
        "clip",
        lambda a: np.clip(a, lo, hi).astype(dtype),
        lambda g, y, a: g * ((a >= lo) & (a <= hi)),
        x,
        dtype=dtype,
    )


# --------------------------------------------------------------------------------------------
# Ops that only move elements: differentiable through Gather.
# --------------------------------------------------------------------------------------------


def _promoted(xs):
    """Inputs cast to their common dtype (for concatenation-like ops)."""
    dtype = dtypes.promote_types(*[_dt(x) for x in xs]) if xs else dtypes.standardize_dtype(None)
    return [cast_input(x, dtype) for x in xs], dtype


def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one entry may be -1)."""
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    newshape = tuple(-1 if d is None else int(d) for d in newshape)
    return reshaping(lambda a: np.reshape(a, newshape), x)


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None)."""
    axes = None if axes is None else tuple(int(a) for a in axes)
    return permuting(lambda a: np.transpose(a, axes), x)


def swapaxes(x, axis1, axis2):
    """Interchange two axes."""
    return permuting(lambda a: np.swapaxes(a, axis1, axis2), x)


def moveaxis(x, source, destination):
    """Move axes to new positions."""
    return permuting(lambda a: np.moveaxis(a, source, destination), x)


def expand_dims(x, axis):
    """Insert length-1 axes at ``axis`` (an int or a tuple)."""
    axis = standardize_axis(axis)
    return reshaping(lambda a: np.expand_dims(a, axis), x)


def squeeze(x, axis=None):
    """Remove length-1 axes (all of them, or those in ``axis``)."""
    axis = standardize_axis(axis)
    return reshaping(lambda a: np.squeeze(a, axis=axis), x)


def ravel(x):
    """``x`` flattened to 1-D."""
    return reshaping(np.ravel, x)


def copy(x):
    """A copy of ``x``."""
    return gather(np.copy, x)


def flip(x, axis=None):
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    axis = standardize_axis(axis)
    return gather(lambda a: np.flip(a, axis=axis), x)


def fliplr(x):
    """Reverse along axis 1."""
    return gather(np.fliplr, x)


def flipud(x):
    """Reverse along axis 0."""
    return gather(np.flipud, x)


def rot90(array, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    return gather(lambda a: np.rot90(a, k=k, axes=tuple(axes)), array)


def roll(x, shift, axis=None):
    """Roll elements along ``axis`` (the flattened array when None)."""
    axis = standardize_axis(axis)
    return gather(lambda a: np.roll(a, shift, axis=axis), x)


def tile(x, repeats):
    """Repeat the whole array ``repeats`` times along each axis."""
    repeats = data(repeats)
    return gather(lambda a: np.tile(a, repeats), x)


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times (flattened first when ``axis`` is None)."""
    repeats = to_array(repeats) if not isinstance(repeats, int) else repeats
    return gather(lambda a: np.repeat(a, repeats, axis=axis), x)


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (a copy)."""
    shape = tuple(int(d) for d in shape)
    return gather(lambda a: np.array(np.broadcast_to(a, shape)), x)


def concatenate(xs, axis=0):
    """Join arrays along an existing axis (``axis=None`` flattens them first)."""
    xs, _ = _promoted(list(xs))
    return gather(lambda *a: np.concatenate(a, axis=axis), *xs)


def stack(x, axis=0):
    """Join arrays along a new axis."""
    xs, _ = _promoted(list(x))
    return gather(lambda *a: np.stack(a, axis=axis), *xs)


def hstack(xs):
    """Stack horizontally (column-wise)."""
    xs, _ = _promoted(list(xs))
    return gather(lambda *a: np.hstack(a), *xs)


def vstack(xs):
    """Stack vertically (row-wise)."""
    xs, _ = _promoted(list(xs))
    return gather(lambda *a: np.vstack(a), *xs)


def dstack(xs):
    """Stack along the third axis."""
    xs, _ = _promoted(list(xs))
    return gather(lambda *a: np.dstack(a), *xs)


def append(x1, x2, axis=None):
    """``x2`` appended to ``x1`` (both flattened when ``axis`` is None)."""
    dtype = dtypes.promote_types(_strong(x1), _strong(x2))
    a, b = cast_input(x1, dtype), cast_input(x2, dtype)
    return gather(lambda u, v: np.append(u, v, axis=axis), a, b)


def _split_with(splitter, x, indices_or_sections, axis=None):
    indices_or_sections = data(indices_or_sections)
    kwargs = {} if axis is None else {"axis": axis}
    pieces = splitter(to_array(data(x)), indices_or_sections, **kwargs)
    return [
        gather(lambda a, i=i: splitter(a, indices_or_sections, **kwargs)[i], x)
        for i in builtins.range(len(pieces))
    ]


def split(x, indices_or_sections, axis=0):
    """Split into equal sections or at the given indices: a list of arrays."""
    return _split_with(np.split, x, indices_or_sections, axis)


def array_split(x, indices_or_sections, axis=0):
    """Like :func:`split`, allowing sections of unequal size."""
    return _split_with(np.array_split, x, indices_or_sections, axis)


def hsplit(x, indices_or_sections):
    """Split along axis 1 (axis 0 for 1-D inputs)."""
    return _split_with(np.hsplit, x, indices_or_sections)


def vsplit(x, indices_or_sections):
    """Split along axis 0."""
    return _split_with(np.vsplit, x, indices_or_sections)


def dsplit(x, indices_or_sections):
    """Split along axis 2."""
    return _split_with(np.dsplit, x, indices_or_sections)


def _index(indices):
    """Indices as an integer array (Tensors and lists accepted)."""
    return to_array(data(indices))


def take(x, indices, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (the flattened array when None).

    Negative indices count from the end.
    """
    idx = _index(indices)
    return gather(lambda a: np.take(a, idx, axis=axis), x)


def take_along_axis(x, indices, axis=None):
    """Elements picked along ``axis`` by an index array of matching rank."""
    idx = _index(indices)
    if axis is None:
        return gather(lambda a: np.take_along_axis(a.reshape(-1), idx.reshape(-1), 0), x)
    return gather(
        lambda a: np.take_along_axis(a, np.broadcast_to(idx, _bshape(a, idx, axis)), axis), x
    )


def _bshape(a, idx, axis):
    shape = list(np.broadcast_shapes(a.shape, idx.shape))
    shape[axis] = idx.shape[axis]
    return tuple(shape)


def _key(key):
    if isinstance(key, tuple):
        return tuple(_key(k) for k in key)
    if isinstance(key, (Tensor, list)):
        return to_array(data(key))
    return key


def get_item(x, key):
    """``x[key]`` (integers, slices, ``None``, ellipsis, integer or boolean arrays)."""
    key = _key(key)
    return gather(lambda a: a[key], x)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal of the ``(axis1, axis2)`` planes, moved to the last axis."""
    return gather(lambda a: np.diagonal(a, offset, axis1, axis2).copy(), x)


def diag(x, k=0):
    """The ``k``-th diagonal of a 2-D array, or a 2-D array with 1-D ``x`` on its diagonal."""
    return gather(lambda a: np.diag(a, k).copy(), x)


def diagflat(x, k=0):
    """A 2-D array with the flattened ``x`` on its ``k``-th diagonal."""
    return gather(lambda a: np.diagflat(a, k), x)


def tril(x, k=0):
    """The lower triangle of the last two axes (elements above diagonal ``k`` zeroed)."""
    return gather(lambda a: np.tril(a, k), x)


def triu(x, k=0):
    """The upper triangle of the last two axes (elements below diagonal ``k`` zeroed)."""
    return gather(lambda a: np.triu(a, k), x)


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad ``x``; ``mode`` is one of constant, edge, reflect, symmetric, wrap...

    Raises:
        ValueError: when ``constant_values`` is given with a mode other than constant.
    """
    if constant_values is not None and mode != "constant":
        raise ValueError(
            "Argument `constant_values` can only be provided when `mode == 'constant'`. "
            f"Received: mode={mode}"
        )
    pad_width = (
        to_array(pad_width).astype(int).tolist() if not isinstance(pad_width, int) else pad_width
    )
    if mode == "constant":
        value = 0 if constant_values is None else data(constant_values)
        return gather(
            lambda a: np.pad(a, pad_width, mode="constant", constant_values=value),
            x,
            f_index=lambda p: np.pad(p, pad_width, mode="constant", constant_values=0),
        )
    return gather(lambda a: np.pad(a, pad_width, mode=mode), x)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with one argument, ``nonzero(condition)``.

    Raises:
        ValueError: when only one of ``x1`` and ``x2`` is given.
    """
    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError(
            "`x1` and `x2` either both should be `None` or both should have non-None value."
        )
    cond = to_array(data(condition)).astype(bool)
    (a, b), _ = _promoted([x1, x2])
    return gather(lambda u, v: np.where(cond, u, v), a, b)


def select(condlist, choicelist, default=0):
    """Elements of ``choicelist`` chosen by the first true condition; ``default`` elsewhere."""
    conds = [to_array(data(c)).astype(bool) for c in condlist]
    choices, dtype = _promoted(list(choicelist) + [default])
    return gather(
        lambda *a: np.select(conds, a[:-1], a[-1]),
        *choices,
    )


def _sort_index(x, axis):
    order = np.argsort(to_array(data(x)), axis=axis, kind="stable")
    return order


def sort(x, axis=-1):
    """Sorted values along ``axis`` (the gradient follows each element to its place)."""
    if axis is None:
        return sort(ravel(x), axis=-1)
    order = _sort_index(x, axis)
    return gather(
        lambda a: np.take_along_axis(a, order, axis),
        x,
    )


def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (int32)."""
    if axis is None:
        return argsort(ravel(x), axis=-1)
    return no_grad_result(
        "argsort", lambda a: np.argsort(a, axis=axis, kind="stable").astype("int32"), x
    )


def argpartition(x, kth, axis=-1):
    """Indices that partition ``x`` around its ``kth`` element (int32)."""
    return no_grad_result(
        "argpartition", lambda a: np.argpartition(a, kth, axis=axis).astype("int32"), x
    )


def meshgrid(*x, indexing="xy"):
    """Coordinate matrices from coordinate vectors: a list of arrays."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Argument `indexing` must be 'xy' or 'ij'. Received: indexing={indexing}")
    xs, _ = _promoted(list(x))
    n = len(xs)
    return [
        gather(lambda *a, i=i: np.meshgrid(*a, indexing=indexing)[i].copy(), *xs)
        for i in builtins.range(n)
    ]


# --------------------------------------------------------------------------------------------
# Reductions.
# --------------------------------------------------------------------------------------------


def _ties(g, y, x):
    mask = x == y
    return g * mask / mask.sum(axis=_axes_of(x, y), keepdims=True)


def _axes_of(x, y):
    """The reduced axes: where the kept-dims result is 1 and the input is not."""
    return tuple(i for i, (a, b) in enumerate(zip(x.shape, y.shape)) if b == 1 and a != 1) or None


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis``; bool/int8/int16 sum in int32, uint8/uint16 in uint32."""
    axis = standardize_axis(axis)
    dtype = _strong(x)
    dtype = {"bool": "int32", "int8": "int32", "int16": "int32"}.get(dtype, dtype)
    dtype = {"uint8": "uint32", "uint16": "uint32"}.get(dtype, dtype)
    x = cast_input(x, dtype)
    if recording(x):
        return Sum.apply(x, axis=axis, keepdims=keepdims)
    return wrap(np.asarray(np.sum(data(x), axis=axis, keepdims=keepdims, dtype=dtype)), x)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``; int and bool inputs average in floatx."""
    axis = standardize_axis(axis)
    x = cast_input(x, _float_dtype(x))
    if recording(x):
        return Mean.apply(x, axis=axis, keepdims=keepdims)
    return wrap(np.asarray(np.mean(data(x), axis=axis, keepdims=keepdims)), x)


def _max_min(name, f):
    def op(x, axis=None, keepdims=False, initial=None):
        axis = standardize_axis(axis)
        x = cast_input(x, _strong(x))

        def fn(a, axis=None, keepdims=False):
            return f(a, axis=axis, keepdims=keepdims, initial=initial)

        rule = _ties if "float" in _strong(x) else None
        return reduce(fn, rule, x, axis, keepdims)

    return _make(name, op, f"``{name}`` over ``axis`` (ties share the gradient).")


max = _max_min("max", np.max)
min = _max_min("min", np.min)


def amax(x, axis=None, keepdims=False):
    """Maximum over ``axis`` (alias of :func:`max`)."""
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    """Minimum over ``axis`` (alias of :func:`min`)."""
    return min(x, axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis``; bool/int8/int16 multiply in int32 unless ``dtype`` is given."""
    axis = standardize_axis(axis)
    if dtype is None:
        dtype = _strong(x)
        dtype = {"bool": "int32", "int8": "int32", "int16": "int32"}.get(dtype, dtype)
        dtype = {"uint8": "uint32", "uint16": "uint32"}.get(dtype, dtype)
    dtype = dtypes.standardize_dtype(dtype)

    def rule(g, y, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(a != 0, y / np.where(a != 0, a, 1), 0)
        # an element whose siblings hold exactly one zero: the product of those siblings
        zeros = (a == 0).sum(axis=_axes_of(a, y), keepdims=True)
        if np.any(zeros == 1):
            others = np.prod(np.where(a == 0, 1, a), axis=_axes_of(a, y), keepdims=True)
            ratio = np.where((a == 0) & (zeros == 1), others, ratio)
        return g * ratio

    def f(a, axis=None, keepdims=False):
        return np.prod(a, axis=axis, keepdims=keepdims, dtype=a.dtype)

    return reduce(f, rule if "float" in dtype else None, x, axis, keepdims, dtype=dtype)


def _var_rule(ddof=0):
    def rule(g, y, x):
        axes = _axes_of(x, y)
        n = x.size // y.size
        m = x.mean(axis=axes, keepdims=True)
        return g * 2 * (x - m) / (n - ddof)

    return rule


def var(x, axis=None, keepdims=False):
    """Variance (``ddof=0``) over ``axis``; ints compute in floatx."""
    axis = standardize_axis(axis)
    return reduce(np.var, _var_rule(), x, axis, keepdims, dtype=_float_dtype(x))


def std(x, axis=None, keepdims=False):
    """Standard deviation (``ddof=0``) over ``axis``; ints compute in floatx."""
    axis = standardize_axis(axis)

    def rule(g, y, a):
        return _var_rule()(g, y, a) / (2 * y)

    return reduce(np.std, rule, x, axis, keepdims, dtype=_float_dtype(x))


def ptp(x, axis=None, keepdims=False):
    """Range (maximum minus minimum) over ``axis``."""
    return subtract(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def _bool_reduce(name, f):
    def op(x, axis=None, keepdims=False):
        axis = standardize_axis(axis)
        return no_grad_result(name, lambda a: np.asarray(f(a, axis=axis, keepdims=keepdims)), x)

    return _make(name, op, f"Whether {name} element(s) along ``axis`` are true.")


all = _bool_reduce("all", np.all)
any = _bool_reduce("any", np.any)


def _arg_reduce(name, f):
    def op(x, axis=None, keepdims=False):
        def fn(a):
            if axis is None and keepdims:
                return f(a.reshape(-1)).reshape((1,) * a.ndim).astype("int32")
            return np.asarray(f(a, axis=axis, keepdims=keepdims)).astype("int32")

        return no_grad_result(name, fn, x)

    return _make(name, op, f"``{name}`` over ``axis`` (int32 indices).")


argmax = _arg_reduce("argmax", np.argmax)
argmin = _arg_reduce("argmin", np.argmin)
nanargmax = _arg_reduce("nanargmax", np.nanargmax)
nanargmin = _arg_reduce("nanargmin", np.nanargmin)


def count_nonzero(x, axis=None):
    """How many elements along ``axis`` are non-zero (int32)."""
    axis = standardize_axis(axis)
    return no_grad_result(
        "count_nonzero", lambda a: np.asarray(np.count_nonzero(a, axis=axis)).astype("int32"), x
    )


def average(x, axis=None, weights=None):
    """Weighted average over ``axis`` (plain mean without ``weights``)."""
    if weights is None:
        return mean(x, axis=axis)
    dtype = dtypes.promote_types(_dt(x), _dt(weights), float)
    x, weights = cast_input(x, dtype), cast_input(weights, dtype)
    if axis is not None and to_array(data(weights)).ndim == 1 and to_array(data(x)).ndim > 1:
        shape = [1] * to_array(data(x)).ndim
        shape[axis] = -1
        weights = reshape(weights, shape)
    return divide(
        sum(multiply(x, weights), axis=axis), sum(multiply(ones_like(x), weights), axis=axis)
    )


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along ``axis`` (the flattened array when None); bool sums in int32."""
    return _cumulative(x, axis, dtype, product=False)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product along ``axis`` (the flattened array when None)."""
    return _cumulative(x, axis, dtype, product=True)


def _cumulative(x, axis, dtype, product):
    dtype = dtypes.standardize_dtype(dtype) if dtype is not None else _strong(x)
    if dtype == "bool":
        dtype = "int32"
    x = cast_input(x, dtype)
    if axis is None:
        x, axis = ravel(x), 0
    if recording(x) and "float" in dtype:
        return Cumulative.apply(x, axis=axis, product=product)
    f = np.cumprod if product else np.cumsum
    name = "cumprod" if product else "cumsum"
    return no_grad_result(name, lambda a: f(a, axis=axis).astype(dtype), x)


def nancumsum(x, axis=None, dtype=None):
    """Cumulative sum treating NaN as 0."""
    return cumsum(_nan_fill(x, 0), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    """Cumulative product treating NaN as 1."""
    return cumprod(_nan_fill(x, 1), axis=axis, dtype=dtype)


def _nan_fill(x, value):
    if "float" not in _strong(x):
        return x
    mask = np.isnan(to_array(data(x)))
    return where(mask, full_like(x, value), x)


def nansum(x, axis=None, keepdims=False):
    """Sum treating NaN as 0."""
    return sum(_nan_fill(x, 0), axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    """Product treating NaN as 1."""
    return prod(_nan_fill(x, 1), axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    """Mean over the non-NaN elements (NaN where every element is NaN)."""
    x = cast_input(x, _float_dtype(x))
    count = np.sum(~np.isnan(to_array(data(x))), axis=standardize_axis(axis), keepdims=keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        return divide(nansum(x, axis=axis, keepdims=keepdims), count.astype(_strong(x)))


def nanvar(x, axis=None, keepdims=False):
    """Variance over the non-NaN elements."""
    x = cast_input(x, _float_dtype(x))
    m = nanmean(x, axis=standardize_axis(axis), keepdims=True)
    return nanmean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def nanstd(x, axis=None, keepdims=False):
    """Standard deviation over the non-NaN elements."""
    return sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def nanmax(x, axis=None, keepdims=False):
    """Maximum ignoring NaN (NaN where every element is NaN)."""
    return _nan_extreme(x, axis, keepdims, max, -np.inf)


def nanmin(x, axis=None, keepdims=False):
    """Minimum ignoring NaN (NaN where every element is NaN)."""
    return _nan_extreme(x, axis, keepdims, min, np.inf)


def _nan_extreme(x, axis, keepdims, f, fill):
    if "float" not in _strong(x):
        return f(x, axis=axis, keepdims=keepdims)
    axis = standardize_axis(axis)
    arr = to_array(data(x))
    all_nan = np.all(np.isnan(arr), axis=axis, keepdims=keepdims)
    out = f(_nan_fill_value(x, fill), axis=axis, keepdims=keepdims)
    if np.any(all_nan):
        out = where(all_nan, full_like(out, np.nan), out)
    return out


def _nan_fill_value(x, value):
    mask = np.isnan(to_array(data(x)))
    return where(mask, full_like(x, value), x)


def _quantile_method(method):
    if method not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(
            "Argument `method` must be one of 'linear', 'lower', 'higher', 'midpoint', "
            f"'nearest'. Received: method={method}"
        )
    return method


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (``q`` in [0, 1]) over ``axis``; differentiable (linear method).

    The result's leading axes index ``q`` when it is an array, as in NumPy.
    """
    method = _quantile_method(method)
    qs = np.asarray(data(q), dtype=np.float64)
    dtype = _float_dtype(x)
    if not recording(x):
        arr = to_array(data(x)).astype(dtype)
        out = np.quantile(arr, qs, axis=standardize_axis(axis), method=method, keepdims=keepdims)
        return wrap(np.asarray(out).astype(dtype), x)
    # sorted values and an interpolation between two of them: built from differentiable ops
    axis = standardize_axis(axis)
    x = cast_input(x, dtype)
    ndim = to_array(data(x)).ndim
    axes = (
        tuple(builtins.range(ndim))
        if axis is None
        else (axis if isinstance(axis, tuple) else (axis,))
    )
    axes = tuple(a % ndim for a in axes)
    keep = [a for a in builtins.range(ndim) if a not in axes]
    moved = transpose(x, keep + list(axes))
    kept_shape = [to_array(data(x)).shape[a] for a in keep]
    flat = reshape(moved, kept_shape + [-1])
    n = flat.shape[-1]
    s = sort(flat, axis=-1)
    pos = qs * (n - 1)
    lo, hi = np.floor(pos).astype(int), np.ceil(pos).astype(int)
    frac = pos - lo
    if method == "lower":
        hi, frac = lo, frac * 0
    elif method == "higher":
        lo, frac = hi, frac * 0
    elif method == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    elif method == "nearest":
        near = np.round(pos).astype(int)
        lo, hi, frac = near, near, frac * 0
    a = take(s, lo.reshape(-1), axis=-1)
    b = take(s, hi.reshape(-1), axis=-1)
    f = frac.reshape(-1).astype(dtype)
    out = add(multiply(a, 1 - f), multiply(b, f))  # (..., len(q))
    out = moveaxis(out, -1, 0)
    out = reshape(out, list(qs.shape) + kept_shape)
    if keepdims:
        for ax in sorted(axes):
            out = expand_dims(out, ax + qs.ndim)
    return out


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (``q`` in [0, 100]) over ``axis``."""
    return quantile(
        x,
        np.asarray(data(q), dtype=np.float64) / 100.0,
        axis=axis,
        method=method,
        keepdims=keepdims,
    )


def median(x, axis=None, keepdims=False):
    """The median over ``axis``."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def _nan_stat(name, f):
    def op(x, *args, **kwargs):
        def fn(a):
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    return np.asarray(f(a, *args, **kwargs)).astype(dtypes.float_of(a.dtype))

        return no_grad_result(name, fn, x)

    return op


def nanmedian(x, axis=None, keepdims=False):
    """The median ignoring NaN (no gradient)."""
    return _nan_stat("nanmedian", np.nanmedian)(x, axis=standardize_axis(axis), keepdims=keepdims)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """Quantiles ignoring NaN (no gradient)."""
    qs = to_array(data(q))
    return _nan_stat("nanquantile", np.nanquantile)(
        x, qs, axis=standardize_axis(axis), method=_quantile_method(method), keepdims=keepdims
    )


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """Percentiles ignoring NaN (no gradient)."""
    qs = to_array(data(q))
    return _nan_stat("nanpercentile", np.nanpercentile)(
        x, qs, axis=standardize_axis(axis), method=_quantile_method(method), keepdims=keepdims
    )


# --------------------------------------------------------------------------------------------
# Products and contractions.
# --------------------------------------------------------------------------------------------


def _contract_dtype(*xs, widen=True):
    """Python scalars count as arrays; ``matmul``/``einsum`` multiply int8 in int32 (as Keras)."""
    dtype = dtypes.promote_types(*[_strong(x) for x in xs])
    return "int32" if widen and dtype == "int8" else dtype


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation over ``operands`` (differentiable for distinct indices per operand)."""
    return _einsum(subscripts, *operands, widen=True)


def _einsum(subscripts, *operands, widen):
    dtype = _contract_dtype(*operands, widen=widen)
    ops_ = [cast_input(x, dtype) for x in operands]
    if recording(*ops_):
        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in ops_]
        return Einsum.apply(*tensors, subscripts=subscripts)
    return wrap(np.asarray(np.einsum(subscripts, *[data(x) for x in ops_])), *operands)


def matmul(x1, x2):
    """Matrix product with NumPy's ``matmul`` broadcasting (ints multiply in int32+)."""
    dtype = _contract_dtype(x1, x2)
    a, b = cast_input(x1, dtype), cast_input(x2, dtype)
    if recording(a, b):
        return MatMul.apply(a, b)
    return wrap(np.asarray(np.matmul(data(a), data(b))), x1, x2)


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int, or a pair of axis lists)."""
    n1, n2 = to_array(data(x1)).ndim, to_array(data(x2)).ndim
    if isinstance(axes, int):
        a_axes = list(builtins.range(n1 - axes, n1))
        b_axes = list(builtins.range(axes))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, int) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, int) else list(b_axes)
    a_axes = [a % n1 for a in a_axes]
    b_axes = [b % n2 for b in b_axes]
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in builtins.range(n1)]
    sb = [next(letters) for _ in builtins.range(n2)]
    for i, j in zip(a_axes, b_axes):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in a_axes] + [
        c for j, c in enumerate(sb) if j not in b_axes
    ]
    return _einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", x1, x2, widen=False)


def dot(x1, x2):
    """NumPy's ``dot``: products for scalars, ``matmul`` for 2-D, last-by-second-last beyond."""
    n1, n2 = to_array(data(x1)).ndim, to_array(data(x2)).ndim
    if n1 == 0 or n2 == 0:
        dtype = _contract_dtype(x1, x2, widen=False)
        return multiply(cast_input(x1, dtype), cast_input(x2, dtype))
    if n2 == 1:
        return tensordot(x1, x2, axes=([-1], [0]))
    return tensordot(x1, x2, axes=([-1], [-2]))


def inner(x1, x2):
    """Sum of products over the last axes."""
    if to_array(data(x1)).ndim == 0 or to_array(data(x2)).ndim == 0:
        dtype = _contract_dtype(x1, x2, widen=False)
        return multiply(cast_input(x1, dtype), cast_input(x2, dtype))
    return tensordot(x1, x2, axes=([-1], [-1]))


def outer(x1, x2):
    """Outer product of the flattened inputs."""
    return _einsum("i,j->ij", ravel(x1), ravel(x2), widen=False)


def vdot(x1, x2):
    """Dot product of the flattened inputs."""
    return einsum("i,i->", ravel(x1), ravel(x2))


def kron(x1, x2):
    """Kronecker product."""
    a, b = to_array(data(x1)), to_array(data(x2))
    nd = builtins.max(a.ndim, b.ndim)
    x1 = reshape(x1, (1,) * (nd - a.ndim) + a.shape)
    x2 = reshape(x2, (1,) * (nd - b.ndim) + b.shape)
    sa, sb = (1,) * (nd - a.ndim) + a.shape, (1,) * (nd - b.ndim) + b.shape
    letters = "abcdefghijklmnopqrstuvwxyz"
    la, lb = letters[:nd], letters[nd : 2 * nd]
    out = "".join(i + j for i, j in zip(la, lb))
    prod_ = _einsum(f"{la},{lb}->{out}", x1, x2, widen=False)
    return reshape(prod_, tuple(p * q for p, q in zip(sa, sb)))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (2-vectors are extended with a zero z component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    (a, b), _ = _promoted([x1, x2])
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if a.shape[-1] == 2:
        a = pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 1)])
    if b.shape[-1] == 2:
        b = pad(b, [(0, 0)] * (b.ndim - 1) + [(0, 1)])
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError(
            "`ops.cross` needs vectors of length 2 or 3 along the cross axes. "
            f"Received: x1.shape={to_array(data(x1)).shape}, x2.shape={to_array(data(x2)).shape}"
        )
    i1, i2 = [1, 2, 0], [2, 0, 1]
    c = subtract(
        multiply(take(a, i1, axis=-1), take(b, i2, axis=-1)),
        multiply(take(a, i2, axis=-1), take(b, i1, axis=-1)),
    )
    if to_array(data(x1)).shape[axisa] == 2 and to_array(data(x2)).shape[axisb] == 2:
        return take(c, 2, axis=-1)
    return moveaxis(c, -1, axisc)


def corrcoef(x):
    """Pearson correlation coefficients between the rows (variables) of ``x``."""
    x = cast_input(x, _float_dtype(x))
    if to_array(data(x)).ndim == 1:
        x = expand_dims(x, 0)
    centred = subtract(x, mean(x, axis=1, keepdims=True))
    c = matmul(centred, transpose(centred))
    d = diagonal(c)
    return clip(divide(c, sqrt(outer(d, d))), -1.0, 1.0)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum of the diagonal of the ``(axis1, axis2)`` planes."""
    return sum(diagonal(x, offset=offset, axis1=axis1, axis2=axis2), axis=-1)


def diff(a, n=1, axis=-1):
    """``n``-th discrete difference along ``axis``."""
    for _ in builtins.range(n):
        length = to_array(data(a)).shape[axis]
        if _strong(a) == "bool":
            a = not_equal(
                take(a, np.arange(1, length), axis=axis),
                take(a, np.arange(0, length - 1), axis=axis),
            )
            continue
        a = subtract(
            take(a, np.arange(1, length), axis=axis), take(a, np.arange(0, length - 1), axis=axis)
        )
    return a


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of ``y`` by the trapezoidal rule (sample points ``x`` or spacing ``dx``)."""
    n = to_array(data(y)).shape[axis]
    y = cast_input(y, _float_dtype(y))
    mid = multiply(
        add(take(y, np.arange(1, n), axis=axis), take(y, np.arange(0, n - 1), axis=axis)), 0.5
    )
    if x is None:
        return multiply(sum(mid, axis=axis), dx)
    d = diff(x, axis=axis if to_array(data(x)).ndim > 1 else -1)
    if to_array(data(d)).ndim == 1 and to_array(data(y)).ndim > 1:
        shape = [1] * to_array(data(y)).ndim
        shape[axis] = -1
        d = reshape(d, shape)
    return sum(multiply(mid, d), axis=axis)


def correlate(x1, x2, mode="valid"):
    """Cross-correlation of two 1-D sequences (``mode``: valid, same or full)."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(
            f"Argument `mode` must be 'valid', 'same' or 'full'. Received: mode={mode}"
        )
    dtype = dtypes.promote_types(_dt(x1), _dt(x2), float) if "int" in _strong(x1) else None
    dtype = dtype or dtypes.promote_types(_dt(x1), _dt(x2))
    a, v = cast_input(x1, dtype), cast_input(x2, dtype)
    n, m = to_array(data(a)).shape[0], to_array(data(v)).shape[0]
    if n < m:  # numpy swaps and reverses
        return flip(correlate(v, a, mode=mode), axis=0)
    pad_total = {"valid": 0, "same": m - 1, "full": 2 * (m - 1)}[mode]
    left = pad_total // 2 if mode == "same" else pad_total // 2 if mode == "full" else 0
    if mode == "full":
        left = m - 1
    if mode == "same":
        left = m // 2
    padded = pad(a, [(left, pad_total - left)])
    length = n + pad_total - m + 1
    windows = take(padded, np.arange(length)[:, None] + np.arange(m)[None, :], axis=0)
    return matmul(windows, v)


# --------------------------------------------------------------------------------------------
# Creation ops (constants: no gradient).
# --------------------------------------------------------------------------------------------


def _dtype_or_floatx(dtype):
    return dtypes.standardize_dtype(dtype)


def zeros(shape, dtype=None):
    """An array of zeros (floatx by default)."""
    return np.zeros(shape, dtype=_dtype_or_floatx(dtype))


def ones(shape, dtype=None):
    """An array of ones (floatx by default)."""
    return np.ones(shape, dtype=_dtype_or_floatx(dtype))


def empty(shape, dtype=None):
    """An uninitialised array (here: zeros, floatx by default)."""
    return np.zeros(shape, dtype=_dtype_or_floatx(dtype))


def full(shape, fill_value, dtype=None):
    """An array filled with ``fill_value`` (floatx by default)."""
    return np.full(shape, data(fill_value), dtype=_dtype_or_floatx(dtype))


def _like(x, fill, dtype):
    arr = to_array(data(x))
    dtype = arr.dtype if dtype is None else dtypes.standardize_dtype(dtype)
    return wrap(np.full(arr.shape, fill, dtype=dtype), x)


def zeros_like(x, dtype=None):
    """Zeros with the shape (and dtype) of ``x``."""
    return _like(x, 0, dtype)


def ones_like(x, dtype=None):
    """Ones with the shape (and dtype) of ``x``."""
    return _like(x, 1, dtype)


def empty_like(x, dtype=None):
    """An uninitialised array (here: zeros) like ``x``."""
    return _like(x, 0, dtype)


def full_like(x, fill_value, dtype=None):
    """``fill_value`` with the shape (and dtype) of ``x``."""
    return _like(x, data(fill_value), dtype)


def eye(N, M=None, k=0, dtype=None):
    """A 2-D array with ones on diagonal ``k`` (floatx by default)."""
    return np.eye(N, M, k=k, dtype=_dtype_or_floatx(dtype))


def identity(n, dtype=None):
    """The ``n`` x ``n`` identity matrix (floatx by default)."""
    return np.identity(n, dtype=_dtype_or_floatx(dtype))


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below diagonal ``k`` (floatx by default)."""
    return np.tri(N, M, k=k, dtype=_dtype_or_floatx(dtype))


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)``; the dtype follows the arguments' types."""
    args = [v for v in (start, stop, step) if v is not None]
    if dtype is None:
        dtype = dtypes.promote_types(*[_dt(v) for v in args])
    dtype = dtypes.standardize_dtype(dtype)
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, 1 if step is None else step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced samples from ``start`` to ``stop`` (floatx by default)."""
    dtype = _dtype_or_floatx(dtype)
    out = np.linspace(data(start), data(stop), num, endpoint=endpoint, retstep=retstep, axis=axis)
    if retstep:
        return out[0].astype(dtype), out[1]
    return out.astype(dtype)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop)`` (floatx by default)."""
    out = np.logspace(data(start), data(stop), num, endpoint=endpoint, base=base, axis=axis)
    return out.astype(_dtype_or_floatx(dtype))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Samples evenly spaced on a log scale from ``start`` to ``stop`` (floatx by default)."""
    out = np.geomspace(data(start), data(stop), num, endpoint=endpoint, axis=axis)
    return out.astype(_dtype_or_floatx(dtype))


def array(x, dtype=None):
    """``x`` as an array (Keras's ``convert_to_tensor`` dtype rules)."""
    if isinstance(x, Tensor):
        return x if dtype is None else cast_input(x, dtypes.standardize_dtype(dtype))
    return to_array(x, dtype=dtype).copy()


def _window(f):
    def op(x):
        return f(int(data(x))).astype(dtypes.standardize_dtype(None))

    return _make(f.__name__, op, f"The ``{f.__name__}`` window of length ``x`` (floatx).")


bartlett = _window(np.bartlett)
blackman = _window(np.blackman)
hamming = _window(np.hamming)
hanning = _window(np.hanning)


def kaiser(x, beta):
    """The Kaiser window of length ``x`` with shape parameter ``beta`` (floatx)."""
    return np.kaiser(int(data(x)), float(data(beta))).astype(dtypes.standardize_dtype(None))


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of 1-D ``x``: columns are powers of ``x``."""
    n = to_array(data(x)).shape[0] if N is None else N
    powers = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    dtype = _strong(x)
    return power(expand_dims(cast_input(x, dtype), -1), powers.astype(dtype))


# --------------------------------------------------------------------------------------------
# Searching, counting, sets and misc.
# --------------------------------------------------------------------------------------------


def nonzero(x):
    """Indices of the non-zero elements: a tuple of int32 arrays, one per axis."""
    idx = np.nonzero(to_array(data(x)))
    return tuple(wrap(i.astype("int32"), x) for i in idx)


def searchsorted(sorted_sequence, values, side="left"):
    """Indices where ``values`` would be inserted to keep ``sorted_sequence`` sorted (int32)."""
    if side not in ("left", "right"):
        raise ValueError(f"Argument `side` must be 'left' or 'right'. Received: side={side}")
    seq = to_array(data(sorted_sequence))
    if seq.ndim != 1:
        raise ValueError(
            "`searchsorted` only supports 1-D sorted sequences. You can use "
            f"`keras.ops.vectorized_map` to extend it to N-D sequences. Received: "
            f"sorted_sequence.shape={seq.shape}"
        )
    out = np.searchsorted(seq, to_array(data(values)), side=side).astype("int32")
    return wrap(out, sorted_sequence, values)


def digitize(x, bins):
    """The index of the bin each element of ``x`` falls in (int32)."""
    out = np.digitize(to_array(data(x)), to_array(data(bins))).astype("int32")
    return wrap(out, x, bins)


def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts (or summed ``weights``) of each non-negative integer; batched over 2-D ``x``.

    Raises:
        ValueError: for ``sparse=True`` (sparse tensors are not supported).
    """
    if sparse:
        raise ValueError("`sparse=True` is not supported: cnnkit has no sparse tensors.")
    arr = to_array(data(x))
    w = None if weights is None else to_array(data(weights))
    dtype = "int32" if w is None else dtypes.promote_types(str(arr.dtype), str(w.dtype))
    length = builtins.max(int(arr.max()) + 1 if arr.size else 0, minlength)
    if arr.ndim == 2:
        rows = [
            np.bincount(r, weights=None if w is None else w[i], minlength=length)
            for i, r in enumerate(arr)
        ]
        out = np.stack(rows) if rows else np.zeros((0, length))
    else:
        out = np.bincount(arr, weights=w, minlength=length)
    return wrap(out.astype(dtype), x)


def histogram(x, bins=10, range=None):
    """Counts of ``x`` in ``bins`` equal bins over ``range``: ``(counts, bin_edges)``."""
    arr = to_array(data(x))
    if arr.ndim != 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape={arr.shape}")
    counts, edges = np.histogram(arr, bins=bins, range=range)
    return wrap(counts.astype("int32"), x), wrap(edges.astype(dtypes.float_of(arr.dtype)), x)


def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each element of ``x1`` is in ``x2``: a boolean array."""
    out = np.isin(
        to_array(data(x1)), to_array(data(x2)), assume_unique=assume_unique, invert=invert
    )
    return wrap(out, x1, x2)


def unique(
    x,
    sorted=True,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    size=None,
    fill_value=None,
):
    """Unique elements (sorted), optionally with first indices, inverse and counts.

    ``size`` pads (with ``fill_value``, default the smallest unique value) or truncates the
    unique values to a fixed length.
    """
    arr = to_array(data(x))
    res = np.unique(
        arr,
        return_index=return_index,
        return_inverse=return_inverse,
        return_counts=return_counts,
        axis=axis,
    )
    res = list(res) if isinstance(res, tuple) else [res]
    if size is not None:
        values = res[0]
        fill = values.min() if fill_value is None and values.size else fill_value
        if values.shape[0] >= size:
            res[0] = values[:size]
        else:
            res[0] = np.concatenate([values, np.full(size - values.shape[0], fill, values.dtype)])
        k = 1
        # first indices and counts follow the unique values; the inverse follows ``x``
        for flag, per_value in (
            (return_index, True),
            (return_inverse, False),
            (return_counts, True),
        ):
            if flag and per_value:
                v = res[k]
                res[k] = (
                    v[:size]
                    if v.shape[0] >= size
                    else np.concatenate([v, np.zeros(size - v.shape[0], v.dtype)])
                )
            k += bool(flag)
    res = [wrap(r if i == 0 else r.astype("int32"), x) for i, r in enumerate(res)]
    return res[0] if len(res) == 1 else tuple(res)


def unravel_index(indices, shape):
    """Flat indices as a tuple of coordinate arrays."""
    out = np.unravel_index(to_array(data(indices)), tuple(shape))
    return tuple(wrap(o.astype(to_array(data(indices)).dtype), indices) for o in out)


def ndim(x):
    """The number of axes."""
    return to_array(data(x)).ndim


def size(x):
    """The number of elements."""
    return int(to_array(data(x)).size)


def view(x, dtype=None):
    """The same bytes reinterpreted as ``dtype`` (a copy when ``x`` is a tensor)."""
    arr = to_array(data(x))
    if dtype is None:
        return wrap(arr.view(), x)
    return wrap(arr.view(dtypes.standardize_dtype(dtype)), x)


def slogdet(x):
    """``(sign, log|det x|)`` of (batches of) square matrices (see ``ops.linalg``)."""
    from cnnkit.ops.linalg import slogdet as _slogdet

    return _slogdet(x)


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` mapped over array elements (or core dimensions with ``signature``)."""
    return np.vectorize(pyfunc, excluded=excluded, signature=signature)


__all__ = sorted(
    name
    for name, value in list(globals().items())
    if not name.startswith("_")
    and callable(value)
    and getattr(value, "__module__", None) == __name__
    and name not in ("erf", "erfc", "erfinv", "rsqrt")  # Keras lists these in ops.math
)

make_symbolic(globals(), __all__)
