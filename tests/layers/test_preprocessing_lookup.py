"""StringLookup and IntegerLookup: Keras 3's documented behaviour, adapt, saving, errors.

Keras's lookup layers need TensorFlow, which is not installed beside Keras here, so the
expected values are those of Keras's own docstring examples and hand-computed cases.
"""

import numpy as np
import pytest

from cnnkit.layers import Hashing, Input, IntegerLookup, StringLookup
from cnnkit.models import Model, load_model

VOCAB = ["a", "b", "c", "d"]
DATA = [["a", "c", "d"], ["d", "z", "b"]]


def test_string_lookup_int_mode_with_and_without_mask():
    np.testing.assert_array_equal(
        StringLookup(vocabulary=VOCAB)(DATA).numpy(), [[1, 3, 4], [4, 0, 2]]
    )
    layer = StringLookup(vocabulary=VOCAB, mask_token="")
    out = layer([["a", "c", "d"], ["d", "", "b"]]).numpy()
    np.testing.assert_array_equal(out, [[2, 4, 5], [5, 0, 3]])
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"]
    assert layer.get_vocabulary(include_special_tokens=False) == VOCAB
    assert layer.vocabulary_size() == 6
    assert StringLookup(vocabulary=VOCAB)(np.array([b"b", b"q"])).numpy().tolist() == [2, 0]


def test_string_lookup_encoded_modes():
    data = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    multi = StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(data).numpy()
    np.testing.assert_array_equal(multi, [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    count = StringLookup(vocabulary=VOCAB, output_mode="count")(data).numpy()
    np.testing.assert_array_equal(count, [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    idf = [0.25, 0.75, 0.6, 0.4]
    tfidf = StringLookup(vocabulary=VOCAB, idf_weights=idf, output_mode="tf_idf")(data).numpy()
    np.testing.assert_allclose(tfidf, [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]])
    assert tfidf.dtype == np.float32
    one_hot = StringLookup(vocabulary=VOCAB, output_mode="one_hot")(["a", "z"]).numpy()
    np.testing.assert_array_equal(one_hot, [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    padded = StringLookup(
        vocabulary=VOCAB, output_mode="count", max_tokens=8, pad_to_max_tokens=True
    )
    assert padded(data).shape == (2, 8)


def test_string_lookup_invert_round_trips():
    forward = StringLookup(vocabulary=VOCAB)
    inverse = StringLookup(vocabulary=VOCAB, invert=True)
    out = inverse(forward(DATA)).numpy()
    assert out.tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]


def test_string_lookup_adapt_orders_by_count_then_token():
    layer = StringLookup(max_tokens=4)
    layer.adapt(np.array([["b", "c", "a"], ["c", "a", "e"], ["c", "d", "f"]]))
    # counts: c 3, a 2, then ties of 1 in decreasing order f, e, d, b -> keep 3 tokens
    assert layer.get_vocabulary() == ["[UNK]", "c", "a", "f"]
    batches = StringLookup()
    batches.adapt([np.array(["x", "y"]), np.array(["y"])])
    assert batches.get_vocabulary() == ["[UNK]", "y", "x"]


def test_string_lookup_tf_idf_adapt():
    layer = StringLookup(output_mode="tf_idf")
    docs = [["a", "a", "b"], ["b", "c", "c"]]
    layer.adapt(docs)
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "a"]
    idf = np.log(1 + 2 / (1 + np.array([1.0, 2.0, 1.0])))  # c, b, a
    weights = np.concatenate([[idf.mean()], idf])
    expected = np.array([[0, 0, 1, 2], [0, 2, 1, 0]]) * weights
    np.testing.assert_allclose(layer(docs).numpy(), expected, rtol=1e-6)


def test_integer_lookup_documented_examples():
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    np.testing.assert_array_equal(
        IntegerLookup(vocabulary=vocab)(data).numpy(), [[1, 3, 4], [4, 0, 2]]
    )
    two_oov = IntegerLookup(vocabulary=vocab, num_oov_indices=2)
    out = two_oov(np.array([[12, 1138, 42], [37, 1000, 36]])).numpy()
    np.testing.assert_array_equal(out, [[2, 4, 5], [1, 0, 3]])  # 37 % 2, 1000 % 2
    inverse = IntegerLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(
        inverse(np.array([[1, 3, 4], [4, 0, 2]])).numpy(), [[12, 1138, 42], [42, -1, 36]]
    )
    masked = IntegerLookup(vocabulary=vocab, mask_token=0)
    np.testing.assert_array_equal(masked(np.array([[12, 0, 7]])).numpy(), [[2, 0, 1]])
    counted = IntegerLookup(vocabulary=vocab, mask_token=0, output_mode="count")
    np.testing.assert_array_equal(counted(np.array([[12, 0, 12, 7]])).numpy(), [[1, 2, 0, 0, 0]])


def test_lookup_in_a_model_and_saved_vocabulary(tmp_path):
    layer = StringLookup()
    layer.adapt([["x", "y", "y"], ["z", "y", "x"]])
    inputs = Input((3,), dtype="string")
    model = Model(inputs, layer(inputs))
    data = np.array([["x", "q", "z"]])
    expected = layer(data).numpy()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), expected)
    ints = IntegerLookup(output_mode="tf_idf")
    ints.adapt(np.array([[1, 2, 2], [3, 2, 1]]))
    int_inputs = Input((3,), dtype="int64")
    int_model = Model(int_inputs, ints(int_inputs))
    int_model.save(tmp_path / "i.keras")
    reloaded = load_model(tmp_path / "i.keras")
    x = np.array([[2, 9, 1]])
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), ints(x).numpy(), rtol=1e-6)


def test_config_round_trip():
    for layer in (
        StringLookup(vocabulary=VOCAB, mask_token="", output_mode="int"),
        IntegerLookup(max_tokens=5, num_oov_indices=2, oov_token=-7),
    ):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        assert clone.get_vocabulary() == layer.get_vocabulary()


@pytest.mark.parametrize(
    "cls, kwargs, error, pattern",
    [
        (StringLookup, {"max_tokens": 1}, ValueError, "must be greater than 1"),
        (StringLookup, {"num_oov_indices": -1}, ValueError, "must >= 0"),
        (StringLookup, {"num_oov_indices": 2, "salt": "x"}, ValueError, "`salt` argument"),
        (StringLookup, {"output_mode": "x"}, ValueError, "`output_mode`"),
        (StringLookup, {"invert": True, "output_mode": "count"}, ValueError, "when `invert`"),
        (StringLookup, {"sparse": True}, ValueError, "sparse=True"),
        (StringLookup, {"idf_weights": [1.0]}, ValueError, "`idf_weights` should only"),
        (StringLookup, {"vocabulary": ["a"], "output_mode": "tf_idf"}, ValueError, "idf_weights"),
        (StringLookup, {"vocabulary": ["a", "a"]}, ValueError, "repeated term"),
        (StringLookup, {"vocabulary": ["a", ""], "mask_token": ""}, ValueError, "mask token"),
        (StringLookup, {"vocabulary": ["a", "b"], "max_tokens": 2}, ValueError, "larger than"),
        (IntegerLookup, {"vocabulary_dtype": "int32"}, ValueError, "int64"),
        (IntegerLookup, {"oov_method": "farmhash", "salt": (1, 2, 3)}, ValueError, "2 integers"),
        (IntegerLookup, {"salt": 3}, ValueError, "`salt` can only be used"),
    ],
)
def test_bad_arguments(cls, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        cls(**kwargs)


def test_errors_on_use():
    with pytest.raises(ValueError, match="Cannot adapt"):
        StringLookup(vocabulary=VOCAB).adapt(["a"])
    with pytest.raises(ValueError, match="all inputs should be in vocabulary"):
        StringLookup(vocabulary=VOCAB, num_oov_indices=0)(["z"])
    with pytest.raises(TypeError, match="expects strings"):
        StringLookup(vocabulary=VOCAB)(np.array([1, 2]))
    with pytest.raises(TypeError, match="expects integers"):
        IntegerLookup(vocabulary=[1])(np.array(["a"]))
    with pytest.raises(RuntimeError, match="set the layer's vocabulary"):
        StringLookup(output_mode="multi_hot")(["a"])


def test_several_oov_indices_hash_as_keras_documents():
    data = [["a", "c", "d"], ["m", "z", "b"]]
    layer = StringLookup(vocabulary=["a", "b", "c", "d"], num_oov_indices=2)
    np.testing.assert_array_equal(layer(data).numpy(), [[2, 4, 5], [0, 1, 3]])
    ints = IntegerLookup(vocabulary=[12, 36, 1138, 42], num_oov_indices=2)
    np.testing.assert_array_equal(
        ints([[12, 1138, 42], [37, 1000, 36]]).numpy(), [[2, 4, 5], [1, 0, 3]]
    )
    oov = np.array([100, 300, 700, 1100, 1700, 2000])
    floormod = IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4)
    farmhash = IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")
    np.testing.assert_array_equal(floormod(oov).numpy(), [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(farmhash(oov).numpy(), [3, 3, 2, 2, 0, 1])


def test_oov_hashing_is_the_hashing_layers_and_saves(tmp_path):
    words = np.array([["q", "a", "zz"], ["", "r", "a"]])
    for salt in (None, [5, 9]):
        layer = StringLookup(vocabulary=["a"], num_oov_indices=3, mask_token="", salt=salt)
        ids = layer(words).numpy()
        buckets = Hashing(3, salt=salt)(words).numpy() + 1  # OOV indices start after the mask
        expected = np.where(words == "a", 4, np.where(words == "", 0, buckets))
        np.testing.assert_array_equal(ids, expected)
        config = layer.get_config()
        assert config["salt"] == salt
        assert StringLookup.from_config(config)(words).numpy().tolist() == ids.tolist()
    salted = IntegerLookup(vocabulary=[1], num_oov_indices=5, oov_method="farmhash", salt=7)
    np.testing.assert_array_equal(
        salted(np.array([1, 8, 90])).numpy(),
        [5, *(Hashing(5, salt=7)(np.array([8, 90])).numpy())],
    )
    assert salted.get_config()["salt"] == [7, 7]
