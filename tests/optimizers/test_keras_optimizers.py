"""The optimizers added to complete ``keras.optimizers``, against Keras 3 itself: the same
initial weights and gradients fed to both for several steps give the same weights (Keras's
``optimizer.apply(grads, variables)`` on ``keras.Variable``s); plus config round trips and
save/load of the optimizer state.

The Keras comparisons run only where Keras is importable.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import optimizers
from cnnkit.autodiff import Variable

SHAPES = ((3, 4), (4,), (5, 2))
STEPS = 4

# case -> (class name, kwargs)
CASES = {
    "nadam": ("Nadam", {"learning_rate": 0.01}),
    "adamax": ("Adamax", {"learning_rate": 0.02, "beta_2": 0.9}),
    "adadelta": ("Adadelta", {"learning_rate": 1.0, "rho": 0.9}),
    "ftrl": (
        "Ftrl",
        {
            "learning_rate": 0.1,
            "l1_regularization_strength": 0.01,
            "l2_regularization_strength": 0.02,
            "l2_shrinkage_regularization_strength": 0.01,
            "beta": 0.1,
        },
    ),
    "lion": ("Lion", {"learning_rate": 0.01, "beta_1": 0.8}),
    "lamb": ("Lamb", {"learning_rate": 0.01}),
    "adafactor": ("Adafactor", {"learning_rate": 0.1}),
    "adafactor_absolute": ("Adafactor", {"learning_rate": 0.01, "relative_step": False}),
    "muon": ("Muon", {"learning_rate": 0.02}),
    "muon_plain": ("Muon", {"learning_rate": 0.02, "nesterov": False, "rms_rate": None}),
    "schedule_free_adamw": ("ScheduleFreeAdamW", {"learning_rate": 0.01}),
    "schedule_free_adamw_warmup": (
        "ScheduleFreeAdamW",
        {"learning_rate": 0.01, "warmup_steps": 3, "weight_decay": 0.1},
    ),
    # The base options, on new and old optimizers.
    "nadam_ema": ("Nadam", {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2}),
    "lion_accumulation": ("Lion", {"gradient_accumulation_steps": 2}),
    "adamax_clipnorm": ("Adamax", {"clipnorm": 0.5}),
    "lamb_global_clipnorm_decay": ("Lamb", {"global_clipnorm": 0.7, "weight_decay": 0.05}),
    "adadelta_clipvalue": ("Adadelta", {"clipvalue": 0.3, "learning_rate": 1.0}),
    "adam_ema_accumulation": (
        "Adam",
        {"use_ema": True, "gradient_accumulation_steps": 2, "ema_overwrite_frequency": 3},
    ),
}


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    grads = [[rng.standard_normal(s).astype("float32") for s in SHAPES] for _ in range(STEPS)]
    return initial, grads


def _ours(name, kwargs, initial, grads):
    opt = getattr(optimizers, name)(**kwargs)
    variables = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(initial)]
    for step in grads:
        opt.apply(step, variables)
    return opt, variables


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_weights_as_keras(case):
    keras = pytest.importorskip("keras")
    name, kwargs = CASES[case]
    initial, grads = _problem()
    _, ours = _ours(name, kwargs, initial, grads)
    opt = getattr(keras.optimizers, name)(**kwargs)
    theirs = [keras.Variable(w.copy()) for w in initial]
    for step in grads:
        opt.apply([keras.ops.convert_to_tensor(g) for g in step], theirs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip_and_state_save_load(case):
    name, kwargs = CASES[case]
    initial, grads = _problem(1)
    opt, variables = _ours(name, kwargs, initial, grads[:2])
    config = optimizers.serialize(opt)
    clone = optimizers.deserialize(config)
    assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
    # The state: a copy of the weights and optimizer variables continues identically.
    copies = [Variable(v.numpy().copy(), name=v.name) for v in variables]
    clone.build(copies)
    store = {}
    opt.save_own_variables(store)
    clone.load_own_variables(store)
    for step in grads[2:]:
        opt.apply(step, variables)
        clone.apply(step, copies)
    for a, b in zip(variables, copies, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("case", ["nadam", "muon", "ftrl"])
def test_config_keys_match_keras(case):
    keras = pytest.importorskip("keras")
    name, kwargs = CASES[case]
    ours = set(getattr(optimizers, name)(**kwargs).get_config())
    theirs = set(getattr(keras.optimizers, name)(**kwargs).get_config())
    assert ours == theirs


def test_loss_scale_optimizer_matches_keras():
    keras = pytest.importorskip("keras")
    initial, grads = _problem(2)
    grads[1][0][0, 0] = np.inf  # a skipped step that halves the scale
    ours = optimizers.LossScaleOptimizer(
        optimizers.Adam(0.01), initial_scale=8.0, dynamic_growth_steps=2
    )
    theirs = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(0.01), initial_scale=8.0, dynamic_growth_steps=2
    )
    ours_vars = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(initial)]
    theirs_vars = [keras.Variable(w.copy()) for w in initial]
    for step in grads:
        ours.apply(step, ours_vars)
        theirs.apply([keras.ops.convert_to_tensor(g) for g in step], theirs_vars)
        assert float(ours.dynamic_scale) == float(theirs.dynamic_scale.numpy())
        assert int(ours.iterations) == int(theirs.iterations.numpy())
    for a, b in zip(ours_vars, theirs_vars, strict=True):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b), rtol=2e-5, atol=2e-6)
    assert float(ours.scale_loss(1.0)) == float(keras.ops.convert_to_numpy(theirs.scale_loss(1.0)))


def test_get_by_name():
    for name in ("nadam", "adamax", "adadelta", "ftrl", "lion", "lamb", "adafactor", "muon"):
        assert type(optimizers.get(name)).__name__.lower() == name


def test_argument_errors():
    with pytest.raises(ValueError, match="`beta_1`.*SignSGD"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="`learning_rate_power`.*<= 0"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="`rho`"):
        optimizers.Adadelta(rho=1.5)
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic=False"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), dynamic=False)


def _multi(module):
    return module.MultiOptimizer(
        module.OptimizerMap(module.Adam(0.01), {"enc_.*": module.SGD(0.1, momentum=0.5)})
    )


def test_multi_optimizer_matches_keras():
    keras = pytest.importorskip("keras")
    initial, grads = _problem(3)
    names = ["enc_kernel", "head_bias", "enc_bias"]
    ours, theirs = _multi(optimizers), _multi(keras.optimizers)
    ours_vars = []
    for w, name in zip(initial, names, strict=True):
        v = Variable(w.copy(), name=name)
        v.path = name
        ours_vars.append(v)
    theirs_vars = [keras.Variable(w.copy(), name=n) for w, n in zip(initial, names, strict=True)]
    for step in grads:
        ours.apply(step, ours_vars)
        theirs.apply([keras.ops.convert_to_tensor(g) for g in step], theirs_vars)
    for a, b in zip(ours_vars, theirs_vars, strict=True):
        np.testing.assert_allclose(a.numpy(), keras.ops.convert_to_numpy(b), rtol=2e-5, atol=2e-6)
    assert int(ours.iterations) == STEPS
    assert [type(o).__name__ for o in ours.optimizers] == ["SGD", "Adam"]
    assert len(ours.variables) == len(theirs.variables)
    with pytest.raises(AttributeError, match="sub-optimizers"):
        ours.learning_rate  # noqa: B018


def test_multi_optimizer_config_and_state_round_trip():
    initial, grads = _problem(4)
    opt = _multi(optimizers)
    variables = []
    for i, w in enumerate(initial):
        v = Variable(w.copy(), name=f"w{i}")
        v.path = ("enc_" if i % 2 else "head_") + str(i)
        variables.append(v)
    for step in grads[:2]:
        opt.apply(step, variables)
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert type(clone) is optimizers.MultiOptimizer
    assert clone.get_config() == opt.get_config()
    copies = []
    for v in variables:
        c = Variable(v.numpy().copy(), name=v.name)
        c.path = v.path
        copies.append(c)
    clone.build(copies)
    store = {}
    opt.save_own_variables(store)
    clone.load_own_variables(store)
    for step in grads[2:]:
        opt.apply(step, variables)
        clone.apply(step, copies)
    for a, b in zip(variables, copies, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_optimizer_map_errors():
    with pytest.raises(TypeError, match="default_optimizer"):
        optimizers.OptimizerMap("sgd")
    m = optimizers.OptimizerMap(
        optimizers.SGD(), {"a.*": optimizers.SGD(), ".*b": optimizers.SGD()}
    )
    with pytest.raises(ValueError, match="Multiple optimizers"):
        m["ab"]
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        m["c"] = optimizers.LossScaleOptimizer(optimizers.SGD())


def test_multi_optimizer_in_fit_freezes_a_group():
    import cnnkit
    from cnnkit import layers

    model = cnnkit.Sequential(
        [layers.Input((4,)), layers.Dense(3, name="enc"), layers.Dense(2, name="head")]
    )
    opt = optimizers.MultiOptimizer(
        optimizers.OptimizerMap(optimizers.Adam(0.01), {"enc/.*": optimizers.SGD(0.0)})
    )
    model.compile(optimizer=opt, loss="mse")
    enc, head = model.layers[0].kernel.numpy().copy(), model.layers[1].kernel.numpy().copy()
    model.fit(np.ones((8, 4), "float32"), np.ones((8, 2), "float32"), epochs=2, verbose=0)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), enc)
    assert not np.allclose(model.layers[1].kernel.numpy(), head)


@pytest.mark.parametrize(
    "name",
    [
        "Nadam",
        "Adamax",
        "Adadelta",
        "Ftrl",
        "Lion",
        "Lamb",
        "Adafactor",
        "Muon",
        "ScheduleFreeAdamW",
    ],
)
def test_state_lines_up_with_keras(name):
    """The same variables in the same order and shapes: saved optimizer state is exchangeable."""
    keras = pytest.importorskip("keras")
    shapes = [(3, 4), (4,)]
    theirs = getattr(keras.optimizers, name)()
    theirs.build([keras.Variable(np.zeros(s, "float32")) for s in shapes])
    ours = getattr(optimizers, name)()
    ours.build([Variable(np.zeros(s, "float32"), name=f"w{i}") for i, s in enumerate(shapes)])
    assert [tuple(v.shape) for v in ours.variables] == [tuple(v.shape) for v in theirs.variables]
