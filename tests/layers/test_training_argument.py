"""How a layer call finds its ``training`` value, as Keras 3's ``Layer.__call__`` does.

Order: the ``training`` given to the call; else the value of the enclosing call (the
outermost layer or model call opens a context each nested call reads and then sets); else
the default of ``training`` in the layer's ``call`` signature. A functional or sequential
model passes ``training`` to its layers only when it was given one (else each layer gets the
value its graph node recorded); ``fit`` calls with ``training=True``, ``predict`` and
``evaluate`` with ``training=False``.

Each scenario is a function of the library (``cnnkit`` or Keras) and returns effects
("changed"/"unchanged", the ``training`` values a probe layer received), never random values,
so the same table runs against Keras where it is importable.
"""

import inspect

import numpy as np
import pytest

import cnnkit

# 16 images: a random flip leaves all of them as they were with probability 4**-16.
X = np.arange(16 * 4 * 4, dtype="float32").reshape(16, 4, 4, 1) + 1.0


def _effect(y) -> str:
    return "unchanged" if np.allclose(np.asarray(y), X) else "changed"


def _probe_class(k):
    """A layer recording the ``training`` value each call of it receives."""

    class Probe(k.layers.Layer):
        def __init__(self, seen, **kwargs):
            super().__init__(**kwargs)
            self.record = seen.append  # Keras would track (copy) a list attribute

        def call(self, inputs, training=None):
            self.record(training)
            return inputs

        def compute_output_shape(self, input_shape):
            return input_shape

    return Probe


def _flip_alone(k):
    return _effect(k.layers.RandomFlip(seed=1)(X))


def _flip_explicit_false(k):
    return _effect(k.layers.RandomFlip(seed=1)(X, training=False))


def _contrast_alone(k):
    return _effect(k.layers.RandomContrast(0.5, seed=1)(X))


def _functional_flip(k):
    i = k.Input((4, 4, 1))
    m = k.Model(i, k.layers.RandomFlip(seed=1)(i))
    return [_effect(m(X)), _effect(m(X, training=False)), _effect(m.predict(X, verbose=0))]


def _sequential_flip(k):
    m = k.Sequential([k.layers.RandomFlip(seed=1)])
    return [_effect(m(X)), _effect(m(X, training=False)), _effect(m.predict(X, verbose=0))]


def _functional_flip_then_dropout(k):
    # Dropout's node holds its own default (False): m(x) leaves it off.
    i = k.Input((4, 4, 1))
    m = k.Model(i, k.layers.Dropout(0.99, seed=1)(k.layers.RandomFlip("vertical", seed=1)(i)))
    return [
        bool((np.asarray(m(X)) == 0).any()),
        bool((np.asarray(m(X, training=True)) == 0).any()),
    ]


def _functional_probe_after_flip(k):
    # A `training=None` layer reads the context the flip before it set to True.
    seen = []
    i = k.Input((4, 4, 1))
    m = k.Model(i, _probe_class(k)(seen)(k.layers.RandomFlip(seed=1)(i)))
    del seen[:]
    m(X)
    m(X, training=False)
    return seen


def _nested_models(k):
    seen = []
    i = k.Input((4, 4, 1))
    inner = k.Model(i, _probe_class(k)(seen)(i))
    j = k.Input((4, 4, 1))
    outer = k.Model(j, inner(j))
    del seen[:]
    outer(X)
    outer(X, training=True)
    outer(X, training=False)
    outer.predict(X, verbose=0)
    return seen


def _nested_sequential_flip(k):
    m = k.Sequential([k.Input((4, 4, 1)), k.Sequential([k.layers.RandomFlip(seed=1)])])
    return [_effect(m(X)), _effect(m(X, training=False))]


def _custom_layer_default_none(k):
    seen = []
    probe = _probe_class(k)(seen)
    probe(X)
    probe(X, training=True)
    probe(X, training=False)
    return seen


def _explicit_false_inside_training(k):
    """An outer layer called with training=True; inside, one call says training=False."""
    seen = []
    Probe = _probe_class(k)

    class Outer(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.flip = k.layers.RandomFlip(seed=1)
            self.first = Probe(seen)
            self.second = Probe(seen)

        def call(self, inputs):
            flipped = self.flip(inputs, training=False)
            self.first(inputs)  # inherits False, set by the flip's call
            return flipped, self.second(inputs, training=True)

        def compute_output_shape(self, input_shape):
            return input_shape, input_shape

    outer = Outer()
    outer(X, training=True)  # Keras's first call also traces `call` to build the layer
    del seen[:]
    flipped, _ = outer(X, training=True)
    return [_effect(flipped), *seen]


def _outer_context_reaches_dropout(k):
    """A layer without `training` in its call still hands an explicit value down."""

    class Outer(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop = k.layers.Dropout(0.99, seed=1)

        def call(self, inputs):
            return self.drop(inputs)

        def compute_output_shape(self, input_shape):
            return input_shape

    outer = Outer()
    return [
        bool((np.asarray(outer(X)) == 0).any()),
        bool((np.asarray(outer(X, training=True)) == 0).any()),
    ]


def _explicit_none_beats_the_default(k):
    """`training=None` given to a call reaches `call` as None, not as its default."""
    seen = []

    class TrainingByDefault(_probe_class(k)):
        def call(self, inputs, training=True):
            self.record(training)
            return inputs

    probe = TrainingByDefault(seen)
    probe(X)
    probe(X, training=None)
    probe(X, training=False)
    return seen


def _explicit_none_clears_the_context(k):
    """Inside a training=True call, an explicit None is this call's value and, set in the
    context, the one the next calls inherit (a layer whose default is True keeps it)."""
    seen = []
    Probe = _probe_class(k)

    class TrainingByDefault(Probe):
        def call(self, inputs, training=True):
            self.record(training)
            return inputs

    class Outer(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = Probe(seen)
            self.second = Probe(seen)
            self.third = TrainingByDefault(seen)

        def call(self, inputs):
            self.first(inputs, training=None)
            self.second(inputs)
            return self.third(inputs)

        def compute_output_shape(self, input_shape):
            return input_shape

    outer = Outer()
    outer(X, training=True)  # Keras's first call also traces `call` to build the layer
    del seen[:]
    outer(X, training=True)
    return seen


def _model_called_with_none_inside_training(k):
    seen = []
    Probe = _probe_class(k)
    i = k.Input((4, 4, 1))
    inner = k.Model(i, Probe(seen)(i))

    class Outer(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner
            self.after = Probe(seen)

        def call(self, inputs):
            return self.after(self.inner(inputs, training=None))

        def compute_output_shape(self, input_shape):
            return input_shape

    outer = Outer()
    outer(X, training=True)
    del seen[:]
    outer(X, training=True)
    return seen


def _graph_node_values(k):
    """A node built with training=True/None/False keeps that value; a node without one
    takes the context the previous layer set; the model's own value overrides them all."""
    seen = []
    Probe = _probe_class(k)
    i = k.Input((4, 4, 1))
    x = Probe(seen)(i, training=True)
    x = Probe(seen)(x)
    x = Probe(seen)(x, training=None)
    m = k.Model(i, Probe(seen)(x, training=False))
    results = []
    for kwargs in ({}, {"training": None}, {"training": False}):
        del seen[:]
        m(X, **kwargs)
        results.append(list(seen))
    del seen[:]
    m.predict(X, verbose=0)
    return [*results, seen]


def _time_distributed_flip(k):
    """A wrapper passes its own `training`, None included, to the wrapped layer's call."""
    frames = np.stack([X[:4], X[4:8], X[8:12]], axis=1)  # (4, 3, 4, 4, 1)

    def effect(y):
        return "unchanged" if np.allclose(np.asarray(y), frames) else "changed"

    td = k.layers.TimeDistributed(k.layers.RandomFlip(seed=1))
    i = k.Input((3, 4, 4, 1))
    m = k.Model(i, k.layers.TimeDistributed(k.layers.RandomFlip(seed=1))(i))
    return [effect(td(frames)), effect(td(frames, training=True)), effect(m(frames)),
            effect(m(frames, training=True))]  # fmt: skip


SCENARIOS = {
    _flip_alone: "changed",
    _flip_explicit_false: "unchanged",
    _contrast_alone: "changed",
    _functional_flip: ["changed", "unchanged", "unchanged"],
    _sequential_flip: ["changed", "unchanged", "unchanged"],
    _functional_flip_then_dropout: [False, True],
    _functional_probe_after_flip: [True, False],
    _nested_models: [None, True, False, False],
    _nested_sequential_flip: ["changed", "unchanged"],
    _custom_layer_default_none: [None, True, False],
    _explicit_false_inside_training: ["unchanged", False, True],
    _outer_context_reaches_dropout: [False, True],
    _explicit_none_beats_the_default: [True, None, False],
    _explicit_none_clears_the_context: [None, None, True],
    _model_called_with_none_inside_training: [None, None],
    _time_distributed_flip: ["unchanged", "changed", "unchanged", "changed"],
    _graph_node_values: [
        [True, True, None, False],
        [True, True, None, False],
        [False, False, False, False],
        [False, False, False, False],
    ],
}


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda f: f.__name__.strip("_"))
def test_training_resolution(scenario):
    assert scenario(cnnkit) == SCENARIOS[scenario]


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda f: f.__name__.strip("_"))
def test_training_resolution_as_keras(scenario):
    keras = pytest.importorskip("keras")
    assert scenario(keras) == SCENARIOS[scenario]


def test_fit_trains_and_predict_infers_with_augmentation_and_dropout():
    seen = []
    Probe = _probe_class(cnnkit)
    i = cnnkit.Input((4, 4, 1))
    x = Probe(seen)(cnnkit.layers.RandomFlip(seed=1)(i))
    out = cnnkit.layers.Dense(1)(cnnkit.layers.Flatten()(x))
    model = cnnkit.Model(i, out)
    model.compile(optimizer="sgd", loss="mse")
    del seen[:]
    model.fit(X, np.zeros((16, 1), "float32"), epochs=1, batch_size=16, verbose=0)
    assert seen == [True]
    del seen[:]
    model.predict(X, verbose=0)
    model.evaluate(X, np.zeros((16, 1), "float32"), verbose=0)
    assert seen and set(seen) == {False}


def test_layer_defaults_match_keras_signatures():
    keras = pytest.importorskip("keras")

    def default(cls):
        param = inspect.signature(cls.call).parameters.get("training")
        if param is None:
            return "absent"
        return None if param.default is inspect.Parameter.empty else param.default

    checked = 0
    for name in dir(keras.layers):
        theirs = getattr(keras.layers, name)
        ours = getattr(cnnkit.layers, name, None)
        if name in ("Layer", "Wrapper") or ours is None or not isinstance(theirs, type):
            continue  # abstract bases: neither library's base `call` runs
        if not issubclass(theirs, keras.layers.Layer):
            continue
        assert default(ours) == default(theirs), name
        checked += 1
    assert checked > 100


def _recording_probe(k, seen):
    """A probe that Keras and cnnkit can rebuild from its config (clone, from_config)."""

    class RecordingProbe(k.layers.Layer):
        def call(self, inputs, training=None):
            seen.append(training)
            return inputs

        def compute_output_shape(self, input_shape):
            return input_shape

    return RecordingProbe


def _node_training_round_trip(k):
    """The ``training`` each node was built with: in the config's ``kwargs``, and as the
    values a clone and a model rebuilt from the config give the layers."""
    seen = []
    Probe = _recording_probe(k, seen)
    i = k.Input((3,))
    x = Probe(name="p_true")(i, training=True)
    x = Probe(name="p_plain")(x)
    x = Probe(name="p_none")(x, training=None)
    model = k.Model(i, Probe(name="p_false")(x, training=False))
    config = model.get_config()
    written = {
        layer["name"]: layer["inbound_nodes"][0]["kwargs"]
        for layer in config["layers"]
        if layer["inbound_nodes"]
    }
    data = np.ones((2, 3), "float32")
    calls = []
    for rebuilt in (
        k.models.clone_model(model),
        k.Model.from_config(config, custom_objects={"RecordingProbe": Probe}),
    ):
        del seen[:]
        rebuilt(data)
        calls.append(list(seen))
    return written, calls


NODE_TRAINING = (
    {
        "p_true": {"training": True},
        "p_plain": {},
        "p_none": {"training": None},
        "p_false": {"training": False},
    },
    [[True, True, None, False], [True, True, None, False]],
)


def test_node_training_values_are_written_and_kept():
    assert _node_training_round_trip(cnnkit) == NODE_TRAINING


def test_node_training_values_are_written_and_kept_as_keras():
    keras = pytest.importorskip("keras")
    assert _node_training_round_trip(keras) == NODE_TRAINING


def test_a_keras_config_with_training_none_loads_with_that_value():
    """Keras writes an explicit `training=None` as `"training": null`: loading keeps it."""
    seen = []
    Probe = _recording_probe(cnnkit, seen)
    i = cnnkit.Input((3,))
    inner = Probe(name="p")(i, training=None)
    config = cnnkit.Model(i, Probe(name="q")(inner)).get_config()
    assert config["layers"][1]["inbound_nodes"][0]["kwargs"] == {"training": None}
    rebuilt = cnnkit.Model.from_config(config, custom_objects={"RecordingProbe": Probe})
    del seen[:]
    rebuilt(np.ones((2, 3), "float32"), training=None)
    assert seen == [None, None]
    del seen[:]
    rebuilt(np.ones((2, 3), "float32"), training=True)
    assert seen == [True, True]
