"""oneDNN's C API through ctypes: loading, the few calls cnnkit makes, and object lifetimes.

``pip install "cnnkit[fast]"`` brings oneDNN 3.2 (``onednn-cpu-gomp``: CPU only, OpenMP
threads from the system's ``libgomp``). Nothing here is imported by ``import cnnkit``; the
library is loaded on the first convolution that may use it, and if it is missing, of another
version, or fails to load, cnnkit runs its NumPy kernels exactly as without it.

The enum values below are oneDNN 3.2's (``oneapi/dnnl/dnnl_types.h``, checked against the
header by ``tests/kernels/test_onednn.py`` where the headers are installed); format tags
move between minor versions, so another version is refused rather than guessed.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import threading

SUPPORTED_VERSION = (3, 2)

# dnnl_data_type_t, dnnl_format_tag_t, dnnl_prop_kind_t, dnnl_alg_kind_t, dnnl_query_t
F32 = 3
TAG_ANY = 1
TAG_NHWC = 22
TAG_HWIO = 28
TAG_HWIGO = 39  # (G, O, I, H, W) weights stored H, W, I, G, O: Keras's grouped kernels
TAG_X = 2
TAG_AB = 3
TAG_BA = 14
FORWARD_TRAINING = 64
FORWARD_INFERENCE = 96
CONVOLUTION_DIRECT = 1
POOLING_MAX = 0x1FF
POOLING_AVG_EXCLUDE_PADDING = 0x3FF
ENGINE_CPU = 1
STREAM_IN_ORDER = 1
QUERY_IMPL_INFO_STR = 8
QUERY_WEIGHTS_MD = 131
QUERY_DIFF_WEIGHTS_MD = 132
QUERY_WORKSPACE_MD = 135
QUERY_SCRATCHPAD_MD = 136
BACKWARD = 128
# dnnl_normalization_flags_t
USE_GLOBAL_STATS = 0x1
USE_SCALE = 0x2
USE_SHIFT = 0x4
SCRATCHPAD_USER = 1
# DNNL_ARG_*
ARG_SRC = 1
ARG_DST = 17
ARG_WEIGHTS = 33
ARG_BIAS = 41
ARG_MEAN = 49
ARG_VARIANCE = 50
ARG_SCALE = 51
ARG_SHIFT = 52
ARG_WORKSPACE = 64
ARG_SCRATCHPAD = 80
ARG_DIFF_SRC = 129
ARG_DIFF_DST = 145
ARG_DIFF_WEIGHTS = 161
ARG_DIFF_BIAS = 169
ARG_DIFF_SCALE = 255
ARG_DIFF_SHIFT = 256
ARG_FROM = ARG_SRC
ARG_TO = ARG_DST

MAX_NDIMS = 12
Dims = ctypes.c_int64 * MAX_NDIMS
_handle = ctypes.c_void_p


class ExecArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _handle)]


class Version(ctypes.Structure):
    _fields_ = [
        ("major", ctypes.c_int),
        ("minor", ctypes.c_int),
        ("patch", ctypes.c_int),
        ("hash", ctypes.c_char_p),
        ("cpu_runtime", ctypes.c_uint),
        ("gpu_runtime", ctypes.c_uint),
    ]


class OneDNNError(RuntimeError):
    """A oneDNN call returned an error status."""


_SIGNATURES = {
    # name: (argument types); every one returns dnnl_status_t (int) unless listed below
    "dnnl_engine_create": (ctypes.POINTER(_handle), ctypes.c_int, ctypes.c_size_t),
    "dnnl_stream_create": (ctypes.POINTER(_handle), _handle, ctypes.c_uint),
    "dnnl_stream_wait": (_handle,),
    "dnnl_memory_desc_create_with_tag": (
        ctypes.POINTER(_handle),
        ctypes.c_int,
        Dims,
        ctypes.c_int,
        ctypes.c_int,
    ),
    "dnnl_memory_desc_clone": (ctypes.POINTER(_handle), _handle),
    "dnnl_memory_desc_destroy": (_handle,),
    "dnnl_memory_create": (ctypes.POINTER(_handle), _handle, _handle, _handle),
    "dnnl_memory_destroy": (_handle,),
    "dnnl_primitive_attr_create": (ctypes.POINTER(_handle),),
    "dnnl_primitive_attr_destroy": (_handle,),
    "dnnl_primitive_attr_set_scratchpad_mode": (_handle, ctypes.c_int),
    "dnnl_convolution_forward_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        ctypes.c_int,
        _handle,
        _handle,
        _handle,
        _handle,
        Dims,
        Dims,
        Dims,
        Dims,
        _handle,
    ),
    "dnnl_convolution_backward_data_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        _handle,
        _handle,
        _handle,
        Dims,
        Dims,
        Dims,
        Dims,
        _handle,
        _handle,
    ),
    "dnnl_convolution_backward_weights_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        _handle,
        _handle,
        _handle,
        _handle,
        Dims,
        Dims,
        Dims,
        Dims,
        _handle,
        _handle,
    ),
    "dnnl_batch_normalization_forward_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        _handle,
        _handle,
        ctypes.c_float,
        ctypes.c_uint,
        _handle,
    ),
    "dnnl_batch_normalization_backward_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        _handle,
        _handle,
        _handle,
        ctypes.c_float,
        ctypes.c_uint,
        _handle,
        _handle,
    ),
    "dnnl_pooling_forward_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        ctypes.c_int,
        _handle,
        _handle,
        Dims,
        Dims,
        Dims,
        Dims,
        Dims,
        _handle,
    ),
    "dnnl_pooling_backward_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        _handle,
        _handle,
        Dims,
        Dims,
        Dims,
        Dims,
        Dims,
        _handle,
        _handle,
    ),
    "dnnl_inner_product_forward_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        ctypes.c_int,
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
    ),
    "dnnl_inner_product_backward_data_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
    ),
    "dnnl_inner_product_backward_weights_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
    ),
    "dnnl_reorder_primitive_desc_create": (
        ctypes.POINTER(_handle),
        _handle,
        _handle,
        _handle,
        _handle,
        _handle,
    ),
    "dnnl_primitive_desc_query": (_handle, ctypes.c_int, ctypes.c_int, _handle),
    "dnnl_primitive_desc_destroy": (_handle,),
    "dnnl_primitive_create": (ctypes.POINTER(_handle), _handle),
    "dnnl_primitive_execute": (_handle, _handle, ctypes.c_int, ctypes.POINTER(ExecArg)),
    "dnnl_primitive_destroy": (_handle,),
}
_RESULTS = {
    "dnnl_primitive_desc_query_md": (_handle, (_handle, ctypes.c_int, ctypes.c_int)),
    "dnnl_memory_desc_get_size": (ctypes.c_size_t, (_handle,)),
    "dnnl_memory_desc_equal": (ctypes.c_int, (_handle, _handle)),
    "dnnl_version": (ctypes.POINTER(Version), ()),
}


class Library:
    """The loaded ``libdnnl`` with typed functions, one CPU engine and one stream."""

    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        for name, argtypes in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = argtypes, ctypes.c_int
        for name, (restype, argtypes) in _RESULTS.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = argtypes, restype
        v = lib.dnnl_version().contents
        self.version = (v.major, v.minor, v.patch)
        if self.version[:2] != SUPPORTED_VERSION:
            raise OneDNNError(
                f"oneDNN {'.'.join(map(str, self.version))} found; cnnkit's bindings are for "
                f"{'.'.join(map(str, SUPPORTED_VERSION))} (pip install 'cnnkit[fast]')"
            )
        self.engine = _handle()
        self.check("dnnl_engine_create", ctypes.byref(self.engine), ENGINE_CPU, 0)
        self.streams = threading.local()

    def check(self, name: str, *args) -> None:
        status = getattr(self.lib, name)(*args)
        if status != 0:
            raise OneDNNError(f"{name} failed with status {status}")

    def stream(self):
        """This thread's stream (a stream is not shared between threads)."""
        stream = getattr(self.streams, "stream", None)
        if stream is None:
            stream = _handle()
            self.check("dnnl_stream_create", ctypes.byref(stream), self.engine, STREAM_IN_ORDER)
            self.streams.stream = stream
        return stream

    # -- descriptors and memories ------------------------------------------------------
    def memory_desc(self, dims, tag: int):
        """A float32 memory descriptor of logical ``dims`` in layout ``tag``; an owner that
        destroys it when garbage collected."""
        md = _handle()
        self.check(
            "dnnl_memory_desc_create_with_tag",
            ctypes.byref(md),
            len(dims),
            dims_of(dims),
            F32,
            tag,
        )
        return Owned(md, self.lib.dnnl_memory_desc_destroy)

    def query_md(self, pd, what: int):
        """A descriptor the primitive chose (a clone the caller owns)."""
        found = self.lib.dnnl_primitive_desc_query_md(pd.handle, what, 0)
        clone = _handle()
        self.check("dnnl_memory_desc_clone", ctypes.byref(clone), found)
        return Owned(clone, self.lib.dnnl_memory_desc_destroy)

    def memory(self, md, pointer=None):
        """A memory object over ``pointer`` (or, with ``None``, no buffer until set)."""
        mem = _handle()
        self.check(
            "dnnl_memory_create",
            ctypes.byref(mem),
            md.handle,
            self.engine,
            ctypes.c_void_p(pointer) if pointer else None,
        )
        return Owned(mem, self.lib.dnnl_memory_destroy)

    def impl_info(self, pd) -> str:
        info = ctypes.c_char_p()
        self.check(
            "dnnl_primitive_desc_query", pd.handle, QUERY_IMPL_INFO_STR, 0, ctypes.byref(info)
        )
        return (info.value or b"").decode()

    def primitive(self, pd):
        prim = _handle()
        self.check("dnnl_primitive_create", ctypes.byref(prim), pd.handle)
        return Owned(prim, self.lib.dnnl_primitive_destroy)

    def execute(self, primitive, args: list[tuple[int, object]]) -> None:
        """Run ``primitive`` with ``(DNNL_ARG_*, memory)`` pairs and wait for it."""
        array = (ExecArg * len(args))(*[ExecArg(k, m.handle) for k, m in args])
        stream = self.stream()
        self.check("dnnl_primitive_execute", primitive.handle, stream, len(args), array)
        self.check("dnnl_stream_wait", stream)

    def attributes(self):
        """Primitive attributes: a user-managed scratchpad (cnnkit allocates it per call)."""
        attr = _handle()
        self.check("dnnl_primitive_attr_create", ctypes.byref(attr))
        owned = Owned(attr, self.lib.dnnl_primitive_attr_destroy)
        self.check("dnnl_primitive_attr_set_scratchpad_mode", attr, SCRATCHPAD_USER)
        return owned

    def primitive_desc(self, creator: str, *args):
        pd = _handle()
        self.check(creator, ctypes.byref(pd), *args)
        return Owned(pd, self.lib.dnnl_primitive_desc_destroy)

    def reorder(self, src_md, dst_md):
        """A reorder primitive from ``src_md`` to ``dst_md`` (same engine)."""
        pd = self.primitive_desc(
            "dnnl_reorder_primitive_desc_create",
            src_md.handle,
            self.engine,
            dst_md.handle,
            self.engine,
            None,
        )
        return self.primitive(pd)

    def size(self, md) -> int:
        return int(self.lib.dnnl_memory_desc_get_size(md.handle))

    def same(self, a, b) -> bool:
        return bool(self.lib.dnnl_memory_desc_equal(a.handle, b.handle))


class Owned:
    """A oneDNN handle destroyed with its owner (``destroy`` is the matching C function)."""

    __slots__ = ("handle", "_destroy")

    def __init__(self, handle, destroy):
        self.handle, self._destroy = handle, destroy

    def __del__(self):
        if self.handle:
            self._destroy(self.handle)
            self.handle = None


def dims_of(values) -> Dims:
    dims = Dims()
    for i, v in enumerate(values):
        dims[i] = int(v)
    return dims


def _candidates() -> list[str]:
    """Where ``pip install onednn-cpu-gomp`` puts ``libdnnl.so.3``, then the loader's path."""
    prefixes = {sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix)}
    found = []
    for prefix in sorted(prefixes):
        found += sorted(glob.glob(os.path.join(prefix, "lib", "libdnnl.so.3*")))
    return [*found, "libdnnl.so.3"]


_LIBRARY: Library | None = None
_FAILURE: str | None = None
_LOCK = threading.Lock()


def load() -> Library | None:
    """The oneDNN library, loaded once; ``None`` (see :func:`why_unavailable`) when absent."""
    global _LIBRARY, _FAILURE
    with _LOCK:
        if _LIBRARY is None and _FAILURE is None:
            # OpenMP's idle threads sleep instead of spinning: between oneDNN's calls the
            # same cores run NumPy, OpenBLAS and cnnkit's threads (read by libgomp when it
            # loads, just below; a value the user set is kept).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            errors = []
            for path in _candidates():
                try:
                    _LIBRARY = Library(ctypes.CDLL(path))
                    break
                except (OSError, AttributeError, OneDNNError) as err:
                    errors.append(f"{path}: {err}")
            else:
                _FAILURE = "; ".join(errors[-2:]) or "libdnnl.so.3 not found"
        return _LIBRARY


def why_unavailable() -> str | None:
    load()
    return _FAILURE
