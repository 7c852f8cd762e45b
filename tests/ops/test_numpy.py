"""``cnnkit.ops.numpy``: values against NumPy for several dtypes, float64 gradient checks for
every differentiable op (one row per op), and the array-in/array-out, tensor-in/tensor-out
contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from cnnkit import ops
from cnnkit.autodiff import Tensor, Variable
from tests.harness import gradcheck


def _data(dtype, shape=(3, 4), positive=False, unit=False):
    rng = np.random.default_rng(1)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if "int" in dtype:
        lo = 1 if positive else (0 if dtype.startswith("u") else -4)
        return rng.integers(lo, 5, size=shape).astype(dtype)
    if unit:
        return rng.uniform(-0.9, 0.9, size=shape).astype(dtype)
    if positive:
        return rng.uniform(0.5, 2.0, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# -- values: (op, NumPy reference, input kind) for float32, float64, int32 and bool ---------

UNARY = {
    "abs": (ops.abs, np.abs, ""),
    "negative": (ops.negative, np.negative, ""),
    "square": (ops.square, np.square, ""),
    "sign": (ops.sign, np.sign, ""),
    "floor": (ops.floor, np.floor, ""),
    "ceil": (ops.ceil, np.ceil, ""),
    "trunc": (ops.trunc, np.trunc, ""),
    "round": (ops.round, np.round, ""),
    "sqrt": (ops.sqrt, np.sqrt, "positive"),
    "cbrt": (ops.cbrt, np.cbrt, ""),
    "exp": (ops.exp, np.exp, ""),
    "exp2": (ops.exp2, np.exp2, ""),
    "expm1": (ops.expm1, np.expm1, ""),
    "log": (ops.log, np.log, "positive"),
    "log2": (ops.log2, np.log2, "positive"),
    "log10": (ops.log10, np.log10, "positive"),
    "log1p": (ops.log1p, np.log1p, "positive"),
    "sin": (ops.sin, np.sin, ""),
    "cos": (ops.cos, np.cos, ""),
    "tan": (ops.tan, np.tan, "unit"),
    "arcsin": (ops.arcsin, np.arcsin, "unit"),
    "arccos": (ops.arccos, np.arccos, "unit"),
    "arctan": (ops.arctan, np.arctan, ""),
    "sinh": (ops.sinh, np.sinh, ""),
    "cosh": (ops.cosh, np.cosh, ""),
    "tanh": (ops.tanh, np.tanh, ""),
    "arcsinh": (ops.arcsinh, np.arcsinh, ""),
    "arctanh": (ops.arctanh, np.arctanh, "unit"),
    "reciprocal": (ops.reciprocal, np.reciprocal, "positive"),
    "deg2rad": (ops.deg2rad, np.deg2rad, ""),
    "rad2deg": (ops.rad2deg, np.rad2deg, ""),
    "sinc": (ops.sinc, np.sinc, ""),
    "fabs": (ops.fabs, np.fabs, ""),
    "isnan": (ops.isnan, np.isnan, ""),
    "isinf": (ops.isinf, np.isinf, ""),
    "isfinite": (ops.isfinite, np.isfinite, ""),
    "signbit": (ops.signbit, np.signbit, ""),
    "logical_not": (ops.logical_not, np.logical_not, ""),
    "ravel": (ops.ravel, np.ravel, ""),
    "transpose": (ops.transpose, np.transpose, ""),
    "flip": (ops.flip, np.flip, ""),
    "fliplr": (ops.fliplr, np.fliplr, ""),
    "flipud": (ops.flipud, np.flipud, ""),
    "rot90": (ops.rot90, np.rot90, ""),
    "tril": (ops.tril, np.tril, ""),
    "triu": (lambda x: ops.triu(x, 1), lambda x: np.triu(x, 1), ""),
    "diagonal": (ops.diagonal, np.diagonal, ""),
    "sum": (lambda x: ops.sum(x, axis=1), lambda x: np.sum(x, axis=1), ""),
    "prod": (lambda x: ops.prod(x, axis=0), lambda x: np.prod(x, axis=0), ""),
    "mean": (lambda x: ops.mean(x, axis=(0, 1)), lambda x: np.mean(x, axis=(0, 1)), ""),
    "max": (lambda x: ops.max(x, axis=0, keepdims=True), lambda x: np.max(x, 0, keepdims=True), ""),
    "min": (ops.min, np.min, ""),
    "var": (lambda x: ops.var(x, axis=1), lambda x: np.var(x, axis=1), ""),
    "std": (ops.std, np.std, ""),
    "ptp": (lambda x: ops.ptp(x, axis=1), lambda x: np.ptp(x, axis=1), ""),
    "median": (lambda x: ops.median(x, axis=1), lambda x: np.median(x, axis=1), ""),
    "quantile": (
        lambda x: ops.quantile(x, [0.1, 0.5], axis=0, keepdims=True),
        lambda x: np.quantile(x, [0.1, 0.5], axis=0, keepdims=True),
        "",
    ),
    "percentile": (
        lambda x: ops.percentile(x, 30, method="nearest"),
        lambda x: np.percentile(x, 30, method="nearest"),
        "",
    ),
    "all": (lambda x: ops.all(x, axis=1), lambda x: np.all(x, axis=1), ""),
    "any": (ops.any, np.any, ""),
    "argmax": (lambda x: ops.argmax(x, axis=1), lambda x: np.argmax(x, axis=1), ""),
    "argmin": (ops.argmin, np.argmin, ""),
    "argsort": (ops.argsort, lambda x: np.argsort(x, kind="stable"), ""),
    "sort": (lambda x: ops.sort(x, axis=0), lambda x: np.sort(x, axis=0), ""),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), lambda x: np.cumsum(x, axis=1), ""),
    "cumprod": (ops.cumprod, np.cumprod, ""),
    "count_nonzero": (lambda x: ops.count_nonzero(x, 0), lambda x: np.count_nonzero(x, 0), ""),
    "diff": (ops.diff, np.diff, ""),
    "trace": (ops.trace, np.trace, ""),
    "nonzero": (lambda x: np.stack(ops.nonzero(x)), lambda x: np.stack(np.nonzero(x)), ""),
    "squeeze": (lambda x: ops.squeeze(x[None]), lambda x: np.squeeze(x[None]), ""),
    "expand_dims": (lambda x: ops.expand_dims(x, (0, 2)), lambda x: np.expand_dims(x, (0, 2)), ""),
    "tile": (lambda x: ops.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1)), ""),
    "repeat": (lambda x: ops.repeat(x, 2, axis=1), lambda x: np.repeat(x, 2, axis=1), ""),
    "roll": (lambda x: ops.roll(x, 2, axis=1), lambda x: np.roll(x, 2, axis=1), ""),
    "pad": (
        lambda x: ops.pad(x, ((1, 0), (0, 2)), mode="reflect"),
        lambda x: np.pad(x, ((1, 0), (0, 2)), mode="reflect"),
        "",
    ),
    "take": (lambda x: ops.take(x, [2, 0, -1], axis=1), lambda x: np.take(x, [2, 0, -1], 1), ""),
    "get_item": (lambda x: ops.get_item(x, (slice(1, None), 2)), lambda x: x[1:, 2], ""),
    "nan_to_num": (ops.nan_to_num, np.nan_to_num, ""),
    "clip": (lambda x: ops.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), ""),
    "unique": (ops.unique, np.unique, ""),
    "nansum": (ops.nansum, np.nansum, ""),
    "nanmax": (lambda x: ops.nanmax(x, axis=0), lambda x: np.nanmax(x, axis=0), ""),
}

# ops whose NumPy reference is undefined (or a different kind) on some dtypes
SKIP = {
    "bool": {
        "negative",
        "sign",
        "sqrt",
        "log",
        "log2",
        "log10",
        "log1p",
        "reciprocal",
        "diff",
        "square",
        "cumprod",
        "prod",
        "sum",
        "trace",
        "nansum",
        "ptp",
        "clip",
        "median",
        "quantile",
        "percentile",
        "floor",
        "ceil",
        "trunc",
        "round",
        "var",
        "std",
        "mean",
        "cbrt",
        "exp",
        "exp2",
        "expm1",
        "sin",
        "cos",
        "tan",
        "arcsin",
        "arccos",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "arcsinh",
        "arctanh",
        "deg2rad",
        "rad2deg",
        "sinc",
        "fabs",
        "abs",
        "isnan",
        "isinf",
        "isfinite",
        "signbit",
        "nan_to_num",
        "argsort",
        "sort",
        "cumsum",
        "nanmax",
    },
    "int32": {"arcsin", "arccos", "arctanh", "tan"},
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_match_numpy(name, dtype):
    if name in SKIP.get(dtype, ()):
        pytest.skip("no NumPy reference of this kind for this dtype")
    op, ref, kind = UNARY[name]
    x = _data(dtype, positive=kind == "positive", unit=kind == "unit")
    got = op(x)
    assert isinstance(got, np.ndarray), type(got)
    with np.errstate(all="ignore"):
        expected = ref(x.astype("float32") if dtype == "int32" and _is_float_op(name) else x)
    rtol = 1e-5 if dtype in ("float32", "int32") else 1e-12
    np.testing.assert_allclose(got, np.asarray(expected), rtol=rtol, atol=rtol)
    if dtype.startswith("float") and np.asarray(expected).dtype.kind == "f":
        assert got.dtype == np.dtype(dtype), f"{name} changed {dtype} to {got.dtype}"


def _is_float_op(name):
    return name not in {
        "abs",
        "negative",
        "square",
        "sign",
        "trunc",
        "round",
        "isnan",
        "isinf",
        "isfinite",
        "signbit",
        "logical_not",
        "sum",
        "prod",
        "max",
        "min",
        "ptp",
        "all",
        "any",
        "argmax",
        "argmin",
        "argsort",
        "sort",
        "cumsum",
        "cumprod",
        "count_nonzero",
        "diff",
        "trace",
        "nonzero",
        "clip",
        "unique",
        "nansum",
        "nanmax",
        "nan_to_num",
    } and name not in (
        "ravel",
        "transpose",
        "flip",
        "fliplr",
        "flipud",
        "rot90",
        "tril",
        "triu",
        "diagonal",
        "squeeze",
        "expand_dims",
        "tile",
        "repeat",
        "roll",
        "pad",
        "take",
        "get_item",
    )


BINARY = {
    "add": (ops.add, np.add),
    "subtract": (ops.subtract, np.subtract),
    "multiply": (ops.multiply, np.multiply),
    "divide": (ops.divide, np.divide),
    "true_divide": (ops.true_divide, np.true_divide),
    "power": (ops.power, np.power),
    "maximum": (ops.maximum, np.maximum),
    "minimum": (ops.minimum, np.minimum),
    "fmax": (ops.fmax, np.fmax),
    "fmin": (ops.fmin, np.fmin),
    "mod": (ops.mod, np.mod),
    "fmod": (ops.fmod, np.fmod),
    "floor_divide": (ops.floor_divide, np.floor_divide),
    "arctan2": (ops.arctan2, np.arctan2),
    "hypot": (ops.hypot, np.hypot),
    "logaddexp": (ops.logaddexp, np.logaddexp),
    "logaddexp2": (ops.logaddexp2, np.logaddexp2),
    "heaviside": (ops.heaviside, np.heaviside),
    "equal": (ops.equal, np.equal),
    "not_equal": (ops.not_equal, np.not_equal),
    "greater": (ops.greater, np.greater),
    "greater_equal": (ops.greater_equal, np.greater_equal),
    "less": (ops.less, np.less),
    "less_equal": (ops.less_equal, np.less_equal),
    "logical_and": (ops.logical_and, np.logical_and),
    "logical_or": (ops.logical_or, np.logical_or),
    "logical_xor": (ops.logical_xor, np.logical_xor),
    "matmul": (lambda a, b: ops.matmul(a, b.T), lambda a, b: a @ b.T),
    "dot": (lambda a, b: ops.dot(a, b.T), lambda a, b: np.dot(a, b.T)),
    "inner": (ops.inner, np.inner),
    "outer": (ops.outer, np.outer),
    "vdot": (ops.vdot, np.vdot),
    "kron": (ops.kron, np.kron),
    "tensordot": (lambda a, b: ops.tensordot(a, b, 2), lambda a, b: np.tensordot(a, b, 2)),
    "einsum": (
        lambda a, b: ops.einsum("ij,kj->ik", a, b),
        lambda a, b: np.einsum("ij,kj->ik", a, b),
    ),
    "concatenate": (
        lambda a, b: ops.concatenate([a, b], 1),
        lambda a, b: np.concatenate([a, b], 1),
    ),
    "stack": (lambda a, b: ops.stack([a, b], -1), lambda a, b: np.stack([a, b], -1)),
    "hstack": (lambda a, b: ops.hstack([a, b]), lambda a, b: np.hstack([a, b])),
    "vstack": (lambda a, b: ops.vstack([a, b]), lambda a, b: np.vstack([a, b])),
    "dstack": (lambda a, b: ops.dstack([a, b]), lambda a, b: np.dstack([a, b])),
    "append": (ops.append, np.append),
    "where": (lambda a, b: ops.where(a > b, a, b), lambda a, b: np.where(a > b, a, b)),
    "isclose": (ops.isclose, np.isclose),
    "allclose": (ops.allclose, np.allclose),
    "isin": (ops.isin, np.isin),
    "cross": (
        lambda a, b: ops.cross(a[:, :3], b[:, :3]),
        lambda a, b: np.cross(a[:, :3], b[:, :3]),
    ),
    "divide_no_nan": (
        ops.divide_no_nan,
        lambda a, b: np.where(b == 0, 0, a / np.where(b == 0, 1, b)),
    ),
}
BINARY_FLOAT_ONLY = {
    "divide",
    "true_divide",
    "arctan2",
    "hypot",
    "logaddexp",
    "logaddexp2",
    "heaviside",
    "power",
    "fmod",
    "mod",
    "floor_divide",
    "divide_no_nan",
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_match_numpy(name, dtype):
    op, ref = BINARY[name]
    positive = name in ("power", "mod", "fmod", "floor_divide", "divide", "true_divide")
    a = _data(dtype, positive=positive)
    b = np.roll(_data(dtype, positive=True), 1)
    if name == "power" and dtype == "int32":
        b = np.minimum(b, 3)
    got = op(a, b)
    with np.errstate(all="ignore"):
        if dtype == "int32" and name in BINARY_FLOAT_ONLY - {"mod", "fmod", "floor_divide"}:
            expected = ref(a.astype("float64"), b.astype("float64"))
        else:
            expected = ref(a, b)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(
        np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=rtol
    )


# -- dtypes of the results -----------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (ops.add, (np.ones(2, "int8"), 1), "int8"),
        (ops.add, (np.ones(2, "int8"), 1.0), "float32"),
        (ops.add, (np.ones(2, "float16"), 1.0), "float16"),
        (ops.add, (np.ones(2, "uint8"), np.ones(2, "int8")), "int16"),
        (ops.add, (np.ones(2, "float64"), np.ones(2, "float64")), "float64"),
        (ops.add, (np.ones(2, "bool"), np.ones(2, "bool")), "bool"),
        (ops.divide, (np.ones(2, "int32"), np.ones(2, "int32")), "float32"),
        (ops.sin, (np.ones(2, "int32"),), "float32"),
        (ops.sin, (np.ones(2, "float16"),), "float16"),
        (ops.mean, (np.ones(2, "int32"),), "float32"),
        (ops.sum, (np.ones(2, "bool"),), "int32"),
        (ops.sum, (np.ones(2, "int8"),), "int32"),
        (ops.sum, (np.ones(2, "int32"),), "int32"),
        (ops.argmax, (np.ones(2),), "int32"),
        (ops.arange, (5,), "int32"),
        (ops.arange, (0, 1.5, 0.5), "float32"),
        (ops.ones, ((2,),), "float32"),
        (ops.equal, (np.ones(2), 1), "bool"),
        (ops.concatenate, ([np.ones(2, "int8"), np.ones(2, "int16")],), "int16"),
        (ops.matmul, (np.ones((2, 2), "int8"), np.ones((2, 2), "int8")), "int32"),
    ],
)
def test_result_dtypes_follow_keras(fn, args, expected):
    assert np.asarray(fn(*args)).dtype == np.dtype(expected)


# -- gradients: one row per differentiable op ------------------------------------------------


@dataclass(frozen=True)
class GradCase:
    name: str
    fn: Callable
    inputs: Callable  # rng -> list of float64 arrays
    wrt: tuple | None = None


def normal(*shapes):
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def uniform(lo, hi, *shapes):
    return lambda rng: [rng.uniform(lo, hi, size=s) for s in shapes]


def distinct(*shapes):
    """Values at least 0.01 apart: no ties for max/sort/median."""
    return lambda rng: [(rng.permutation(int(np.prod(s))).reshape(s) * 0.05 - 0.3) for s in shapes]


S = (3, 4)
UNARY_GRAD = {
    "sin": normal(S),
    "cos": normal(S),
    "tan": uniform(-1, 1, S),
    "arcsin": uniform(-0.9, 0.9, S),
    "arccos": uniform(-0.9, 0.9, S),
    "arctan": normal(S),
    "sinh": normal(S),
    "cosh": normal(S),
    "tanh": normal(S),
    "arcsinh": normal(S),
    "arccosh": uniform(1.2, 3, S),
    "arctanh": uniform(-0.9, 0.9, S),
    "exp": normal(S),
    "exp2": normal(S),
    "expm1": normal(S),
    "log": uniform(0.5, 2, S),
    "log2": uniform(0.5, 2, S),
    "log10": uniform(0.5, 2, S),
    "log1p": uniform(0.5, 2, S),
    "sqrt": uniform(0.5, 2, S),
    "cbrt": uniform(0.5, 2, S),
    "reciprocal": uniform(0.5, 2, S),
    "deg2rad": normal(S),
    "rad2deg": normal(S),
    "sinc": normal(S),
    "i0": normal(S),
    "fabs": uniform(0.2, 2, S),
    "abs": uniform(0.2, 2, S),
    "absolute": uniform(-2, -0.2, S),
    "negative": normal(S),
    "square": normal(S),
    "ravel": normal(S),
    "transpose": normal(S),
    "flip": normal(S),
    "fliplr": normal(S),
    "flipud": normal(S),
    "rot90": normal(S),
    "copy": normal(S),
    "tril": normal(S),
    "triu": normal(S),
    "diagonal": normal(S),
    "diag": normal((4,)),
    "diagflat": normal(S),
    "trace": normal(S),
    "sum": normal(S),
    "mean": normal(S),
    "prod": uniform(0.5, 2, S),
    "max": distinct(S),
    "min": distinct(S),
    "amax": distinct(S),
    "amin": distinct(S),
    "ptp": distinct(S),
    "var": normal(S),
    "std": normal(S),
    "median": distinct(S),
    "cumsum": normal(S),
    "cumprod": uniform(0.5, 2, S),
    "nansum": normal(S),
    "nanmean": normal(S),
    "nanvar": normal(S),
    "nanstd": normal(S),
    "nanprod": uniform(0.5, 2, S),
    "nanmax": distinct(S),
    "nanmin": distinct(S),
    "nancumsum": normal(S),
    "nancumprod": uniform(0.5, 2, S),
    "sort": distinct(S),
    "nan_to_num": normal(S),
    "round": normal(S),
    "sign": uniform(0.2, 2, S),
    "trunc": uniform(0.2, 0.8, S),
    "floor": uniform(0.2, 0.8, S),
    "ceil": uniform(0.2, 0.8, S),
}
PARAM_GRAD = [
    GradCase("reshape", lambda x: ops.reshape(x, (2, -1)), normal(S)),
    GradCase("swapaxes", lambda x: ops.swapaxes(x, 0, 1), normal(S)),
    GradCase("moveaxis", lambda x: ops.moveaxis(x, 0, -1), normal((2, 3, 4))),
    GradCase("expand_dims", lambda x: ops.expand_dims(x, 1), normal(S)),
    GradCase("squeeze", lambda x: ops.squeeze(x, 0), normal((1, 3))),
    GradCase("roll", lambda x: ops.roll(x, -1, axis=0), normal(S)),
    GradCase("tile", lambda x: ops.tile(x, (2, 2)), normal(S)),
    GradCase("repeat", lambda x: ops.repeat(x, [1, 2, 0], axis=0), normal(S)),
    GradCase("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)), normal((3, 1))),
    GradCase("take", lambda x: ops.take(x, [[0, 3], [3, 3]], axis=1), normal(S)),
    GradCase("take_flat", lambda x: ops.take(x, [0, 5, 5]), normal(S)),
    GradCase(
        "take_along_axis",
        lambda x: ops.take_along_axis(x, np.array([[0], [2], [3]]), axis=1),
        normal(S),
    ),
    GradCase("get_item", lambda x: ops.get_item(x, (slice(None, None, -1), [0, 0, 2])), normal(S)),
    GradCase("get_item_mask", lambda x: x[np.array([True, False, True])], normal(S)),
    GradCase(
        "pad_constant", lambda x: ops.pad(x, ((1, 1), (2, 0)), constant_values=5.0), normal(S)
    ),
    GradCase("pad_edge", lambda x: ops.pad(x, 2, mode="edge"), normal(S)),
    GradCase("pad_symmetric", lambda x: ops.pad(x, ((1, 2), (0, 1)), mode="symmetric"), normal(S)),
    GradCase("pad_wrap", lambda x: ops.pad(x, 1, mode="wrap"), normal(S)),
    GradCase("split", lambda x: ops.split(x, [1, 3], axis=1)[1], normal(S)),
    GradCase("array_split", lambda x: ops.array_split(x, 3, axis=1)[0], normal(S)),
    GradCase("hsplit", lambda x: ops.hsplit(x, 2)[1], normal(S)),
    GradCase("vsplit", lambda x: ops.vsplit(x, 3)[2], normal(S)),
    GradCase("dsplit", lambda x: ops.dsplit(x, 2)[0], normal((2, 2, 4))),
    GradCase("concatenate", lambda a, b: ops.concatenate([a, b, a], axis=0), normal(S, (2, 4))),
    GradCase("stack", lambda a, b: ops.stack([a, b], axis=1), normal(S, S)),
    GradCase("hstack", lambda a, b: ops.hstack([a, b]), normal(S, (3, 2))),
    GradCase("vstack", lambda a, b: ops.vstack([a, b]), normal(S, (1, 4))),
    GradCase("dstack", lambda a, b: ops.dstack([a, b]), normal(S, S)),
    GradCase("append", lambda a, b: ops.append(a, b, axis=0), normal(S, (1, 4))),
    GradCase(
        "where", lambda a, b: ops.where(np.arange(12).reshape(S) % 3 == 0, a, b), normal(S, (4,))
    ),
    GradCase(
        "select",
        lambda a, b: ops.select([np.eye(3, 4) > 0, np.ones(S) > 0], [a, b], default=0.0),
        normal(S, S),
    ),
    GradCase(
        "meshgrid", lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1], normal((3,), (2,))
    ),
    GradCase("clip", lambda x: ops.clip(x, -0.5, 0.5), uniform(-1, 1, S)),
    GradCase("sum_axis", lambda x: ops.sum(x, axis=(0, 2), keepdims=True), normal((2, 3, 4))),
    GradCase("mean_axis", lambda x: ops.mean(x, axis=-1), normal(S)),
    GradCase("max_axis", lambda x: ops.max(x, axis=1, keepdims=True), distinct(S)),
    GradCase("max_ties", lambda x: ops.max(ops.concatenate([x, x], axis=0), axis=0), distinct(S)),
    GradCase(
        "prod_zero", lambda x: ops.prod(x * np.array([0.0, 1, 1, 1]), axis=1), uniform(0.5, 2, S)
    ),
    GradCase("var_axis", lambda x: ops.var(x, axis=0), normal(S)),
    GradCase("std_axis", lambda x: ops.std(x, axis=(0, 1)), normal(S)),
    GradCase(
        "average",
        lambda x, w: ops.average(x, axis=1, weights=w),
        lambda rng: [rng.standard_normal(S), rng.uniform(0.5, 1, 4)],
    ),
    GradCase("cumsum_axis", lambda x: ops.cumsum(x, axis=0), normal(S)),
    GradCase("cumprod_axis", lambda x: ops.cumprod(x, axis=1), uniform(0.5, 2, S)),
    GradCase("quantile", lambda x: ops.quantile(x, [0.25, 0.6], axis=1), distinct(S)),
    GradCase("percentile", lambda x: ops.percentile(x, 40, axis=0, keepdims=True), distinct(S)),
    GradCase("median_axis", lambda x: ops.median(x, axis=0), distinct(S)),
    GradCase("sort_axis0", lambda x: ops.sort(x, axis=0), distinct(S)),
    GradCase("diff", lambda x: ops.diff(x, n=2, axis=1), normal(S)),
    GradCase("trapezoid", lambda y: ops.trapezoid(y, dx=0.5), normal(S)),
    GradCase("trapezoid_x", lambda y, x: ops.trapezoid(y, x=x), normal(S, (4,))),
    GradCase("matmul", lambda a, b: ops.matmul(a, b), normal((2, 3, 4), (4, 2))),
    GradCase("matmul_vec", lambda a, b: ops.matmul(a, b), normal((4,), (2, 4, 3))),
    GradCase("dot", lambda a, b: ops.dot(a, b), normal((2, 3, 4), (3, 4, 2))),
    GradCase("dot_vec", lambda a, b: ops.dot(a, b), normal(S, (4,))),
    GradCase(
        "tensordot", lambda a, b: ops.tensordot(a, b, axes=([0, 1], [1, 0])), normal(S, (4, 3))
    ),
    GradCase("tensordot_int", lambda a, b: ops.tensordot(a, b, axes=1), normal(S, (4, 2))),
    GradCase("einsum", lambda a, b: ops.einsum("bij,bjk->bik", a, b), normal((2, 3, 4), (2, 4, 2))),
    GradCase(
        "einsum_ellipsis", lambda a, b: ops.einsum("...i,i->...", a, b), normal((2, 3, 4), (4,))
    ),
    GradCase("einsum_reduce", lambda a: ops.einsum("ijk->j", a), normal((2, 3, 4))),
    GradCase("einsum_implicit", lambda a, b: ops.einsum("ij,jk", a, b), normal(S, (4, 2))),
    GradCase("inner", lambda a, b: ops.inner(a, b), normal(S, (2, 4))),
    GradCase("outer", lambda a, b: ops.outer(a, b), normal((3,), (2, 2))),
    GradCase("vdot", lambda a, b: ops.vdot(a, b), normal(S, S)),
    GradCase("kron", lambda a, b: ops.kron(a, b), normal((2, 2), (2, 3))),
    GradCase("cross", lambda a, b: ops.cross(a, b), normal((4, 3), (4, 3))),
    GradCase("cross_axis", lambda a, b: ops.cross(a, b, axis=0), normal((3, 2), (3, 2))),
    GradCase("correlate_valid", lambda a, b: ops.correlate(a, b), normal((6,), (3,))),
    GradCase("correlate_same", lambda a, b: ops.correlate(a, b, mode="same"), normal((6,), (3,))),
    GradCase("correlate_full", lambda a, b: ops.correlate(a, b, mode="full"), normal((6,), (3,))),
    GradCase("corrcoef", lambda x: ops.corrcoef(x), normal(S)),
    GradCase("vander", lambda x: ops.vander(x, 3), normal((4,))),
    GradCase("ldexp", lambda x: ops.ldexp(x, np.array([1, -2, 0, 3])), normal(S)),
]
BINARY_GRAD = {
    "add": normal(S, (4,)),
    "subtract": normal(S, (3, 1)),
    "multiply": normal(S, S),
    "divide": lambda rng: [rng.standard_normal(S), rng.uniform(0.5, 2, 4)],
    "true_divide": lambda rng: [rng.standard_normal(S), rng.uniform(0.5, 2, S)],
    "divide_no_nan": lambda rng: [rng.standard_normal(S), rng.uniform(0.5, 2, S)],
    "power": lambda rng: [rng.uniform(0.5, 2, S), rng.standard_normal(S)],
    "maximum": distinct(S, S),
    "minimum": distinct(S, S),
    "fmax": distinct(S, S),
    "fmin": distinct(S, S),
    "mod": lambda rng: [rng.uniform(0.1, 0.9, S) + 2, rng.uniform(0.5, 0.6, S)],
    "fmod": lambda rng: [rng.uniform(0.1, 0.9, S) + 2, rng.uniform(0.5, 0.6, S)],
    "arctan2": normal(S, S),
    "hypot": normal(S, S),
    "logaddexp": normal(S, (4,)),
    "logaddexp2": normal(S, S),
}

CASES = (
    [GradCase(n, getattr(ops, n), maker) for n, maker in UNARY_GRAD.items()]
    + [GradCase(n, getattr(ops, n), maker) for n, maker in BINARY_GRAD.items()]
    + PARAM_GRAD
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradient_float64(case):
    inputs = case.inputs(np.random.default_rng(3))
    gradcheck(case.fn, *inputs, wrt=case.wrt)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_tensor_value_equals_array_value(case):
    inputs = case.inputs(np.random.default_rng(4))
    from_arrays = case.fn(*inputs)
    from_tensors = case.fn(*[Variable(a, dtype="float64") for a in inputs])
    assert isinstance(from_tensors, Tensor)
    np.testing.assert_allclose(np.asarray(from_tensors), np.asarray(from_arrays), rtol=1e-12)


# -- the array/tensor contract and non-differentiable ops ------------------------------------


def test_arrays_in_arrays_out_tensors_in_tensors_out():
    x = np.arange(6.0).reshape(2, 3)
    assert type(ops.sum(x)) is np.ndarray
    assert isinstance(ops.sum(Tensor(x)), Tensor)
    assert not ops.sum(Tensor(x)).requires_grad
    v = Variable(x)
    assert ops.sum(v).requires_grad


def test_float32_tensor_keeps_float32_with_python_scalars():
    v = Variable(np.ones(3, "float32"))
    out = ops.multiply(ops.add(v, 2.5), 3)
    assert out.dtype == np.float32
    ops.sum(out).backward()
    np.testing.assert_allclose(v.grad, np.full(3, 3.0))
    assert v.grad.dtype == np.float32


def test_cast_is_differentiable_between_float_dtypes():
    v = Variable(np.array([1.0, 2.0]), dtype="float64")
    out = ops.cast(v, "float32")
    assert out.dtype == np.float32
    ops.sum(ops.multiply(out, 3.0)).backward()
    assert v.grad.dtype == np.float64
    np.testing.assert_allclose(v.grad, [3.0, 3.0])


def test_integer_results_are_constants():
    v = Variable(np.array([3.0, 1.0, 2.0]))
    for out in (ops.argmax(v), ops.argsort(v), ops.greater(v, 1.0), ops.isnan(v)):
        assert isinstance(out, Tensor) and not out.requires_grad
    with pytest.raises(RuntimeError, match="`ops.argmax` is not differentiable"):
        ops.argmax(v).backward()
    with pytest.raises(RuntimeError, match="`ops.greater` is not differentiable"):
        ops.greater(v, 1.0).backward()
    # a comparison used as a mask: the gradient flows through the other factor only
    y = ops.sum(ops.multiply(v, ops.cast(ops.greater(v, 1.5), "float64")))
    y.backward()
    np.testing.assert_allclose(v.grad, [1.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "fn",
    [
        lambda v: ops.floor_divide(v, 2.0),
        lambda v: ops.heaviside(v, 0.5),
        lambda v: ops.nanmedian(v),
        lambda v: ops.nanquantile(v, 0.3),
        lambda v: ops.nextafter(v, 0.0),
    ],
    ids=["floor_divide", "heaviside", "nanmedian", "nanquantile", "nextafter"],
)
def test_float_results_without_gradient_raise(fn):
    v = Variable(np.array([3.0, 1.0, 2.0]))
    out = ops.sum(fn(v))
    with pytest.raises(RuntimeError, match="is not differentiable"):
        out.backward()


def test_nan_reductions_skip_nan():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]])
    np.testing.assert_allclose(ops.nansum(x, axis=1), np.nansum(x, axis=1))
    np.testing.assert_allclose(ops.nanmean(x, axis=1), np.nanmean(x, axis=1))
    np.testing.assert_allclose(ops.nanvar(x, axis=1), np.nanvar(x, axis=1))
    np.testing.assert_allclose(ops.nanstd(x, axis=1), np.nanstd(x, axis=1))
    np.testing.assert_allclose(ops.nanprod(x, axis=0), np.nanprod(x, axis=0))
    np.testing.assert_allclose(ops.nanmin(x, axis=1), np.nanmin(x, axis=1))
    np.testing.assert_allclose(ops.nancumsum(x, axis=1), np.nancumsum(x, axis=1))
    np.testing.assert_allclose(ops.nancumprod(x), np.nancumprod(x))
    np.testing.assert_allclose(ops.nanmedian(x, axis=1), np.nanmedian(x, axis=1))
    np.testing.assert_allclose(ops.nanpercentile(x, 50), np.nanpercentile(x, 50))
    np.testing.assert_array_equal(ops.nanargmax(x, axis=1), np.nanargmax(x, axis=1))
    np.testing.assert_array_equal(ops.nanargmin(x, axis=1), np.nanargmin(x, axis=1))
    all_nan = np.array([[np.nan, np.nan], [1.0, 2.0]])
    np.testing.assert_array_equal(ops.nanmax(all_nan, axis=1), [np.nan, 2.0])


def test_creation_ops_match_numpy():
    np.testing.assert_array_equal(ops.arange(2, 10, 3), np.arange(2, 10, 3))
    np.testing.assert_allclose(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    np.testing.assert_allclose(ops.logspace(0, 2, 3), np.logspace(0, 2, 3), rtol=1e-6)
    np.testing.assert_allclose(ops.geomspace(1, 8, 4), np.geomspace(1, 8, 4), rtol=1e-6)
    np.testing.assert_array_equal(ops.eye(3, 4, k=1), np.eye(3, 4, k=1))
    np.testing.assert_array_equal(ops.identity(2), np.identity(2))
    np.testing.assert_array_equal(ops.tri(3, k=-1), np.tri(3, k=-1))
    np.testing.assert_array_equal(ops.full((2,), 7, dtype="int32"), [7, 7])
    np.testing.assert_array_equal(ops.zeros_like(np.ones(3, "int8")), np.zeros(3, "int8"))
    assert ops.ones_like(np.ones(2, "int8")).dtype == np.int8
    assert ops.full_like(np.ones(2), 3.0, dtype="int32").dtype == np.int32
    assert ops.empty((2, 3)).shape == (2, 3)
    assert ops.empty_like(np.ones((2, 1))).shape == (2, 1)
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        np.testing.assert_allclose(getattr(ops, name)(6), getattr(np, name)(6), rtol=1e-6)
    np.testing.assert_allclose(ops.kaiser(6, 3.0), np.kaiser(6, 3.0), rtol=1e-6)
    np.testing.assert_allclose(ops.vander(np.array([1.0, 2, 3])), np.vander([1.0, 2, 3]))
    np.testing.assert_array_equal(ops.array([1, 2]), [1, 2])
    assert ops.array([1, 2]).dtype == np.int32 and ops.array([1.0]).dtype == np.float32


def test_search_count_and_set_ops_match_numpy():
    x = np.array([3, 1, 2, 3, 1, 0])
    np.testing.assert_array_equal(ops.bincount(x), np.bincount(x))
    w = np.linspace(0, 1, 6)
    np.testing.assert_allclose(ops.bincount(x, weights=w, minlength=6), np.bincount(x, w, 6))
    np.testing.assert_array_equal(ops.bincount(np.stack([x, x])), np.stack([np.bincount(x)] * 2))
    np.testing.assert_array_equal(ops.searchsorted([1, 2, 3], [2, 5], side="right"), [2, 3])
    np.testing.assert_array_equal(ops.digitize(np.array([0.5, 1.5]), np.array([0, 1, 2])), [1, 2])
    counts, edges = ops.histogram(np.array([0.0, 1, 2, 2]), bins=2)
    ref_counts, ref_edges = np.histogram([0.0, 1, 2, 2], bins=2)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_allclose(edges, ref_edges)
    values, idx, inv, cnt = ops.unique(
        x, return_index=True, return_inverse=True, return_counts=True
    )
    ref = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for a, b in zip((values, idx, inv, cnt), ref):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ops.unique(x, size=6, fill_value=-1), [0, 1, 2, 3, -1, -1])
    padded = ops.unique(x, return_index=True, return_inverse=True, return_counts=True, size=5)
    np.testing.assert_array_equal(padded[1], [5, 1, 2, 0, 0])
    np.testing.assert_array_equal(padded[2], inv)
    np.testing.assert_array_equal(padded[3], [1, 2, 1, 2, 0])
    np.testing.assert_array_equal(np.sort(x[ops.argpartition(x, 2)[:3]]), np.sort(x)[:3])
    np.testing.assert_array_equal(ops.unravel_index(np.array([5, 7]), (2, 4)), ([1, 1], [1, 3]))
    np.testing.assert_array_equal(ops.isin(x, [1, 3], invert=True), np.isin(x, [1, 3], invert=True))
    assert ops.ndim(np.ones((2, 3))) == 2 and ops.size(np.ones((2, 3))) == 6
    assert ops.view(np.ones(2, "float32"), "int32").dtype == np.int32
    np.testing.assert_array_equal(ops.vectorize(lambda a: a + 1)(np.arange(3)), [1, 2, 3])
    np.testing.assert_array_equal(ops.gcd(np.array([12, 18]), 8), [4, 2])
    np.testing.assert_array_equal(ops.lcm(np.array([4, 6]), 3), [12, 6])
    np.testing.assert_array_equal(ops.bitwise_and(np.array([6]), 3), [2])
    np.testing.assert_array_equal(ops.bitwise_or(np.array([6]), 3), [7])
    np.testing.assert_array_equal(ops.bitwise_xor(np.array([6]), 3), [5])
    np.testing.assert_array_equal(ops.bitwise_not(np.array([0], "int8")), [-1])
    np.testing.assert_array_equal(ops.bitwise_invert(np.array([True])), [False])
    np.testing.assert_array_equal(ops.left_shift(np.array([1]), 3), [8])
    np.testing.assert_array_equal(ops.bitwise_left_shift(np.array([1]), 2), [4])
    np.testing.assert_array_equal(ops.right_shift(np.array([8]), 3), [1])
    np.testing.assert_array_equal(ops.bitwise_right_shift(np.array([8]), 2), [2])
    np.testing.assert_allclose(ops.isposinf(np.array([np.inf, -np.inf])), [True, False])
    np.testing.assert_allclose(ops.isneginf(np.array([np.inf, -np.inf])), [False, True])


def test_bad_arguments_raise_naming_the_argument():
    with pytest.raises(ValueError, match="constant_values"):
        ops.pad(np.ones(3), 1, mode="edge", constant_values=1)
    with pytest.raises(ValueError, match="`x1` and `x2`"):
        ops.where(np.ones(2) > 0, np.ones(2))
    with pytest.raises(ValueError, match="method"):
        ops.quantile(np.ones(3), 0.5, method="bogus")
    with pytest.raises(ValueError, match="side"):
        ops.searchsorted([1, 2], [1], side="middle")
    with pytest.raises(TypeError, match="integer or boolean"):
        ops.bitwise_and(np.ones(2), 1)
    with pytest.raises(ValueError, match="1-D sorted"):
        ops.searchsorted(np.ones((2, 2)), [1])
    with pytest.raises(ValueError, match="indexing"):
        ops.meshgrid(np.ones(2), indexing="xx")
    with pytest.raises(ValueError, match="sparse"):
        ops.bincount(np.array([1]), sparse=True)


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_values_equal_keras_torch_backend(dtype):
    """Every op of the value tables, on the same inputs, against ``keras.ops`` (torch)."""
    keras = pytest.importorskip("keras")
    for name, (_, _, kind) in sorted(UNARY.items()):
        if not hasattr(keras.ops, name):
            continue
        x = _data(dtype, positive=kind == "positive", unit=kind == "unit")
        try:
            expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x))
        except Exception:  # Keras refuses this dtype for this op
            continue
        got = np.asarray(getattr(ops, name)(x))
        assert got.shape == expected.shape, name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    for name in sorted(BINARY):
        if not hasattr(keras.ops, name) or name == "cross":
            continue
        a, b = _data(dtype, positive=True), np.roll(_data(dtype, positive=True), 1)
        try:
            expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(a, b))
        except Exception:
            continue
        got = np.asarray(getattr(ops, name)(a, b))
        assert got.shape == expected.shape, name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_subclassed_layer_written_with_ops_trains():
    from cnnkit.layers import Layer
    from cnnkit.models import Sequential

    class Linear(Layer):  # the Keras subclassing guide's layer, written with ops
        def __init__(self, units=2):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, inputs):
            return ops.add(ops.matmul(inputs, self.w), self.b)

    layer = Linear(2)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(layer(x), x @ np.ones((3, 2)))
    model = Sequential([Linear(2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, np.zeros((2, 2), "float32"), epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
