"""The IMDB loader: Keras's .npz read without running pickles, and Keras's load_data semantics."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import zipfile

import numpy as np
import pytest

from cnnkit.datasets import imdb


@pytest.fixture(autouse=True)
def _no_system_dirs_no_network(tmp_path_factory, monkeypatch):
    empty = tmp_path_factory.mktemp("empty-imdb-mirror")
    monkeypatch.setattr(imdb, "SYSTEM_DIRS", ())
    monkeypatch.setattr(imdb, "ORIGIN", empty.as_uri() + "/")


def object_array(lists) -> np.ndarray:
    array = np.empty(len(lists), dtype=object)
    array[:] = [list(x) for x in lists]
    return array


def keras_npz(path: pathlib.Path, x_train, y_train, x_test, y_test, compressed=False):
    """A file in the format of Keras's imdb.npz, written by NumPy itself (x pickled)."""
    save = np.savez_compressed if compressed else np.savez
    save(
        path,
        x_train=object_array(x_train),
        y_train=np.asarray(y_train, dtype=np.int64),
        x_test=object_array(x_test),
        y_test=np.asarray(y_test, dtype=np.int64),
    )
    return path


def random_reviews(seed: int, n: int, vocabulary: int = 30):
    rng = np.random.default_rng(seed)
    reviews = [rng.integers(1, vocabulary, rng.integers(1, 12)).tolist() for _ in range(n)]
    return reviews, rng.integers(0, 2, n).tolist()


TRAIN = random_reviews(0, 20)
TEST = random_reviews(1, 15)


@pytest.fixture
def tiny(tmp_path) -> str:
    return str(keras_npz(tmp_path / "tiny.npz", *TRAIN, *TEST))


def keras_reference(
    x_train,
    labels_train,
    x_test,
    labels_test,
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Keras 3's imdb.load_data after np.load, transcribed (object arrays indexed by arrays)."""
    x_train, x_test = object_array(x_train), object_array(x_test)
    labels_train, labels_test = np.asarray(labels_train), np.asarray(labels_test)
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]
    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [[w for w in x] for x in x_train]  # Keras's code
        x_test = [[w for w in x] for x in x_test]
    if maxlen:
        keep = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        x_train, labels_train = [x_train[i] for i in keep], [labels_train[i] for i in keep]
        keep = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        x_test, labels_test = [x_test[i] for i in keep], [labels_test[i] for i in keep]
    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = len(x_train)
    return (xs[:idx], labels[:idx]), (xs[idx:], labels[idx:])


def assert_same(got, want):
    (gx, gy), (tx, ty) = got
    (wgx, wgy), (wtx, wty) = want
    assert gx.dtype == object and gx.ndim == 1 and tx.ndim == 1
    assert list(gx) == wgx and list(tx) == wtx
    assert all(type(w) is int for x in gx for w in x)
    np.testing.assert_array_equal(gy, wgy)
    np.testing.assert_array_equal(ty, wty)


# --- reading the file ---------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_read_npz_reads_numpys_pickled_object_arrays(tmp_path, compressed):
    file = keras_npz(tmp_path / "t.npz", *TRAIN, *TEST, compressed=compressed)
    arrays = imdb.read_npz(file)
    assert arrays["x_train"] == TRAIN[0] and arrays["x_test"] == TEST[0]
    assert arrays["y_train"].dtype == np.int64 and arrays["y_train"].tolist() == TRAIN[1]


def npy(descr: str, shape: tuple, payload: bytes) -> bytes:
    """A version 1.0 .npy member: magic, padded header, payload."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload


def write_members(path: pathlib.Path, **members: bytes) -> pathlib.Path:
    labels = {f"y_{s}": npy("<i8", (2,), np.array([0, 1], "<i8").tobytes()) for s in imdb.SPLITS}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in {**labels, **members}.items():
            archive.writestr(name + ".npy", data)
    return path


# The pickle Python 2's NumPy wrote for object_array([[5, 6], [7]]): protocol 2, byte strings.
PY2_PICKLE = (
    b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b"
    b"\x87Rq\x03(K\x01K\x02\x85cnumpy\ndtype\nq\x04U\x02O8K\x00K\x01\x87Rq\x05(K\x03U\x01|NNN"
    b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]q\x06(]q\x07(K\x05K\x06e]q\x08K\x07aetb."
)


def test_python2_protocol2_pickle_is_read(tmp_path):
    member = npy("|O", (2,), PY2_PICKLE)
    file = write_members(tmp_path / "py2.npz", x_train=member, x_test=member)
    assert imdb.read_npz(file)["x_train"] == [[5, 6], [7]]


def test_malicious_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    good = npy("|O", (2,), PY2_PICKLE)
    file = write_members(tmp_path / "evil.npz", x_train=npy("|O", (2,), payload), x_test=good)
    with pytest.raises(ValueError, match=r"evil.npz:x_train.npy: refused pickle .*os\.system"):
        imdb.load_data(path=str(file))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        # builtins.eval through STACK_GLOBAL (protocol 4)
        (b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x041+1;\x85R.", "builtins.eval"),
        # numpy.ndarray called directly, asking for a huge array
        (b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x7f\x85\x85R.", "call numpy.ndarray"),
        # _reconstruct with other arguments
        (
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x09\x85U\x01b\x87R.",
            "_reconstruct arguments",
        ),
        # a float dtype instead of object
        (b"\x80\x02cnumpy\ndtype\nU\x02f8K\x00K\x01\x87R.", "refused dtype 'f8'"),
        # not an array at all
        (b"\x80\x02}q\x00.", "not an object array"),
        # a truncated stream
        (PY2_PICKLE[:100], "corrupt pickle"),
    ],
)
def test_crafted_pickles_are_refused(tmp_path, payload, match):
    good = npy("|O", (2,), PY2_PICKLE)
    file = write_members(tmp_path / "bad.npz", x_train=npy("|O", (2,), payload), x_test=good)
    with pytest.raises(ValueError, match=match):
        imdb.read_npz(file)


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ([[1, 2], [1.5]], "item 1 is not a list of ints"),
        ([[1, 2], ["word"]], "item 1 is not a list of ints"),
        ([[1, 2], [[3]]], "item 1 is not a list of ints"),
        ([[1, 2], np.arange(3)], "refused dtype"),  # an int array inside: another dtype
    ],
)
def test_object_arrays_must_hold_lists_of_ints(tmp_path, items, match):
    x = np.empty(2, dtype=object)
    x[:] = items
    buffer = io.BytesIO()
    np.save(buffer, x)  # how NumPy writes any object array (a pickle)
    good = npy("|O", (2,), PY2_PICKLE)
    file = write_members(tmp_path / "bad.npz", x_train=buffer.getvalue(), x_test=good)
    with pytest.raises(ValueError, match=match):
        imdb.read_npz(file)


def test_file_structure_errors_name_the_file_and_member(tmp_path):
    good = npy("|O", (2,), PY2_PICKLE)
    file = write_members(tmp_path / "a.npz", x_train=good)
    with pytest.raises(ValueError, match=r"a.npz: no x_test.npy member"):
        imdb.read_npz(file)
    (tmp_path / "b.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"b.npz: not a readable .npz"):
        imdb.read_npz(tmp_path / "b.npz")
    short = npy("<i8", (3,), np.arange(2).tobytes())
    file = write_members(tmp_path / "c.npz", x_train=good, x_test=good, y_test=short)
    with pytest.raises(ValueError, match=r"c.npz:y_test.npy: 16 bytes of data, expected 24"):
        imdb.read_npz(file)
    floats = npy("<f8", (2,), np.zeros(2).tobytes())
    file = write_members(tmp_path / "d.npz", x_train=good, x_test=good, y_train=floats)
    with pytest.raises(ValueError, match=r"d.npz:y_train.npy: a float64 array"):
        imdb.read_npz(file)
    file = write_members(tmp_path / "e.npz", x_train=b"\x93NUMPY\x09\x00junk", x_test=good)
    with pytest.raises(ValueError, match=r"e.npz:x_train.npy: not a valid .npy member"):
        imdb.read_npz(file)
    three = npy("<i8", (3,), np.arange(3).tobytes())
    file = write_members(tmp_path / "f.npz", x_train=good, x_test=good, y_train=three)
    with pytest.raises(ValueError, match=r"2 x_train reviews but 3 labels"):
        imdb.read_npz(file)


def test_big_endian_labels_are_read(tmp_path):
    good = npy("|O", (2,), PY2_PICKLE)
    labels = npy(">i8", (2,), np.array([1, 0], ">i8").tobytes())
    file = write_members(tmp_path / "be.npz", x_train=good, x_test=good, y_train=labels)
    assert imdb.read_npz(file)["y_train"].tolist() == [1, 0]


# --- Keras's load_data semantics -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"seed": 7},
        {"num_words": 10},
        {"num_words": 12, "skip_top": 5},
        {"maxlen": 8},
        {"maxlen": 8, "num_words": 20, "oov_char": None},
        {"start_char": None},
        {"start_char": None, "index_from": 0},
        {"start_char": 0, "oov_char": 1, "index_from": 2, "seed": 0},
    ],
)
def test_load_data_matches_keras(tiny, kwargs):
    assert_same(imdb.load_data(path=tiny, **kwargs), keras_reference(*TRAIN, *TEST, **kwargs))


def test_hand_checked_example(tmp_path):
    file = keras_npz(tmp_path / "one.npz", [[1, 2, 3]], [1], [[4]], [0])
    (x_train, y_train), (x_test, y_test) = imdb.load_data(path=str(file))
    assert list(x_train) == [[1, 4, 5, 6]] and y_train.tolist() == [1]
    # num_words=None means the largest index (7) and Keras's strict < makes it out-of-vocabulary.
    assert list(x_test) == [[1, 2]] and y_test.tolist() == [0]


def test_equal_length_reviews_still_give_a_1d_object_array(tmp_path):
    file = keras_npz(tmp_path / "eq.npz", [[1, 2], [3, 4]], [0, 1], [[5, 6]], [1])
    (x_train, _), (x_test, _) = imdb.load_data(path=str(file))
    assert x_train.shape == (2,) and x_test.shape == (1,) and x_train.dtype == object


def test_maxlen_that_keeps_nothing_raises_keras_message(tiny):
    with pytest.raises(ValueError, match="no sequence was kept. Increase maxlen"):
        imdb.load_data(path=tiny, maxlen=2)


def test_unknown_keyword_is_a_type_error(tiny):
    with pytest.raises(TypeError):
        imdb.load_data(path=tiny, nb_words=10)


# --- the pickle-free variant ----------------------------------------------------------------


def test_flat_variant_round_trip_gives_the_same_data(tiny, tmp_path):
    flat = tmp_path / "flat.npz"
    imdb.save_npz(flat, **imdb.read_npz(tiny))
    with zipfile.ZipFile(flat) as archive:  # nothing pickled in it
        for name in archive.namelist():
            assert b"|O" not in archive.read(name)[:128]
    for kwargs in ({}, {"num_words": 10, "maxlen": 8}):
        assert_same(
            imdb.load_data(path=str(flat), **kwargs), keras_reference(*TRAIN, *TEST, **kwargs)
        )


def test_flat_variant_offsets_are_checked(tmp_path):
    imdb.save_npz(tmp_path / "ok.npz", [[1, 2], [3]], [0, 1], [[4]], [1])
    with zipfile.ZipFile(tmp_path / "ok.npz") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["x_test_offsets.npy"] = npy("<i8", (2,), np.array([0, 5], "<i8").tobytes())
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"offsets must start at 0.*end at len\(values\)"):
        imdb.read_npz(tmp_path / "bad.npz")


# --- where the files are found, hashes, download --------------------------------------------


def cache() -> pathlib.Path:
    folder = pathlib.Path(imdb._files.cache_dir(imdb.NAME))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_official_name_is_hash_checked_wherever_it_is(tmp_path, monkeypatch):
    official = keras_npz(cache() / "imdb.npz", *TRAIN, *TEST)
    with pytest.raises(ValueError, match=r"imdb.npz: wrong SHA-256: expected 69664113") as info:
        imdb.load_data()
    assert "give your own file another name" in str(info.value)
    copy = tmp_path / "imdb.npz"
    copy.write_bytes(official.read_bytes())
    with pytest.raises(ValueError, match="wrong SHA-256"):
        imdb.load_data(path=str(copy))
    monkeypatch.setattr(imdb, "DATA_SHA256", sha256(official))
    assert_same(imdb.load_data(), keras_reference(*TRAIN, *TEST))
    assert_same(imdb.load_data(path=str(copy)), keras_reference(*TRAIN, *TEST))


def test_cache_name_then_keras_cache(tmp_path, monkeypatch):
    keras_cache = tmp_path / "keras-datasets"
    keras_cache.mkdir()
    keras_npz(keras_cache / "mine.npz", *TRAIN, *TEST)
    monkeypatch.setattr(imdb, "SYSTEM_DIRS", (str(tmp_path / "absent"), str(keras_cache)))
    assert_same(imdb.load_data(path="mine.npz"), keras_reference(*TRAIN, *TEST))
    keras_npz(cache() / "mine.npz", [[1]], [0], [[2]], [1])
    (x_train, _), _ = imdb.load_data(path="mine.npz")
    assert list(x_train) == [[1, 4]]


def test_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        imdb.load_data()
    message = str(info.value)
    assert f"Put it in {imdb._files.cache_dir(imdb.NAME)}" in message
    assert "fetching" in message and "imdb.npz failed" in message
    with pytest.raises(FileNotFoundError, match="only imdb.npz is downloaded"):
        imdb.load_data(path="other.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        imdb.load_data(path=str(tmp_path / "absent.npz"))


def test_download_is_checked_and_a_wrong_one_not_kept(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    served = keras_npz(mirror / "imdb.npz", *TRAIN, *TEST)
    monkeypatch.setattr(imdb, "ORIGIN", mirror.as_uri() + "/")
    with pytest.raises(ValueError, match="wrong SHA-256"):
        imdb.load_data()
    assert not (cache() / "imdb.npz").exists()
    monkeypatch.setattr(imdb, "DATA_SHA256", sha256(served))
    assert_same(imdb.load_data(), keras_reference(*TRAIN, *TEST))
    assert (cache() / "imdb.npz").read_bytes() == served.read_bytes()


def test_get_word_index(tmp_path, monkeypatch):
    words = {"the": 1, "and": 2, "movie": 17}
    (cache() / "imdb_word_index.json").write_text(json.dumps(words))
    with pytest.raises(ValueError, match=r"imdb_word_index.json: wrong MD5: expected bfafd718"):
        imdb.get_word_index()
    digest = hashlib.md5((cache() / "imdb_word_index.json").read_bytes()).hexdigest()
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", digest)
    assert imdb.get_word_index() == words
    (tmp_path / "words.json").write_text(json.dumps(["the", "and"]))
    with pytest.raises(ValueError, match="expected a JSON object mapping words"):
        imdb.get_word_index(str(tmp_path / "words.json"))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json: not a JSON file"):
        imdb.get_word_index(str(tmp_path / "broken.json"))


def test_a_huge_memo_index_is_refused_before_allocating():
    from cnnkit.datasets import imdb

    bomb = b"\x80\x02]r\x00\x00\x00@."  # PROTO 2, EMPTY_LIST, LONG_BINPUT 2**30, STOP
    with pytest.raises(ValueError, match=r"refused pickle.*memo index 1073741824"):
        imdb._unpickle_int_lists(memoryview(bomb), 1, "x_train.npy")
