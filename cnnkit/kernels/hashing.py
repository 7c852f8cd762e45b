"""Stable string hashes, as TensorFlow computes them for Keras's hashing layers.

* :func:`fingerprint64` is FarmHash's ``Fingerprint64`` (``farmhashna::Hash64``), the hash of
  ``tf.strings.to_hash_bucket_fast`` and of ``tf.fingerprint``-style feature crosses.
* :func:`siphash64` is SipHash-2-4 (Aumasson and Bernstein, 2012) keyed by two 64-bit words,
  the hash of ``tf.strings.to_hash_bucket_strong(values, n, key=[k0, k1])``.
* :func:`fingerprint_cat64` combines two fingerprints (TensorFlow's ``FingerprintCat64``), the
  step ``tf.sparse.cross_hashed`` takes for each crossed feature.

All arithmetic is on ``uint64`` NumPy arrays, which wrap modulo 2**64 as the C++ code does.
The byte strings are grouped by length and every string of one length is hashed at once: the
Python loops run over the distinct lengths and, for long strings, over 64-byte blocks, never
over the values. Hashing is preprocessing (it runs once per input batch, outside any gradient),
so the per-value work of encoding ``str`` to UTF-8 bytes stays a Python comprehension.

Example:
    >>> hex(int(fingerprint64(["hello"])[0]))
    '0xb48be5a931380ce8'
    >>> key = (0x0706050403020100, 0x0F0E0D0C0B0A0908)  # the SipHash paper's test key
    >>> hex(int(siphash64([bytes(range(15))], key)[0]))
    '0xa129ca6149be45e5'
"""

from __future__ import annotations

import numpy as np

_U = np.uint64
K0 = _U(0xC3A5C85C97CB3127)
K1 = _U(0xB492B66FBE98F273)
K2 = _U(0x9AE16A3B2F90404F)
_KMUL = _U(0xC6A4A7935BD1E995)  # FingerprintCat64's multiplier


def _as_bytes(values) -> list[bytes]:
    """Each value as bytes: ``str`` encoded as UTF-8, ``bytes`` as they are."""
    return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]


def _by_length(data: list[bytes]):
    """``(indices, matrix)`` per distinct length: the strings of that length as uint8 rows."""
    lengths = np.fromiter((len(d) for d in data), dtype=np.int64, count=len(data))
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        raw = b"".join(data[i] for i in idx)
        yield idx, np.frombuffer(raw, dtype=np.uint8).reshape(len(idx), int(length))


def _fetch64(m: np.ndarray, offset: int) -> np.ndarray:
    """The little-endian 64-bit word at byte ``offset`` of each row of ``m`` (n, length)."""
    return np.ascontiguousarray(m[:, offset : offset + 8]).view("<u8")[:, 0].astype(np.uint64)


def _fetch32(m: np.ndarray, offset: int) -> np.ndarray:
    return np.ascontiguousarray(m[:, offset : offset + 4]).view("<u4")[:, 0].astype(np.uint64)


def _rotr(v, shift: int):
    """Rotate right by ``shift`` (1..63) bits (FarmHash's ``Rotate``)."""
    return (v >> _U(shift)) | (v << _U(64 - shift))


def _rotl(v, shift: int):
    return (v << _U(shift)) | (v >> _U(64 - shift))


def _shift_mix(v):
    return v ^ (v >> _U(47))


def _hash_len16(u, v, mul):
    a = (u ^ v) * mul
    a = a ^ (a >> _U(47))
    b = (v ^ a) * mul
    b = b ^ (b >> _U(47))
    return b * mul


def _hash_0_to_16(m: np.ndarray, length: int) -> np.ndarray:
    n = m.shape[0]
    if length >= 8:
        mul = K2 + _U(length * 2)
        a = _fetch64(m, 0) + K2
        b = _fetch64(m, length - 8)
        c = _rotr(b, 37) * mul + a
        d = (_rotr(a, 25) + b) * mul
        return _hash_len16(c, d, mul)
    if length >= 4:
        mul = K2 + _U(length * 2)
        a = _fetch32(m, 0)
        return _hash_len16(_U(length) + (a << _U(3)), _fetch32(m, length - 4), mul)
    if length > 0:
        a = m[:, 0].astype(np.uint64)
        b = m[:, length >> 1].astype(np.uint64)
        c = m[:, length - 1].astype(np.uint64)
        y = (a + (b << _U(8))) & _U(0xFFFFFFFF)  # uint32 arithmetic in the C++ code
        z = (_U(length) + (c << _U(2))) & _U(0xFFFFFFFF)
        return _shift_mix((y * K2) ^ (z * K0)) * K2
    return np.full(n, K2, dtype=np.uint64)


def _hash_17_to_32(m: np.ndarray, length: int) -> np.ndarray:
    mul = K2 + _U(length * 2)
    a = _fetch64(m, 0) * K1
    b = _fetch64(m, 8)
    c = _fetch64(m, length - 8) * mul
    d = _fetch64(m, length - 16) * K2
    return _hash_len16(_rotr(a + b, 43) + _rotr(c, 30) + d, a + _rotr(b + K2, 18) + c, mul)


def _hash_33_to_64(m: np.ndarray, length: int) -> np.ndarray:
    mul = K2 + _U(length * 2)
    a = _fetch64(m, 0) * K2
    b = _fetch64(m, 8)
    c = _fetch64(m, length - 8) * mul
    d = _fetch64(m, length - 16) * K2
    y = _rotr(a + b, 43) + _rotr(c, 30) + d
    z = _hash_len16(y, a + _rotr(b + K2, 18) + c, mul)
    e = _fetch64(m, 16) * mul
    f = _fetch64(m, 24)
    g = (y + _fetch64(m, length - 32)) * mul
    h = (z + _fetch64(m, length - 24)) * mul
    return _hash_len16(_rotr(e + f, 43) + _rotr(g, 30) + h, e + _rotr(f + a, 18) + g, mul)


def _weak_hash_len32(m: np.ndarray, offset: int, a, b):
    """FarmHash's ``WeakHashLen32WithSeeds`` on the 32 bytes at ``offset``: a pair of words."""
    w, x = _fetch64(m, offset), _fetch64(m, offset + 8)
    y, z = _fetch64(m, offset + 16), _fetch64(m, offset + 24)
    a = a + w
    b = _rotr(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _rotr(a, 44)
    return a + z, b + c


def _hash_over_64(m: np.ndarray, length: int) -> np.ndarray:
    n = m.shape[0]
    seed = _U(81)
    zero = np.zeros(n, dtype=np.uint64)
    x = np.full(n, seed, dtype=np.uint64)
    y = np.full(n, seed * K1 + _U(113), dtype=np.uint64)
    z = _shift_mix(y * K2 + _U(113)) * K2
    v0 = v1 = w0 = w1 = zero
    x = x * K2 + _fetch64(m, 0)
    end = ((length - 1) // 64) * 64
    last64 = end + ((length - 1) & 63) - 63
    for s in range(0, end, 64):  # the 64-byte blocks, each for every string at once
        x = _rotr(x + y + v0 + _fetch64(m, s + 8), 37) * K1
        y = _rotr(y + v1 + _fetch64(m, s + 48), 42) * K1
        x = x ^ w1
        y = y + v0 + _fetch64(m, s + 40)
        z = _rotr(z + w0, 33) * K1
        v0, v1 = _weak_hash_len32(m, s, v1 * K1, x + w0)
        w0, w1 = _weak_hash_len32(m, s + 32, z + w1, y + _fetch64(m, s + 16))
        z, x = x, z
    mul = K1 + ((z & _U(0xFF)) << _U(1))
    s = last64
    w0 = w0 + _U((length - 1) & 63)
    v0 = v0 + w0
    w0 = w0 + v0
    x = _rotr(x + y + v0 + _fetch64(m, s + 8), 37) * mul
    y = _rotr(y + v1 + _fetch64(m, s + 48), 42) * mul
    x = x ^ (w1 * _U(9))
    y = y + v0 * _U(9) + _fetch64(m, s + 40)
    z = _rotr(z + w0, 33) * mul
    v0, v1 = _weak_hash_len32(m, s, v1 * mul, x + w0)
    w0, w1 = _weak_hash_len32(m, s + 32, z + w1, y + _fetch64(m, s + 16))
    z, x = x, z
    return _hash_len16(
        _hash_len16(v0, w0, mul) + _shift_mix(y) * K0 + z, _hash_len16(v1, w1, mul) + x, mul
    )


def fingerprint64(values) -> np.ndarray:
    """FarmHash ``Fingerprint64`` of each string (TensorFlow's ``Fingerprint64``).

    Args:
        values: an iterable of ``str`` (hashed as UTF-8) or ``bytes``.

    Returns:
        a ``uint64`` array with one hash per value, in order.
    """
    data = _as_bytes(values)
    out = np.empty(len(data), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for idx, m in _by_length(data):
            length = m.shape[1]
            if length <= 16:
                out[idx] = _hash_0_to_16(m, length)
            elif length <= 32:
                out[idx] = _hash_17_to_32(m, length)
            elif length <= 64:
                out[idx] = _hash_33_to_64(m, length)
            else:
                out[idx] = _hash_over_64(m, length)
    return out


def _sip_rounds(v0, v1, v2, v3, rounds: int):
    for _ in range(rounds):
        v0 = v0 + v1
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = v2 + v3
        v3 = _rotl(v3, 16) ^ v2
        v0 = v0 + v3
        v3 = _rotl(v3, 21) ^ v0
        v2 = v2 + v1
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash64(values, key) -> np.ndarray:
    """SipHash-2-4 of each string under the 128-bit ``key = (k0, k1)``.

    Args:
        values: an iterable of ``str`` (hashed as UTF-8) or ``bytes``.
        key: two unsigned 64-bit integers (TensorFlow's ``key`` of ``to_hash_bucket_strong``).

    Returns:
        a ``uint64`` array with one hash per value, in order.
    """
    k0, k1 = (_U(int(k) & 0xFFFFFFFFFFFFFFFF) for k in key)
    data = _as_bytes(values)
    out = np.empty(len(data), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for idx, m in _by_length(data):
            n, length = m.shape
            v0 = np.full(n, k0 ^ _U(0x736F6D6570736575), dtype=np.uint64)
            v1 = np.full(n, k1 ^ _U(0x646F72616E646F6D), dtype=np.uint64)
            v2 = np.full(n, k0 ^ _U(0x6C7967656E657261), dtype=np.uint64)
            v3 = np.full(n, k1 ^ _U(0x7465646279746573), dtype=np.uint64)
            full = length // 8 * 8
            for s in range(0, full, 8):
                word = _fetch64(m, s)
                v3 = v3 ^ word
                v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
                v0 = v0 ^ word
            # The last word: the remaining bytes, little-endian, and the length in the top byte.
            tail = np.zeros((n, 8), dtype=np.uint8)
            tail[:, : length - full] = m[:, full:]
            tail[:, 7] = length & 0xFF
            word = tail.view("<u8")[:, 0].astype(np.uint64)
            v3 = v3 ^ word
            v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
            v0 = v0 ^ word
            v2 = v2 ^ _U(0xFF)
            v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 4)
            out[idx] = v0 ^ v1 ^ v2 ^ v3
    return out


def fingerprint_cat64(first, second) -> np.ndarray:
    """TensorFlow's ``FingerprintCat64``: one uint64 from two (element-wise, broadcasting)."""
    with np.errstate(over="ignore"):
        first = np.asarray(first, dtype=np.uint64)
        second = np.asarray(second, dtype=np.uint64)
        result = first ^ _KMUL
        result = result ^ (_shift_mix(second * _KMUL) * _KMUL)
        result = result * _KMUL
        result = _shift_mix(result) * _KMUL
        return _shift_mix(result)
