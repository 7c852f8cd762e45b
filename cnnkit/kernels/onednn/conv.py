"""2-D convolution through oneDNN: forward (bias fused), backward-data, backward-weights.

Activations stay in cnnkit's NHWC layout; the kernel, kept by cnnkit in Keras's HWIO
layout, is reordered on every call into the blocked layout oneDNN picks for the shape
(``format_tag_any``): with plain HWIO weights oneDNN falls back to slower kernels. A
primitive whose implementation is oneDNN's reference or GEMM fallback (``ref:``/``gemm:``,
which ran 1.4× to 1000× slower than the brgemm/jit kernels in measurements) is declined, and
the caller runs its NumPy kernel instead. ReLU is not fused as a oneDNN post-op: oneDNN's
ReLU maps NaN to 0 where NumPy's (and Keras's) keeps it, and a NaN loss must stay visible.

Primitives are planned once per shape and thread (:class:`_Plan`); a call wraps the caller's
arrays in memory objects, runs the weight reorder and the primitive, and waits. The caller
owns every output array: nothing oneDNN allocates outlives a call except the cached plans.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from cnnkit.kernels import threads
from cnnkit.kernels.onednn import library as dnnl

_DECLINED_IMPLEMENTATIONS = ("ref", "gemm")


class _Declined(Exception):
    """oneDNN has only a slow implementation for this shape."""


class _Plan:
    """The primitives of one convolution shape, created on first use and reused."""

    def __init__(self, lib, key):
        (n, h, w, c, kh, kw, f, oh, ow, strides, dilation, pads, has_bias, training) = key
        top, bottom, left, right = pads
        self.lib = lib
        self.shapes = ((n, h, w, c), (kh, kw, c, f), (n, oh, ow, f))
        self.src_md = lib.memory_desc((n, c, h, w), dnnl.TAG_NHWC)
        self.dst_md = lib.memory_desc((n, f, oh, ow), dnnl.TAG_NHWC)
        self.user_w_md = lib.memory_desc((f, c, kh, kw), dnnl.TAG_HWIO)
        any_w = lib.memory_desc((f, c, kh, kw), dnnl.TAG_ANY)
        self.bias_md = lib.memory_desc((f,), dnnl.TAG_X) if has_bias else None
        geometry = (
            dnnl.dims_of(strides),
            dnnl.dims_of([d - 1 for d in dilation]),  # oneDNN counts dilation from 0
            dnnl.dims_of((top, left)),
            dnnl.dims_of((bottom, right)),
        )
        self.attr = lib.attributes()  # kept alive as long as the plan
        self.fwd_pd = lib.primitive_desc(
            "dnnl_convolution_forward_primitive_desc_create",
            lib.engine,
            dnnl.FORWARD_TRAINING if training else dnnl.FORWARD_INFERENCE,
            dnnl.CONVOLUTION_DIRECT,
            self.src_md.handle,
            any_w.handle,
            None if self.bias_md is None else self.bias_md.handle,
            self.dst_md.handle,
            *geometry,
            self.attr.handle,
        )
        self.fwd = self._stage(self.fwd_pd, dnnl.QUERY_WEIGHTS_MD)
        self.geometry, self.any_w, self.training = geometry, any_w, training
        self.bwd_data = self.bwd_weights = None

    def _stage(self, pd, weights_query: int) -> dict:
        """A primitive with its chosen weights layout, reorder and scratchpad size."""
        info = self.lib.impl_info(pd)
        if info.startswith(_DECLINED_IMPLEMENTATIONS):
            raise _Declined(info)
        weights_md = self.lib.query_md(pd, weights_query)
        scratch_md = self.lib.query_md(pd, dnnl.QUERY_SCRATCHPAD_MD)
        stage = {
            "impl": info,
            "primitive": self.lib.primitive(pd),
            "weights_md": weights_md,
            "weights_bytes": self.lib.size(weights_md),
            "scratch_md": scratch_md,
            "scratch_bytes": self.lib.size(scratch_md),
            "plain": self.lib.same(weights_md, self.user_w_md),
        }
        return stage

    def backward_data(self) -> dict:
        if self.bwd_data is None:
            pd = self.lib.primitive_desc(
                "dnnl_convolution_backward_data_primitive_desc_create",
                self.lib.engine,
                dnnl.CONVOLUTION_DIRECT,
                self.src_md.handle,
                self.any_w.handle,
                self.dst_md.handle,
                *self.geometry,
                self.fwd_pd.handle,
                self.attr.handle,
            )
            self.bwd_data = self._stage(pd, dnnl.QUERY_WEIGHTS_MD)
            self.bwd_data["pd"] = pd
        return self.bwd_data

    def backward_weights(self) -> dict:
        if self.bwd_weights is None:
            pd = self.lib.primitive_desc(
                "dnnl_convolution_backward_weights_primitive_desc_create",
                self.lib.engine,
                dnnl.CONVOLUTION_DIRECT,
                self.src_md.handle,
                self.any_w.handle,
                None if self.bias_md is None else self.bias_md.handle,
                self.dst_md.handle,
                *self.geometry,
                self.fwd_pd.handle,
                self.attr.handle,
            )
            self.bwd_weights = self._stage(pd, dnnl.QUERY_DIFF_WEIGHTS_MD)
            self.bwd_weights["pd"] = pd
        return self.bwd_weights


_STATE = threading.local()  # plans and the OpenMP thread count, per Python thread


def _plans() -> dict:
    plans = getattr(_STATE, "plans", None)
    if plans is None:
        plans = _STATE.plans = {}
    return plans


def _plan(key):
    """The plan for ``key`` in this thread, ``None`` if oneDNN declined the shape."""
    plans = _plans()
    if key not in plans:
        lib = dnnl.load()
        try:
            plans[key] = None if lib is None else _Plan(lib, key)
        except (_Declined, dnnl.OneDNNError):
            plans[key] = None
    return plans[key]


def _use_threads() -> None:
    """oneDNN's OpenMP team for this Python thread: cnnkit's share of the cores here
    (one inside cnnkit's own worker threads, which already split the work)."""
    wanted = threads.cpu_threads()
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


def _pointer(a: np.ndarray) -> int:
    return a.ctypes.data


class _Run:
    """One execution: memory objects over the caller's arrays, destroyed afterwards."""

    def __init__(self, lib):
        self.lib, self.args, self._keep = lib, [], []

    def add(self, arg: int, md, array: np.ndarray) -> None:
        memory = self.lib.memory(md, _pointer(array))
        self._keep.append((memory, array))
        self.args.append((arg, memory))

    def scratchpad(self, stage: dict) -> None:
        if stage["scratch_bytes"]:
            buffer = np.empty(stage["scratch_bytes"], np.uint8)
            self.add(dnnl.ARG_SCRATCHPAD, stage["scratch_md"], buffer)

    def weights(self, plan: _Plan, stage: dict, kernel: np.ndarray) -> None:
        """The kernel (HWIO) in the layout ``stage`` wants, as its weights argument."""
        if stage["plain"]:
            self.add(dnnl.ARG_WEIGHTS, stage["weights_md"], kernel)
            return
        blocked = np.empty(stage["weights_bytes"], np.uint8)
        if "to_blocked" not in stage:
            stage["to_blocked"] = self.lib.reorder(plan.user_w_md, stage["weights_md"])
        reorder = _Run(self.lib)
        reorder.add(dnnl.ARG_FROM, plan.user_w_md, kernel)
        reorder.add(dnnl.ARG_TO, stage["weights_md"], blocked)
        self.lib.execute(stage["to_blocked"], reorder.args)
        self.add(dnnl.ARG_WEIGHTS, stage["weights_md"], blocked)

    def execute(self, primitive) -> None:
        self.lib.execute(primitive, self.args)


def forward(x, kernel, bias, oh, ow, strides, dilation, pads, training):
    """``correlate(x, kernel) + bias`` as an (N, OH, OW, F) array, or ``None`` when
    oneDNN is unavailable or has no fast kernel for this shape."""
    if x.dtype != np.float32 or kernel.dtype != np.float32:
        return None
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    key = (
        n, h, w, c, kh, kw, f, oh, ow, tuple(strides), tuple(dilation), tuple(pads),
        bias is not None, bool(training),
    )  # fmt: skip
    plan = _plan(key)
    if plan is None:
        return None
    _use_threads()
    x = np.ascontiguousarray(x)
    kernel = np.ascontiguousarray(kernel)
    out = np.empty((n, oh, ow, f), np.float32)
    run = _Run(plan.lib)
    run.add(dnnl.ARG_SRC, plan.src_md, x)
    run.weights(plan, plan.fwd, kernel)
    if bias is not None:
        run.add(dnnl.ARG_BIAS, plan.bias_md, np.ascontiguousarray(bias, np.float32))
    run.add(dnnl.ARG_DST, plan.dst_md, out)
    run.scratchpad(plan.fwd)
    run.execute(plan.fwd["primitive"])
    return out, key


def backward_data(key, grad, kernel):
    """The input gradient (N, H, W, C) of the convolution planned under ``key``, or ``None``."""
    plan = _plan(key)
    if plan is None:
        return None
    try:
        stage = plan.backward_data()
    except (_Declined, dnnl.OneDNNError):
        return None
    _use_threads()
    dx = np.empty(plan.shapes[0], np.float32)
    run = _Run(plan.lib)
    run.add(dnnl.ARG_DIFF_DST, plan.dst_md, np.ascontiguousarray(grad, np.float32))
    run.weights(plan, stage, np.ascontiguousarray(kernel))
    run.add(dnnl.ARG_DIFF_SRC, plan.src_md, dx)
    run.scratchpad(stage)
    run.execute(stage["primitive"])
    return dx


def backward_weights(key, x, grad):
    """``(dkernel (KH, KW, C, F), dbias (F,) or None)`` for the planned convolution, or
    ``None``."""
    plan = _plan(key)
    if plan is None:
        return None
    try:
        stage = plan.backward_weights()
    except (_Declined, dnnl.OneDNNError):
        return None
    _use_threads()
    lib = plan.lib
    dkernel = np.empty(plan.shapes[1], np.float32)
    blocked = dkernel if stage["plain"] else np.empty(stage["weights_bytes"], np.uint8)
    run = _Run(lib)
    run.add(dnnl.ARG_SRC, plan.src_md, np.ascontiguousarray(x, np.float32))
    run.add(dnnl.ARG_DIFF_DST, plan.dst_md, np.ascontiguousarray(grad, np.float32))
    run.add(dnnl.ARG_DIFF_WEIGHTS, stage["weights_md"], blocked)
    dbias = None
    if plan.bias_md is not None:
        dbias = np.empty(plan.shapes[2][3], np.float32)
        run.add(dnnl.ARG_DIFF_BIAS, plan.bias_md, dbias)
    run.scratchpad(stage)
    run.execute(stage["primitive"])
    if not stage["plain"]:
        if "to_plain" not in stage:
            stage["to_plain"] = lib.reorder(stage["weights_md"], plan.user_w_md)
        back = _Run(lib)
        back.add(dnnl.ARG_FROM, stage["weights_md"], blocked)
        back.add(dnnl.ARG_TO, plan.user_w_md, dkernel)
        lib.execute(stage["to_plain"], back.args)
    return dkernel, dbias


def implementations() -> dict:
    """For each planned shape of this thread: the implementations oneDNN chose."""
    report = {}
    for key, plan in _plans().items():
        if plan is None:
            report[key] = "declined"
            continue
        parts = {"forward": plan.fwd["impl"]}
        if plan.bwd_data is not None:
            parts["backward_data"] = plan.bwd_data["impl"]
        if plan.bwd_weights is not None:
            parts["backward_weights"] = plan.bwd_weights["impl"]
        report[key] = parts
    return report
