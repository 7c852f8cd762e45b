"""TextVectorization (Keras 3 semantics), against hand-computed vocabularies and outputs."""

import math

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import layers
from cnnkit.autodiff import Tensor
from cnnkit.layers import KerasTensor, TextVectorization

CORPUS = ["foo bar", "bar baz", "baz bada boom"]


def _out(layer, x):
    return np.asarray(layer(x))


# -- adapt and the vocabulary -------------------------------------------------------------


def test_adapt_orders_by_count_then_token_descending():
    layer = TextVectorization()
    layer.adapt(CORPUS)
    # bar and baz: 2 each, "baz" > "bar"; then the 1-count tokens in decreasing order
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    assert layer.get_vocabulary(include_special_tokens=False) == [
        "baz",
        "bar",
        "foo",
        "boom",
        "bada",
    ]
    assert layer.vocabulary_size() == 7
    layer.adapt(["b a c", "c a", "b"])  # adapt again: replaces the vocabulary
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "b", "a"]


def test_max_tokens_counts_the_reserved_tokens():
    layer = TextVectorization(max_tokens=4)
    layer.adapt(["x y y z z z", "y"])  # z 3, y 3 -> z, y; x cut
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y"]
    layer = TextVectorization(max_tokens=3, output_mode="multi_hot")
    layer.adapt(["x y y z z z"])
    assert layer.get_vocabulary() == ["[UNK]", "z", "y"]


def test_adapt_accepts_arrays_columns_and_iterables_of_batches():
    expected = ["", "[UNK]", "b", "a"]
    for data in (np.array(["a b", "b"]), np.array([["a b"], ["b"]]), ("a b", "b")):
        layer = TextVectorization()
        layer.adapt(data)
        assert layer.get_vocabulary() == expected
    layer = TextVectorization()
    layer.adapt(iter([["a b"], np.array(["b"]), ["never read"]]), steps=2)
    assert layer.get_vocabulary() == expected
    layer = TextVectorization()
    layer.adapt([b"a b", b"b"], batch_size=1)  # bytes are decoded
    assert layer.get_vocabulary() == expected


def test_reserved_tokens_in_the_data_are_not_learned():
    layer = TextVectorization(standardize=None, split=None)
    layer.adapt(["", "[UNK]", "a", ""])
    assert layer.get_vocabulary() == ["", "[UNK]", "a"]
    np.testing.assert_array_equal(_out(layer, ["", "a", "zz"]), [[0], [2], [1]])


# -- int mode ------------------------------------------------------------------------------


def test_int_mode_pads_to_the_longest_string_of_the_batch():
    layer = TextVectorization()
    layer.adapt(CORPUS)
    out = _out(layer, [["foo qux bar"], ["qux baz"]])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[4, 1, 3], [1, 2, 0]])
    np.testing.assert_array_equal(_out(layer, np.array(["BAZ!", ""])), [[2], [0]])


def test_output_sequence_length_pads_and_truncates_at_the_end():
    layer = TextVectorization(output_sequence_length=3, vocabulary=["a", "b", "c", "d"])
    np.testing.assert_array_equal(
        _out(layer, ["a b c d", "d", "", "x a"]),
        [[2, 3, 4], [5, 0, 0], [0, 0, 0], [1, 2, 0]],
    )


def test_call_on_a_tensor_holding_strings():
    layer = TextVectorization(vocabulary=["a"])
    out = layer(Tensor(np.array([["a b"]], dtype=object)))
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.numpy(), [[2, 1]])
    np.testing.assert_array_equal(_out(layer, "a a"), [[2, 2]])  # a bare string: batch of one


# -- standardize, split, ngrams --------------------------------------------------------------


@pytest.mark.parametrize(
    "standardize, tokens",
    [
        ("lower_and_strip_punctuation", ["hello", "world", "Émiles"]),  # ASCII-only lowercase
        ("lower", ["hello,", "world!", "Émile's"]),
        ("strip_punctuation", ["Hello", "WORLD", "Émiles"]),
        (None, ["Hello,", "WORLD!", "Émile's"]),
    ],
)
def test_standardize_options(standardize, tokens):
    layer = TextVectorization(standardize=standardize, split="whitespace")
    layer.adapt(["Hello, WORLD! Émile's"])
    assert sorted(layer.get_vocabulary(include_special_tokens=False)) == sorted(tokens)


def test_callable_standardize_and_split():
    def dashes_to_spaces(strings):
        return np.array([s.replace("-", " ") for s in strings.ravel()], object).reshape(
            strings.shape
        )

    layer = TextVectorization(standardize=dashes_to_spaces)
    layer.adapt(["a-b", "b"])
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a"]

    layer = TextVectorization(standardize="lower", split=lambda x: [s.split("|") for s in x])
    layer.adapt([["a b|c"]])
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "a b"]


def test_whitespace_character_and_no_split():
    layer = TextVectorization(vocabulary=["a", "b", "c"])
    np.testing.assert_array_equal(_out(layer, [" a \t b\n\nc "]), [[2, 3, 4]])
    layer = TextVectorization(split="character", standardize=None)
    layer.adapt(["ab a"])
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", " "]
    np.testing.assert_array_equal(_out(layer, ["b a"]), [[3, 4, 2]])
    layer = TextVectorization(split=None, output_mode="count")
    layer.adapt(np.array([["a b"], ["a b"], ["c"]]))
    assert layer.get_vocabulary() == ["[UNK]", "a b", "c"]
    np.testing.assert_array_equal(_out(layer, ["A B", "d"]), [[0, 1, 0], [1, 0, 0]])


def test_ngrams():
    layer = TextVectorization(ngrams=2)
    layer.adapt(["a b c"])
    # unigrams and bigrams, all of count 1: decreasing order
    assert layer.get_vocabulary() == ["", "[UNK]", "c", "b c", "b", "a b", "a"]
    # unigrams first, then bigrams, as tf.strings.ngrams
    np.testing.assert_array_equal(_out(layer, ["a b c"]), [[6, 4, 2, 5, 3]])
    layer = TextVectorization(ngrams=(2,), vocabulary=["a b", "b c"])
    np.testing.assert_array_equal(_out(layer, ["a b c", "a"]), [[2, 3], [0, 0]])
    assert TextVectorization(ngrams=[1, 3]).get_config()["ngrams"] == (1, 3)


# -- multi_hot, count, tf_idf -------------------------------------------------------------------


def test_multi_hot_and_count():
    vocab = ["a", "b", "c"]
    x = ["a a d", "c", ""]
    multi = TextVectorization(output_mode="multi_hot", vocabulary=vocab)
    out = _out(multi, x)
    assert out.dtype == np.int64  # Keras's (its StringLookup's int64 values)
    np.testing.assert_array_equal(out, [[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    count = TextVectorization(output_mode="count", vocabulary=vocab)
    np.testing.assert_array_equal(_out(count, x), [[1, 2, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    padded = TextVectorization(
        output_mode="binary", vocabulary=vocab, max_tokens=6, pad_to_max_tokens=True
    )
    assert padded.output_mode == "multi_hot"
    np.testing.assert_array_equal(_out(padded, ["c"]), [[0, 0, 0, 1, 0, 0]])


def test_tf_idf_from_adapt():
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(["a a b", "a c", "d"])  # 3 documents
    assert layer.get_vocabulary() == ["[UNK]", "a", "d", "c", "b"]
    idf_a = math.log(1 + 3 / (1 + 2))  # a is in 2 documents, the others in 1
    idf_1 = math.log(1 + 3 / (1 + 1))
    oov = np.float32([idf_a, idf_1, idf_1, idf_1]).mean()  # [UNK]: mean of the learned ones
    out = _out(layer, ["a a z b"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[oov, 2 * idf_a, 0, 0, idf_1]], rtol=1e-6)


def test_tf_idf_from_given_weights():
    layer = TextVectorization(output_mode="tf-idf", vocabulary=["a", "b"], idf_weights=[0.5, 2])
    np.testing.assert_allclose(_out(layer, ["b b q"]), [[1.25, 0, 4.0]])
    layer = TextVectorization(
        output_mode="tf_idf",
        vocabulary=["[UNK]", "a", "b"],
        idf_weights=[9.0, 0.5, 2.0],
        max_tokens=5,
        pad_to_max_tokens=True,
    )
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]
    np.testing.assert_allclose(_out(layer, ["q a a"]), [[9.0, 1.0, 0, 0, 0]])


def test_set_vocabulary_with_or_without_reserved_tokens():
    layer = TextVectorization()
    layer.set_vocabulary(["", "[UNK]", "x", "y"])
    assert layer.get_vocabulary() == ["", "[UNK]", "x", "y"]
    layer.set_vocabulary(np.array(["y", "x"]))
    assert layer.get_vocabulary() == ["", "[UNK]", "y", "x"]
    layer.adapt(["q"])  # a vocabulary set later does not forbid adapt
    assert layer.get_vocabulary() == ["", "[UNK]", "q"]


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[UNK]\nthe\ncat\n", encoding="utf-8")
    layer = TextVectorization(output_mode="multi_hot", vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "the", "cat"]
    assert layer.get_config()["vocabulary"] is None


# -- shapes and config ---------------------------------------------------------------------------


def test_compute_output_shape_and_symbolic_call():
    layer = TextVectorization(output_sequence_length=5, vocabulary=["a"])
    assert layer.compute_output_shape((None, 1)) == (None, 5)
    assert layer.compute_output_shape((None,)) == (None, 5)
    assert TextVectorization().compute_output_shape((None, 1)) == (None, None)
    multi = TextVectorization(output_mode="multi_hot", vocabulary=["a", "b"])
    assert multi.compute_output_shape((None, 1)) == (None, 3)
    padded = TextVectorization(output_mode="count", max_tokens=10, pad_to_max_tokens=True)
    assert padded.compute_output_shape((None,)) == (None, 10)
    symbolic = layer(KerasTensor((None, 1), dtype="string"))
    assert symbolic.shape == (None, 5) and symbolic.dtype == "int64"
    symbolic = multi(KerasTensor((None, 1), dtype="string"))
    assert symbolic.shape == (None, 3) and symbolic.dtype == "float32"
    assert layer.weights == [] and layer.trainable_weights == []


def test_config_round_trip_with_vocabulary():
    layer = TextVectorization(
        max_tokens=10,
        standardize="lower",
        split="whitespace",
        ngrams=(1, 2),
        output_mode="tf_idf",
        vocabulary=["a", "b", "a b"],
        idf_weights=[1.0, 2.0, 3.0],
        name="tv",
    )
    config = layer.get_config()
    assert config["vocabulary"] == ["a", "b", "a b"]
    assert config["idf_weights"] == [1.0, 2.0, 3.0]
    clone = TextVectorization.from_config(config)
    assert clone.get_config() == config
    assert clone.get_vocabulary() == layer.get_vocabulary()
    x = ["A b c", "b"]
    np.testing.assert_array_equal(_out(clone, x), _out(layer, x))


def test_config_of_an_adapted_layer_has_no_vocabulary():
    layer = TextVectorization(output_sequence_length=4)
    layer.adapt(CORPUS)
    config = layer.get_config()
    assert config["vocabulary"] is None and config["output_sequence_length"] == 4
    clone = TextVectorization.from_config(config)
    assert clone.get_config() == config
    # Keras's configs carry `vocabulary_size`; it is accepted
    assert TextVectorization(**{**config, "vocabulary_size": 7}).vocabulary_size() == 2


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"max_tokens": 1}, r"`max_tokens`.*greater than 1.*max_tokens=1"),
        ({"max_tokens": 2.5}, r"`max_tokens`.*max_tokens=2.5"),
        ({"standardize": "upper"}, r"`standardize`.*'lower_and_strip_punctuation'.*'upper'"),
        ({"split": "comma"}, r"`split`.*'whitespace', 'character'.*split='comma'"),
        ({"output_mode": "one_hot"}, r"`output_mode`.*'int', 'multi_hot'.*'one_hot'"),
        ({"ngrams": 0}, r"`ngrams`.*ngrams=0"),
        ({"ngrams": (1, 0)}, r"`ngrams`.*ngrams=\(1, 0\)"),
        ({"ngrams": 1.5}, r"`ngrams`.*ngrams=1.5"),
        (
            {"output_mode": "count", "output_sequence_length": 3},
            r"`output_sequence_length` must not be set.*output_mode='count'",
        ),
        ({"output_sequence_length": 0}, r"`output_sequence_length`.*>= 1.*=0"),
        ({"pad_to_max_tokens": True}, r"`pad_to_max_tokens`.*`max_tokens` must be set"),
        ({"sparse": True}, r"`sparse=True` is not supported"),
        ({"ragged": True}, r"`ragged=True` is not supported"),
        ({"idf_weights": [1.0]}, r"`idf_weights` should only be set.*output_mode='int'"),
        (
            {"output_mode": "tf_idf", "vocabulary": ["a"]},
            r"`vocabulary` and `idf_weights` must be given together",
        ),
    ],
)
def test_bad_constructor_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        TextVectorization(**kwargs)


def test_bad_vocabularies():
    layer = TextVectorization(max_tokens=4)
    with pytest.raises(ValueError, match="empty vocabulary"):
        layer.set_vocabulary([])
    with pytest.raises(ValueError, match=r"repeated term.*\['a'\]"):
        layer.set_vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match=r"reserved mask token '' at unexpected location.*1"):
        layer.set_vocabulary(["a", ""])
    with pytest.raises(ValueError, match="vocabulary size is 5; `max_tokens` is 4"):
        layer.set_vocabulary(["a", "b", "c"])
    with pytest.raises(ValueError, match="does not exist"):
        layer.set_vocabulary("/nonexistent/vocab.txt")
    tf_idf = TextVectorization(output_mode="tf_idf", vocabulary=["a"], idf_weights=[1.0])
    with pytest.raises(
        ValueError, match=r"same length as vocabulary.*is 1; len\(vocabulary\) is 2"
    ):
        tf_idf.set_vocabulary(["a", "b"], idf_weights=[1.0])
    with pytest.raises(ValueError, match="`idf_weights` must be set"):
        tf_idf.set_vocabulary(["a"])
    assert tf_idf.get_vocabulary() == ["[UNK]", "a"]  # failed calls changed nothing


def test_adapt_refused_with_a_constructor_vocabulary():
    layer = TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match="Cannot adapt layer .* static vocabulary"):
        layer.adapt(["b"])
    with pytest.raises(TypeError, match="can only adapt to strings"):
        TextVectorization().adapt(5)
    with pytest.raises(ValueError, match="`steps`.*steps=0"):
        TextVectorization().adapt(["a"], steps=0)


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (np.array([1.0, 2.0]), r"expects string inputs.*dtype float64"),
        ([1, 2], r"expects strings in its input.*Received 1 \(of type int\)"),
        (["a", None], r"expects strings in its input.*None"),
    ],
)
def test_non_string_input(bad, pattern):
    layer = TextVectorization(vocabulary=["a"], name="vectorizer")
    with pytest.raises(TypeError, match=rf"'vectorizer' \(TextVectorization\) {pattern}"):
        layer(bad)
    with pytest.raises(TypeError, match="TextVectorization"):
        TextVectorization().adapt(bad)


def test_bad_shapes_and_unset_vocabulary():
    layer = TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match=r"last shape dimension must be 1.*\(1, 2\)"):
        layer([["a", "b"]])
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        layer.compute_output_shape((None, 3))
    with pytest.raises(RuntimeError, match="set the layer's vocabulary before calling it"):
        TextVectorization(output_mode="multi_hot")(["a"])
    multi = TextVectorization(output_mode="multi_hot")
    multi.adapt(["a b"])
    with pytest.raises(RuntimeError, match="Old vocab size is 3, new vocab size is 2"):
        multi.adapt(["a"])


# -- in a model (run last: needs the engine to take string inputs) ---------------------------------


def test_models_fit_and_predict_on_raw_strings():
    texts = np.array(
        ["good movie", "great film", "bad movie", "awful film", "good great fun", "bad awful"]
    )
    labels = np.array([1, 1, 0, 0, 1, 0], "float32")
    keras.utils.set_random_seed(0)

    vectorizer = layers.TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(texts)
    model = keras.Sequential(
        [
            keras.Input(shape=(1,), dtype="string"),
            vectorizer,
            layers.Dense(8, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(texts, labels, epochs=2, batch_size=3, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    predictions = model.predict(np.array(["good film", "awful movie"]), verbose=0)
    assert predictions.shape == (2, 1) and ((predictions > 0) & (predictions < 1)).all()

    inputs = keras.Input(shape=(1,), dtype="string")
    tf_idf = layers.TextVectorization(output_mode="tf_idf")
    tf_idf.adapt(texts)
    outputs = layers.Dense(2, activation="softmax")(tf_idf(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(texts[:, None], labels.astype("int64"), epochs=1, batch_size=2, verbose=0)
    probabilities = model.predict(texts, verbose=0)
    assert probabilities.shape == (6, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
