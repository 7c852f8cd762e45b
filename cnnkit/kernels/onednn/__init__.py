"""Optional oneDNN implementations of cnnkit's kernels (``pip install "cnnkit[fast]"``).

:mod:`~cnnkit.kernels.onednn.library` binds oneDNN 3.2's C API with ctypes;
:mod:`~cnnkit.kernels.onednn.conv` runs 2-D convolutions, grouped and depthwise ones too
(forward with bias fused, backward-data, backward-weights), and transposed ones with the same
plans, :mod:`~cnnkit.kernels.onednn.pool` max and average pooling,
:mod:`~cnnkit.kernels.onednn.norm` batch normalisation and :mod:`~cnnkit.kernels.onednn.dense`
Dense's inner product. :mod:`cnnkit.kernels.dispatch` decides when they run; the NumPy kernels
stay the reference they are tested against (``tests/kernels/test_onednn.py``).
"""
