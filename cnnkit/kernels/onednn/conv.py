"""2-D convolution through oneDNN: forward (bias fused), backward-data, backward-weights;
grouped too (a depthwise convolution is the one with a group per input channel).

Activations stay in cnnkit's NHWC layout; the kernel, kept by cnnkit in Keras's HWIO
layout (``(KH, KW, C / groups, F)`` when grouped, output channel ``g · F / groups + o``
of group ``g``: oneDNN's ``hwigo``), is reordered on every call into the blocked layout
oneDNN picks for the shape (``format_tag_any``): with plain HWIO weights oneDNN falls back
to slower kernels. A
primitive whose implementation is oneDNN's reference or GEMM fallback (``ref:``/``gemm:``,
which ran 1.4× to 1000× slower than the brgemm/jit kernels in measurements) is declined, and
the caller runs its NumPy kernel instead. ReLU is not fused as a oneDNN post-op: oneDNN's
ReLU maps NaN to 0 where NumPy's (and Keras's) keeps it, and a NaN loss must stay visible.

Primitives are planned once per shape and thread (:class:`_Plan`); a call wraps the caller's
arrays in memory objects, runs the weight reorder and the primitive, and waits. The caller
owns every output array: nothing oneDNN allocates outlives a call except the cached plans.

A transposed convolution runs the plan of the convolution it transposes (see
:func:`plan_key`): its forward pass is that convolution's backward-data, its input gradient a
forward pass, its kernel gradient a backward-weights with the two activations' roles swapped.
oneDNN's own deconvolution primitive wraps the same backward-data kernels (its implementation
name is theirs) and adds nothing for float32 but a second set of bindings.
"""

from __future__ import annotations

import numpy as np

from cnnkit.kernels.onednn import library as dnnl
from cnnkit.kernels.onednn import runtime

DECLINED = "declined"
"""A backward stage oneDNN declined for the plan's shape: NumPy runs it from then on."""


class _Plan:
    """The primitives of one convolution shape, created on first use and reused."""

    def __init__(self, lib, key):
        (n, h, w, c, kh, kw, f, oh, ow, strides, dilation, pads, has_bias, training, groups) = key
        top, bottom, left, right = pads
        self.lib = lib
        self.shapes = ((n, h, w, c), (kh, kw, c // groups, f), (n, oh, ow, f))
        self.src_md = lib.memory_desc((n, c, h, w), dnnl.TAG_NHWC)
        self.dst_md = lib.memory_desc((n, f, oh, ow), dnnl.TAG_NHWC)
        if groups == 1:
            weights, tag = (f, c, kh, kw), dnnl.TAG_HWIO
        else:
            weights, tag = (groups, f // groups, c // groups, kh, kw), dnnl.TAG_HWIGO
        self.user_w_md = lib.memory_desc(weights, tag)
        any_w = lib.memory_desc(weights, dnnl.TAG_ANY)
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
        stage = runtime.stage(self.lib, pd)
        weights_md = self.lib.query_md(pd, weights_query)
        stage["weights_md"] = weights_md
        stage["weights_bytes"] = self.lib.size(weights_md)
        stage["plain"] = self.lib.same(weights_md, self.user_w_md)
        return stage

    def backward_data(self) -> dict:
        return self._once("bwd_data", self._make_backward_data)

    def backward_weights(self) -> dict:
        return self._once("bwd_weights", self._make_backward_weights)

    def _once(self, name: str, make) -> dict:
        """The backward stage ``name``, made on first use; one oneDNN declined stays
        declined (raised again at once, without asking oneDNN every step)."""
        stage = getattr(self, name)
        if stage is DECLINED:
            raise runtime.Declined(f"{name} declined earlier")
        if stage is None:
            try:
                stage = make()
            except (runtime.Declined, dnnl.OneDNNError):
                setattr(self, name, DECLINED)
                raise
            setattr(self, name, stage)
        return stage

    def _make_backward_data(self) -> dict:
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
        return self._stage(pd, dnnl.QUERY_WEIGHTS_MD)

    def _make_backward_weights(self) -> dict:
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
        return self._stage(pd, dnnl.QUERY_DIFF_WEIGHTS_MD)


def _plan(key):
    return runtime.plan(_Plan, key)


def _weights(run, plan: _Plan, stage: dict, kernel: np.ndarray) -> None:
    """The kernel (HWIO) in the layout ``stage`` wants, as ``run``'s weights argument."""
    if stage["plain"]:
        run.add(dnnl.ARG_WEIGHTS, stage["weights_md"], kernel)
        return
    blocked = np.empty(stage["weights_bytes"], np.uint8)
    if "to_blocked" not in stage:
        stage["to_blocked"] = run.lib.reorder(plan.user_w_md, stage["weights_md"])
    reorder = runtime.Run(run.lib)
    reorder.add(dnnl.ARG_FROM, plan.user_w_md, kernel)
    reorder.add(dnnl.ARG_TO, stage["weights_md"], blocked)
    run.lib.execute(stage["to_blocked"], reorder.args)
    run.add(dnnl.ARG_WEIGHTS, stage["weights_md"], blocked)


def plan_key(x_shape, kernel_shape, oh, ow, strides, dilation, pads, has_bias, training):
    """The key of the plan :func:`forward` makes for these shapes (``backward_data`` and
    ``backward_weights`` take it): a transposed convolution runs the plan of the convolution
    it transposes from its backward-data, before any forward pass made it."""
    n, h, w, c = x_shape
    kh, kw, per_group, f = kernel_shape
    return (
        n, h, w, c, kh, kw, f, oh, ow, tuple(strides), tuple(dilation), tuple(pads),
        bool(has_bias), bool(training), c // per_group,
    )  # fmt: skip


def forward(x, kernel, bias, oh, ow, strides, dilation, pads, training, threads=None):
    """``correlate(x, kernel) + bias`` as an (N, OH, OW, F) array, or ``None`` when
    oneDNN is unavailable or has no fast kernel for this shape. A ``(KH, KW, C / G, F)``
    kernel makes it a convolution of ``G`` groups."""
    if x.dtype != np.float32 or kernel.dtype != np.float32:
        return None
    n, f = x.shape[0], kernel.shape[3]
    has_bias = bias is not None
    key = plan_key(x.shape, kernel.shape, oh, ow, strides, dilation, pads, has_bias, training)
    plan = _plan(key)
    if plan is None:
        return None
    runtime.use_threads(threads)
    x = np.ascontiguousarray(x)
    kernel = np.ascontiguousarray(kernel)
    out = np.empty((n, oh, ow, f), np.float32)
    run = runtime.Run(plan.lib)
    run.add(dnnl.ARG_SRC, plan.src_md, x)
    _weights(run, plan, plan.fwd, kernel)
    if bias is not None:
        run.add(dnnl.ARG_BIAS, plan.bias_md, np.ascontiguousarray(bias, np.float32))
    run.add(dnnl.ARG_DST, plan.dst_md, out)
    run.scratchpad(plan.fwd)
    run.execute(plan.fwd["primitive"])
    return out, key


def backward_data(key, grad, kernel, threads=None):
    """The input gradient (N, H, W, C) of the convolution planned under ``key``, or ``None``."""
    plan = _plan(key)
    if plan is None:
        return None
    try:
        stage = plan.backward_data()
    except (runtime.Declined, dnnl.OneDNNError):
        return None
    runtime.use_threads(threads)
    dx = np.empty(plan.shapes[0], np.float32)
    run = runtime.Run(plan.lib)
    run.add(dnnl.ARG_DIFF_DST, plan.dst_md, np.ascontiguousarray(grad, np.float32))
    _weights(run, plan, stage, np.ascontiguousarray(kernel))
    run.add(dnnl.ARG_DIFF_SRC, plan.src_md, dx)
    run.scratchpad(stage)
    run.execute(stage["primitive"])
    return dx


def backward_weights(key, x, grad, threads=None):
    """``(dkernel (KH, KW, C / G, F), dbias (F,) or None)`` for the planned convolution, or
    ``None``."""
    plan = _plan(key)
    if plan is None:
        return None
    try:
        stage = plan.backward_weights()
    except (runtime.Declined, dnnl.OneDNNError):
        return None
    runtime.use_threads(threads)
    lib = plan.lib
    dkernel = np.empty(plan.shapes[1], np.float32)
    blocked = dkernel if stage["plain"] else np.empty(stage["weights_bytes"], np.uint8)
    run = runtime.Run(lib)
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
        back = runtime.Run(lib)
        back.add(dnnl.ARG_FROM, stage["weights_md"], blocked)
        back.add(dnnl.ARG_TO, plan.user_w_md, dkernel)
        lib.execute(stage["to_plain"], back.args)
    return dkernel, dbias


def implementations() -> dict:
    """For each planned shape of this thread: the implementations oneDNN chose."""
    report = {}
    for key, plan in runtime.planned(_Plan).items():
        if plan is None:
            report[key] = "declined"
            continue
        parts = {"forward": plan.fwd["impl"]}
        stages = {"backward_data": plan.bwd_data, "backward_weights": plan.bwd_weights}
        for part, stage in stages.items():
            if stage is not None:
                parts[part] = stage if stage is DECLINED else stage["impl"]
        report[key] = parts
    return report
