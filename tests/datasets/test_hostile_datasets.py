"""Small hostile dataset files that announce or expand to gigabytes, and special files.

Each must be refused with a ``ValueError`` naming the file while the reading process stays
under ``MAX_PEAK_MIB`` of resident memory (measured in a child process, see
``tests/hostile.py``); FIFOs must be refused, not waited on.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import tarfile
import zlib

import numpy as np
import pytest

from cnnkit.datasets import _files, cifar10, fashion_mnist, imdb, spam
from tests.datasets.conftest import idx_bytes
from tests.hostile import peak_memory, refusal
from tests.saving.test_hostile_files import no_hang

MAX_PEAK_MIB = 500
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX")


def gzip_of_zeros(header: bytes, zeros: int) -> bytes:
    """A gzip stream of ``header`` then ``zeros`` zero bytes, made without compressing them all.

    After a full flush deflate starts afresh, so every 16 MiB block of zeros compresses to the
    same bytes: one block is compressed and repeated. (The trailer's CRC is wrong; a reader
    refusing the file early never gets there.)
    """
    block = 16 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    chunk = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + chunk * (-(-zeros // block)) + compressor.flush()


def mnist_folder(tmp_path, images: bytes) -> str:
    """A Fashion-MNIST folder with the given train-images ``.gz`` and valid small others."""
    folder = tmp_path / "fashion"
    folder.mkdir()
    (folder / (_files.TRAIN_IMAGES + ".gz")).write_bytes(images)
    (folder / (_files.TRAIN_LABELS + ".gz")).write_bytes(
        gzip.compress(idx_bytes(np.zeros(5, np.uint8)))
    )
    (folder / (_files.TEST_IMAGES + ".gz")).write_bytes(
        gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    )
    (folder / (_files.TEST_LABELS + ".gz")).write_bytes(
        gzip.compress(idx_bytes(np.zeros(3, np.uint8)))
    )
    return str(folder)


def assert_refused_in_bounded_memory(call: str, file_name: str) -> None:
    result = peak_memory(refusal(call))
    assert result["rc"] == 0, result
    assert file_name in result["out"], result
    assert result["peak_mib"] < MAX_PEAK_MIB, result


def test_an_idx_gzip_announcing_two_million_images_is_refused_before_decompressing(tmp_path):
    count = 2_000_000
    header = np.array([_files.IMAGES_MAGIC, count, 28, 28], dtype=">u4").tobytes()
    bomb = gzip_of_zeros(header, count * 28 * 28)
    assert len(bomb) < 2 << 20  # a 1.5 MB file announcing 1.5 GB
    folder = mnist_folder(tmp_path, bomb)
    call = f"from cnnkit.datasets import fashion_mnist; fashion_mnist.load_data(path={folder!r})"
    assert_refused_in_bounded_memory(call, _files.TRAIN_IMAGES)
    with pytest.raises(ValueError, match=r"train-images.*announces 2000000 items, more than"):
        fashion_mnist.load_data(path=folder)


def bz2_bomb(total: int) -> bytes:
    """A multi-stream bzip2 file decompressing to ``total`` zero bytes (streams repeated)."""
    block = 64 << 20
    stream = bz2.compress(bytes(block), 9)
    return stream * (-(-total // block))


def test_a_bz2_bomb_in_the_spam_reader_is_refused_at_its_cap(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    bomb = bz2_bomb(2 << 30)
    assert len(bomb) < 1 << 20
    (folder / "bomb.tar.bz2").write_bytes(bomb)
    call = f"from cnnkit.datasets import spam; spam.read_mails({str(folder)!r})"
    assert_refused_in_bounded_memory(call, "bomb.tar.bz2")


def test_a_sparse_huge_file_in_a_mail_folder_is_refused_before_reading(tmp_path):
    group = tmp_path / "corpus" / "spam"
    group.mkdir(parents=True)
    mail = group / "00001.7c53336b37003a9286aba55d2945844c"
    with open(mail, "wb") as f:
        f.truncate(1500 << 20)  # sparse: takes no disk space
    call = f"from cnnkit.datasets import spam; spam.read_mails({str(tmp_path / 'corpus')!r})"
    assert_refused_in_bounded_memory(call, mail.name)
    with pytest.raises(ValueError, match=f"{mail.name}: {1500 << 20} bytes, more than"):
        spam.read_mails(tmp_path / "corpus")


@posix_only
def test_fifos_are_refused_by_the_dataset_readers(tmp_path):
    folder = mnist_folder(tmp_path, b"")
    images = os.path.join(folder, _files.TRAIN_IMAGES + ".gz")
    os.remove(images)
    os.mkfifo(images)
    with no_hang(), pytest.raises(ValueError, match=r"idx3-ubyte\.gz is not a regular file"):
        fashion_mnist.load_data(path=folder)
    os.mkfifo(tmp_path / "labels")
    with no_hang(), pytest.raises(ValueError, match="labels is not a regular file"):
        _files.open_payload(tmp_path / "labels")
    corpus = tmp_path / "corpus"
    (corpus / "spam").mkdir(parents=True)
    os.mkfifo(corpus / "spam" / "00001.7c53336b37003a9286aba55d2945844c")
    with no_hang(), pytest.raises(ValueError, match="00001.* is not a regular file"):
        spam.read_mails(corpus)
    os.mkfifo(tmp_path / "corpus.tar.bz2")
    with no_hang(), pytest.raises(ValueError, match=r"corpus\.tar\.bz2 is not a regular file"):
        spam.read_mails(tmp_path / "corpus.tar.bz2")


def test_a_legitimate_small_spam_archive_still_loads(tmp_path):
    raw = b"Subject: hi\n\nhello"
    import hashlib

    name = f"00001.{hashlib.md5(raw).hexdigest()}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(f"spam/{name}")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    (tmp_path / "mini.tar.bz2").write_bytes(bz2.compress(buffer.getvalue()))
    mails = spam.read_mails(tmp_path / "mini.tar.bz2")
    assert [(m.group, m.raw) for m in mails] == [("spam", raw)]


@posix_only
@pytest.mark.parametrize(
    ("load", "name"),
    [
        (lambda p: cifar10.load_data(path=p), "cifar-10-python.tar.gz"),
        (lambda p: imdb.load_data(path=p), "imdb.npz"),
        (lambda p: imdb.get_word_index(path=p), "imdb_word_index.json"),
    ],
)
def test_fifos_named_as_cifar_and_imdb_files_are_refused(tmp_path, load, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with no_hang(), pytest.raises(ValueError, match=f"{name} is not a regular file"):
        load(str(fifo))
