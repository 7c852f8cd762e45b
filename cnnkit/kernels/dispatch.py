"""Which implementation runs a kernel: cnnkit's NumPy code, or oneDNN where asked.

The NumPy kernels in this package are the reference: readable, tested against independent
references, always available, and the default. ``pip install "cnnkit[fast]"`` adds oneDNN 3.2
(:mod:`cnnkit.kernels.onednn`), whose convolutions run without column matrices. With
``set_kernels("auto")`` a kernel asks :func:`fast` for the oneDNN version and uses it when
the library loads and oneDNN has a fast implementation for the shape (its reference and GEMM
fallbacks are declined); otherwise, and always with ``set_kernels("numpy")``, the NumPy kernel
runs. ``kernels_report()`` counts which ran.

NumPy stays the default because of a measurement: training the lecture CNN for an epoch took
5× longer with oneDNN's convolutions on this 2-core machine (its OpenMP threads and cnnkit's
own threads take turns on the same cores), while inference gained up to 1.2× (README,
"Performance").

Example:
    >>> from cnnkit.kernels import dispatch
    >>> dispatch.kernels()
    'numpy'
    >>> dispatch.fast("conv2d") is None
    True
"""

from __future__ import annotations

import collections
import importlib
import threading

CHOICES = ("auto", "numpy", "onednn")
DEFAULT = "numpy"
_STATE = {"choice": DEFAULT}
_COUNTS: collections.Counter = collections.Counter()
_LOCK = threading.Lock()
_MODULES = {"conv2d": "cnnkit.kernels.onednn.conv"}


def set_kernels(name: str) -> None:
    """``"numpy"`` (the default), ``"auto"`` (oneDNN where it loads and has a fast kernel for
    the shape, else NumPy) or ``"onednn"`` (like ``"auto"``, but a missing library is an
    error, not a fallback)."""
    if name not in CHOICES:
        raise ValueError(f"`kernels` must be one of {CHOICES}. Received: {name!r}")
    if name == "onednn":
        from cnnkit.kernels.onednn import library

        if library.load() is None:
            raise ValueError(
                "oneDNN kernels are not available here: "
                f"{library.why_unavailable()}. Install them with pip install 'cnnkit[fast]'."
            )
    _STATE["choice"] = name


def kernels() -> str:
    """The current choice: ``"auto"``, ``"numpy"`` or ``"onednn"``."""
    return _STATE["choice"]


def fast(op: str):
    """The oneDNN module implementing ``op``, or ``None`` when NumPy must run it."""
    if _STATE["choice"] == "numpy" or op not in _MODULES:
        return None
    from cnnkit.kernels.onednn import library

    if library.load() is None:
        return None
    return importlib.import_module(_MODULES[op])


def record(op: str, implementation: str) -> None:
    """Count one run of ``op`` by ``implementation`` (for :func:`kernels_report`)."""
    with _LOCK:
        _COUNTS[(op, implementation)] += 1


def kernels_report(reset: bool = False) -> dict:
    """``{op: {implementation: runs}}`` since the start (or the last ``reset``).

    Example:
        >>> from cnnkit.kernels import dispatch
        >>> isinstance(dispatch.kernels_report(), dict)
        True
    """
    with _LOCK:
        report: dict = {}
        for (op, implementation), count in sorted(_COUNTS.items()):
            report.setdefault(op, {})[implementation] = count
        if reset:
            _COUNTS.clear()
    return report
