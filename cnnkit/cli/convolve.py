"""``cnnkit convolve IMAGE --kernel K --out OUT``: filter an image through cnnkit.signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnkit.cli.common import positive_float, positive_int
from cnnkit.viz.convolution import KERNEL_NAMES, MODES

HELP = "filter an image with a classic kernel through cnnkit.signal"


def add_arguments(parser) -> None:
    parser.add_argument("image", type=Path)
    parser.add_argument(
        "--kernel",
        required=True,
        metavar="|".join(KERNEL_NAMES) + "|FILE",
        help="a kernel name, or a 2-D kernel in a .npy, .csv or whitespace-separated text file",
    )
    parser.add_argument("--mode", choices=MODES, default="same")
    parser.add_argument("--out", type=Path, required=True, help="output image (.png, .jpg)")
    parser.add_argument(
        "--sigma", type=positive_float, default=1.0, help="gaussian: standard deviation (px)"
    )
    parser.add_argument(
        "--size", type=positive_int, default=None, help="gaussian: side (default 2*ceil(3s)+1)"
    )
    parser.add_argument("--gray", action="store_true", help="convert a colour image to gray")
    parser.add_argument(
        "--correlate",
        action="store_true",
        help="do not flip the kernel (what Conv2D computes); the default flips it, like SciPy",
    )


def run(args) -> int:
    from cnnkit.io_utils import atomic_write
    from cnnkit.preprocessing.image_files import pillow, read_image
    from cnnkit.viz.convolution import convolve_image, read_kernel, to_uint8

    Image, _ = pillow()
    formats = Image.registered_extensions()
    out_format = formats.get(args.out.suffix.lower())
    if out_format is None or out_format not in Image.SAVE:
        raise ValueError(
            f"--out {args.out}: cannot tell an image format Pillow writes from "
            "the extension; use .png or .jpg."
        )
    name, kernel = read_kernel(args.kernel, args.sigma, args.size)
    image = read_image(args.image, "L" if args.gray else None)
    pixels = np.asarray(image, dtype="float64") / 255.0
    result = convolve_image(pixels, kernel, args.mode, correlate=args.correlate)
    output = Image.fromarray(to_uint8(result))  # uint8 (H, W) is "L", (H, W, 3) "RGB"
    with atomic_write(args.out) as f:
        output.save(f, format=out_format)
    h, w = pixels.shape[:2]
    kh, kw = kernel.shape
    print(
        f"Wrote {args.out}: {result.shape[0]}x{result.shape[1]} ({args.mode} "
        f"{'correlation' if args.correlate else 'convolution'} of a {h}x{w} image with the "
        f"{kh}x{kw} {name} kernel)"
    )
    return 0
