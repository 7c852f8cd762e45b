"""Max and average pooling through oneDNN, forward and backward.

The same maths as :class:`cnnkit.kernels.pool.MaxPool2D` and
:class:`~cnnkit.kernels.pool.AvgPool2D` on NHWC arrays. Max pooling keeps which pixel won
each window (oneDNN's workspace) and routes each window's gradient there: ``"same"`` padding
never wins, and on ties the first maximum in row-major window order takes the gradient (as
NumPy's kernels, TensorFlow and PyTorch do; checked on inputs of zeros and ones). Average
pooling divides each window by its real (non-padded) pixels, as Keras does with ``"same"``
(oneDNN's ``pooling_avg_exclude_padding``). Measured on the VGG-style model's largest
pooling (32×32×32×32, window 2), forward and backward: max 0.93 ms against NumPy's 1.67,
average 0.8 ms against 1.8.
"""

from __future__ import annotations

import numpy as np

from cnnkit.kernels.onednn import library as dnnl
from cnnkit.kernels.onednn import runtime

NAME = "onednn"


class _Plan:
    """The forward and backward primitives of one pooling shape and algorithm, and the
    workspace max pooling needs."""

    def __init__(self, lib, key):
        algorithm, (n, h, w, c), (ph, pw), (sh, sw), (oh, ow), (top, bottom, left, right) = key
        self.lib = lib
        self.out_shape = (n, oh, ow, c)
        self.src_md = lib.memory_desc((n, c, h, w), dnnl.TAG_NHWC)
        self.dst_md = lib.memory_desc((n, c, oh, ow), dnnl.TAG_NHWC)
        geometry = (
            dnnl.dims_of((sh, sw)),
            dnnl.dims_of((ph, pw)),
            dnnl.dims_of((0, 0)),  # dilation
            dnnl.dims_of((top, left)),
            dnnl.dims_of((bottom, right)),
        )
        self.attr = lib.attributes()  # kept alive as long as the plan
        self.fwd = runtime.stage(
            lib,
            lib.primitive_desc(
                "dnnl_pooling_forward_primitive_desc_create",
                lib.engine,
                dnnl.FORWARD_TRAINING,
                algorithm,
                self.src_md.handle,
                self.dst_md.handle,
                *geometry,
                self.attr.handle,
            ),
        )
        self.workspace_md = self.workspace_bytes = None
        if algorithm == dnnl.POOLING_MAX:
            self.workspace_md = lib.query_md(self.fwd["pd"], dnnl.QUERY_WORKSPACE_MD)
            self.workspace_bytes = lib.size(self.workspace_md)
        self.bwd = runtime.stage(
            lib,
            lib.primitive_desc(
                "dnnl_pooling_backward_primitive_desc_create",
                lib.engine,
                algorithm,
                self.src_md.handle,
                self.dst_md.handle,
                *geometry,
                self.fwd["pd"].handle,
                self.attr.handle,
            ),
        )


def max_pool2d(x, plan, threads: int | None = None):
    """``(out (N, OH, OW, C), saved)`` for the pooling ``plan`` of
    :mod:`cnnkit.kernels.pool`, or ``None`` when oneDNN cannot run it (not float32, or only
    a slow implementation for the shape)."""
    return _forward(dnnl.POOLING_MAX, x, plan, threads)


def avg_pool2d(x, plan, threads: int | None = None):
    """As :func:`max_pool2d`, the mean of each window's real (non-padded) pixels."""
    return _forward(dnnl.POOLING_AVG_EXCLUDE_PADDING, x, plan, threads)


def _forward(algorithm, x, plan, threads):
    if x.dtype != np.float32 or not x.flags.c_contiguous or x.shape[0] == 0:
        return None
    key = (algorithm, x.shape, plan.pool, plan.strides, plan.out_hw, plan.pads)
    found = runtime.plan(_Plan, key)
    if found is None:
        return None
    runtime.use_threads(threads)
    out = np.empty(found.out_shape, np.float32)
    run = runtime.Run(found.lib)
    run.add(dnnl.ARG_SRC, found.src_md, x)
    run.add(dnnl.ARG_DST, found.dst_md, out)
    workspace = None
    if found.workspace_md is not None:  # where each window's maximum was
        workspace = np.empty(found.workspace_bytes, np.uint8)
        run.add(dnnl.ARG_WORKSPACE, found.workspace_md, workspace)
    run.scratchpad(found.fwd)
    run.execute(found.fwd["primitive"])
    return out, (key, workspace)


def pool2d_backward(saved, grad, in_shape, threads: int | None = None):
    """The input gradient (N, H, W, C) of :func:`max_pool2d` or :func:`avg_pool2d`
    (``saved`` is what it returned)."""
    key, workspace = saved
    found = runtime.plan(_Plan, key)
    runtime.use_threads(threads)
    dx = np.empty(in_shape, np.float32)
    run = runtime.Run(found.lib)
    run.add(dnnl.ARG_DIFF_DST, found.dst_md, np.ascontiguousarray(grad, np.float32))
    if workspace is not None:
        run.add(dnnl.ARG_WORKSPACE, found.workspace_md, workspace)
    run.add(dnnl.ARG_DIFF_SRC, found.src_md, dx)
    run.scratchpad(found.bwd)
    run.execute(found.bwd["primitive"])
    return dx


max_pool2d_backward = avg_pool2d_backward = pool2d_backward
