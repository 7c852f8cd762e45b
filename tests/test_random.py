"""Tests for cnnkit.random: seeding semantics, shapes and dtypes, and the distributions."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import random as krandom
from cnnkit.autodiff import Variable
from cnnkit.utils import set_random_seed

scipy_stats = pytest.importorskip("scipy.stats")

N = 20_000


def _samplers():
    return {
        "normal": lambda seed: krandom.normal((3, 4), seed=seed),
        "uniform": lambda seed: krandom.uniform((3, 4), seed=seed),
        "truncated_normal": lambda seed: krandom.truncated_normal((3, 4), seed=seed),
        "randint": lambda seed: krandom.randint((3, 4), 0, 100, seed=seed),
        "gamma": lambda seed: krandom.gamma((3, 4), 2.0, seed=seed),
        "beta": lambda seed: krandom.beta((3, 4), 2.0, 3.0, seed=seed),
        "binomial": lambda seed: krandom.binomial((3, 4), 10, 0.5, seed=seed),
        "shuffle": lambda seed: krandom.shuffle(np.arange(12), seed=seed),
        "categorical": lambda seed: krandom.categorical(np.zeros((3, 10)), 4, seed=seed),
        "dropout": lambda seed: krandom.dropout(np.ones((3, 4)), 0.5, seed=seed),
    }


@pytest.mark.parametrize("name", sorted(_samplers()))
def test_seed_semantics(name):
    draw = _samplers()[name]
    # An integer seed is stateless: the same values every time, other seeds differ.
    np.testing.assert_array_equal(draw(7), draw(7))
    assert any(not np.array_equal(draw(7), draw(s)) for s in (8, 9, 10))
    # A SeedGenerator moves on at each call, and the same initial seed repeats the sequence.
    gen_a, gen_b = krandom.SeedGenerator(3), krandom.SeedGenerator(3)
    first, second = draw(gen_a), draw(gen_a)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, draw(gen_b))
    np.testing.assert_array_equal(second, draw(gen_b))
    # None draws from the global generator, which set_random_seed makes reproducible.
    set_random_seed(11)
    a = draw(None), draw(None)
    set_random_seed(11)
    np.testing.assert_array_equal(a[0], draw(None))
    np.testing.assert_array_equal(a[1], draw(None))
    assert not np.array_equal(*a)


def test_seed_generator_state_and_config():
    gen = krandom.SeedGenerator(42, name="g")
    assert gen.state.dtype == np.uint32 and gen.state.tolist() == [42, 0]
    assert gen.next().tolist() == [42, 0] and gen.state.tolist() == [42, 1]
    assert gen.get_config() == {"seed": 42, "name": "g"}
    again = krandom.SeedGenerator.from_config(gen.get_config())
    assert again.state.tolist() == [42, 0]
    set_random_seed(5)
    unseeded = krandom.SeedGenerator().state.tolist()
    set_random_seed(5)
    assert krandom.SeedGenerator().state.tolist() == unseeded
    with pytest.raises(ValueError, match="`seed` must be an integer"):
        krandom.SeedGenerator("x")
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        krandom.SeedGenerator(1, color="red")


def test_seed_argument_is_validated():
    with pytest.raises(ValueError, match="integer or an instance of `SeedGenerator`"):
        krandom.normal((2,), seed=1.5)
    # Negative and large seeds keep their low 32 bits, as Keras's draw_seed does.
    np.testing.assert_array_equal(
        krandom.normal((2,), seed=-1), krandom.normal((2,), seed=2**32 - 1)
    )


def test_shapes_and_dtypes():
    assert krandom.normal((2, 3)).dtype == np.float32
    assert krandom.normal(5, dtype="float64").shape == (5,)
    assert krandom.uniform((2,), dtype="float16").dtype == np.float16
    assert krandom.randint((2, 2), 0, 5).dtype == np.int32
    assert krandom.randint((2,), 0, 5, dtype="uint8").dtype == np.uint8
    assert krandom.categorical(np.zeros((4, 3)), 7).shape == (4, 7)
    assert krandom.categorical(np.zeros((4, 3)), 7).dtype == np.int32
    assert krandom.binomial((3,), 4, 0.5).dtype == np.float32
    assert krandom.shuffle(np.zeros((2, 5)), axis=1).shape == (2, 5)
    with pytest.raises(ValueError, match="requires a floating point `dtype`"):
        krandom.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="requires an integer `dtype`"):
        krandom.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="2-D tensor"):
        krandom.categorical(np.zeros(3), 2)
    with pytest.raises(ValueError, match="`axis` is out of range"):
        krandom.shuffle(np.zeros(3), axis=1)


@pytest.mark.parametrize(
    ("draw", "reference"),
    [
        (lambda: krandom.normal((N,), 1.5, 2.0, seed=1), scipy_stats.norm(1.5, 2.0)),
        (lambda: krandom.uniform((N,), -1.0, 3.0, seed=1), scipy_stats.uniform(-1.0, 4.0)),
        (
            lambda: krandom.truncated_normal((N,), 0.5, 2.0, seed=1),
            scipy_stats.truncnorm(-2, 2, loc=0.5, scale=2.0),
        ),
        (lambda: krandom.gamma((N,), 2.5, seed=1), scipy_stats.gamma(2.5)),
        (lambda: krandom.beta((N,), 2.0, 5.0, seed=1), scipy_stats.beta(2.0, 5.0)),
    ],
)
def test_continuous_distributions_pass_a_ks_test(draw, reference):
    x = draw().astype("float64")
    assert scipy_stats.kstest(x, reference.cdf).pvalue > 1e-3
    np.testing.assert_allclose(x.mean(), reference.mean(), atol=5 * reference.std() / N**0.5)
    np.testing.assert_allclose(x.var(), reference.var(), rtol=0.05)


def test_discrete_distributions_match_their_probabilities():
    counts = np.bincount(krandom.randint((N,), 3, 8, seed=2), minlength=8)[3:]
    assert scipy_stats.chisquare(counts).pvalue > 1e-3 and counts.size == 5
    x = krandom.binomial((N,), 10, 0.3, seed=2)
    np.testing.assert_allclose([x.mean(), x.var()], [3.0, 2.1], rtol=0.05)
    probs = np.array([0.1, 0.2, 0.7])
    logits = np.log(probs)[None] + 5.0  # softmax is shift-invariant
    samples = krandom.categorical(np.repeat(logits, 2, axis=0), N, seed=2)
    for row in samples:
        assert scipy_stats.chisquare(np.bincount(row, minlength=3), probs * N).pvalue > 1e-3
    never = krandom.categorical(np.array([[-np.inf, 0.0, 0.0]]), 1000, seed=0)
    assert never.min() == 1


def test_shuffle_permutes_whole_slices():
    x = np.arange(24).reshape(4, 6)
    rows = krandom.shuffle(x, seed=3)
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, x.tolist()))
    columns = krandom.shuffle(x, axis=1, seed=3)
    np.testing.assert_array_equal(columns, x[:, np.argsort(np.argsort(columns[0]))])
    assert not np.array_equal(rows, x)


def test_dropout_scales_keeps_and_broadcasts_its_mask():
    x = np.ones((200, 50), "float32")
    y = krandom.dropout(x, 0.25, seed=0)
    assert y.dtype == np.float32 and np.allclose(np.unique(y), [0.0, 1 / 0.75])
    np.testing.assert_allclose((y == 0).mean(), 0.25, atol=0.02)
    maps = krandom.dropout(np.ones((4, 3, 3, 8), "float32"), 0.5, noise_shape=(None, 1, 1, None))
    assert (maps.std(axis=(1, 2)) == 0).all()
    np.testing.assert_array_equal(krandom.dropout(x, 0.0), x)
    assert not krandom.dropout(x, 1.0).any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        krandom.dropout(x, 1.5)
    with pytest.raises(ValueError, match="one entry per axis"):
        krandom.dropout(x, 0.5, noise_shape=(1,))


def test_dropout_of_a_tensor_is_differentiable():
    v = Variable(np.arange(1.0, 9.0).reshape(2, 4), name="x")
    out = krandom.dropout(v, 0.5, seed=4)
    out.sum().backward()
    kept = out.numpy() != 0
    np.testing.assert_allclose(v.grad, np.where(kept, 2.0, 0.0))


def test_a_custom_layer_drawing_with_a_seed_generator_trains():
    import cnnkit

    class NoisyDense(cnnkit.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.seed_generator = krandom.SeedGenerator(1337)

        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1], self.units), "glorot_uniform", name="w")

        def call(self, inputs, training=False):
            if training:
                inputs = krandom.dropout(inputs, 0.5, seed=self.seed_generator)
            return inputs @ self.w

    def run():
        set_random_seed(0)
        model = cnnkit.Sequential([cnnkit.layers.Input((4,)), NoisyDense(2)])
        model.compile(optimizer="sgd", loss="mse")
        x = np.ones((8, 4), "float32")
        before = model.get_weights()[0].copy()
        history = model.fit(x, np.zeros((8, 2), "float32"), epochs=2, verbose=0)
        return before, model.get_weights()[0], history.history["loss"]

    before, after, losses = run()
    assert not np.allclose(before, after)  # gradients flowed through the dropout
    again = run()
    np.testing.assert_array_equal(after, again[1])  # reproducible
    assert losses == again[2]
