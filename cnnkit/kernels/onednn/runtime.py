"""What every oneDNN kernel of cnnkit shares: plans cached per shape and thread, the
OpenMP team's size, and one execution over the caller's NumPy arrays.

A *plan* holds the primitives oneDNN made for one shape; it is created on first use in
each Python thread and reused. A primitive whose implementation is oneDNN's reference or
GEMM fallback (``ref:any``, ``x64:gemm:jit``: :func:`declines`; they ran 1.4× to 1000×
slower than the jit kernels in measurements) is declined: the plan is ``None`` and the
caller runs its NumPy kernel.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from cnnkit.kernels import threads as cores
from cnnkit.kernels.onednn import library as dnnl

DECLINED_IMPLEMENTATIONS = ("ref", "gemm")
"""Parts of an implementation's name (``"ref:any"``, ``"x64:gemm:jit"``) that decline it;
``ref_int8`` and the like count, ``brgemm`` does not."""


def declines(info: str, declined: tuple = DECLINED_IMPLEMENTATIONS) -> bool:
    """Whether the implementation named ``info`` is a slow fallback: a part of its name is
    one of ``declined`` (by default :data:`DECLINED_IMPLEMENTATIONS`)."""
    return any(part.split("_")[0] in declined for part in info.split(":"))


class Declined(Exception):
    """oneDNN has only a slow implementation for this shape."""


_STATE = threading.local()  # plans and the OpenMP thread count, per Python thread


def _plans() -> dict:
    plans = getattr(_STATE, "plans", None)
    if plans is None:
        plans = _STATE.plans = {}
    return plans


def plan(make, key):
    """``make(lib, key)``'s plan for ``key`` in this thread (made once), or ``None`` when
    oneDNN is unavailable or declined the shape."""
    plans = _plans()
    if (make, key) not in plans:
        lib = dnnl.load()
        try:
            plans[make, key] = None if lib is None else make(lib, key)
        except (Declined, dnnl.OneDNNError):
            plans[make, key] = None
    return plans[make, key]


def planned(make) -> dict:
    """This thread's plans made by ``make``: ``{key: plan or None}``."""
    return {key: found for (maker, key), found in _plans().items() if maker is make}


def stage(lib, pd, declined: tuple = DECLINED_IMPLEMENTATIONS) -> dict:
    """A primitive of ``pd`` with its implementation's name and scratchpad. ``declined``:
    as :func:`declines` (an inner product keeps oneDNN's GEMM, its own kernel there).

    Raises:
        Declined: the implementation is a slow fallback.
    """
    info = lib.impl_info(pd)
    if declines(info, declined):
        raise Declined(info)
    scratch_md = lib.query_md(pd, dnnl.QUERY_SCRATCHPAD_MD)
    return {
        "impl": info,
        "pd": pd,
        "primitive": lib.primitive(pd),
        "scratch_md": scratch_md,
        "scratch_bytes": lib.size(scratch_md),
    }


def use_threads(threads: int | None = None) -> None:
    """oneDNN's OpenMP team for this Python thread: ``threads``, or cnnkit's share of the
    cores here (one inside cnnkit's own worker threads, which already split the work)."""
    cores._limit_blas_in_region()  # OpenBLAS's spinning threads would stall oneDNN's team
    wanted = cores.cpu_threads() if threads is None else threads
    if getattr(_STATE, "omp_threads", None) != wanted:
        _gomp().omp_set_num_threads(wanted)
        _STATE.omp_threads = wanted


_GOMP = None


def _gomp():
    global _GOMP
    if _GOMP is None:
        _GOMP = ctypes.CDLL("libgomp.so.1")  # the OpenMP runtime libdnnl was linked with
        _GOMP.omp_set_num_threads.argtypes = [ctypes.c_int]
    return _GOMP


class Run:
    """One execution: memory objects over the caller's arrays, destroyed afterwards."""

    def __init__(self, lib):
        self.lib, self.args, self._keep = lib, [], []

    def add(self, arg: int, md, array: np.ndarray) -> None:
        memory = self.lib.memory(md, array.ctypes.data)
        self._keep.append((memory, array))
        self.args.append((arg, memory))

    def scratchpad(self, stage: dict) -> None:
        if stage["scratch_bytes"]:
            buffer = np.empty(stage["scratch_bytes"], np.uint8)
            self.add(dnnl.ARG_SCRATCHPAD, stage["scratch_md"], buffer)

    def execute(self, primitive) -> None:
        self.lib.execute(primitive, self.args)
