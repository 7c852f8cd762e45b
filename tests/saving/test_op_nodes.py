"""Ops applied to symbolic tensors in a functional model (``x + y``, ``ops.mean(x, axis=1)``,
``x[:, 0]``...) are graph nodes that save and load in Keras 3's form, both ways."""

from __future__ import annotations

import json
import pathlib
import sys
import warnings
import zipfile

import numpy as np
import pytest

import cnnkit
from cnnkit import ops
from cnnkit.layers.operations import Operation
from cnnkit.ops.keras_operations import OPERATIONS


def build(lib):
    """The same graph in Keras or cnnkit: operators, numpy/nn ops, a list input, indexing."""
    inputs = lib.Input((5,))
    dense = lib.layers.Dense(5, kernel_initializer="ones")(inputs)
    x = lib.ops.mean(inputs + dense * 2.0, axis=-1, keepdims=True)
    x = lib.ops.concatenate([x, lib.ops.relu(inputs)[:, :1], lib.ops.reshape(x, (-1, 1))], axis=-1)
    x = lib.ops.where(x > 0, x, -x)
    x = x + lib.ops.cast(x != 0, "float32")  # `!=` records a node; Cast's dtype is a string
    taken = lib.ops.transpose(lib.ops.take(x, [0, 1], axis=1), (1, 0))
    weights = np.arange(6, dtype="float32").reshape(3, 2)
    x = lib.ops.softmax(x - taken[0][:, None], axis=-1) @ weights
    return lib.Model(inputs, x)


X = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")


def test_op_nodes_are_operations_with_keras_configs():
    model = build(cnnkit)
    nodes = [op for op in model.operations if isinstance(op, Operation)]
    names = [op.class_name for op in nodes]
    assert {"Mean", "Multiply", "Add", "Concatenate", "GetItem", "Reshape", "Where", "Take"} <= set(
        names
    )
    mean = next(op for op in nodes if op.class_name == "Mean")
    assert mean.get_config() == {"name": mean.name, "axis": -1, "keepdims": True}
    assert model.predict(X, verbose=0).shape == (4, 2)


def test_cnnkit_round_trip_without_keras(tmp_path):
    model = build(cnnkit)
    path = tmp_path / "ops.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    layers = {layer["class_name"]: layer for layer in config["config"]["layers"]}
    assert layers["Mean"]["module"] == "keras.src.ops.numpy"
    assert layers["Mean"]["registered_name"] == "Mean"
    mean = layers["Mean"]
    assert mean["config"] == {"name": mean["name"], "axis": -1, "keepdims": True}
    assert layers["Multiply"]["inbound_nodes"][0]["args"][1] == 2.0  # constants stay arguments
    assert layers["Softmax"]["module"] == "keras.src.ops.nn"
    assert layers["NotEqual"]["module"] == "keras.src.ops.numpy"
    assert layers["Cast"]["config"] == {"name": layers["Cast"]["name"], "dtype": "float32"}
    loaded = cnnkit.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), 1e-6)


def test_op_nodes_train_and_clone():
    inputs = cnnkit.Input((5,))
    x = cnnkit.layers.Dense(5)(inputs)
    x = ops.softmax(ops.concatenate([x * 2.0, ops.mean(x, axis=-1, keepdims=True)], axis=-1))
    model = cnnkit.Model(inputs, ops.take(x, [0, 5], axis=1) - 1.0)
    model.compile("sgd", "mse")
    before = model.get_weights()[0].copy()
    model.fit(X, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    assert not np.allclose(before, model.get_weights()[0])  # gradients flow through op nodes
    clone = cnnkit.models.clone_model(model)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(X, verbose=0), model.predict(X, verbose=0), 1e-6)


@pytest.mark.parametrize("direction", ["keras_to_cnnkit", "cnnkit_to_keras"])
def test_files_move_between_keras_and_cnnkit(tmp_path, direction):
    keras = pytest.importorskip("keras")
    path = tmp_path / "ops.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = build(keras if direction == "keras_to_cnnkit" else cnnkit)
        expected = np.asarray(source.predict(X, verbose=0))
        source.save(path)
        if direction == "keras_to_cnnkit":
            loaded = cnnkit.models.load_model(path)
        else:
            loaded = keras.saving.load_model(path)
        got = np.asarray(loaded.predict(X, verbose=0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_multi_head_attention_call_is_written_as_keras_writes_it(tmp_path):
    inputs = cnnkit.Input((6, 8))
    attention = cnnkit.layers.MultiHeadAttention(2, 4)
    model = cnnkit.Model(inputs, attention(inputs, inputs))
    model.save(tmp_path / "mha.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "mha.keras").read("config.json"))
    layer = config["config"]["layers"][1]
    assert len(layer["inbound_nodes"][0]["args"]) == 2  # query, value: two arguments
    assert layer["build_config"] == {
        "shapes_dict": {"query_shape": [None, 6, 8], "value_shape": [None, 6, 8]}
    }
    x = np.random.default_rng(1).standard_normal((2, 6, 8)).astype("float32")
    loaded = cnnkit.models.load_model(tmp_path / "mha.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), 1e-6)


def test_unknown_ops_and_config_entries_are_refused():
    with pytest.raises(ValueError, match="Unknown operation.*op='no_such_op'"):
        Operation("no_such_op")
    with pytest.raises(ValueError, match=r"Operation 'mean' takes the config entries.*\['axes'\]"):
        Operation("mean", axes=1)
    with pytest.raises(ValueError, match="Unknown Keras operation 'NoSuchOp'"):
        Operation.from_keras_config("NoSuchOp", {})


def test_an_op_without_a_keras_class_still_runs_but_is_not_saved(tmp_path):
    inputs = cnnkit.Input((3,))
    model = cnnkit.Model(inputs, ops.cond(True, lambda: inputs, lambda: inputs) * 1.0)
    assert model.predict(np.ones((1, 3), "float32"), verbose=0).shape == (1, 3)


def test_stored_table_matches_the_installed_keras():
    pytest.importorskip("keras")
    tools = pathlib.Path(__file__).resolve().parents[2] / "tools"
    sys.path.insert(0, str(tools))
    try:
        import keras_operations as generator
    finally:
        sys.path.remove(str(tools))
    table = generator.build()
    assert {k: tuple(v) for k, v in table.items()} == {k: tuple(v) for k, v in OPERATIONS.items()}


# Ops on symbolic tensors: each output has Keras's dtype and shape (an index is int32, a
# comparison bool, a value-dependent size unknown).
SYMBOLIC_CASES = {
    "top_k": lambda o, x, xi, m, s: o.top_k(x, 2),
    "argmax": lambda o, x, xi, m, s: o.argmax(x, axis=-1),
    "argmin": lambda o, x, xi, m, s: o.argmin(x, axis=-1),
    "argsort": lambda o, x, xi, m, s: o.argsort(x),
    "argpartition": lambda o, x, xi, m, s: o.argpartition(x, 2),
    "ctc_decode": lambda o, x, xi, m, s: o.ctc_decode(s, o.cast(x[:, 0] * 0 + 6, "int32")),
    "unique": lambda o, x, xi, m, s: o.unique(x),
    "nonzero": lambda o, x, xi, m, s: o.nonzero(x),
    "bincount": lambda o, x, xi, m, s: o.bincount(xi),
    "count_nonzero": lambda o, x, xi, m, s: o.count_nonzero(x),
    "searchsorted": lambda o, x, xi, m, s: o.searchsorted(x[0], x),
    "in_top_k": lambda o, x, xi, m, s: o.in_top_k(xi[:, 0], x, 2),
    "isnan": lambda o, x, xi, m, s: o.isnan(x),
    "equal": lambda o, x, xi, m, s: o.equal(x, x),
    "logical_and": lambda o, x, xi, m, s: o.logical_and(x, x),
    "all": lambda o, x, xi, m, s: o.all(x),
    "cast": lambda o, x, xi, m, s: o.cast(x, "int32"),
    "floor_divide": lambda o, x, xi, m, s: o.floor_divide(xi, 2),
    "sum_int": lambda o, x, xi, m, s: o.sum(xi),
    "sign_int": lambda o, x, xi, m, s: o.sign(xi),
    "mean_int": lambda o, x, xi, m, s: o.mean(xi),
    "eigh": lambda o, x, xi, m, s: o.eigh(m),
    "qr": lambda o, x, xi, m, s: o.qr(m),
    "svd": lambda o, x, xi, m, s: o.svd(m),
    "split": lambda o, x, xi, m, s: o.split(x, [2], axis=1),
    "unstack": lambda o, x, xi, m, s: o.unstack(m, axis=1),
    "moments": lambda o, x, xi, m, s: o.moments(x, axes=[1]),
    "rfft": lambda o, x, xi, m, s: o.rfft(x),
    "stft": lambda o, x, xi, m, s: o.stft(s[:, :, 0], 4, 2, 4),
    "one_hot": lambda o, x, xi, m, s: o.one_hot(xi, 3),
}


def _specs(result):
    if isinstance(result, (list, tuple)):
        return [_specs(r) for r in result]
    return tuple(result.shape), str(result.dtype)


@pytest.mark.parametrize("case", sorted(SYMBOLIC_CASES))
def test_symbolic_op_outputs_have_keras_dtypes_and_shapes(case):
    keras = pytest.importorskip("keras")

    def specs(lib):
        inputs = (
            lib.Input((5,)),
            lib.Input((5,), dtype="int32"),
            lib.Input((3, 3)),
            lib.Input((6, 4)),
        )
        return _specs(SYMBOLIC_CASES[case](lib.ops, *inputs))

    assert specs(cnnkit) == specs(keras)


# Tiny functional models over a broad set of ops: saved by one library, loaded by the other,
# they predict the same values.
ROUND_TRIP_CASES = {
    "pad": lambda o, x: o.pad(x, ((0, 0), (1, 2))),
    "pad_constant": lambda o, x: o.pad(x, ((0, 0), (1, 1)), constant_values=2.0),
    "clip": lambda o, x: o.clip(x, -0.5, 0.5),
    "where": lambda o, x: o.where(x > 0, x, 0.0),
    "take_along_axis": lambda o, x: o.take_along_axis(x, o.argsort(x, axis=1), axis=1),
    "stack": lambda o, x: o.stack([x, x], axis=1),
    "transpose": lambda o, x: o.transpose(o.reshape(x, (-1, 2, 3)), (0, 2, 1)),
    "squeeze": lambda o, x: o.squeeze(o.expand_dims(x, 1), axis=1),
    "repeat": lambda o, x: o.repeat(x, 2, axis=1),
    "tile": lambda o, x: o.tile(x, (1, 2)),
    "cumsum": lambda o, x: o.cumsum(x, axis=1),
    "sort": lambda o, x: o.sort(x, axis=-1),
    "einsum": lambda o, x: o.einsum("ij,ik->ijk", x, x),
    "matmul": lambda o, x: o.matmul(x, o.transpose(x)),
    "norm": lambda o, x: o.norm(o.reshape(x, (-1, 2, 3)), ord="fro", axis=(1, 2)),
    "top_k": lambda o, x: o.top_k(x, 2)[0] + o.cast(o.top_k(x, 2)[1], "float32"),
    "split": lambda o, x: o.split(x, 2, axis=1)[1],
    "moments": lambda o, x: o.moments(x, axes=[1])[1],
    "one_hot": lambda o, x: o.one_hot(o.argmax(x, axis=-1), 4),
    "average": lambda o, x: o.average(x, axis=1),
    "abs_power": lambda o, x: o.power(o.abs(x), 1.5),
    "slice_update": lambda o, x: o.slice_update(x, (0, 1), o.zeros((4, 2))),
    "tensordot": lambda o, x: o.tensordot(x, o.ones((6, 2)), axes=1),
    "image_resize": lambda o, x: o.image.resize(o.reshape(x, (-1, 2, 3, 1)), (4, 6)),
    "average_pool": lambda o, x: o.average_pool(o.reshape(x, (-1, 6, 1)), 2, 2),
    "rfft": lambda o, x: o.rfft(x)[1],
    "searchsorted": lambda o, x: o.cast(o.searchsorted(o.sort(x[0]), x), "float32"),
    "floor_divide_mod": lambda o, x: x // 0.3 + 1.0 // (o.abs(x) + 1.0) + x % 0.3,
    "logical_operators": lambda o, x: o.cast(((x > 0) & (x < 1)) | ~(x > -1) ^ (x > 2), "int32"),
    "round": lambda o, x: round(x * 3.0),
    "constant_first": lambda o, x: o.arange(6, dtype="float32") + x,
    "rms_normalization": lambda o, x: o.rms_normalization(x, axis=-1),
    "aliases": lambda o, x: o.swish(x) + o.hard_swish(x) + o.abs(x),
    "attention": lambda o, x: o.reshape(
        o.dot_product_attention(*[o.reshape(x, (-1, 3, 1, 2))] * 3, is_causal=True), (-1, 6)
    ),
}


@pytest.mark.parametrize("direction", ["keras_to_cnnkit", "cnnkit_to_keras"])
@pytest.mark.parametrize("case", sorted(ROUND_TRIP_CASES))
def test_op_models_move_between_keras_and_cnnkit(tmp_path, case, direction):
    keras = pytest.importorskip("keras")
    source = keras if direction == "keras_to_cnnkit" else cnnkit
    x = np.random.default_rng(0).standard_normal((4, 6)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = source.Input((6,), batch_size=4)
        model = source.Model(inputs, ROUND_TRIP_CASES[case](source.ops, inputs))
        expected = np.asarray(model.predict(x, verbose=0))
        model.save(tmp_path / "model.keras")
        load = cnnkit.models.load_model if source is keras else keras.saving.load_model
        got = np.asarray(load(tmp_path / "model.keras").predict(x, verbose=0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_lambda_outputs_its_compute_dtype_and_an_op_its_own():
    def dtypes(lib):
        inputs = lib.Input((5,))
        wrapped = lib.layers.Lambda(lambda x: lib.ops.argmax(x, axis=-1))(inputs)
        return str(wrapped.dtype), str(lib.ops.argmax(inputs, axis=-1).dtype)

    assert dtypes(cnnkit) == ("float32", "int32")
    keras = pytest.importorskip("keras")
    assert dtypes(cnnkit) == dtypes(keras)
