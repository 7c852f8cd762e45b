"""Batch normalisation (Ioffe & Szegedy, 2015): forward and backward side by side.

Two ops, one per mode of ``BatchNormalization``:

* :class:`BatchNormTraining` normalises with the statistics of the batch itself.
  For every channel ``c`` of the normalised axis, over the ``M`` values of the
  other axes (batch and spatial)::

      mean    = sum(x) / M
      var     = sum((x - mean)**2) / M          # biased, as Keras (ops.moments)
      inv_std = 1 / sqrt(var + epsilon)
      xhat    = (x - mean) * inv_std
      out     = gamma * xhat + beta

  and its backward is the fused formula, with ``dxhat = grad * gamma``::

      dbeta  = sum(grad)
      dgamma = sum(grad * xhat)
      dx     = inv_std / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
             = gamma * inv_std * (grad - dbeta / M - xhat * dgamma / M)

  The batch mean and variance are handed back to the caller (the layer updates
  its moving statistics with them); they are not recorded in the graph.

* :class:`BatchNormInference` uses given statistics (the moving averages): it is
  then the affine map ``out = x * scale + shift`` with ``scale = gamma * inv_std``
  and ``shift = beta - mean * scale``: one multiply and one add over ``x``
  (``keras.ops.batch_normalization``).

Shapes::

    x            (..., C, ...)   C on ``axis`` (the last axis, NHWC, is the fast path)
    gamma, beta  (C,)            optional (``scale=None`` / ``offset=None``)
    mean, var    (C,)
    out          same as x

The Functions below lay the input out as an (M, C) matrix (another normalised axis is
moved last first) and take the work over it from :func:`cnnkit.kernels.dispatch.ops`:
``batch_norm_train`` and ``batch_norm_train_backward`` (the NumPy kernels sum each channel
with one BLAS product, :func:`cnnkit.autodiff.sum_rows`, keep two (M, C) arrays, the centred
input and the output, and allocate one in the backward pass) and ``batch_norm_apply``.
"""

from __future__ import annotations

import time

from cnnkit.autodiff import Function, Tensor, sum_rows
from cnnkit.backend import xp
from cnnkit.kernels import dispatch


def _to_rows(a, axis: int):
    """``a`` as a C-contiguous ``(M, C)`` matrix with the ``axis`` channels as columns."""
    if axis != a.ndim - 1:
        a = xp.moveaxis(a, axis, -1)
    a = xp.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-1])


def _from_rows(a2d, shape: tuple, axis: int):
    """Inverse of :func:`_to_rows`: the ``(M, C)`` matrix back in ``shape`` (C on ``axis``)."""
    if axis == len(shape) - 1:
        return a2d.reshape(shape)
    moved = (*shape[:axis], *shape[axis + 1 :], shape[axis])
    return xp.ascontiguousarray(xp.moveaxis(a2d.reshape(moved), -1, axis))


def _channel_sum(a, axis: int):
    """Sum over every axis but ``axis``: ``(..., C, ...) -> (C,)``."""
    if axis == a.ndim - 1:
        return sum_rows(a)
    return a.sum(axis=tuple(i for i in range(a.ndim) if i != axis))


def _unpack(params, dtype, has_scale: bool, has_offset: bool):
    """``(gamma, beta)`` from the optional inputs, each ``None`` or an array of ``dtype``."""
    gamma = params[0].astype(dtype, copy=False) if has_scale else None
    beta = params[-1].astype(dtype, copy=False) if has_offset else None
    return gamma, beta


def _normalize_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"Invalid value for argument `axis`: an input of rank {ndim} has axes "
            f"{-ndim}..{ndim - 1}. Received: axis={axis}"
        )
    return axis % ndim


class BatchNormTraining(Function):
    """Normalise with the batch's own mean and biased variance; see the module docstring.

    Inputs: ``x``, then ``gamma`` if ``has_scale``, then ``beta`` if ``has_offset``.
    ``stats`` (a dict) receives the batch ``"mean"`` and ``"variance"``, shape (C,).
    ``sum_across`` (synchronized batch norm): a function that sums a 1-D array over the
    processes of a data-parallel job, in place; the statistics are then those of the whole
    global batch, and so are the sums the input gradient needs (each process keeps its own
    ``gamma``/``beta`` gradients, which the trainer sums with the others).
    """

    def forward(self, x, *params, axis, epsilon, has_scale, has_offset, stats, sum_across=None):
        gamma, beta = _unpack(params, x.dtype, has_scale, has_offset)
        x2d = _to_rows(x, axis)
        self.ops, self.race, self.threads = dispatch.ops(), None, None
        fast = dispatch.fast("batch_norm") if sum_across is None else None
        found = None
        start = time.perf_counter()
        if fast is not None:  # oneDNN where it is faster for this shape
            key = (x2d.shape, epsilon, has_scale, has_offset, x2d.dtype.str)
            self.race = dispatch.Race("batch_norm", key)
            if self.race.fast:
                found = fast.batch_norm_train(x2d, gamma, beta, epsilon, self.race.threads)
                if found is None:  # no fast kernel for this shape
                    self.race.decline()
                else:
                    self.ops, self.threads = fast, self.race.threads
        if found is None:
            found = self.ops.batch_norm_train(x2d, gamma, beta, epsilon, sum_across)
        if found is None:
            raise ValueError(
                f"Batch normalisation in training mode needs a non-empty batch. "
                f"Received: input shape={x.shape}"
            )
        dispatch.record("batch_norm", self.ops.NAME)
        out, stats["mean"], stats["variance"], saved, m = found  # out: (M, C)
        self.layout = (x.shape, axis, has_scale, has_offset, m, sum_across)
        self.save_for_backward(saved)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=not any(self.needs_grad))
        return _from_rows(out, x.shape, axis)

    def backward(self, grad):
        start = time.perf_counter()
        (saved,) = self.saved
        shape, axis, has_scale, has_offset, m, sum_across = self.layout
        need_gamma = has_scale and self.needs_grad[1]
        need_beta = has_offset and self.needs_grad[-1]
        g2d = _to_rows(grad, axis)
        args = (g2d, saved, m, self.needs_grad[0], need_gamma, need_beta)
        if self.ops.NAME == "onednn":  # the implementation that ran the forward pass
            dx, dgamma, dbeta = self.ops.batch_norm_train_backward(*args, threads=self.threads)
        else:
            dx, dgamma, dbeta = self.ops.batch_norm_train_backward(*args, sum_across)
        grads = [None if dx is None else _from_rows(dx, shape, axis)]
        if has_scale:
            grads.append(dgamma if need_gamma else None)
        if has_offset:
            grads.append(dbeta if need_beta else None)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=True)
        return tuple(grads)


class BatchNormInference(Function):
    """The affine map ``out = x * scale + shift`` of given statistics; see the module docstring.

    Inputs: ``x``, ``mean``, ``variance``, then ``gamma`` if ``has_scale``, then ``beta`` if
    ``has_offset``. Gradients flow to every input (the moving statistics of a layer are
    constants, so none is computed for them there).
    """

    def forward(self, x, mean, variance, *params, axis, epsilon, has_scale, has_offset):
        gamma, beta = _unpack(params, x.dtype, has_scale, has_offset)
        mean, variance = mean.astype(x.dtype, copy=False), variance.astype(x.dtype, copy=False)
        dtype = x.dtype.type
        inv_std = 1.0 / xp.sqrt(variance + dtype(epsilon))  # (C,)
        scale = inv_std if gamma is None else gamma * inv_std  # (C,)
        shift = -mean * scale if beta is None else beta - mean * scale  # (C,)
        out, fast, race = None, dispatch.fast("batch_norm"), None
        start = time.perf_counter()
        if fast is not None and axis == x.ndim - 1 and x.flags.c_contiguous:
            x2d = x.reshape(-1, x.shape[-1])  # oneDNN where it is faster for this shape
            race = dispatch.Race(
                "batch_norm_inference", (x2d.shape, epsilon, has_scale, has_offset, x2d.dtype.str)
            )
            if race.fast:
                out = fast.batch_norm_apply(x2d, mean, variance, gamma, beta, epsilon, race.threads)
                if out is None:  # no fast kernel for this shape
                    race.decline()
                else:
                    out = out.reshape(x.shape)
                    dispatch.record("batch_norm_inference", fast.NAME)
        if out is None:
            ops = dispatch.ops()
            dispatch.record("batch_norm_inference", ops.NAME)
            out = ops.batch_norm_apply(x, scale, shift, axis)  # one multiply, one add
        if race is not None:
            race.add(time.perf_counter() - start, done=True)  # timed over the forward pass
        bshape = [1] * x.ndim
        bshape[axis] = -1  # broadcast (C,) along `axis`
        self.layout = (axis, bshape, has_scale, has_offset)
        self.save_for_backward(x, mean, variance, inv_std, gamma, scale)
        return out

    def backward(self, grad):
        x, mean, variance, inv_std, gamma, scale = self.saved
        axis, bshape, has_scale, has_offset = self.layout
        need_x, need_mean, need_var = self.needs_grad[:3]
        need_gamma = has_scale and self.needs_grad[3]
        need_beta = has_offset and self.needs_grad[-1]
        dx = grad * scale.reshape(bshape) if need_x else None
        gsum = _channel_sum(grad, axis) if (need_beta or need_mean) else None  # (C,)
        # sum(grad * (x - mean)): the gradient of gamma (times inv_std) and of the variance
        gxc = None
        if need_gamma or need_var:
            work = x - mean.reshape(bshape)
            work *= grad
            gxc = _channel_sum(work, axis)  # (C,)
        dmean = -gsum * scale if need_mean else None
        dvar = None
        if need_var:
            g = gxc if gamma is None else gxc * gamma
            dvar = g * (-0.5 * inv_std**3)
        grads = [dx, dmean, dvar]
        if has_scale:
            grads.append(gxc * inv_std if need_gamma else None)
        if has_offset:
            grads.append(gsum if need_beta else None)
        return tuple(grads)


def batch_normalization_training(
    x, axis: int = -1, offset=None, scale=None, epsilon: float = 1e-3, sum_across=None
) -> tuple[Tensor, object, object]:
    """Normalise ``x`` with its own batch statistics over every axis but ``axis``.

    Args:
        x: Tensor or array, channels on ``axis``.
        axis: the channel axis (negative counts from the end).
        offset: optional ``beta`` (C,), added after normalising.
        scale: optional ``gamma`` (C,), multiplied after normalising.
        epsilon: added to the variance before the square root.
        sum_across: for synchronized batch norm, a function summing a 1-D array over the
            processes in place (statistics of the global batch); ``None`` for this batch.

    Returns:
        ``(out, mean, variance)``: the normalised Tensor (shape of ``x``) and the batch
        mean and biased variance, plain arrays of shape (C,) outside the graph.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], "float32")
        >>> out, mean, var = batch_normalization_training(x, epsilon=0.0)
        >>> out.numpy()
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> mean, var
        (array([ 2., 20.], dtype=float32), array([  1., 100.], dtype=float32))
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    params = tuple(p for p in (scale, offset) if p is not None)
    stats: dict = {}
    out = BatchNormTraining.apply(
        x,
        *params,
        axis=_normalize_axis(axis, x.ndim),
        epsilon=float(epsilon),
        has_scale=scale is not None,
        has_offset=offset is not None,
        stats=stats,
        sum_across=sum_across,
    )
    return out, stats["mean"], stats["variance"]


def batch_normalization(
    x, mean, variance, axis: int = -1, offset=None, scale=None, epsilon: float = 1e-3
) -> Tensor:
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` along ``axis``, as one affine op.

    The signature of ``keras.ops.batch_normalization``; ``BatchNormalization`` uses it in
    inference mode with its moving statistics.

    Args:
        x: Tensor or array, channels on ``axis``.
        mean, variance: (C,) statistics to normalise with.
        axis: the channel axis (negative counts from the end).
        offset: optional ``beta`` (C,).
        scale: optional ``gamma`` (C,).
        epsilon: added to the variance before the square root.

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]], "float32")
        >>> mean = np.array([0.4, 0.5, 0.6], "float32")
        >>> var = np.array([0.67, 0.67, 0.67], "float32")
        >>> np.round(batch_normalization(x, mean, var).numpy(), 4)
        array([[-0.3662, -0.3662, -0.3662],
               [ 0.    ,  0.    ,  0.    ],
               [ 0.3662,  0.3662,  0.3662]], dtype=float32)
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    params = tuple(p for p in (scale, offset) if p is not None)
    return BatchNormInference.apply(
        x,
        mean,
        variance,
        *params,
        axis=_normalize_axis(axis, x.ndim),
        epsilon=float(epsilon),
        has_scale=scale is not None,
        has_offset=offset is not None,
    )
