"""Peak memory of one epoch through ``image_dataset_from_directory`` (streaming check).

Writes ``--count`` JPEG files (default 20,000, 64x64 RGB, 10 class folders) into a temporary
folder (or ``--dir``), then reads one full epoch (``batch_size=32``, ``image_size=64``,
shuffled) and prints the peak resident memory of the process (``ru_maxrss``) before and after
the epoch. A streamed epoch keeps it well under 300 MiB; loading the images whole would need
``count * 64 * 64 * 3 * 4`` bytes of float32 (940 MiB for 20,000).

    python benchmarks/image_dataset_memory.py [--count 20000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np


def _peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _write(root: str, count: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = os.path.join(root, f"class_{i % 10}")
        os.makedirs(folder, exist_ok=True)
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i:06d}.jpg"), quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--dir", default=None, help="reuse (or fill) this folder")
    args = parser.parse_args()
    from cnnkit import utils

    with tempfile.TemporaryDirectory() as scratch:
        root = args.dir or scratch
        if not any(os.scandir(root)) if os.path.isdir(root) else True:
            os.makedirs(root, exist_ok=True)
            start = time.perf_counter()
            _write(root, args.count)
            print(f"wrote {args.count} JPEGs in {time.perf_counter() - start:.1f}s")
        ds = utils.image_dataset_from_directory(
            root, image_size=(64, 64), batch_size=32, seed=0, verbose=False
        )
        before = _peak_mib()
        start = time.perf_counter()
        images = 0
        for x, _ in ds:
            images += len(x)
        seconds = time.perf_counter() - start
        after = _peak_mib()
        print(
            f"{images} images in {seconds:.1f}s; peak RSS {before:.0f} MiB before the epoch, "
            f"{after:.0f} MiB after (limit 300 MiB)"
        )


if __name__ == "__main__":
    main()
