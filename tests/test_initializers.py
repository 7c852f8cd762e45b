"""Tests for cnnkit.initializers: distributions, fans, seeds, lookup, configs and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnkit import backend, initializers
from cnnkit.utils import set_random_seed

SHAPE = (400, 400)  # 160,000 samples: standard deviations are estimated to about 0.3%
CONV = (3, 3, 16, 32)  # fan_in = 144, fan_out = 288

RANDOM_CLASSES = [
    initializers.RandomNormal,
    initializers.RandomUniform,
    initializers.TruncatedNormal,
    initializers.VarianceScaling,
    initializers.GlorotUniform,
    initializers.GlorotNormal,
    initializers.HeNormal,
    initializers.HeUniform,
    initializers.LecunNormal,
    initializers.LecunUniform,
    initializers.Orthogonal,
]
ALL_CLASSES = [
    initializers.Zeros,
    initializers.Ones,
    initializers.Constant,
    initializers.Identity,
    *RANDOM_CLASSES,
]


# --------------------------------------------------------------------------- fans


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((20, 30), (20, 30)),
        ((3, 3, 16, 32), (144, 288)),
        ((5, 8, 4), (40, 20)),
        ((2, 3, 3, 4, 5), (72, 90)),
    ],
)
def test_compute_fans_like_keras(shape, fans):
    assert initializers.compute_fans(shape) == fans


# --------------------------------------------------------------------------- distributions


def test_glorot_uniform_bounds_and_variance():
    fan_in, fan_out = SHAPE
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    w = initializers.GlorotUniform(seed=0)(SHAPE)
    assert w.dtype == np.float32 and w.shape == SHAPE
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit  # fills the whole interval
    assert w.var() == pytest.approx(2.0 / (fan_in + fan_out), rel=0.02)
    assert abs(w.mean()) < 3 * w.std() / math.sqrt(w.size)


def test_glorot_uniform_uses_conv_fans():
    fan_in, fan_out = initializers.compute_fans(CONV)
    w = initializers.GlorotUniform(seed=0)(CONV)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.98 * limit


def test_he_normal_std_and_truncation():
    fan_in = SHAPE[0]
    w = initializers.HeNormal(seed=0)(SHAPE)
    assert w.std() == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.03)
    # truncated at two stddev of the underlying normal
    bound = 2 * math.sqrt(2.0 / fan_in) / 0.87962566103423978
    assert np.abs(w).max() <= bound * (1 + 1e-6)


def test_he_normal_conv_std_uses_receptive_field():
    shape = (5, 5, 64, 8)  # fan_in = 1600, 12,800 samples
    w = initializers.HeNormal(seed=1)(shape)
    assert w.std() == pytest.approx(math.sqrt(2.0 / 1600), rel=0.03)


@pytest.mark.parametrize(
    "cls, scale, mode, uniform",
    [
        (initializers.HeUniform, 2.0, "fan_in", True),
        (initializers.LecunUniform, 1.0, "fan_in", True),
        (initializers.LecunNormal, 1.0, "fan_in", False),
        (initializers.GlorotNormal, 1.0, "fan_avg", False),
    ],
)
def test_named_variance_scalings(cls, scale, mode, uniform):
    shape = (100, 400)
    n = {"fan_in": 100, "fan_avg": 250}[mode]
    w = cls(seed=0)(shape)
    assert w.std() == pytest.approx(math.sqrt(scale / n), rel=0.03)
    if uniform:
        assert np.abs(w).max() <= math.sqrt(3.0 * scale / n)


@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_std(mode, distribution):
    shape = (200, 50)
    n = {"fan_in": 200, "fan_out": 50, "fan_avg": 125}[mode]
    init = initializers.VarianceScaling(3.0, mode=mode, distribution=distribution, seed=2)
    assert init(shape).std() == pytest.approx(math.sqrt(3.0 / n), rel=0.03)


def test_variance_scaling_normal_means_truncated_normal():
    init = initializers.VarianceScaling(distribution="Normal")
    assert init.distribution == "truncated_normal"


def test_truncated_normal_stays_within_two_stddev():
    w = initializers.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)(SHAPE)
    assert w.min() >= 1.0 - 2 * 0.5 - 1e-6
    assert w.max() <= 1.0 + 2 * 0.5 + 1e-6
    assert w.mean() == pytest.approx(1.0, abs=0.005)
    assert w.std() == pytest.approx(0.5 * 0.87962566103423978, rel=0.02)


def test_random_normal_and_uniform_moments():
    n = initializers.RandomNormal(mean=2.0, stddev=3.0, seed=0)(SHAPE)
    assert n.mean() == pytest.approx(2.0, abs=0.03)
    assert n.std() == pytest.approx(3.0, rel=0.01)
    assert np.abs(n - 2.0).max() > 4 * 3.0  # not truncated
    u = initializers.RandomUniform(minval=-1.0, maxval=3.0, seed=0)(SHAPE)
    assert u.min() >= -1.0 and u.max() <= 3.0
    assert u.mean() == pytest.approx(1.0, abs=0.02)
    assert u.var() == pytest.approx(16.0 / 12.0, rel=0.02)


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (3, 3, 8, 16), (50, 50)])
def test_orthogonal(shape, gain):
    w = initializers.Orthogonal(gain=gain, seed=0)(shape).astype(np.float64)
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, gain**2 * np.eye(len(small)), atol=1e-5 * gain**2)


def test_orthogonal_rejects_vectors():
    with pytest.raises(ValueError, match=r"at least two-dimensional. Received: shape=\(5,\)"):
        initializers.Orthogonal()((5,))


def test_constants_and_identity():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((4,)), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(7)((2, 2)), np.full((2, 2), 7.0))
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)), 3.0 * np.eye(2, 3))
    matrix = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(initializers.Constant(matrix)((2, 3)), matrix)
    with pytest.raises(ValueError, match=r"cannot fill a tensor of shape \(4, 4\)"):
        initializers.Constant(matrix)((4, 4))
    with pytest.raises(ValueError, match="only be used for 2D matrices"):
        initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_dtypes(cls):
    shape = (4, 6)
    assert cls()(shape).dtype == np.float32
    assert cls()(shape, dtype="float64").dtype == np.float64
    assert cls()(shape, dtype=np.float16).dtype == np.float16
    with backend.floatx_scope("float64"):
        assert cls()(shape).dtype == np.float64


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_random_initializers_need_float_dtype(cls):
    with pytest.raises(ValueError, match="Expected a floating-point dtype.*dtype=int32"):
        cls()((2, 2), dtype="int32")


def test_integer_dtype_for_constants():
    assert initializers.Zeros()((2,), dtype="int64").dtype == np.int64
    assert initializers.Constant(3)((2,), dtype="int32").tolist() == [3, 3]


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_int_seed_repeats_on_every_call(cls):
    a = cls(seed=3)((8, 8))
    set_random_seed(99)  # the global seed does not matter for an int seed
    b = cls(seed=3)((8, 8))
    c = cls(seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c((8, 8)), c((8, 8)))
    assert not np.array_equal(a, cls(seed=4)((8, 8)))


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_unseeded_draws_follow_the_global_seed(cls):
    set_random_seed(1)
    init = cls()
    a, b = init((8, 8)), init((8, 8))
    assert not np.array_equal(a, b)  # each call draws fresh values
    set_random_seed(1)
    np.testing.assert_array_equal(a, cls()((8, 8)))
    set_random_seed(2)
    assert not np.array_equal(a, cls()((8, 8)))


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seeds(seed):
    with pytest.raises(ValueError, match="Invalid value for argument `seed`"):
        initializers.GlorotUniform(seed=seed)


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: initializers.RandomNormal(stddev=0.0),
            r"Invalid value for argument `stddev`. Expected a strictly positive.*stddev=0.0",
        ),
        (
            lambda: initializers.TruncatedNormal(stddev=-1),
            r"argument `stddev`.*Received: stddev=-1.0",
        ),
        (
            lambda: initializers.RandomUniform(minval=1.0, maxval=1.0),
            r"Expected minval < maxval. Received: minval=1.0, maxval=1.0",
        ),
        (
            lambda: initializers.VarianceScaling(scale=0),
            r"Invalid value for argument `scale`.*Received: scale=0.0",
        ),
        (
            lambda: initializers.VarianceScaling(mode="fan_sum"),
            r"Invalid value for argument `mode`. Expected one of \{.*'fan_avg'.*\}. "
            r"Received: mode='fan_sum'",
        ),
        (
            lambda: initializers.VarianceScaling(distribution="cauchy"),
            r"Invalid value for argument `distribution`. Expected one of \{.*'uniform'.*\}. "
            r"Received: distribution='cauchy'",
        ),
        (
            lambda: initializers.RandomNormal(mean=float("nan")),
            r"argument `mean`. Expected a finite number",
        ),
    ],
)
def test_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_type_errors_and_bad_shapes():
    with pytest.raises(TypeError, match="argument `stddev`"):
        initializers.RandomNormal(stddev="big")
    with pytest.raises(ValueError, match=r"argument `shape`.*Received: shape=\(2, -1\)"):
        initializers.Zeros()((2, -1))
    with pytest.raises(ValueError, match="argument `dtype`"):
        initializers.Zeros()((2,), dtype="not-a-dtype")


# --------------------------------------------------------------------------- get / serialize


@pytest.mark.parametrize(
    "name, cls",
    [
        ("glorot_uniform", initializers.GlorotUniform),
        ("GlorotUniform", initializers.GlorotUniform),
        ("glorot_normal", initializers.GlorotNormal),
        ("he_normal", initializers.HeNormal),
        ("he_uniform", initializers.HeUniform),
        ("lecun_normal", initializers.LecunNormal),
        ("lecun_uniform", initializers.LecunUniform),
        ("zeros", initializers.Zeros),
        ("zero", initializers.Zeros),
        ("ones", initializers.Ones),
        ("one", initializers.Ones),
        ("constant", initializers.Constant),
        ("identity", initializers.Identity),
        ("random_normal", initializers.RandomNormal),
        ("normal", initializers.RandomNormal),
        ("random_uniform", initializers.RandomUniform),
        ("uniform", initializers.RandomUniform),
        ("truncated_normal", initializers.TruncatedNormal),
        ("variance_scaling", initializers.VarianceScaling),
        ("orthogonal", initializers.Orthogonal),
        ("OrthogonalInitializer", initializers.Orthogonal),
    ],
)
def test_get_string_ids(name, cls):
    assert type(initializers.get(name)) is cls


def test_snake_case_aliases_are_the_classes():
    assert initializers.glorot_uniform is initializers.GlorotUniform
    assert initializers.he_normal is initializers.HeNormal
    assert initializers.zeros is initializers.Zeros
    assert initializers.orthogonal is initializers.Orthogonal
    assert initializers.constant is initializers.Constant


def test_get_passthrough_and_none():
    init = initializers.HeNormal(seed=5)
    assert initializers.get(init) is init
    assert initializers.get(None) is None

    def fn(shape, dtype=None):
        return np.zeros(shape, dtype=dtype)

    assert initializers.get(fn) is fn
    assert type(initializers.get(initializers.Ones)) is initializers.Ones


@pytest.mark.parametrize("identifier", ["foo", "Glorot_Uniform", 5])
def test_get_unknown(identifier):
    message = (
        rf"Could not interpret initializer identifier: {identifier!r}\. "
        r"Expected one of \[.*'glorot_uniform'.*\]"
    )
    with pytest.raises(ValueError, match=message):
        initializers.get(identifier)


def test_get_unknown_class_name_in_dict():
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 'Foo'"):
        initializers.get({"class_name": "Foo", "config": {}})
    with pytest.raises(ValueError, match="Expected a dict with keys 'class_name' and 'config'"):
        initializers.get({"config": {}})


def _example(cls):
    """An instance of ``cls`` with non-default arguments where it has any."""
    examples = {
        initializers.Constant: lambda: initializers.Constant(2.5),
        initializers.Identity: lambda: initializers.Identity(gain=0.5),
        initializers.RandomNormal: lambda: initializers.RandomNormal(1.0, 2.0, seed=3),
        initializers.RandomUniform: lambda: initializers.RandomUniform(-2.0, 2.0, seed=3),
        initializers.TruncatedNormal: lambda: initializers.TruncatedNormal(0.5, 0.1, seed=3),
        initializers.VarianceScaling: lambda: initializers.VarianceScaling(
            0.5, "fan_out", "uniform", seed=3
        ),
        initializers.Orthogonal: lambda: initializers.Orthogonal(gain=2.0, seed=3),
    }
    if cls in examples:
        return examples[cls]()
    if cls in RANDOM_CLASSES:
        return cls(seed=3)
    return cls()


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_serialize_round_trip(cls):
    init = _example(cls)
    config = initializers.serialize(init)
    assert config == {
        "module": "keras.initializers",
        "class_name": cls.__name__,
        "config": init.get_config(),
        "registered_name": None,
    }
    again = initializers.get(config)
    assert type(again) is cls
    assert again.get_config() == init.get_config()
    assert type(cls.from_config(init.get_config())) is cls
    assert init.clone().get_config() == init.get_config()
    np.testing.assert_array_equal(again((6, 4)), init((6, 4)))  # seeded: identical values


def test_get_config_is_the_constructor_arguments():
    assert initializers.GlorotUniform(seed=1).get_config() == {"seed": 1}
    assert initializers.VarianceScaling().get_config() == {
        "scale": 1.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
        "seed": None,
    }
    assert initializers.RandomUniform().get_config() == {
        "minval": -0.05,
        "maxval": 0.05,
        "seed": None,
    }
    assert initializers.Zeros().get_config() == {}
    matrix = np.eye(2)
    assert initializers.Constant(matrix).get_config() == {"value": [[1.0, 0.0], [0.0, 1.0]]}


def test_serialize_none_and_errors():
    assert initializers.serialize(None) is None
    with pytest.raises(TypeError, match="Expected an `Initializer` instance"):
        initializers.serialize("glorot_uniform")


def test_custom_initializer_serializes_with_its_module():
    class Halves(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 0.5, dtype=dtype or backend.floatx())

    config = initializers.serialize(Halves())
    assert config["class_name"] == "Halves"
    assert config["module"] == __name__
    assert config["registered_name"] == "Halves"
    rebuilt = initializers.deserialize(config, custom_objects={"Halves": Halves})
    assert isinstance(rebuilt, Halves)


def test_base_initializer_call_is_abstract():
    with pytest.raises(NotImplementedError):
        initializers.Initializer()((2,))
