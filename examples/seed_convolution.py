"""The lecture's convolution section on a synthetic image: blur, edges, modes, colour, feature maps.

Builds a bright square on a dark background (NumPy only, nothing downloaded), blurs it with a
Gaussian, finds its edges with Sobel and the Laplacian, prints the output shape of each mode
(valid H-K+1, same H, full H+K-1) and reproduces the lecture's parameter-sharing example
(32x32x3 image, 5x5x3x64 filters -> 28x28x64 in valid mode, 4800 weights). Every claim is
asserted.

Run: python examples/seed_convolution.py
"""

from __future__ import annotations

import numpy as np

from cnnkit.signal import convolve2d, correlate2d, gaussian_kernel, laplacian, sobel_x, sobel_y


def bright_square(size: int = 32, lo: int = 10, hi: int = 22) -> np.ndarray:
    """A dark ``size x size`` image with a bright square covering rows/cols ``lo..hi-1``."""
    image = np.zeros((size, size), dtype=np.float32)
    image[lo:hi, lo:hi] = 1.0
    return image


def main() -> None:
    image = bright_square()
    H, W = image.shape
    print(f"image: {image.shape}, {int(image.sum())} bright pixels")

    # Blur (lecture: "desfocagem com Filtro Gaussiano").
    g = gaussian_kernel(5, sigma=1.0)
    blurred = correlate2d(image, g, mode="same")
    print(f"gaussian 5x5: sum={g.sum():.6f}; blurred {blurred.shape}, max {blurred.max():.3f}")
    assert blurred.shape == image.shape
    assert abs(blurred.sum() - image.sum()) < 1e-3  # blur moves brightness, keeps its total
    assert blurred.max() < 1.0 + 1e-6 and blurred[16, 16] > 0.99  # interior stays bright
    assert 0.0 < blurred[10, 10] < 1.0  # the corner is smeared

    # Edges (lecture: "destaque aos limites"): Sobel gradient magnitude and the Laplacian.
    gx = correlate2d(image, sobel_x(), mode="same")
    gy = correlate2d(image, sobel_y(), mode="same")
    magnitude = np.hypot(gx, gy)
    edge_rows, edge_cols = np.nonzero(magnitude)
    print(
        f"sobel: non-zero response in rows {edge_rows.min()}..{edge_rows.max()}, "
        f"cols {edge_cols.min()}..{edge_cols.max()}; {np.count_nonzero(magnitude)} pixels"
    )
    assert magnitude[16, 16] == 0 and magnitude[2, 2] == 0  # flat regions: no response
    assert gx[16, 9] > 0 and gx[16, 22] < 0  # left edge dark->bright, right edge bright->dark
    assert edge_rows.min() == 9 and edge_rows.max() == 22  # only a 1-pixel band around the edge
    lap = correlate2d(image, laplacian(), mode="valid")
    assert np.count_nonzero(lap) > 0 and lap[3:5, 3:5].sum() == 0

    # Modes: output sizes for a K x K kernel.
    for K in (3, 4, 5):
        w = np.ones((K, K), dtype=np.float32)
        expected = {"valid": H - K + 1, "same": H, "full": H + K - 1}
        for mode, n in expected.items():
            shape = correlate2d(image, w, mode=mode).shape
            print(f"K={K} mode={mode:5s} -> {shape}")
            assert shape == (n, n) == convolve2d(image, w, mode=mode).shape

    # Colour image and feature maps: (H, W, 3) * (5, 5, 3) -> one map; * (5, 5, 3, 64) -> 64.
    rng = np.random.default_rng(0)
    colour = np.stack([image, 0.5 * image, 1.0 - image], axis=-1)  # (32, 32, 3)
    one_map = correlate2d(colour, rng.standard_normal((5, 5, 3)).astype(np.float32))
    filters = rng.standard_normal((5, 5, 3, 64)).astype(np.float32)
    maps = correlate2d(colour, filters, mode="valid")
    print(f"colour {colour.shape} * {filters.shape[:3]} -> {one_map.shape}")
    print(f"colour {colour.shape} * {filters.shape} -> {maps.shape}; {filters.size} weights")
    assert one_map.shape == (28, 28)
    assert maps.shape == (28, 28, 64)
    assert filters.size == 4800  # versus 3072 * 50176 weights for a dense layer
    print("ok")


if __name__ == "__main__":
    main()
