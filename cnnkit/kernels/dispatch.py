"""Which implementation runs a kernel: the one swap point of the kernel layer.

A differentiable :class:`~cnnkit.autodiff.Function` in this package keeps only its maths and
asks :func:`ops` for the implementation of its heavy work: the convolution's ``correlate``,
``correlate_backward_data`` and ``correlate_backward_weights``, the depthwise convolution's
``depthwise_*``, the pooling windows' reductions, the global pools, batch normalisation's
``batch_norm_train``/``batch_norm_train_backward``/``batch_norm_apply`` and Dense's
``matmul``. An implementation is a module that also names its array module ``xp``, its
chunking helper ``chunked`` and its workspace budget ``conv_workspace_bytes``. Two exist,
with the same names and signatures, and each must give the same values and gradients
(``tests/kernels/test_reference_kernels.py`` runs the whole op table on both):

- ``"numpy"`` (the default), :mod:`cnnkit.kernels.numpy_ops`: column matrices, chunks of
  samples under the workspace budget and the CPU threads that share them, all from
  :mod:`cnnkit.kernels.threads` (:func:`~cnnkit.kernels.threads.chunked`);
- ``"reference"``, :mod:`cnnkit.kernels.reference_ops`: single-threaded loops over the
  kernel offsets (or pixels), one tensor contraction each, no chunks (its ``chunked`` is one
  call on the whole batch) and no strided views; slow, and simple enough to read as the
  definition.

A faster library can also replace single ops: ``pip install "cnnkit[fast]"`` adds oneDNN
3.2 (:mod:`cnnkit.kernels.onednn`): convolutions (depthwise ones as grouped convolutions,
transposed ones as the convolutions they transpose) without column matrices, max and average
pooling, batch normalisation in one or two passes, and Dense's inner product (2-D inputs; the
ops of ``_MODULES``). With ``"auto"`` an op asks :func:`fast` for the oneDNN
version, and each shape *races* (:class:`Race`): for its first runs oneDNN on every core,
oneDNN on one core and NumPy take turns, each timed over its forward and backward passes,
and the fastest runs that shape from then on (:func:`tuning_report` shows the races).
Shapes where oneDNN has only its reference or GEMM fallbacks, other dtypes, and synchronized
batch norm stay on NumPy. ``"onednn"`` runs oneDNN wherever it can, without racing, and a
missing library is an error. :func:`kernels_report` counts which implementation ran each op.

NumPy stays the default: it is the reference, its results are the same from run to run
(a race's winner depends on timings), and on this 2-core machine the races gained little
for the convolutions (oneDNN's convolutions won on some VGG shapes by up to 1.4x and lost
on the lecture CNN's small ones; batch normalisation 2x).

:func:`set_kernels` sets the choice of the whole process (its first value comes from the
environment variable ``CNNKIT_KERNELS`` where set, e.g. ``CNNKIT_KERNELS=auto python
train.py``); :func:`use_kernels` changes it for the calling thread (and the worker threads it
fans out to) inside a ``with`` block only.

Example:
    >>> import numpy as np
    >>> from cnnkit.kernels import dispatch
    >>> dispatch.kernels(), dispatch.ops().NAME
    ('numpy', 'numpy')
    >>> dispatch.ops().matmul(np.ones((2, 3)), np.ones((3, 1))).ravel().tolist()
    [3.0, 3.0]
    >>> with dispatch.use_kernels("reference"):
    ...     dispatch.ops().NAME
    'reference'
    >>> dispatch.fast("conv2d") is None
    True
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import importlib
import os
import threading

from cnnkit.kernels import numpy_ops

CHOICES = ("auto", "numpy", "onednn", "reference")
DEFAULT = "numpy"
ENVIRONMENT_VARIABLE = "CNNKIT_KERNELS"
_LOCAL: contextvars.ContextVar = contextvars.ContextVar("cnnkit_kernels", default=None)
_COUNTS: collections.Counter = collections.Counter()
_LOCK = threading.Lock()
_MODULES = {
    "conv2d": "cnnkit.kernels.onednn.conv",
    "batch_norm": "cnnkit.kernels.onednn.norm",
    "max_pool2d": "cnnkit.kernels.onednn.pool",
    "avg_pool2d": "cnnkit.kernels.onednn.pool",
    "depthwise_conv2d": "cnnkit.kernels.onednn.conv",
    "conv2d_transpose": "cnnkit.kernels.onednn.conv",
    "dense": "cnnkit.kernels.onednn.dense",
}


def set_kernels(name: str) -> None:
    """``"numpy"`` (the default), ``"reference"`` (the simple loops of
    :mod:`cnnkit.kernels.reference_ops`), ``"auto"`` (oneDNN where it loads and has a fast
    kernel for the shape, else NumPy) or ``"onednn"`` (like ``"auto"``, but a missing
    library is an error, not a fallback), for every thread of the process.

    Raises:
        ValueError: for another name, or ``"onednn"`` where oneDNN does not load.
    """
    _check(name)
    _STATE["choice"] = name


@contextlib.contextmanager
def use_kernels(name: str):
    """Within the block, the calling thread runs its kernels with ``name`` (see
    :func:`set_kernels`); other threads keep theirs. The worker threads of
    :func:`cnnkit.kernels.threads.parallel_map` run in the caller's context, so they follow it.

    Raises:
        ValueError: as :func:`set_kernels`, before the block runs.
    """
    _check(name)
    token = _LOCAL.set(name)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def _check(name, where: str = "`kernels`") -> None:
    if name not in CHOICES:
        raise ValueError(f"{where} must be one of {CHOICES}. Received: {name!r}")
    if name == "onednn":
        from cnnkit.kernels.onednn import library

        if library.load() is None:
            raise ValueError(
                "oneDNN kernels are not available here: "
                f"{library.why_unavailable()}. Install them with pip install 'cnnkit[fast]'."
            )


def _from_environment() -> str:
    """The process's first choice: ``CNNKIT_KERNELS`` where set (as ``KERAS_BACKEND`` picks
    Keras's backend), else ``"numpy"``."""
    name = os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() or DEFAULT
    _check(name, f"The environment variable {ENVIRONMENT_VARIABLE}")
    return name


_STATE = {"choice": _from_environment()}


def kernels() -> str:
    """The calling thread's choice: ``"auto"``, ``"numpy"``, ``"onednn"`` or ``"reference"``."""
    local = _LOCAL.get()
    return _STATE["choice"] if local is None else local


def ops():
    """The module implementing the kernels' primitives for the calling thread:
    :mod:`cnnkit.kernels.reference_ops` with ``"reference"``, else
    :mod:`cnnkit.kernels.numpy_ops` (oneDNN, where chosen, replaces whole ops via :func:`fast`).
    """
    if kernels() == "reference":
        return importlib.import_module("cnnkit.kernels.reference_ops")
    return numpy_ops


def fast(op: str):
    """The oneDNN module implementing ``op``, or ``None`` when :func:`ops` must run it."""
    if kernels() in ("numpy", "reference") or op not in _MODULES:
        return None
    from cnnkit.kernels.onednn import library

    if library.load() is None:
        return None
    return importlib.import_module(_MODULES[op])


class _Trial:
    """The race of one op and shape between its candidate implementations.

    Candidates take turns; each one's first run (plans, caches, page faults) is not
    counted, then each is timed :data:`ROUNDS` times and the one with the smallest median
    is kept for the rest of the process.
    """

    ROUNDS = 3

    def __init__(self, candidates: tuple):
        self.candidates = list(candidates)
        self.times: dict = {c: [] for c in candidates}
        self.issued = 0
        self.choice = None

    def next(self) -> str:
        if self.choice is not None:
            return self.choice
        candidate = self.candidates[self.issued % len(self.candidates)]
        self.issued += 1
        return candidate

    def add(self, candidate: str, seconds: float) -> None:
        if self.choice is None and candidate in self.times:
            self.times[candidate].append(seconds)
            self._decide()

    def drop(self, candidate: str) -> None:
        if self.choice is None and candidate in self.times and len(self.candidates) > 1:
            self.candidates.remove(candidate)
            del self.times[candidate]
            self._decide()

    def _decide(self) -> None:
        if all(len(t) > self.ROUNDS for t in self.times.values()) or len(self.candidates) == 1:
            self.choice = min(self.candidates, key=lambda c: _median(self.times[c][1:]))


def _median(values: list) -> float:
    return sorted(values)[len(values) // 2] if values else float("inf")


_TRIALS: dict = {}


def choose(op: str, key, candidates: tuple) -> str:
    """Which of ``candidates`` runs ``op`` for the shape ``key`` now.

    With ``"auto"``, each shape's candidates race for their first few runs (report each
    run's seconds with :func:`timed`) and the fastest is kept; with any other choice, and
    for a single candidate, the first candidate.
    """
    if len(candidates) == 1 or kernels() != "auto":
        return candidates[0]
    trial = _TRIALS.get((op, key))
    if trial is not None and trial.choice is not None:  # decided: no lock needed
        return trial.choice
    with _LOCK:
        trial = _TRIALS.get((op, key))
        if trial is None:
            trial = _TRIALS[(op, key)] = _Trial(candidates)
        return trial.next()


CANDIDATES = ("onednn", "onednn:1", "numpy")
"""What races for an op's shape with the ``"auto"`` kernels: oneDNN on every core, oneDNN
on one core (small shapes, where waking a second thread costs more than it saves), and
the NumPy kernels (always able to run, so last)."""


class Race:
    """One run of a raced op: the candidate :func:`choose` picked, and the seconds its
    passes took. An op starts one in its forward pass (``Race(op, key)``), adds each pass
    with :meth:`add` and the last one with ``done=True`` (the backward pass, or the forward
    pass where no gradient is needed), and :func:`timed` hears of it once.

    ``threads`` is oneDNN's thread count for the candidate (``None``: every core).
    """

    __slots__ = ("op", "key", "candidate", "threads", "seconds", "racing")

    def __init__(self, op: str, key):
        self.op, self.key = op, key
        self.candidate = choose(op, key, CANDIDATES)
        self.threads = 1 if self.candidate == "onednn:1" else None
        self.seconds = 0.0
        trial = _TRIALS.get((op, key))
        self.racing = trial is not None and trial.choice is None  # else nothing to time

    @property
    def fast(self) -> bool:
        """Whether oneDNN runs this one."""
        return self.candidate != "numpy"

    def add(self, seconds: float, done: bool = False) -> None:
        if not self.racing:
            return
        self.seconds += seconds
        if done:
            timed(self.op, self.key, self.candidate, self.seconds)

    def decline(self) -> None:
        """oneDNN cannot run the shape: NumPy runs this one, and every later one."""
        for name in CANDIDATES[:-1]:
            declined(self.op, self.key, name)
        self.candidate, self.threads = "numpy", None


def timed(op: str, key, candidate: str, seconds: float) -> None:
    """Report one run of ``candidate`` for ``op`` and ``key`` (see :func:`choose`)."""
    with _LOCK:
        trial = _TRIALS.get((op, key))
        if trial is not None:
            trial.add(candidate, seconds)


def declined(op: str, key, candidate: str) -> None:
    """``candidate`` cannot run ``op`` for ``key``: it leaves the race."""
    with _LOCK:
        trial = _TRIALS.get((op, key))
        if trial is not None:
            trial.drop(candidate)


def tuning_report(reset: bool = False) -> dict:
    """``{(op, shape key): {"choice": name or None, "ms": {candidate: median ms}}}``: the
    races run so far with ``"auto"`` (``choice`` is ``None`` while one is still running).
    ``reset=True`` forgets them after reporting, so that every shape races again."""
    with _LOCK:
        report = {}
        for key, trial in _TRIALS.items():
            ms = {c: round(1e3 * _median(t[1:]), 3) for c, t in trial.times.items() if t[1:]}
            report[key] = {"choice": trial.choice, "ms": ms}
        if reset:
            _TRIALS.clear()
        return report


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
