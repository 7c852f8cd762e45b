"""pad_sequences (keras.preprocessing.sequence / keras.utils), against hand-computed arrays."""

import numpy as np
import pytest

import cnnkit
from cnnkit.preprocessing.sequence import pad_sequences

SEQS = [[1], [2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize(
    "padding, truncating, expected",
    [
        ("pre", "pre", [[0, 0, 1], [0, 2, 3], [5, 6, 7]]),
        ("pre", "post", [[0, 0, 1], [0, 2, 3], [4, 5, 6]]),
        ("post", "pre", [[1, 0, 0], [2, 3, 0], [5, 6, 7]]),
        ("post", "post", [[1, 0, 0], [2, 3, 0], [4, 5, 6]]),
    ],
)
def test_every_padding_truncating_combination(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    assert isinstance(out, np.ndarray) and out.dtype == np.int32
    np.testing.assert_array_equal(out, expected)


def test_maxlen_defaults_to_longest_and_longer_maxlen_pads():
    np.testing.assert_array_equal(pad_sequences(SEQS), [[0, 0, 0, 1], [0, 0, 2, 3], [4, 5, 6, 7]])
    out = pad_sequences([[1, 2]], maxlen=5, padding="post", value=9)
    np.testing.assert_array_equal(out, [[1, 2, 9, 9, 9]])


def test_dtype_and_value():
    out = pad_sequences([[0.5], [1.5, 2.5]], dtype="float32", value=-1.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[-1.0, 0.5], [1.5, 2.5]])
    # int dtype truncates float items, as NumPy's cast does
    np.testing.assert_array_equal(pad_sequences([[1.7, 2.2]]), [[1, 2]])


def test_strings_with_object_or_str_dtype():
    out = pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
    assert out.dtype == object
    assert out.tolist() == [["<pad>", "a"], ["b", "c"]]
    out = pad_sequences([["ab"], []], maxlen=2, dtype="<U5", value="-", padding="post")
    assert out.tolist() == [["ab", "-"], ["-", "-"]]


def test_empty_sequences_become_rows_of_value():
    out = pad_sequences([[], [3], []], value=7)
    np.testing.assert_array_equal(out, [[7], [3], [7]])
    assert pad_sequences([[], []], maxlen=2).tolist() == [[0, 0], [0, 0]]
    assert pad_sequences([], maxlen=3).shape == (0, 3)
    assert pad_sequences([]).shape == (0, 0)


def test_maxlen_zero_gives_empty_rows():
    for truncating in ("pre", "post"):
        out = pad_sequences([[1, 2], [3]], maxlen=0, truncating=truncating)
        assert out.shape == (2, 0)


def test_sequences_of_vectors_keep_sample_shape():
    a = np.arange(6).reshape(3, 2)
    b = np.array([[10, 11]])
    out = pad_sequences([a, b, []], maxlen=2)
    assert out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out[0], [[2, 3], [4, 5]])
    np.testing.assert_array_equal(out[1], [[0, 0], [10, 11]])
    np.testing.assert_array_equal(out[2], np.zeros((2, 2)))
    out = pad_sequences([a, b], maxlen=2, padding="post", truncating="post", value=-1)
    np.testing.assert_array_equal(out[0], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(out[1], [[10, 11], [-1, -1]])


def test_numpy_and_tuple_inputs():
    out = pad_sequences((np.array([1, 2, 3]), (4,)), maxlen=2)
    np.testing.assert_array_equal(out, [[2, 3], [0, 4]])
    np.testing.assert_array_equal(pad_sequences(np.array([[1, 2], [3, 4]])), [[1, 2], [3, 4]])


def test_exposed_where_keras_exposes_it():
    assert cnnkit.utils.pad_sequences is pad_sequences
    assert cnnkit.preprocessing.sequence.pad_sequences is pad_sequences


@pytest.mark.parametrize("name", ["padding", "truncating"])
def test_bad_padding_or_truncating(name):
    with pytest.raises(ValueError, match=rf"`{name}`.*'pre', 'post'.*{name}='middle'"):
        pad_sequences(SEQS, **{name: "middle"})
    # checked even when no sequence needs padding or truncating
    with pytest.raises(ValueError, match=name):
        pad_sequences([[]], **{name: "both"})


@pytest.mark.parametrize("maxlen", [-1, 2.5, "3", True])
def test_bad_maxlen(maxlen):
    with pytest.raises(ValueError, match=r"`maxlen`.*integer >= 0.*maxlen="):
        pad_sequences(SEQS, maxlen=maxlen)


def test_non_iterable_sequences():
    with pytest.raises(ValueError, match="`sequences` must be iterable.*int"):
        pad_sequences(5)
    with pytest.raises(ValueError, match="`sequences` must be iterable.*generator"):
        pad_sequences(s for s in SEQS)
    with pytest.raises(ValueError, match="`sequences` must be iterable.*str"):
        pad_sequences("abc")
    with pytest.raises(ValueError, match="list of iterables.*3.*position 1"):
        pad_sequences([[1], 3])


def test_string_value_needs_string_dtype():
    with pytest.raises(ValueError, match="not compatible with `value`.*dtype=object"):
        pad_sequences([["a"]], value="x")


def test_inconsistent_vector_shapes():
    with pytest.raises(ValueError, match=r"Shape of sample \(3,\) of sequence at position 1"):
        pad_sequences([np.zeros((2, 2)), np.zeros((1, 3))])
