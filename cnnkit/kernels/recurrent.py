"""Recurrent layer maths over a whole sequence: SimpleRNN, LSTM and GRU, forward and backward.

Each op takes the whole input ``x`` (B, T, F) and runs the time loop itself. The input
projection of every step is one matrix product before the loop; the loop only does the
recurrent products. Backpropagation through time walks the loop in reverse, keeping the
pre-activation gradients of every step, and forms the weight gradients after it with one
product over all steps. Gate order and equations are Keras 3's, with ``a`` the activation
(default tanh), ``s`` the recurrent activation (default sigmoid) and ``xW = x_t @ kernel +
bias`` split into gate blocks of ``U`` columns::

    SimpleRNN  h = a(xW + h_prev @ R)

    LSTM       i, f, c~, o = s(.), s(.), a(.), s(.)  of  xW + h_prev @ R     (gates i, f, c, o)
               c = f * c_prev + i * c~
               h = o * a(c)

    GRU        z, r = s(xW_z + h_prev @ R_z + b'_z), s(xW_r + h_prev @ R_r + b'_r)   (z, r, h)
               reset_after=True  (Keras 3 default, bias (2, 3U) = [input bias, recurrent b']):
                   h~ = a(xW_h + r * (h_prev @ R_h + b'_h))
               reset_after=False (bias (3U,), no b'):
                   h~ = a(xW_h + (r * h_prev) @ R_h)
               h = z * h_prev + (1 - z) * h~

Masks (Keras semantics, boolean (B, T), ``True`` = a real step): at a masked step every state
is carried over unchanged and the output is the previous output (the carried ``h``, the
initial state before any real step), or zeros with ``zero_output_for_mask``. ``go_backwards``
processes the steps last to first and returns the outputs in that (processing) order, as
Keras does.

Dropout masks (already scaled by ``1 / (1 - rate)``) are constants of shape (G, B, F) for the
input and (G, B, U) for the recurrent state: ``G = 1`` is one mask shared by every gate block,
``G = gates`` a mask per gate block (Keras's ``implementation=1``); they multiply ``x_t`` /
``h_prev`` before the product with that block's columns (for reset_after=False GRU, the h~
block's mask multiplies ``h_prev`` inside ``r * h_prev``).

Activations are chosen by name among :data:`ACTIVATIONS` (tanh, sigmoid, hard_sigmoid, relu,
linear); each derivative is computed from the activation's output, so only outputs are saved.
Arrays are time-major inside the ops (T, B, .), so one step is one contiguous block.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 5, 3)).astype("float32")
    >>> kernel = rng.standard_normal((3, 16)).astype("float32")
    >>> recurrent_kernel = rng.standard_normal((4, 16)).astype("float32")
    >>> outputs, h, c = lstm(x, None, None, kernel, recurrent_kernel)
    >>> outputs.shape, h.shape, c.shape, outputs.dtype
    ((2, 5, 4), (2, 4), (2, 4), dtype('float32'))
    >>> bool(np.array_equal(outputs.numpy()[:, -1], h.numpy()))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from cnnkit.autodiff import Function, Tensor, sum_rows
from cnnkit.backend import xp

# ---------------------------------------------------------------------------
# Activations: forward (may overwrite its argument) and derivative from the output
# ---------------------------------------------------------------------------


class _Activation(NamedTuple):
    forward: Callable  # z -> a(z); may work in place on z
    grad: Callable  # y = a(z) -> a'(z)


def _sigmoid(z):
    """``1 / (1 + exp(-z))`` without overflow: exp is only taken of ``-|z| <= 0``."""
    e = xp.exp(-xp.abs(z))  # (0, 1]
    pos = 1.0 / (1.0 + e)
    return xp.where(z >= 0, pos, e * pos)


def _hard_sigmoid(z):
    """Keras 3's ``relu6(z + 3) / 6 = clip(z / 6 + 1/2, 0, 1)``."""
    z *= z.dtype.type(1.0 / 6.0)
    z += z.dtype.type(0.5)
    return xp.clip(z, z.dtype.type(0.0), z.dtype.type(1.0), out=z)


def _relu(z):
    return xp.maximum(z, z.dtype.type(0.0), out=z)


ACTIVATIONS: dict[str, _Activation] = {
    "tanh": _Activation(lambda z: xp.tanh(z, out=z), lambda y: 1.0 - y * y),
    "sigmoid": _Activation(_sigmoid, lambda y: y * (1.0 - y)),
    # 0 < y < 1 exactly where -3 < z < 3, the slope-1/6 part
    "hard_sigmoid": _Activation(
        _hard_sigmoid, lambda y: ((y > 0) & (y < 1)) * y.dtype.type(1.0 / 6.0)
    ),
    "relu": _Activation(_relu, lambda y: (y > 0).astype(y.dtype)),
    "linear": _Activation(lambda z: z, lambda y: y.dtype.type(1.0)),
}


def _activation(name: str, argument: str) -> _Activation:
    if name not in ACTIVATIONS:
        raise ValueError(
            f"Invalid value for argument `{argument}`: recurrent ops support "
            f"{sorted(ACTIVATIONS)}. Received: {argument}={name!r}"
        )
    return ACTIVATIONS[name]


# ---------------------------------------------------------------------------
# Products whose gate blocks may each see their own dropout mask
# ---------------------------------------------------------------------------


def _gate_matmul(a, w, masks):
    """``a @ w`` over the last axis; column block ``g`` of ``w`` sees ``a * masks[g]``.

    ``a`` (..., B, n), ``w`` (n, G*U), ``masks`` None, (1, B, n) (one mask for every block) or
    (G, B, n); returns (..., B, G*U).
    """
    n, cols = a.shape[-1], w.shape[1]
    lead = a.shape[:-1]
    if masks is None:
        return (a.reshape(-1, n) @ w).reshape(*lead, cols)
    if masks.shape[0] == 1:
        return ((a * masks[0]).reshape(-1, n) @ w).reshape(*lead, cols)
    u = cols // masks.shape[0]
    out = xp.empty((*lead, cols), dtype=a.dtype)
    for g in range(masks.shape[0]):
        block = slice(g * u, (g + 1) * u)
        out[..., block] = ((a * masks[g]).reshape(-1, n) @ w[:, block]).reshape(*lead, u)
    return out


def _gate_matmul_grad_a(dout, w, masks):
    """The gradient of :func:`_gate_matmul` with respect to ``a``: (..., B, n)."""
    if masks is None:
        return dout @ w.T
    if masks.shape[0] == 1:
        return (dout @ w.T) * masks[0]
    u = w.shape[1] // masks.shape[0]
    da = None
    for g in range(masks.shape[0]):
        block = slice(g * u, (g + 1) * u)
        part = (dout[..., block] @ w[:, block].T) * masks[g]
        da = part if da is None else da + part
    return da


def _gate_matmul_grad_w(a, dout, masks):
    """The gradient of :func:`_gate_matmul` with respect to ``w``, summed over every row of
    ``a`` (all steps at once): (n, G*U)."""
    n, cols = a.shape[-1], dout.shape[-1]
    d2 = dout.reshape(-1, cols)
    if masks is None:
        return a.reshape(-1, n).T @ d2
    if masks.shape[0] == 1:
        return (a * masks[0]).reshape(-1, n).T @ d2
    u = cols // masks.shape[0]
    dw = xp.empty((n, cols), dtype=a.dtype)
    for g in range(masks.shape[0]):
        block = slice(g * u, (g + 1) * u)
        dw[:, block] = (a * masks[g]).reshape(-1, n).T @ d2[:, block]
    return dw


def _block(masks, g):
    """Gate ``g``'s mask (B, n) from (1 or G, B, n) masks, or None."""
    if masks is None:
        return None
    return masks[0] if masks.shape[0] == 1 else masks[g]


def _subset(masks, gates: slice):
    """The masks of a range of gate blocks (a shared mask stays shared)."""
    if masks is None or masks.shape[0] == 1:
        return masks
    return masks[gates]


# ---------------------------------------------------------------------------
# What the three ops share: time-major inputs, the input projection, packing, the epilogue
# ---------------------------------------------------------------------------


class _Sequence(Function):
    """Shared steps of the recurrent ops.

    Every op returns one array ``(B, T + S, U)``: the T outputs (in processing order), then
    the S final states (h, and c for the LSTM); :func:`_unpack` slices it for the caller.
    """

    def _prologue(self, x, kernel, bias_in, mask, go_backwards, dropout_mask):
        """Time-major input (T, B, F), its projection (T, B, G*U) and the mask (T, B, 1)."""
        xt = xp.swapaxes(x, 0, 1)  # (T, B, F) view
        if go_backwards:
            xt = xt[::-1]
        xt = xp.ascontiguousarray(xt)
        proj = _gate_matmul(xt, kernel, dropout_mask)  # (T, B, G*U)
        if bias_in is not None:
            proj += bias_in
        m = None
        if mask is not None:
            m = xp.swapaxes(mask, 0, 1)[:, :, None]  # (T, B, 1) bool
            if go_backwards:
                m = m[::-1]
            m = xp.ascontiguousarray(m)
        return xt, proj, m

    @staticmethod
    def _pack(hs, m, zero_output, *finals):
        """``(B, T + S, U)``: the outputs (the carried ``h``, or zeros at masked steps)."""
        t, b, u = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        out = xp.empty((b, t + len(finals), u), dtype=hs.dtype)
        seq = hs[1:] if not (zero_output and m is not None) else hs[1:] * m
        out[:, :t] = xp.swapaxes(seq, 0, 1)
        for k, final in enumerate(finals):
            out[:, t + k] = final
        return out

    def _epilogue(self, xt, kernel, dropout_mask, dproj, go_backwards):
        """Gradients of x (B, T, F), the kernel and the input bias from dproj (T, B, G*U)."""
        dx = dk = db = None
        if self.needs_grad[0]:
            dxt = _gate_matmul_grad_a(dproj, kernel, dropout_mask)  # (T, B, F)
            if go_backwards:
                dxt = dxt[::-1]
            dx = xp.ascontiguousarray(xp.swapaxes(dxt, 0, 1))
        if self.needs_grad[self._kernel_index]:
            dk = _gate_matmul_grad_w(xt, dproj, dropout_mask)
        if self.has_bias and self.needs_grad[-1]:
            db = sum_rows(dproj)
        return dx, dk, db

    @staticmethod
    def _output_grad(grad, t, m, zero_output):
        """The gradient reaching ``h_t`` from output ``t`` (B, U)."""
        g = grad[:, t]
        if zero_output and m is not None:
            g = g * m[t]
        return g

    @staticmethod
    def _split_masked(dh, m_t):
        """``(dh * m, dh * (1 - m))``: the part through the step and the part carried over."""
        if m_t is None:
            return dh, None
        return dh * m_t, dh * ~m_t


def _carry(m_t, new, old):
    return new if m_t is None else xp.where(m_t, new, old)


class SimpleRNN(_Sequence):
    """``h = a(x_t @ kernel + bias + h_prev @ R)`` over the sequence; see the module docstring.

    Inputs: ``x`` (B, T, F), ``h0`` (B, U), ``kernel`` (F, U), ``recurrent_kernel`` (U, U),
    then ``bias`` (U,) if ``has_bias``. Output: ``(B, T + 1, U)`` (outputs, then the final h).
    """

    _kernel_index = 2

    def forward(
        self,
        x,
        h0,
        kernel,
        recurrent_kernel,
        *bias,
        has_bias,
        mask,
        activation,
        go_backwards,
        zero_output_for_mask,
        dropout_mask,
        recurrent_dropout_mask,
    ):
        self.has_bias = has_bias
        act = _activation(activation, "activation")
        xt, proj, m = self._prologue(
            x, kernel, bias[0] if has_bias else None, mask, go_backwards, dropout_mask
        )
        t_len = xt.shape[0]
        hs = xp.empty((t_len + 1, *h0.shape), dtype=x.dtype)  # (T+1, B, U), hs[0] = h0
        hs[0] = h0
        for t in range(t_len):
            z = proj[t]  # (B, U), becomes the candidate h in place
            z += _gate_matmul(hs[t], recurrent_kernel, recurrent_dropout_mask)
            cand = act.forward(z)
            proj[t] = cand
            hs[t + 1] = _carry(None if m is None else m[t], cand, hs[t])
        self.save_for_backward(xt, kernel, recurrent_kernel, hs, proj, m)
        self.options = (
            act,
            go_backwards,
            zero_output_for_mask,
            dropout_mask,
            recurrent_dropout_mask,
        )
        return self._pack(hs, m, zero_output_for_mask, hs[-1])

    def backward(self, grad):
        xt, kernel, recurrent_kernel, hs, cands, m = self.saved
        act, go_backwards, zero_output, dmask, rmask = self.options
        t_len = xt.shape[0]
        dproj = xp.empty_like(cands)  # (T, B, U) pre-activation gradients
        dh = grad[:, t_len].copy()  # from the final state
        for t in reversed(range(t_len)):
            dh += self._output_grad(grad, t, m, zero_output)
            m_t = None if m is None else m[t]
            dh_step, dh_carry = self._split_masked(dh, m_t)
            dz = dproj[t]
            xp.multiply(dh_step, act.grad(cands[t]), out=dz)
            dh = _gate_matmul_grad_a(dz, recurrent_kernel, rmask)
            if dh_carry is not None:
                dh += dh_carry
        dx, dk, db = self._epilogue(xt, kernel, dmask, dproj, go_backwards)
        dr = _gate_matmul_grad_w(hs[:-1], dproj, rmask) if self.needs_grad[3] else None
        dh0 = dh if self.needs_grad[1] else None
        return (dx, dh0, dk, dr, db) if self.has_bias else (dx, dh0, dk, dr)


class LSTM(_Sequence):
    """Long short-term memory over the sequence (gates i, f, c, o); see the module docstring.

    Inputs: ``x`` (B, T, F), ``h0`` and ``c0`` (B, U), ``kernel`` (F, 4U),
    ``recurrent_kernel`` (U, 4U), then ``bias`` (4U,) if ``has_bias``.
    Output: ``(B, T + 2, U)`` (outputs, then the final h and c).
    """

    _kernel_index = 3

    def forward(
        self,
        x,
        h0,
        c0,
        kernel,
        recurrent_kernel,
        *bias,
        has_bias,
        mask,
        activation,
        recurrent_activation,
        go_backwards,
        zero_output_for_mask,
        dropout_mask,
        recurrent_dropout_mask,
    ):
        self.has_bias = has_bias
        act = _activation(activation, "activation")
        ract = _activation(recurrent_activation, "recurrent_activation")
        xt, proj, m = self._prologue(
            x, kernel, bias[0] if has_bias else None, mask, go_backwards, dropout_mask
        )
        t_len, u = xt.shape[0], h0.shape[1]
        hs = xp.empty((t_len + 1, *h0.shape), dtype=x.dtype)  # (T+1, B, U)
        cs = xp.empty_like(hs)  # (T+1, B, U) carries
        tanh_c = xp.empty((t_len, *h0.shape), dtype=x.dtype)  # (T, B, U) a(candidate c)
        hs[0], cs[0] = h0, c0
        for t in range(t_len):
            z = proj[t]  # (B, 4U): pre-activations, then the gates i, f, c~, o in place
            z += _gate_matmul(hs[t], recurrent_kernel, recurrent_dropout_mask)
            z[:, : 2 * u] = ract.forward(z[:, : 2 * u])
            z[:, 2 * u : 3 * u] = act.forward(z[:, 2 * u : 3 * u])
            z[:, 3 * u :] = ract.forward(z[:, 3 * u :])
            i, f, g, o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
            c = f * cs[t]
            c += i * g
            tanh_c[t] = act.forward(c.copy())
            h = o * tanh_c[t]
            m_t = None if m is None else m[t]
            cs[t + 1] = _carry(m_t, c, cs[t])
            hs[t + 1] = _carry(m_t, h, hs[t])
        self.save_for_backward(xt, kernel, recurrent_kernel, hs, cs, proj, tanh_c, m)
        self.options = (
            act,
            ract,
            go_backwards,
            zero_output_for_mask,
            dropout_mask,
            recurrent_dropout_mask,
        )
        return self._pack(hs, m, zero_output_for_mask, hs[-1], cs[-1])

    def backward(self, grad):
        xt, kernel, recurrent_kernel, hs, cs, gates, tanh_c, m = self.saved
        act, ract, go_backwards, zero_output, dmask, rmask = self.options
        t_len, u = xt.shape[0], hs.shape[2]
        dproj = xp.empty_like(gates)  # (T, B, 4U) pre-activation gradients
        dh = grad[:, t_len].copy()  # from the final h
        dc = grad[:, t_len + 1].copy()  # from the final c
        for t in reversed(range(t_len)):
            dh += self._output_grad(grad, t, m, zero_output)
            m_t = None if m is None else m[t]
            dh_step, dh_carry = self._split_masked(dh, m_t)
            dc_step, dc_carry = self._split_masked(dc, m_t)
            gt = gates[t]
            i, f, g, o = gt[:, :u], gt[:, u : 2 * u], gt[:, 2 * u : 3 * u], gt[:, 3 * u :]
            dz = dproj[t]
            dc_step = dc_step + dh_step * o * act.grad(tanh_c[t])  # through h = o * a(c)
            xp.multiply(dc_step, g, out=dz[:, :u])  # di
            xp.multiply(dc_step, cs[t], out=dz[:, u : 2 * u])  # df
            xp.multiply(dc_step, i, out=dz[:, 2 * u : 3 * u])  # dc~
            xp.multiply(dh_step, tanh_c[t], out=dz[:, 3 * u :])  # do
            dz[:, : 2 * u] *= ract.grad(gt[:, : 2 * u])
            dz[:, 2 * u : 3 * u] *= act.grad(g)
            dz[:, 3 * u :] *= ract.grad(o)
            dc = dc_step * f
            dh = _gate_matmul_grad_a(dz, recurrent_kernel, rmask)
            if dh_carry is not None:
                dh += dh_carry
                dc += dc_carry
        dx, dk, db = self._epilogue(xt, kernel, dmask, dproj, go_backwards)
        dr = _gate_matmul_grad_w(hs[:-1], dproj, rmask) if self.needs_grad[4] else None
        dh0 = dh if self.needs_grad[1] else None
        dc0 = dc if self.needs_grad[2] else None
        grads = (dx, dh0, dc0, dk, dr)
        return (*grads, db) if self.has_bias else grads


class GRU(_Sequence):
    """Gated recurrent unit over the sequence (gates z, r, h); see the module docstring.

    Inputs: ``x`` (B, T, F), ``h0`` (B, U), ``kernel`` (F, 3U), ``recurrent_kernel``
    (U, 3U), then ``bias`` if ``has_bias``: (2, 3U) (input and recurrent biases) when
    ``reset_after``, else (3U,). Output: ``(B, T + 1, U)`` (outputs, then the final h).
    """

    _kernel_index = 2

    def forward(
        self,
        x,
        h0,
        kernel,
        recurrent_kernel,
        *bias,
        has_bias,
        reset_after,
        mask,
        activation,
        recurrent_activation,
        go_backwards,
        zero_output_for_mask,
        dropout_mask,
        recurrent_dropout_mask,
    ):
        self.has_bias = has_bias
        act = _activation(activation, "activation")
        ract = _activation(recurrent_activation, "recurrent_activation")
        b_in = b_rec = None
        if has_bias:
            b_in, b_rec = (bias[0][0], bias[0][1]) if reset_after else (bias[0], None)
        xt, proj, m = self._prologue(x, kernel, b_in, mask, go_backwards, dropout_mask)
        t_len, u = xt.shape[0], h0.shape[1]
        hs = xp.empty((t_len + 1, *h0.shape), dtype=x.dtype)  # (T+1, B, U)
        hs[0] = h0
        rmask = recurrent_dropout_mask
        # reset_after: h_prev @ R_h + b'_h; else r * h_prev (masked); both (T, B, U)
        inner = xp.empty((t_len, *h0.shape), dtype=x.dtype)
        r_zr = xp.ascontiguousarray(recurrent_kernel[:, : 2 * u])
        r_h = xp.ascontiguousarray(recurrent_kernel[:, 2 * u :])
        for t in range(t_len):
            z = proj[t]  # (B, 3U): pre-activations, then the gates z, r, h~ in place
            h_prev = hs[t]
            if reset_after:
                rec = _gate_matmul(h_prev, recurrent_kernel, rmask)  # (B, 3U)
                if b_rec is not None:
                    rec += b_rec
                z[:, : 2 * u] += rec[:, : 2 * u]
                inner[t] = rec[:, 2 * u :]
            else:
                z[:, : 2 * u] += _gate_matmul(h_prev, r_zr, _subset(rmask, slice(0, 2)))
            z[:, : 2 * u] = ract.forward(z[:, : 2 * u])
            zg, r = z[:, :u], z[:, u : 2 * u]
            if reset_after:
                z[:, 2 * u :] += r * inner[t]
            else:
                mask_h = _block(rmask, 2)
                inner[t] = r * (h_prev if mask_h is None else h_prev * mask_h)
                z[:, 2 * u :] += inner[t] @ r_h
            hh = z[:, 2 * u :] = act.forward(z[:, 2 * u :])
            h = zg * (h_prev - hh)
            h += hh  # z * h_prev + (1 - z) * h~
            hs[t + 1] = _carry(None if m is None else m[t], h, h_prev)
        self.save_for_backward(xt, kernel, recurrent_kernel, r_zr, r_h, hs, proj, inner, m)
        self.options = (
            act,
            ract,
            reset_after,
            go_backwards,
            zero_output_for_mask,
            dropout_mask,
            recurrent_dropout_mask,
        )
        return self._pack(hs, m, zero_output_for_mask, hs[-1])

    def backward(self, grad):
        xt, kernel, recurrent_kernel, r_zr, r_h, hs, gates, inner, m = self.saved
        act, ract, reset_after, go_backwards, zero_output, dmask, rmask = self.options
        t_len, u = xt.shape[0], hs.shape[2]
        dproj = xp.empty_like(gates)  # (T, B, 3U) gradients of the input pre-activations
        # reset_after: gradients of h_prev @ R + b' (T, B, 3U); else of (r * h_prev) @ R_h
        drec = xp.empty_like(gates) if reset_after else xp.empty_like(inner)
        mask_h = None if reset_after else _block(rmask, 2)
        dh = grad[:, t_len].copy()
        for t in reversed(range(t_len)):
            dh += self._output_grad(grad, t, m, zero_output)
            m_t = None if m is None else m[t]
            dh_step, dh_carry = self._split_masked(dh, m_t)
            h_prev, gt = hs[t], gates[t]
            zg, r, hh = gt[:, :u], gt[:, u : 2 * u], gt[:, 2 * u :]
            dz = dproj[t]
            xp.multiply(dh_step, h_prev - hh, out=dz[:, :u])
            dz[:, :u] *= ract.grad(zg)
            xp.multiply(dh_step, 1.0 - zg, out=dz[:, 2 * u :])
            dz[:, 2 * u :] *= act.grad(hh)  # gradient of h~'s pre-activation
            dah = dz[:, 2 * u :]
            if reset_after:
                xp.multiply(dah, inner[t], out=dz[:, u : 2 * u])
                dz[:, u : 2 * u] *= ract.grad(r)
                d = drec[t]
                d[:, : 2 * u] = dz[:, : 2 * u]
                xp.multiply(dah, r, out=d[:, 2 * u :])
                dh_new = _gate_matmul_grad_a(d, recurrent_kernel, rmask)
            else:
                drh = dah @ r_h.T  # gradient of r * h_prev (masked)
                drec[t] = dah
                h_in = h_prev if mask_h is None else h_prev * mask_h
                xp.multiply(drh, h_in, out=dz[:, u : 2 * u])
                dz[:, u : 2 * u] *= ract.grad(r)
                dh_new = _gate_matmul_grad_a(dz[:, : 2 * u], r_zr, _subset(rmask, slice(0, 2)))
                dh_new += drh * r if mask_h is None else drh * r * mask_h
            dh_new += dh_step * zg
            if dh_carry is not None:
                dh_new += dh_carry
            dh = dh_new
        dx, dk, db_in = self._epilogue(xt, kernel, dmask, dproj, go_backwards)
        dr = None
        if self.needs_grad[3]:
            if reset_after:
                dr = _gate_matmul_grad_w(hs[:-1], drec, rmask)
            else:
                dr = xp.empty_like(recurrent_kernel)
                dr[:, : 2 * u] = _gate_matmul_grad_w(
                    hs[:-1], dproj[..., : 2 * u], _subset(rmask, slice(0, 2))
                )
                dr[:, 2 * u :] = _gate_matmul_grad_w(inner, drec, None)
        dh0 = dh if self.needs_grad[1] else None
        if not self.has_bias:
            return dx, dh0, dk, dr
        db = None
        if self.needs_grad[-1]:
            db = xp.stack([db_in, sum_rows(drec)]) if reset_after else db_in
        return dx, dh0, dk, dr, db


# ---------------------------------------------------------------------------
# Slicing the packed result, reversing time
# ---------------------------------------------------------------------------


class _TimeSlice(Function):
    """``packed[:, index]`` for a basic index along the time axis; backward writes in place."""

    def forward(self, packed, index):
        self.save_for_backward(packed.shape, packed.dtype, index)
        return packed[:, index]

    def backward(self, grad):
        shape, dtype, index = self.saved
        out = xp.zeros(shape, dtype=dtype)
        out[:, index] = grad
        return out


class ReverseTime(Function):
    """``x[:, ::-1]``: a sequence (B, T, ...) in reverse order (a copy)."""

    def forward(self, x):
        return xp.ascontiguousarray(x[:, ::-1])

    def backward(self, grad):
        return xp.ascontiguousarray(grad[:, ::-1])


def reverse_time(x) -> Tensor:
    """The sequence ``x`` (B, T, ...) with its time axis reversed.

    Example:
        >>> reverse_time(np.arange(6.0).reshape(1, 3, 2)).numpy()[0]
        array([[4., 5.],
               [2., 3.],
               [0., 1.]])
    """
    return ReverseTime.apply(x)


def _unpack(packed: Tensor, steps: int, states: int, return_sequences: bool) -> tuple:
    """(outputs, *final states) from the op's (B, T + S, U) result."""
    outputs = _TimeSlice.apply(packed, index=slice(0, steps) if return_sequences else steps - 1)
    finals = [_TimeSlice.apply(packed, index=steps + k) for k in range(states)]
    return (outputs, *finals)


# ---------------------------------------------------------------------------
# The functional entry points: validation, then one op
# ---------------------------------------------------------------------------


def _data(a):
    return a.data if isinstance(a, Tensor) else xp.asarray(a)


def _check(name: str, value, expected: tuple, what: str) -> None:
    if tuple(value.shape) != tuple(expected):
        raise ValueError(
            f"Invalid shape for argument `{name}` of {what}: expected {tuple(expected)}. "
            f"Received: {name}.shape={tuple(value.shape)}"
        )


def _prepare(what, x, states, kernel, recurrent_kernel, bias, gates, bias_shape, mask, dmasks):
    """Validate the shapes; fill missing states with zeros; cast masks for the op."""
    x_data = _data(x)
    if x_data.ndim != 3:
        raise ValueError(
            f"{what} expects a 3-D input (batch, timesteps, features). "
            f"Received: x.shape={tuple(x_data.shape)}"
        )
    b, t, f = x_data.shape
    if t == 0:
        raise ValueError(f"{what} needs at least one timestep. Received: x.shape={(b, t, f)}")
    rk = _data(recurrent_kernel)
    if rk.ndim != 2 or rk.shape[1] != gates * rk.shape[0]:
        raise ValueError(
            f"Invalid shape for argument `recurrent_kernel` of {what}: expected (units, "
            f"{gates} * units). Received: recurrent_kernel.shape={tuple(rk.shape)}"
        )
    u = rk.shape[0]
    _check("kernel", _data(kernel), (f, gates * u), what)
    if bias is not None:
        _check("bias", _data(bias), bias_shape(u), what)
    dtype = x_data.dtype
    filled = []
    for name, s in states:
        if s is None:
            s = Tensor(xp.zeros((b, u), dtype=dtype))
        _check(name, _data(s), (b, u), what)
        filled.append(s)
    if mask is not None:
        mask = _data(mask).astype(bool)
        _check("mask", mask, (b, t), what)
    cast = []
    for name, dm, width in zip(("dropout_mask", "recurrent_dropout_mask"), dmasks, (f, u)):
        if dm is not None:
            dm = _data(dm).astype(dtype, copy=False)
            if dm.ndim == 2:
                dm = dm[None]
            if dm.ndim != 3 or dm.shape[0] not in (1, gates) or dm.shape[1:] != (b, width):
                raise ValueError(
                    f"Invalid shape for argument `{name}` of {what}: expected (1 or {gates}, "
                    f"{b}, {width}). Received: {name}.shape={tuple(dm.shape)}"
                )
        cast.append(dm)
    return t, filled, mask, cast


def simple_rnn(
    x,
    h0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    *,
    activation: str = "tanh",
    go_backwards: bool = False,
    return_sequences: bool = True,
    zero_output_for_mask: bool = False,
    dropout_mask=None,
    recurrent_dropout_mask=None,
) -> tuple[Tensor, Tensor]:
    """A fully connected RNN over a sequence: ``h_t = a(x_t @ kernel + bias + h_{t-1} @ R)``.

    Args:
        x: (B, T, F) inputs.
        h0: (B, U) initial state, or ``None`` for zeros.
        kernel: (F, U); recurrent_kernel: (U, U); bias: (U,) or ``None``.
        mask: optional boolean (B, T); ``False`` steps carry the state over.
        activation: a name in :data:`ACTIVATIONS`.
        go_backwards: process the steps last to first (outputs in that order).
        return_sequences: return every output (B, T, U) or only the last (B, U).
        zero_output_for_mask: zeros instead of the previous output at masked steps.
        dropout_mask, recurrent_dropout_mask: optional (1, B, F) / (1, B, U) multipliers.

    Returns:
        ``(outputs, h)``: the outputs and the final state (B, U).

    Example:
        >>> x = np.ones((1, 3, 1))
        >>> outputs, h = simple_rnn(x, None, np.ones((1, 1)), np.ones((1, 1)), activation="linear")
        >>> outputs.numpy().ravel(), h.numpy().ravel()
        (array([1., 2., 3.]), array([3.]))
    """
    what = "simple_rnn"
    t, (h0,), mask, (dm, rm) = _prepare(
        what,
        x,
        [("h0", h0)],
        kernel,
        recurrent_kernel,
        bias,
        1,
        lambda u: (u,),
        mask,
        (dropout_mask, recurrent_dropout_mask),
    )
    extra = () if bias is None else (bias,)
    packed = SimpleRNN.apply(
        x,
        h0,
        kernel,
        recurrent_kernel,
        *extra,
        has_bias=bias is not None,
        mask=mask,
        activation=activation,
        go_backwards=bool(go_backwards),
        zero_output_for_mask=bool(zero_output_for_mask),
        dropout_mask=dm,
        recurrent_dropout_mask=rm,
    )
    return _unpack(packed, t, 1, return_sequences)


def lstm(
    x,
    h0,
    c0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    *,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    go_backwards: bool = False,
    return_sequences: bool = True,
    zero_output_for_mask: bool = False,
    dropout_mask=None,
    recurrent_dropout_mask=None,
) -> tuple[Tensor, Tensor, Tensor]:
    """A long short-term memory over a sequence (Hochreiter & Schmidhuber, 1997), Keras's gates.

    Args:
        x: (B, T, F) inputs.
        h0, c0: (B, U) initial hidden and carry states, or ``None`` for zeros.
        kernel: (F, 4U); recurrent_kernel: (U, 4U); bias: (4U,) or ``None`` (gates i, f, c, o).
        mask: optional boolean (B, T); ``False`` steps carry the states over.
        activation, recurrent_activation: names in :data:`ACTIVATIONS`.
        go_backwards: process the steps last to first (outputs in that order).
        return_sequences: return every output (B, T, U) or only the last (B, U).
        zero_output_for_mask: zeros instead of the previous output at masked steps.
        dropout_mask, recurrent_dropout_mask: optional (1 or 4, B, F) / (1 or 4, B, U)
            multipliers of ``x_t`` / ``h_{t-1}`` (one per gate when 4).

    Returns:
        ``(outputs, h, c)``: the outputs and the final states (B, U).
    """
    what = "lstm"
    t, (h0, c0), mask, (dm, rm) = _prepare(
        what,
        x,
        [("h0", h0), ("c0", c0)],
        kernel,
        recurrent_kernel,
        bias,
        4,
        lambda u: (4 * u,),
        mask,
        (dropout_mask, recurrent_dropout_mask),
    )
    extra = () if bias is None else (bias,)
    packed = LSTM.apply(
        x,
        h0,
        c0,
        kernel,
        recurrent_kernel,
        *extra,
        has_bias=bias is not None,
        mask=mask,
        activation=activation,
        recurrent_activation=recurrent_activation,
        go_backwards=bool(go_backwards),
        zero_output_for_mask=bool(zero_output_for_mask),
        dropout_mask=dm,
        recurrent_dropout_mask=rm,
    )
    return _unpack(packed, t, 2, return_sequences)


def gru(
    x,
    h0,
    kernel,
    recurrent_kernel,
    bias=None,
    mask=None,
    *,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: bool = True,
    go_backwards: bool = False,
    return_sequences: bool = True,
    zero_output_for_mask: bool = False,
    dropout_mask=None,
    recurrent_dropout_mask=None,
) -> tuple[Tensor, Tensor]:
    """A gated recurrent unit over a sequence (Cho et al., 2014), Keras's gates z, r, h.

    Args:
        x: (B, T, F) inputs.
        h0: (B, U) initial state, or ``None`` for zeros.
        kernel: (F, 3U); recurrent_kernel: (U, 3U); bias: ``None``, (2, 3U) (input and
            recurrent biases) with ``reset_after``, else (3U,).
        mask: optional boolean (B, T); ``False`` steps carry the state over.
        activation, recurrent_activation: names in :data:`ACTIVATIONS`.
        reset_after: apply the reset gate after the recurrent product (Keras 3's default,
            cuDNN's and PyTorch's convention) or before it.
        go_backwards: process the steps last to first (outputs in that order).
        return_sequences: return every output (B, T, U) or only the last (B, U).
        zero_output_for_mask: zeros instead of the previous output at masked steps.
        dropout_mask, recurrent_dropout_mask: optional (1 or 3, B, F) / (1 or 3, B, U)
            multipliers of ``x_t`` / ``h_{t-1}`` (one per gate when 3).

    Returns:
        ``(outputs, h)``: the outputs and the final state (B, U).
    """
    what = "gru"
    t, (h0,), mask, (dm, rm) = _prepare(
        what,
        x,
        [("h0", h0)],
        kernel,
        recurrent_kernel,
        bias,
        3,
        (lambda u: (2, 3 * u)) if reset_after else (lambda u: (3 * u,)),
        mask,
        (dropout_mask, recurrent_dropout_mask),
    )
    extra = () if bias is None else (bias,)
    packed = GRU.apply(
        x,
        h0,
        kernel,
        recurrent_kernel,
        *extra,
        has_bias=bias is not None,
        reset_after=bool(reset_after),
        mask=mask,
        activation=activation,
        recurrent_activation=recurrent_activation,
        go_backwards=bool(go_backwards),
        zero_output_for_mask=bool(zero_output_for_mask),
        dropout_mask=dm,
        recurrent_dropout_mask=rm,
    )
    return _unpack(packed, t, 1, return_sequences)
