"""Reading image files into arrays: Pillow decoding made safe and shaped for a model.

:func:`read_image` opens one file (any format Pillow reads) as a grayscale or RGB image,
EXIF-rotated, refusing corrupt, truncated and decompression-bomb files with one ``ValueError``
naming the file; :func:`image_array` turns it into the float32 ``(height, width, channels)``
array in [0, 1] a model trained on ``x / 255`` takes. Pillow is imported when first needed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cnnkit.io_utils import open_regular


def pillow():
    """Pillow's ``(Image, ImageOps)`` modules, or an ImportError saying how to install it."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError(
            "reading images needs Pillow: pip install 'cnnkit[plot]' (matplotlib and pillow)."
        ) from None
    return Image, ImageOps


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _open_image(Image, path: Path):
    """``Image.open(path)``, raising Pillow's decompression-bomb warning (over
    ``Image.MAX_IMAGE_PIXELS`` pixels) as an error, before any pixel is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def read_image(path: Path, mode: str | None = None):
    """The image at ``path`` as a Pillow image in ``mode``, EXIF-rotated.

    ``mode`` is ``"L"`` (grayscale) or ``"RGB"``; ``None`` keeps a grayscale image gray and
    makes anything else RGB. An alpha channel is dropped; 16-bit and float grayscale images
    are rescaled to 8 bits.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not an image Pillow can read, is corrupt or truncated, or has more
            pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (a possible decompression bomb).
    """
    Image, ImageOps = pillow()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such image file.")
    try:
        with open_regular(path, "image") as f, _open_image(Image, f) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if mode is None:
                mode = "L" if image.mode in GRAY_MODES else "RGB"
            if image.mode == "P":  # a palette, maybe with a transparent entry: go through RGBA
                image = image.convert("RGBA")
            if image.mode in GRAY_MODES[3:] and mode == "L":
                array = np.asarray(image, dtype="float64")
                top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
                return Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype("uint8"))
            return image.convert(mode)
    except Image.UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file Pillow can read (PNG, JPEG, ...).") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{path}: image too large to read ({error}).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{path}: corrupt or truncated image ({error}).") from None


def image_array(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """``path`` as a float32 ``(height, width, channels)`` array in [0, 1], as in training.

    Grayscale and colour are converted to the model's ``channels`` (1 or 3; an alpha channel
    is dropped) and the image is resized to ``height x width`` (bilinear). No inversion.
    """
    Image, _ = pillow()
    if channels not in (1, 3):
        raise ValueError(f"Models over {channels}-channel images are not supported by predict.")
    image = read_image(path, "L" if channels == 1 else "RGB")
    if image.size != (width, height):
        resampling = getattr(Image, "Resampling", Image)
        image = image.resize((width, height), resampling.BILINEAR)
    array = np.asarray(image, dtype="float32") / np.float32(255.0)
    return array.reshape(height, width, channels)
