"""Keras 3's ``keras.ops``: the backend-neutral ops custom layers, losses and models use.

``cnnkit.ops`` holds every top-level name of ``keras.ops``; the submodules mirror Keras's:
``numpy`` (NumPy-like ops), ``nn`` (activations, convolutions, pooling, normalisation,
losses), ``image``, ``linalg``, plus ``core`` (conversion, control flow, scatter/segment ops,
``ops.math``) and ``dtypes`` (Keras's promotion lattice). Arrays in give NumPy arrays out;
cnnkit Tensors in give Tensors out, differentiable through the autodiff engine.

The Fourier transforms ``fft``, ``fft2``, ``ifft2``, ``rfft`` and ``irfft``, and the
short-time transforms ``stft`` and ``istft``, take and return ``(real, imag)`` pairs, as in
Keras (module ``spectral``).

Out of scope (not provided): complex numbers (``angle``, ``conj``, ``conjugate``, ``imag``,
``real``, ``isreal``, ``view_as_complex``, ``view_as_real``, ``polar``) and ``saturate_cast``.

Example:
    >>> import numpy as np
    >>> from cnnkit import ops
    >>> ops.mean(ops.square(np.array([1.0, 3.0]))).item()
    5.0
"""

from cnnkit.ops import core, dtypes, image, linalg, nn, numpy, spectral  # noqa: F401
from cnnkit.ops._dispatch import make_symbolic
from cnnkit.ops.core import *  # noqa: F403
from cnnkit.ops.linalg import *  # noqa: F403
from cnnkit.ops.nn import *  # noqa: F403
from cnnkit.ops.numpy import *  # noqa: F403
from cnnkit.ops.spectral import *  # noqa: F403

# The nn ops, as exported here, also accept symbolic KerasTensors (functional API).
make_symbolic(globals(), nn.__all__)

__all__ = sorted(
    {*numpy.__all__, *core.__all__, *linalg.__all__, *nn.__all__, *spectral.__all__}
    | {"core", "image", "linalg", "nn", "numpy"}
)
