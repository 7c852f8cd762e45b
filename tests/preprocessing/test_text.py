"""Tokenizer, text_to_word_sequence and hashing (tf.keras 2's text API), with hand results."""

import hashlib
import json
import math
from collections import OrderedDict

import numpy as np
import pytest

from cnnkit.preprocessing import text
from cnnkit.preprocessing.text import (
    Tokenizer,
    hashing_trick,
    one_hot,
    text_to_word_sequence,
    tokenizer_from_json,
)

CORPUS = ["The cat sat on the mat.", "The dog ate my homework!", "My cat ate the dog's food"]
# counts: the 4; cat, ate, my 2 (first seen in that order); then the 1-count words in order
INDEX = {
    "the": 1,
    "cat": 2,
    "ate": 3,
    "my": 4,
    "sat": 5,
    "on": 6,
    "mat": 7,
    "dog": 8,
    "homework": 9,
    "dog's": 10,
    "food": 11,
}


def _fitted(**kwargs):
    tokenizer = Tokenizer(**kwargs)
    tokenizer.fit_on_texts(CORPUS)
    return tokenizer


# -- text_to_word_sequence and hashing ------------------------------------------------


def test_text_to_word_sequence():
    assert text_to_word_sequence("Hello, World!\tNew\nline  it's") == [
        "hello",
        "world",
        "new",
        "line",
        "it's",
    ]
    assert text_to_word_sequence("Hello World", lower=False) == ["Hello", "World"]
    assert text_to_word_sequence("a,b  c;d", filters=";", split=",") == ["a", "b  c", "d"]


def test_hashing_trick_md5_matches_the_formula():
    words = ["the", "cat", "and", "the", "hat"]
    expected = [int(hashlib.md5(w.encode()).hexdigest(), 16) % 99 + 1 for w in words]
    assert hashing_trick("The cat, and the hat!", 100, hash_function="md5") == expected
    assert hashing_trick("a b", 5, hash_function=len) == [2, 2]
    assert hashing_trick("A-B", 5, hash_function=len, analyzer=lambda t: t.split("-")) == [2, 2]


def test_one_hot_uses_python_hash():
    indices = one_hot("the cat the", 7)
    assert indices == [hash(w) % 6 + 1 for w in ("the", "cat", "the")]
    assert all(1 <= i <= 6 for i in indices)


# -- fitting ---------------------------------------------------------------------------


def test_word_index_by_count_then_first_appearance():
    tokenizer = _fitted()
    assert tokenizer.word_index == INDEX
    assert list(tokenizer.word_index) == list(INDEX)
    assert tokenizer.index_word == {i: w for w, i in INDEX.items()}
    assert isinstance(tokenizer.word_counts, OrderedDict)
    assert list(tokenizer.word_counts.items())[:4] == [
        ("the", 4),
        ("cat", 2),
        ("sat", 1),
        ("on", 1),
    ]
    assert tokenizer.document_count == 3
    assert tokenizer.word_docs["the"] == 3 and tokenizer.word_docs["ate"] == 2
    assert tokenizer.word_docs["food"] == 1
    assert tokenizer.index_docs[1] == 3 and tokenizer.index_docs[3] == 2
    assert tokenizer.index_docs[11] == 1


def test_oov_token_takes_index_one():
    tokenizer = _fitted(oov_token="<unk>")
    assert tokenizer.word_index == {"<unk>": 1, **{w: i + 1 for w, i in INDEX.items()}}
    assert tokenizer.texts_to_sequences(["the cat ate a fish"]) == [[2, 3, 4, 1, 1]]
    assert _fitted().texts_to_sequences(["the cat ate a fish"]) == [[1, 2, 3]]


def test_num_words_cut_off():
    tokenizer = _fitted(num_words=4)
    assert len(tokenizer.word_index) == 11  # the index keeps every word
    assert tokenizer.texts_to_sequences(["my cat sat the"]) == [[2, 1]]
    tokenizer = _fitted(num_words=4, oov_token="<unk>")  # indices < 4: <unk>, the, cat
    assert tokenizer.texts_to_sequences(["my cat sat the"]) == [[1, 3, 1, 2]]
    assert tokenizer.sequences_to_texts([[2, 3, 4, 99]]) == ["the cat <unk> <unk>"]


def test_fit_accumulates_over_calls():
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(["b"])
    tokenizer.fit_on_texts(iter(["a a"]))  # a generator works too
    assert tokenizer.word_index == {"a": 1, "b": 2}
    assert tokenizer.document_count == 2
    assert dict(tokenizer.index_docs) == {1: 1, 2: 1}


def test_char_level_pretokenized_and_analyzer():
    tokenizer = Tokenizer(char_level=True)
    tokenizer.fit_on_texts(["abca", "Bcc", "a b"])  # no filtering at char level
    assert tokenizer.word_index == {"a": 1, "b": 2, "c": 3, " ": 4}
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts([["Hello", "world"], ["hello"]])
    assert tokenizer.word_index == {"hello": 1, "world": 2}
    assert tokenizer.texts_to_sequences([["WORLD", "hello", "x"]]) == [[2, 1]]
    tokenizer = Tokenizer(analyzer=lambda t: t.split("-"))  # replaces filters and lower
    tokenizer.fit_on_texts(["a-B-a"])
    assert tokenizer.word_index == {"a": 1, "B": 2}
    assert tokenizer.texts_to_sequences(["B-a-c"]) == [[2, 1]]


def test_numpy_array_of_texts():
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(np.array(["a b", "b"]))
    assert tokenizer.word_index == {"b": 1, "a": 2}


def test_sequences_to_texts_round_trip():
    tokenizer = _fitted()
    sequences = tokenizer.texts_to_sequences(CORPUS)
    assert sequences[0] == [1, 2, 5, 6, 1, 7]
    assert tokenizer.sequences_to_texts(sequences) == [
        "the cat sat on the mat",
        "the dog ate my homework",
        "my cat ate the dog's food",
    ]
    assert tokenizer.sequences_to_texts([[1, 2, 99]]) == ["the cat"]
    assert list(tokenizer.sequences_to_texts_generator([[3], []])) == ["ate", ""]
    assert list(tokenizer.texts_to_sequences_generator(["food"])) == [[11]]


# -- matrices ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, row0, row1",
    [
        ("binary", {1: 1, 2: 1}, {3: 1, 11: 1}),
        ("count", {1: 2, 2: 1}, {3: 1, 11: 1}),
        ("freq", {1: 2 / 3, 2: 1 / 3}, {3: 0.5, 11: 0.5}),
        (
            "tfidf",  # tf = 1 + ln(count), idf = ln(1 + 3 documents / (1 + docs containing it))
            {1: (1 + math.log(2)) * math.log(1 + 3 / 4), 2: math.log(1 + 3 / 3)},
            {3: math.log(1 + 3 / 3), 11: math.log(1 + 3 / 2)},
        ),
    ],
)
def test_texts_to_matrix_modes(mode, row0, row1):
    matrix = _fitted().texts_to_matrix(["the cat the", "ate food"], mode=mode)
    expected = np.zeros((2, 12))
    for row, entries in enumerate((row0, row1)):
        for index, value in entries.items():
            expected[row, index] = value
    assert matrix.dtype == np.float64
    np.testing.assert_allclose(matrix, expected, rtol=1e-12)


def test_matrix_width_follows_num_words():
    tokenizer = _fitted(num_words=3)
    assert tokenizer.texts_to_matrix(["the cat ate"]).tolist() == [[0, 1, 1]]
    # indices beyond the width are ignored but still count in the length for "freq"
    np.testing.assert_allclose(
        tokenizer.sequences_to_matrix([[1, 5, 1]], mode="freq"), [[0, 2 / 3, 0]]
    )


def test_fit_on_sequences_then_tfidf():
    tokenizer = Tokenizer(num_words=4)
    tokenizer.fit_on_sequences([[1, 2, 2], [2, 3]])
    assert tokenizer.document_count == 2
    assert dict(tokenizer.index_docs) == {1: 1, 2: 2, 3: 1}
    expected = (1 + math.log(2)) * math.log(1 + 2 / 3)
    np.testing.assert_allclose(
        tokenizer.sequences_to_matrix([[2, 2]], mode="tfidf"), [[0, 0, expected, 0]]
    )


# -- serialization ---------------------------------------------------------------------


def test_get_config_keys():
    config = _fitted(oov_token="?").get_config()
    assert set(config) == {
        "num_words",
        "filters",
        "lower",
        "split",
        "char_level",
        "oov_token",
        "document_count",
        "word_counts",
        "word_docs",
        "index_docs",
        "index_word",
        "word_index",
    }
    assert json.loads(config["word_index"])["?"] == 1
    assert config["document_count"] == 3


def test_json_round_trip_gives_the_same_sequences():
    tokenizer = _fitted(num_words=6, oov_token="<unk>")
    as_json = tokenizer.to_json(indent=1)
    assert json.loads(as_json)["class_name"] == "Tokenizer"
    clone = tokenizer_from_json(as_json)
    probe = CORPUS + ["an unseen text with the cat"]
    assert clone.texts_to_sequences(probe) == tokenizer.texts_to_sequences(probe)
    assert clone.word_index == tokenizer.word_index
    assert clone.index_word == tokenizer.index_word
    assert list(clone.word_counts.items()) == list(tokenizer.word_counts.items())
    for mode in text.MATRIX_MODES:
        np.testing.assert_array_equal(
            clone.texts_to_matrix(probe, mode=mode), tokenizer.texts_to_matrix(probe, mode=mode)
        )
    clone.fit_on_texts(["zebra zebra"])  # a restored tokenizer can keep fitting
    assert clone.word_counts["zebra"] == 2 and clone.document_count == 4


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("num_words", [0, -3, 2.5, "10", True])
def test_bad_num_words(num_words):
    with pytest.raises(ValueError, match=rf"`num_words`.*>= 1.*num_words={num_words!r}"):
        Tokenizer(num_words=num_words)


def test_bare_string_instead_of_a_list():
    tokenizer = _fitted()
    for method in (tokenizer.fit_on_texts, tokenizer.texts_to_sequences, tokenizer.texts_to_matrix):
        with pytest.raises(TypeError, match=r"`texts` must be a list.*not a single string"):
            method("the cat")
    with pytest.raises(TypeError, match="not a single string"):
        tokenizer.texts_to_sequences_generator("the cat")


@pytest.mark.parametrize("bad", [3, None, b"bytes"])
def test_non_string_text(bad):
    tokenizer = Tokenizer()
    with pytest.raises(TypeError, match=rf"string.*Received {bad!r}.*position 1"):
        tokenizer.fit_on_texts(["fine", bad])
    assert tokenizer.document_count == 0 and not tokenizer.word_counts  # nothing changed
    with pytest.raises(TypeError, match="list of strings.*position 0"):
        tokenizer.fit_on_texts([["ok", bad]])
    with pytest.raises(TypeError, match="must be a list of strings"):
        tokenizer.fit_on_texts(5)


def test_empty_corpus():
    with pytest.raises(ValueError, match="`texts` of `fit_on_texts` is empty"):
        Tokenizer().fit_on_texts([])
    with pytest.raises(ValueError, match="empty"):
        Tokenizer().fit_on_texts(iter(()))


def test_matrix_before_fit():
    with pytest.raises(ValueError, match="fit on some text data first"):
        Tokenizer().texts_to_matrix(["a"])
    with pytest.raises(ValueError, match="before using mode='tfidf'.*document_count=0"):
        Tokenizer(num_words=5).sequences_to_matrix([[1]], mode="tfidf")


def test_unknown_mode_lists_the_valid_ones():
    pattern = r"`mode`.*\('binary', 'count', 'tfidf', 'freq'\).*mode='tf-idf'"
    with pytest.raises(ValueError, match=pattern):
        _fitted().texts_to_matrix(["the"], mode="tf-idf")
    with pytest.raises(ValueError, match=pattern):
        _fitted().sequences_to_matrix([[]], mode="tf-idf")


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments.*numwords"):
        Tokenizer(numwords=3)
    with pytest.raises(ValueError, match="`split`.*split=''"):
        Tokenizer(split="")
    with pytest.raises(TypeError, match="`analyzer` must be a callable"):
        Tokenizer(analyzer="words")
    with pytest.raises(ValueError, match="`document_count`.*document_count=-1"):
        Tokenizer(document_count=-1)
    with pytest.warns(UserWarning, match="renamed `num_words`"):
        assert Tokenizer(nb_words=7).num_words == 7


def test_bad_function_arguments():
    with pytest.raises(TypeError, match="`input_text` must be a string.*None"):
        text_to_word_sequence(None)
    with pytest.raises(ValueError, match="`n`.*>= 2.*n=1"):
        hashing_trick("a", 1)
    with pytest.raises(ValueError, match="`hash_function`.*'sha1'"):
        hashing_trick("a", 10, hash_function="sha1")
    with pytest.raises(ValueError, match="not the JSON of a Tokenizer"):
        tokenizer_from_json("{not json")
    with pytest.raises(ValueError, match="not the JSON of a Tokenizer"):
        tokenizer_from_json('{"class_name": "Tokenizer"}')
    with pytest.raises(TypeError, match="`json_string` must be a JSON string"):
        tokenizer_from_json({"config": {}})
    with pytest.raises(TypeError, match="list of sequences"):
        _fitted().sequences_to_texts("12")
