"""Batch normalisation through oneDNN: the training forward pass and its backward, and the
inference forward pass with given statistics.

The same maths as :class:`cnnkit.kernels.norm.BatchNormTraining` (batch mean, biased
variance, ``gamma * (x - mean) / sqrt(var + epsilon) + beta``), over the ``(M, C)`` rows of
a channels-last array. oneDNN makes one or two passes over the data where NumPy makes six
(measured on 32×32×32×32, forward and backward: 1.5 ms against 5.8 ms), and its results
agree with NumPy's to about 1e-6 relative. float32 only; the caller runs NumPy otherwise.
"""

from __future__ import annotations

import ctypes

import numpy as np

from cnnkit.kernels.onednn import library as dnnl
from cnnkit.kernels.onednn import runtime

NAME = "onednn"


class _Plan:
    """The forward and backward primitives of one shape (training), or the forward one
    with given statistics (inference)."""

    def __init__(self, lib, key):
        m, c, epsilon, has_scale, has_offset, training = key
        self.lib = lib
        self.flags = (dnnl.USE_SCALE if has_scale else 0) | (dnnl.USE_SHIFT if has_offset else 0)
        if not training:
            self.flags |= dnnl.USE_GLOBAL_STATS
        self.epsilon = ctypes.c_float(epsilon)
        self.data_md = lib.memory_desc((m, c), dnnl.TAG_AB)
        self.channel_md = lib.memory_desc((c,), dnnl.TAG_X)
        self.attr = lib.attributes()  # kept alive as long as the plan
        pd = lib.primitive_desc(
            "dnnl_batch_normalization_forward_primitive_desc_create",
            lib.engine,
            dnnl.FORWARD_TRAINING if training else dnnl.FORWARD_INFERENCE,
            self.data_md.handle,
            self.data_md.handle,
            self.epsilon,
            self.flags,
            self.attr.handle,
        )
        self.fwd = runtime.stage(lib, pd)
        if not training:
            return
        # made now, so that a shape whose backward pass oneDNN would decline runs on NumPy
        self.bwd = runtime.stage(
            lib,
            lib.primitive_desc(
                "dnnl_batch_normalization_backward_primitive_desc_create",
                lib.engine,
                dnnl.BACKWARD,
                self.data_md.handle,
                self.data_md.handle,
                self.data_md.handle,
                self.epsilon,
                self.flags,
                self.fwd["pd"].handle,
                self.attr.handle,
            ),
        )


def _plan(x2d, epsilon, gamma, beta, training: bool, threads):
    """The plan for ``x2d``'s shape with this team of threads, or ``None`` where oneDNN
    cannot run it (not float32, no rows, or only a slow implementation for the shape)."""
    if x2d.dtype != np.float32 or not x2d.flags.c_contiguous or x2d.shape[0] == 0:
        return None
    m, c = x2d.shape
    key = (m, c, float(epsilon), gamma is not None, beta is not None, training)
    plan = runtime.plan(_Plan, key)
    if plan is not None:
        runtime.use_threads(threads)
    return plan


def batch_norm_train(x2d, gamma, beta, epsilon: float, threads: int | None = None):
    """:func:`cnnkit.kernels.numpy_ops.batch_norm_train` by oneDNN:
    ``(out (M, C), mean (C,), variance (C,), saved, M)``, or ``None`` when oneDNN cannot
    run it (not float32, no rows, or only a slow implementation for the shape).

    Args:
        x2d: (M, C), C-contiguous.
        gamma, beta: (C,) or ``None``.
        epsilon: added to the variance.
        threads: oneDNN's OpenMP threads (default: cnnkit's share of the cores).
    """
    plan = _plan(x2d, epsilon, gamma, beta, training=True, threads=threads)
    if plan is None:
        return None
    m, c = x2d.shape
    gamma = None if gamma is None else np.ascontiguousarray(gamma, np.float32)
    out = np.empty_like(x2d)
    mean, variance = np.empty(c, np.float32), np.empty(c, np.float32)
    run = runtime.Run(plan.lib)
    run.add(dnnl.ARG_SRC, plan.data_md, x2d)
    run.add(dnnl.ARG_DST, plan.data_md, out)
    run.add(dnnl.ARG_MEAN, plan.channel_md, mean)
    run.add(dnnl.ARG_VARIANCE, plan.channel_md, variance)
    if gamma is not None:
        run.add(dnnl.ARG_SCALE, plan.channel_md, gamma)
    if beta is not None:
        run.add(dnnl.ARG_SHIFT, plan.channel_md, np.ascontiguousarray(beta, np.float32))
    run.scratchpad(plan.fwd)
    run.execute(plan.fwd["primitive"])
    return out, mean, variance, (plan, x2d, mean, variance, gamma), m


def batch_norm_train_backward(g2d, saved, m, need_x, need_gamma, need_beta, threads=None):
    """The gradients of :func:`batch_norm_train` (``saved`` is what it returned):
    ``(dx (M, C), dgamma, dbeta)``, each ``None`` where not needed."""
    plan, x2d, mean, variance, gamma = saved
    stage = plan.bwd
    runtime.use_threads(threads)
    c = x2d.shape[1]
    dx = np.empty_like(x2d)
    dgamma = np.empty(c, np.float32) if gamma is not None else None
    dbeta = np.empty(c, np.float32) if plan.flags & dnnl.USE_SHIFT else None
    run = runtime.Run(plan.lib)
    run.add(dnnl.ARG_SRC, plan.data_md, x2d)
    run.add(dnnl.ARG_DIFF_DST, plan.data_md, np.ascontiguousarray(g2d, np.float32))
    run.add(dnnl.ARG_MEAN, plan.channel_md, mean)
    run.add(dnnl.ARG_VARIANCE, plan.channel_md, variance)
    if gamma is not None:
        run.add(dnnl.ARG_SCALE, plan.channel_md, gamma)
        run.add(dnnl.ARG_DIFF_SCALE, plan.channel_md, dgamma)
    if dbeta is not None:
        run.add(dnnl.ARG_DIFF_SHIFT, plan.channel_md, dbeta)
    run.add(dnnl.ARG_DIFF_SRC, plan.data_md, dx)
    run.scratchpad(stage)
    run.execute(stage["primitive"])
    return (
        dx if need_x else None,
        dgamma if need_gamma else None,
        dbeta if need_beta else None,
    )


def batch_norm_apply(x2d, mean, variance, gamma, beta, epsilon: float, threads=None):
    """``gamma * (x - mean) / sqrt(variance + epsilon) + beta`` with given statistics (C,),
    as an (M, C) array, or ``None`` when oneDNN cannot run it."""
    plan = _plan(x2d, epsilon, gamma, beta, training=False, threads=threads)
    if plan is None:
        return None
    out = np.empty_like(x2d)
    run = runtime.Run(plan.lib)
    run.add(dnnl.ARG_SRC, plan.data_md, x2d)
    run.add(dnnl.ARG_DST, plan.data_md, out)
    run.add(dnnl.ARG_MEAN, plan.channel_md, np.ascontiguousarray(mean, np.float32))
    run.add(dnnl.ARG_VARIANCE, plan.channel_md, np.ascontiguousarray(variance, np.float32))
    if gamma is not None:
        run.add(dnnl.ARG_SCALE, plan.channel_md, np.ascontiguousarray(gamma, np.float32))
    if beta is not None:
        run.add(dnnl.ARG_SHIFT, plan.channel_md, np.ascontiguousarray(beta, np.float32))
    run.scratchpad(plan.fwd)
    run.execute(plan.fwd["primitive"])
    return out
