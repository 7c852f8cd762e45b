"""Property-based tests of how ``cnnkit predict`` reads image files (``image_array``).

Random bytes, truncated or damaged PNG/JPEG/GIF/BMP/TIFF/WebP files, images of random sizes,
modes and EXIF orientations, and headers announcing billions of pixels either become a float32
``(height, width, channels)`` array in [0, 1], or raise the documented ``ValueError`` naming
the file.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from cnnkit.preprocessing.image_files import image_array  # noqa: E402
from tests.fuzz import FUZZ  # noqa: E402

# the modes each format writes (a subset Pillow supports everywhere)
FORMATS = {
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "GIF": ("L", "P"),
    "BMP": ("1", "L", "P", "RGB", "RGBA"),
    "TIFF": ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "I", "I;16", "F"),
    "WEBP": ("RGB", "RGBA"),
    "PPM": ("1", "L", "RGB", "I"),
}
MAGICS = (
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x10\x00\x00\x00WEBPVP8 ",
    b"P5\n",
    b"P6\n4 4\n255\n",
)

# Pillow warns about damaged metadata (EXIF, TIFF tags), then reads the pixels or fails: only the
# outcome counts here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")

targets = st.tuples(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3]))


@st.composite
def images(draw):
    """``(format, mode, bytes)``: a small image with random pixels, maybe with EXIF."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    if fmt == "WEBP" and not _can_save("WEBP"):
        fmt = "PNG"
    mode = draw(st.sampled_from(FORMATS[fmt]))
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    rgb = np.frombuffer(
        draw(st.binary(min_size=3 * width * height, max_size=3 * width * height)), np.uint8
    )
    image = Image.fromarray(rgb.reshape(height, width, 3), "RGB")
    image = (
        image.convert(mode) if mode not in ("I", "I;16", "F") else image.convert("L").convert(mode)
    )
    options = {}
    if fmt in ("PNG", "JPEG", "TIFF", "WEBP") and draw(st.booleans()):
        exif = Image.Exif()
        exif[0x0112] = draw(st.one_of(st.integers(1, 8), st.integers(0, 65535)))
        options["exif"] = exif.tobytes()
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return fmt, mode, buf.getvalue()


def _can_save(fmt: str) -> bool:
    try:
        Image.new("RGB", (1, 1)).save(io.BytesIO(), fmt)
    except (OSError, KeyError):
        return False
    return True


def check(path, target) -> np.ndarray | None:
    """``image_array`` gives a float32 array in [0, 1] of the target shape, or a ValueError."""
    height, width, channels = target
    try:
        array = image_array(path, height, width, channels)
    except ValueError as e:
        event("refused")
        assert re.match(re.escape(str(path)) + ": ", str(e)), str(e)
        return None
    event("read")
    assert array.shape == (height, width, channels) and array.dtype == np.float32
    assert np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0
    return array


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=300), targets)
def test_random_bytes(tmp_path_factory, magic, tail, target):
    path = tmp_path_factory.mktemp("bytes") / "image"
    path.write_bytes(magic + tail)
    check(path, target)


@FUZZ
@given(images(), st.sampled_from(["truncate", "flip", "both"]), targets, st.data())
def test_damaged_images(tmp_path_factory, image, damage, target, data):
    fmt, _, blob = image
    if damage in ("flip", "both"):
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob = blob[:i] + bytes([blob[i] ^ data.draw(st.integers(1, 255))]) + blob[i + 1 :]
    if damage in ("truncate", "both"):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    path = tmp_path_factory.mktemp("damaged") / f"image.{fmt.lower()}"
    path.write_bytes(blob)
    check(path, target)


@FUZZ
@given(images(), targets)
def test_valid_images_are_read(tmp_path_factory, image, target):
    fmt, mode, blob = image
    path = tmp_path_factory.mktemp("valid") / f"image.{fmt.lower()}"
    path.write_bytes(blob)
    array = check(path, target)
    assert array is not None, f"a valid {mode} {fmt} image was refused"


@FUZZ
@given(st.integers(1, 24), st.integers(1, 24), st.sampled_from(["L", "RGB"]))
def test_exact_pixels_without_resizing(tmp_path_factory, width, height, mode):
    """A PNG already of the model's size: the pixels divided by 255, nothing else."""
    rng = np.random.default_rng(width * 100 + height)
    channels = 1 if mode == "L" else 3
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    path = tmp_path_factory.mktemp("exact") / "image.png"
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(path)
    array = image_array(path, height, width, channels)
    np.testing.assert_array_equal(array, pixels.astype(np.float32) / np.float32(255.0))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@FUZZ
@given(
    st.one_of(st.integers(1, 64), st.integers(1, 2**31 - 1)),
    st.one_of(st.integers(1, 64), st.integers(1, 2**31 - 1)),
    st.sampled_from([(0, 1), (0, 8), (0, 16), (2, 8), (2, 16), (3, 8), (4, 8), (6, 8), (6, 16)]),
    targets,
)
def test_announced_sizes(tmp_path_factory, width, height, color_depth, target):
    """A PNG header announcing any size, over a few bytes of pixels: never a huge decode."""
    color, depth = color_depth
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    blob = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + (_png_chunk(b"PLTE", b"\0\0\0") if color == 3 else b"")
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + _png_chunk(b"IEND", b"")
    )
    path = tmp_path_factory.mktemp("announced") / "image.png"
    path.write_bytes(blob)
    if width * height > Image.MAX_IMAGE_PIXELS:
        with pytest.raises(ValueError, match=re.escape(str(path)) + ": .*too large"):
            image_array(path, *target)
    elif width * height <= 4096:
        check(path, target)


@pytest.mark.parametrize("channels", [0, 2, 4])
def test_unsupported_channels(tmp_path, channels):
    path = tmp_path / "image.png"
    Image.new("RGB", (3, 3)).save(path)
    with pytest.raises(ValueError, match=f"{channels}-channel images are not supported"):
        image_array(path, 3, 3, channels)
