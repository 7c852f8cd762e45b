"""Hashing and HashedCrossing: the hashes against published and TensorFlow values, the
layers against Keras's documented outputs, shapes, configs and saving."""

import re

import numpy as np
import pytest

from cnnkit.kernels.hashing import fingerprint64, fingerprint_cat64, siphash64
from cnnkit.layers import CategoryEncoding, HashedCrossing, Hashing, Input
from cnnkit.models import Model, load_model

PRINTABLE = (bytes(range(32, 127)) * 3).decode()
BIG = np.uint64(2**63 - 1)

# (length of PRINTABLE's prefix, tf.strings.to_hash_bucket_fast(prefix, 2**63 - 1),
#  tf.strings.to_hash_bucket_strong(prefix, 2**63 - 1, key=[7, 11])), from TensorFlow 2.21.
# The lengths reach every branch of FarmHash64 (0, 1-3, 4-7, 8-16, 17-32, 33-64, > 64 with one
# and with several 64-byte blocks) and of SipHash's tail handling.
TF_VALUES = [
    (0, 1936946117179621456, 3361664221164768847),
    (1, 9003534451727337555, 1217890145588691426),
    (3, 5919775161009711546, 3411951307916067267),
    (4, 8183920477072107378, 4927367365413642339),
    (7, 5387519626097848902, 5689168770966217522),
    (8, 1286277354758621222, 36632446979901778),
    (12, 6607839043357772753, 800296028866181555),
    (16, 7379713209310054460, 6289989218075823484),
    (17, 3929898142484353021, 1272926370376160818),
    (31, 7093418640905135837, 3057318212509297023),
    (32, 4905759515936568340, 1278255250550904679),
    (33, 4410443080537784460, 1261258019745353305),
    (48, 7936803619424179430, 2482665753049412055),
    (64, 7608195483254073796, 7527525368669204189),
    (65, 8714607792808549498, 1450286371746042239),
    (100, 3691875598308036673, 6798688987879465156),
    (128, 5941838730968806866, 443927440778319703),
    (129, 771709793355602358, 8056646183745654845),
    (250, 1845289678271449666, 6539292007612718070),
]
LETTERS = [["A"], ["B"], ["C"], ["D"], ["E"]]


# -- the hash functions --------------------------------------------------------------------
def test_siphash_matches_the_papers_test_vectors():
    key = (0x0706050403020100, 0x0F0E0D0C0B0A0908)  # bytes 00..0f, as the reference code
    messages = [b"", bytes([0]), bytes(range(15))]
    out = siphash64(messages, key)
    assert [hex(int(h)) for h in out] == [
        "0x726fdb47dd0e0e31",
        "0x74f839c593dc67fd",
        "0xa129ca6149be45e5",
    ]


@pytest.mark.parametrize("length, fast, strong", TF_VALUES)
def test_hashes_match_tensorflows_bucket_ops(length, fast, strong):
    text = PRINTABLE[:length]
    assert int(fingerprint64([text])[0] % BIG) == fast
    assert int(siphash64([text], (7, 11))[0] % BIG) == strong


def test_strings_of_many_lengths_hash_as_each_alone():
    # Grouping by length must not mix rows: a batch hashes as its values one by one.
    texts = [PRINTABLE[i : i + n] for n in range(0, 140, 7) for i in (0, 5)]
    together = fingerprint64(texts)
    alone = np.array([fingerprint64([t])[0] for t in texts])
    np.testing.assert_array_equal(together, alone)
    assert len(set(together.tolist())) == len(set(texts))
    np.testing.assert_array_equal(fingerprint64(["é"]), fingerprint64(["é".encode()]))


def test_against_tensorflow_when_installed():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    texts = ["".join(map(chr, rng.integers(32, 0x3000, n))) for n in range(0, 260, 3)]
    fast = tf.strings.to_hash_bucket_fast(texts, 2**63 - 1).numpy()
    np.testing.assert_array_equal((fingerprint64(texts) % BIG).astype(np.int64), fast)
    strong = tf.strings.to_hash_bucket_strong(texts, 2**63 - 1, key=[-3, 2**62 + 5]).numpy()
    ours = (siphash64(texts, (-3, 2**62 + 5)) % BIG).astype(np.int64)
    np.testing.assert_array_equal(ours, strong)
    words = rng.choice(np.array(texts[:20]), 40)
    ints = rng.integers(-(10**12), 10**12, 40)
    crossed = tf.sparse.cross_hashed([tf.constant(words[:, None]), tf.constant(ints[:, None])], 97)
    ours = HashedCrossing(97)((words[:, None], ints[:, None])).numpy()
    np.testing.assert_array_equal(ours, tf.sparse.to_dense(crossed).numpy())


def test_fingerprint_cat64_is_tensorflows_mix():
    # FingerprintCat64(a, b) written out with Python integers modulo 2**64.
    mask, mul = 2**64 - 1, 0xC6A4A7935BD1E995

    def mix(v):
        return v ^ (v >> 47)

    def reference(a, b):
        r = a ^ mul
        r ^= (mix((b * mul) & mask) * mul) & mask
        r = (r * mul) & mask
        r = (mix(r) * mul) & mask
        return mix(r)

    pairs = [(0, 0), (0xDECAFCAFFE, 123), (2**64 - 1, 2**63 + 7)]
    out = fingerprint_cat64([a for a, _ in pairs], [b for _, b in pairs])
    assert [int(v) for v in out] == [reference(a, b) for a, b in pairs]


# -- Hashing -------------------------------------------------------------------------------
def test_hashing_reproduces_the_keras_documented_examples():
    assert Hashing(3)(LETTERS).numpy().ravel().tolist() == [1, 0, 1, 1, 2]
    masked = Hashing(3, mask_value="")([["A"], ["B"], [""], ["C"], ["D"]])
    assert masked.numpy().ravel().tolist() == [1, 1, 0, 2, 2]
    assert Hashing(3, salt=[133, 137])(LETTERS).numpy().ravel().tolist() == [1, 2, 1, 0, 2]
    assert Hashing(3, salt=133)(LETTERS).numpy().ravel().tolist() == [0, 0, 2, 1, 0]
    assert Hashing(3)(LETTERS).numpy().dtype == np.int64


def test_hashing_numbers_hash_as_their_decimal_strings():
    ints = np.array([[0, -7, 12345678901]])
    as_text = Hashing(11)(np.array([["0", "-7", "12345678901"]])).numpy()
    np.testing.assert_array_equal(Hashing(11)(ints).numpy(), as_text)
    floats = np.array([[0.9, -7.5, 3.0]])  # truncated towards zero, as a cast to int64
    np.testing.assert_array_equal(
        Hashing(11)(floats).numpy(), Hashing(11)(np.array([[0, -7, 3]])).numpy()
    )
    assert Hashing(11, mask_value=-7)(ints).numpy()[0, 1] == 0


def test_hashing_output_modes_encode_the_int_bins():
    rng = np.random.default_rng(1)
    words = rng.choice(np.array(list("abcdefghij")), (6, 4))
    ids = Hashing(5)(words).numpy()
    for mode in ("multi_hot", "count"):
        expected = CategoryEncoding(5, mode)(ids).numpy()
        np.testing.assert_array_equal(Hashing(5, output_mode=mode)(words).numpy(), expected)
    one_hot = Hashing(5, output_mode="one_hot")(words[:, :1]).numpy()
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype="float32")[ids[:, 0]])
    counts = Hashing(5, output_mode="count")(words.reshape(2, 3, 4)).numpy()
    assert counts.shape == (2, 3, 5) and (counts.sum(-1) == 4).all()


def test_hashing_in_a_model_saves_and_loads(tmp_path):
    inputs = Input((2,), dtype="string")
    model = Model(inputs, Hashing(7, salt=[3, 4], mask_value="", output_mode="count")(inputs))
    assert model.output_shape == (None, 7)
    words = np.array([["x", ""], ["y", "x"]])
    expected = model.predict(words, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(words, verbose=0), expected)
    layer = Hashing(4, salt=9, mask_value="z", output_mode="one_hot", name="h")
    config = layer.get_config()
    assert config["salt"] == [9, 9] and config["dtype"] == "float32"
    assert Hashing.from_config(config).get_config() == config
    assert Hashing.samplewise


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"num_bins": 0}, "`num_bins` for `Hashing` cannot be"),
        ({"num_bins": None}, "`num_bins` for `Hashing` cannot be"),
        ({"num_bins": 3, "dtype": "float32"}, "`dtype` should be an integer type"),
        ({"num_bins": 3, "output_mode": "tf_idf"}, "Invalid value for argument `output_mode`"),
        ({"num_bins": 3, "salt": [1, 2, 3]}, "`salt` argument for `Hashing`"),
        ({"num_bins": 3, "salt": "s"}, "`salt` argument for `Hashing`"),
        ({"num_bins": 3, "output_mode": "count", "sparse": True}, "sparse=True"),
    ],
)
def test_hashing_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Hashing(**kwargs)


def test_hashing_refuses_values_that_are_not_text_or_numbers():
    with pytest.raises(TypeError, match="strings, bytes or numbers"):
        Hashing(3)(np.array([[None]], dtype=object))


MASK_CASES = [
    # (inputs, mask_value, bins or the dtype named in the error), as Keras with TensorFlow
    (np.array([[1], [2]]), "x", "int64"),
    (np.array([[1], [2]]), "1", "int64"),
    (np.array([[1], [2]]), 1.0, "int64"),
    (np.array([[1.0], [2.0]]), "x", "float64"),
    (np.array([["a"], ["b"]]), 1, "string"),
    (np.array([["a"], ["b"]]), 1.0, "string"),
    (np.array([[True], [False]]), 1, "bool"),
    (np.array([[1], [2]]), 1, [0, 2]),
    (np.array([[1], [2]]), np.int64(1), [0, 2]),
    (np.array([[1], [2]]), True, [0, 2]),
    (np.array([[1.0], [2.0]]), 1, [0, 2]),
    (np.array([["a"], ["b"]]), b"a", [0, 1]),
    (np.array([[b"a"], [b"b"]]), "a", [0, 1]),
]


@pytest.mark.parametrize("inputs, mask_value, expected", MASK_CASES)
def test_hashing_refuses_a_mask_value_of_another_type(inputs, mask_value, expected):
    layer = Hashing(num_bins=3, mask_value=mask_value)
    if isinstance(expected, str):
        with pytest.raises(
            TypeError,
            match=rf"Cannot convert {re.escape(repr(mask_value))} to a tensor of dtype "
            rf"{expected}: the `mask_value` of layer '{layer.name}' must be of the inputs' type",
        ):
            layer(inputs)
    else:
        assert layer(inputs).numpy().ravel().tolist() == expected
    assert Hashing(num_bins=1, mask_value=mask_value)(inputs).numpy().ravel().tolist() == [0, 0]


@pytest.mark.parametrize("inputs, mask_value, expected", MASK_CASES)
def test_hashing_mask_value_types_as_keras(inputs, mask_value, expected):
    pytest.importorskip("tensorflow")  # Keras's Hashing runs TensorFlow's string ops
    keras = pytest.importorskip("keras")
    layer = keras.layers.Hashing(num_bins=3, mask_value=mask_value)
    if isinstance(expected, str):
        with pytest.raises(TypeError, match=r"Cannot convert .* of dtype"):
            layer(inputs)
    else:
        assert keras.ops.convert_to_numpy(layer(inputs)).ravel().tolist() == expected


# -- HashedCrossing ------------------------------------------------------------------------
FEAT1 = np.array(["A", "B", "A", "B", "A"])
FEAT2 = np.array([101, 101, 101, 102, 102])


def test_hashed_crossing_reproduces_the_keras_documented_examples():
    assert HashedCrossing(5)((FEAT1, FEAT2)).numpy().tolist() == [1, 4, 1, 1, 3]
    one_hot = HashedCrossing(5, output_mode="one_hot")((FEAT1, FEAT2)).numpy()
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype="float32")[[1, 4, 1, 1, 3]])


def test_hashed_crossing_shapes_and_the_fold_of_fingerprints():
    column = HashedCrossing(9)((FEAT1[:, None], FEAT2[:, None])).numpy()
    assert column.shape == (5, 1)
    np.testing.assert_array_equal(column[:, 0], HashedCrossing(9)((FEAT1, FEAT2)).numpy())
    assert HashedCrossing(9)((np.array("A"), np.array(101))).numpy().shape == ()
    h = fingerprint_cat64(np.uint64(0xDECAFCAFFE), fingerprint64(FEAT1))
    h = fingerprint_cat64(fingerprint_cat64(h, FEAT2.astype(np.uint64)), fingerprint64(FEAT1))
    out = HashedCrossing(1000)((FEAT1, FEAT2, FEAT1)).numpy()
    np.testing.assert_array_equal(out, (h % np.uint64(1000)).astype(np.int64))


def test_hashed_crossing_in_a_model_saves_and_loads(tmp_path):
    a, b = Input((1,), dtype="string"), Input((1,), dtype="int64")
    layer = HashedCrossing(6, output_mode="one_hot")
    model = Model([a, b], layer((a, b)))
    assert model.output_shape == (None, 6)
    expected = model.predict([FEAT1[:, None], FEAT2[:, None]], verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    reloaded = loaded.predict([FEAT1[:, None], FEAT2[:, None]], verbose=0)
    np.testing.assert_array_equal(reloaded, expected)
    config = layer.get_config()
    assert set(config) == {"num_bins", "output_mode", "sparse", "name", "dtype"}
    assert HashedCrossing.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "inputs, pattern",
    [
        ((FEAT1,), "at least two inputs"),
        ((FEAT1[:, None, None], FEAT1[:, None, None]), "should have shape"),
        ((FEAT1, FEAT2[:3]), "should have equal shape"),
        ((FEAT1, FEAT2 * 0.5), "integer or string dtype"),
    ],
)
def test_hashed_crossing_bad_inputs(inputs, pattern):
    with pytest.raises(ValueError, match=pattern):
        HashedCrossing(5)(inputs)


def test_hashed_crossing_bad_arguments():
    with pytest.raises(ValueError, match="`num_bins` of HashedCrossing"):
        HashedCrossing(0)
    with pytest.raises(ValueError, match="`output_mode`"):
        HashedCrossing(3, output_mode="count")
    with pytest.raises(ValueError, match="sparse=True"):
        HashedCrossing(3, output_mode="one_hot", sparse=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_bins": 7},
        {"num_bins": 7, "mask_value": "b", "salt": [3, 11]},
        {"num_bins": 5, "output_mode": "multi_hot"},
        {"num_bins": 5, "output_mode": "count", "salt": 9},
        {"num_bins": 4, "output_mode": "one_hot"},
    ],
)
def test_hashing_matches_keras_when_tensorflow_is_installed(kwargs):
    pytest.importorskip("tensorflow")  # Keras's Hashing runs TensorFlow's string ops
    keras = pytest.importorskip("keras")
    words = np.array([["a", "b", "ccc"], ["b", "dd", "a"]])
    if kwargs.get("output_mode") == "one_hot":
        words = words[:, :1]
    theirs = keras.layers.Hashing(**kwargs)
    ours = Hashing(**kwargs)
    np.testing.assert_array_equal(ours(words).numpy(), keras.ops.convert_to_numpy(theirs(words)))
    numbers = np.array([[1, -20, 300]])
    if kwargs.get("output_mode") != "one_hot" and "mask_value" not in kwargs:
        np.testing.assert_array_equal(
            ours(numbers).numpy(), keras.ops.convert_to_numpy(theirs(numbers))
        )
    expected = {k: v for k, v in theirs.get_config().items() if k not in ("name", "dtype")}
    assert {k: ours.get_config()[k] for k in expected} == expected


def test_hashed_crossing_matches_keras_when_tensorflow_is_installed():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    for mode in ("int", "one_hot"):
        theirs = keras.layers.HashedCrossing(11, output_mode=mode)
        ours = HashedCrossing(11, output_mode=mode)
        expected = keras.ops.convert_to_numpy(theirs((FEAT1, FEAT2)))
        np.testing.assert_array_equal(ours((FEAT1, FEAT2)).numpy(), expected)
