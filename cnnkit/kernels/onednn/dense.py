"""Dense's products through oneDNN's inner product: forward (bias fused), backward-data and
backward-weights (bias gradient fused), for 2-D float32 inputs.

cnnkit keeps the kernel as ``(K, M)``, row-major; oneDNN's weights are ``(OC, IC) = (M,
K)``, so the same buffer is oneDNN's ``ba`` layout and no reorder is needed in either
direction. With these plain weights oneDNN runs its own JIT GEMM (``x64:gemm:jit``, kept:
:data:`DECLINED`); its blocked-weights brgemm kernel would need the kernel reordered on every
call and back for its gradient.
"""

from __future__ import annotations

import numpy as np

from cnnkit.kernels.onednn import library as dnnl
from cnnkit.kernels.onednn import runtime

NAME = "onednn"
DECLINED = ("ref",)
"""Only oneDNN's reference inner product is declined: its GEMM (``x64:gemm:jit``) is the
inner product's own kernel, not a convolution's column-matrix detour."""


class _Plan:
    """The forward primitive of one ``(N, K) @ (K, M)`` shape and, when training, its two
    backward primitives (made now, so that a declined one leaves the whole shape on NumPy)."""

    def __init__(self, lib, key):
        n, k, m, has_bias, training = key
        self.lib = lib
        self.src_md = lib.memory_desc((n, k), dnnl.TAG_AB)
        self.weights_md = lib.memory_desc((m, k), dnnl.TAG_BA)  # cnnkit's (K, M) kernel
        self.dst_md = lib.memory_desc((n, m), dnnl.TAG_AB)
        self.bias_md = lib.memory_desc((m,), dnnl.TAG_X) if has_bias else None
        bias = None if self.bias_md is None else self.bias_md.handle
        self.attr = lib.attributes()  # kept alive as long as the plan
        pd = lib.primitive_desc(
            "dnnl_inner_product_forward_primitive_desc_create",
            lib.engine,
            dnnl.FORWARD_TRAINING if training else dnnl.FORWARD_INFERENCE,
            self.src_md.handle,
            self.weights_md.handle,
            bias,
            self.dst_md.handle,
            self.attr.handle,
        )
        self.fwd = runtime.stage(lib, pd, DECLINED)
        if not training:
            return
        self.bwd_data = runtime.stage(
            lib,
            lib.primitive_desc(
                "dnnl_inner_product_backward_data_primitive_desc_create",
                lib.engine,
                self.src_md.handle,
                self.weights_md.handle,
                self.dst_md.handle,
                pd.handle,
                self.attr.handle,
            ),
            DECLINED,
        )
        self.bwd_weights = runtime.stage(
            lib,
            lib.primitive_desc(
                "dnnl_inner_product_backward_weights_primitive_desc_create",
                lib.engine,
                self.src_md.handle,
                self.weights_md.handle,
                bias,
                self.dst_md.handle,
                pd.handle,
                self.attr.handle,
            ),
            DECLINED,
        )


def dense(x2d, kernel, bias, training: bool, threads: int | None = None):
    """``(x2d @ kernel + bias (N, M), saved)``, or ``None`` where oneDNN cannot run it (not
    float32, an empty product, or only a slow implementation for the shape).

    Args:
        x2d: (N, K).
        kernel: (K, M).
        bias: (M,) or ``None``.
        training: plan the two backward primitives too (:func:`dense_backward`).
        threads: oneDNN's OpenMP threads (default: cnnkit's share of the cores).
    """
    if x2d.dtype != np.float32 or kernel.dtype != np.float32 or 0 in x2d.shape + kernel.shape:
        return None
    (n, k), m = x2d.shape, kernel.shape[1]
    plan = runtime.plan(_Plan, (n, k, m, bias is not None, bool(training)))
    if plan is None:
        return None
    runtime.use_threads(threads)
    x2d, kernel = np.ascontiguousarray(x2d), np.ascontiguousarray(kernel)
    out = np.empty((n, m), np.float32)
    run = runtime.Run(plan.lib)
    run.add(dnnl.ARG_SRC, plan.src_md, x2d)
    run.add(dnnl.ARG_WEIGHTS, plan.weights_md, kernel)
    if bias is not None:
        run.add(dnnl.ARG_BIAS, plan.bias_md, np.ascontiguousarray(bias, np.float32))
    run.add(dnnl.ARG_DST, plan.dst_md, out)
    run.scratchpad(plan.fwd)
    run.execute(plan.fwd["primitive"])
    return out, (plan, x2d, kernel)


def dense_backward(g2d, saved, need_x: bool, need_weights: bool, threads: int | None = None):
    """The gradients of :func:`dense` (``saved`` is what it returned): ``(dx (N, K),
    dkernel (K, M), dbias (M,) or None)``, each ``None`` where not needed."""
    plan, x2d, kernel = saved
    runtime.use_threads(threads)
    g2d = np.ascontiguousarray(g2d, np.float32)
    dx = dkernel = dbias = None
    if need_x:
        dx = np.empty(x2d.shape, np.float32)
        run = runtime.Run(plan.lib)
        run.add(dnnl.ARG_DIFF_DST, plan.dst_md, g2d)
        run.add(dnnl.ARG_WEIGHTS, plan.weights_md, kernel)
        run.add(dnnl.ARG_DIFF_SRC, plan.src_md, dx)
        run.scratchpad(plan.bwd_data)
        run.execute(plan.bwd_data["primitive"])
    if need_weights:
        dkernel = np.empty(kernel.shape, np.float32)  # (K, M): oneDNN's (M, K) as `ba`
        run = runtime.Run(plan.lib)
        run.add(dnnl.ARG_SRC, plan.src_md, x2d)
        run.add(dnnl.ARG_DIFF_DST, plan.dst_md, g2d)
        run.add(dnnl.ARG_DIFF_WEIGHTS, plan.weights_md, dkernel)
        if plan.bias_md is not None:
            dbias = np.empty(kernel.shape[1], np.float32)
            run.add(dnnl.ARG_DIFF_BIAS, plan.bias_md, dbias)
        run.scratchpad(plan.bwd_weights)
        run.execute(plan.bwd_weights["primitive"])
    return dx, dkernel, dbias
