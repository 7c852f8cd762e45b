"""Recurrent ops: a step-by-step NumPy reference of Keras's cells, PyTorch, masks, errors.

The float64 gradient checks and value checks of every op variant are rows of the op table
(``tests/kernels/test_op_table.py``, built with :func:`op_cases` below); this module holds the
reference they use and the checks a table row cannot express.

The reference is written from Keras 3's cell equations (``keras/src/layers/rnn``), one time
step at a time, with the ``keras.src.backend.numpy.rnn`` loop semantics for masks and
``go_backwards``. It shares no code with ``cnnkit.kernels.recurrent``.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import recurrent
from cnnkit.kernels import shape as shape_ops

# -- the reference ---------------------------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


REF_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda z: np.minimum(np.maximum(z + 3.0, 0.0), 6.0) / 6.0,  # relu6(z+3)/6
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def _gate_inputs(v, masks, gates):
    """``v`` as seen by each gate: ``v * masks[g]`` (``masks`` None, (1, B, n) or (G, B, n))."""
    if masks is None:
        return [v] * gates
    return [v * masks[0 if len(masks) == 1 else g] for g in range(gates)]


def simple_rnn_step(kernel, rk, bias, activation="tanh", dmask=None, rmask=None):
    a = REF_ACTIVATIONS[activation]

    def step(x_t, states):
        (h,) = states
        (xd,), (hd,) = _gate_inputs(x_t, dmask, 1), _gate_inputs(h, rmask, 1)
        out = xd @ kernel + hd @ rk
        if bias is not None:
            out = out + bias
        out = a(out)
        return out, [out]

    return step


def lstm_step(kernel, rk, bias, activation="tanh", recurrent_activation="sigmoid", dmask=None,
              rmask=None):  # fmt: skip
    a, s = REF_ACTIVATIONS[activation], REF_ACTIVATIONS[recurrent_activation]
    u = rk.shape[0]

    def step(x_t, states):
        h, c = states
        xs, hs = _gate_inputs(x_t, dmask, 4), _gate_inputs(h, rmask, 4)
        pre = []
        for g in range(4):
            cols = slice(g * u, (g + 1) * u)
            z = xs[g] @ kernel[:, cols] + hs[g] @ rk[:, cols]
            pre.append(z if bias is None else z + bias[cols])
        i, f, o = s(pre[0]), s(pre[1]), s(pre[3])
        c = f * c + i * a(pre[2])
        h = o * a(c)
        return h, [h, c]

    return step


def gru_step(kernel, rk, bias, reset_after=True, activation="tanh",
             recurrent_activation="sigmoid", dmask=None, rmask=None):  # fmt: skip
    a, s = REF_ACTIVATIONS[activation], REF_ACTIVATIONS[recurrent_activation]
    u = rk.shape[0]
    if bias is None:
        b_in, b_rec = np.zeros(3 * u), np.zeros(3 * u)
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, np.zeros(3 * u)
    cols = [slice(g * u, (g + 1) * u) for g in range(3)]

    def step(x_t, states):
        (h,) = states
        xs, hs = _gate_inputs(x_t, dmask, 3), _gate_inputs(h, rmask, 3)
        x_z, x_r, x_h = (xs[g] @ kernel[:, cols[g]] + b_in[cols[g]] for g in range(3))
        rec_z = hs[0] @ rk[:, cols[0]] + b_rec[cols[0]]
        rec_r = hs[1] @ rk[:, cols[1]] + b_rec[cols[1]]
        z, r = s(x_z + rec_z), s(x_r + rec_r)
        if reset_after:
            hh = a(x_h + r * (hs[2] @ rk[:, cols[2]] + b_rec[cols[2]]))
        else:
            hh = a(x_h + (r * hs[2]) @ rk[:, cols[2]])
        h = z * h + (1 - z) * hh
        return h, [h]

    return step


def run_reference(step, x, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    """Keras's RNN loop: (outputs (B, T, U) in processing order, final states)."""
    steps = range(x.shape[1])
    outputs = []
    for t in reversed(steps) if go_backwards else steps:
        out, new = step(x[:, t], states)
        if mask is not None:
            m = mask[:, t][:, None]
            out = np.where(m, out, 0.0 if zero_output_for_mask else states[0])
            new = [np.where(m, n, old) for n, old in zip(new, states)]
        outputs.append(out)
        states = new
    return np.stack(outputs, axis=1), states


# -- op-table rows ----------------------------------------------------------------------------

B, T, F, U = 2, 4, 3, 2
MASK = np.array([[False, True, True, False], [True, False, True, True]])


def _flat(outputs, *states):
    """One (B, T*U + S*U) tensor of everything an op returns, for gradient checks."""
    batch = outputs.shape[0]
    return shape_ops.concatenate([outputs.reshape(batch, -1), *states], axis=-1)


def _ref_flat(outputs, states):
    return np.concatenate([outputs.reshape(outputs.shape[0], -1), *states], axis=-1)


def _dropout_masks(gates, seed=5):
    rng = np.random.default_rng(seed)
    dmask = (rng.random((gates, B, F)) < 0.7) / 0.7
    rmask = (rng.random((gates, B, U)) < 0.7) / 0.7
    return dmask, rmask


def _maker(n_states, gates, bias_shape, scale=0.7):
    def make(rng, _shapes):
        arrays = [rng.standard_normal((B, T, F))]
        arrays += [0.5 * rng.standard_normal((B, U)) for _ in range(n_states)]
        arrays += [scale * rng.standard_normal((F, gates * U))]
        arrays += [scale * rng.standard_normal((U, gates * U))]
        if bias_shape is not None:
            arrays += [0.3 * rng.standard_normal(bias_shape)]
        return arrays

    return make


def _case(op, *, bias=True, mask=None, masks=None, **options):
    """(name, fn, make_inputs, reference) of one op variant with its options bound."""
    reset_after = options.get("reset_after", True)
    gates, n_states = {"simple_rnn": (1, 1), "lstm": (4, 2), "gru": (3, 1)}[op]
    bias_shape = None
    if bias:
        bias_shape = (2, 3 * U) if op == "gru" and reset_after else (gates * U,)
    dmask, rmask = masks if masks is not None else (None, None)
    ref_options = {k: v for k, v in options.items() if k not in ("go_backwards", "zero_output")}
    loop = {
        "go_backwards": options.get("go_backwards", False),
        "zero_output_for_mask": options.get("zero_output", False),
    }
    op_options = {k: v for k, v in ref_options.items()}
    op_options.update(loop)

    def fn(x, *params):
        states, (kernel, rk, *b) = params[:n_states], params[n_states:]
        result = getattr(recurrent, op)(
            x,
            *states,
            kernel,
            rk,
            b[0] if b else None,
            mask,
            dropout_mask=dmask,
            recurrent_dropout_mask=rmask,
            **op_options,
        )
        return _flat(*result)

    def reference(x, *params):
        states, (kernel, rk, *b) = list(params[:n_states]), params[n_states:]
        cell = {"simple_rnn": simple_rnn_step, "lstm": lstm_step, "gru": gru_step}[op]
        step = cell(kernel, rk, b[0] if b else None, dmask=dmask, rmask=rmask, **ref_options)
        return _ref_flat(*run_reference(step, x, states, mask, **loop))

    parts = [op]
    parts += [f"{k}={v}" for k, v in options.items()]
    parts += [] if bias else ["nobias"]
    parts += [] if mask is None else ["mask"]
    parts += [] if masks is None else [f"dropout{len(dmask)}"]
    return "_".join(parts), fn, _maker(n_states, gates, bias_shape), reference


def op_cases():
    """Every variant the op table checks (values in float64, gradients, float32 dtypes)."""
    per_gate = {"simple_rnn": 1, "lstm": 4, "gru": 3}
    cases = []
    for op in ("simple_rnn", "lstm", "gru"):
        variants = [{}, {"bias": False}, {"mask": MASK}, {"mask": MASK, "go_backwards": True}]
        variants += [{"go_backwards": True}, {"mask": MASK, "zero_output": True}]
        variants += [{"masks": _dropout_masks(1)}]
        if op != "simple_rnn":  # a mask per gate block, as Keras's implementation=1
            variants += [{"masks": _dropout_masks(per_gate[op])}]
        if op == "simple_rnn":
            variants += [{"activation": "relu"}, {"activation": "linear", "bias": False}]
        else:
            variants += [{"activation": "relu", "recurrent_activation": "hard_sigmoid"}]
        if op == "gru":
            variants = variants + [{"reset_after": False, **v} for v in variants]
        cases += [_case(op, **v) for v in variants]
    return cases


# -- checks a table row cannot express --------------------------------------------------------


def _weights(rng, gates, bias_shape=None, scale=0.5):
    arrays = [
        scale * rng.standard_normal((F, gates * U)),
        scale * rng.standard_normal((U, gates * U)),
    ]
    if bias_shape is not None:
        arrays.append(0.3 * rng.standard_normal(bias_shape))
    return arrays


def test_return_sequences_false_gives_the_last_output():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, F))
    kernel, rk, bias = _weights(rng, 4, (4 * U,))
    seq, h, c = recurrent.lstm(x, None, None, kernel, rk, bias, MASK, go_backwards=True)
    last, h2, c2 = recurrent.lstm(x, None, None, kernel, rk, bias, MASK, go_backwards=True,
                                  return_sequences=False)  # fmt: skip
    np.testing.assert_array_equal(last.numpy(), seq.numpy()[:, -1])
    np.testing.assert_array_equal(last.numpy(), h.numpy())  # the carried h is the last output
    np.testing.assert_array_equal(c2.numpy(), c.numpy())


def test_go_backwards_returns_outputs_in_processing_order():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, F))
    kernel, rk, bias = _weights(rng, 1, (U,))
    forward, _ = recurrent.simple_rnn(x[:, ::-1], None, kernel, rk, bias)
    backward, _ = recurrent.simple_rnn(x, None, kernel, rk, bias, go_backwards=True)
    np.testing.assert_allclose(backward.numpy(), forward.numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", ["simple_rnn", "lstm", "gru"])
def test_pre_padding_with_a_mask_equals_the_unpadded_sequence(op):
    rng = np.random.default_rng(2)
    gates, n_states = {"simple_rnn": (1, 1), "lstm": (4, 2), "gru": (3, 1)}[op]
    bias_shape = (2, 3 * U) if op == "gru" else (gates * U,)
    weights = _weights(rng, gates, bias_shape)
    x = rng.standard_normal((B, 2, F))
    padded = np.concatenate([np.zeros((B, 3, F)), x], axis=1)
    mask = np.array([[False] * 3 + [True] * 2] * B)
    fn = getattr(recurrent, op)
    none = [None] * n_states
    short = fn(x, *none, *weights)
    long = fn(padded, *none, *weights, mask)
    for a, b in zip(short[1:], long[1:]):  # final states
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(long[0].numpy()[:, 3:], short[0].numpy(), rtol=1e-12)
    np.testing.assert_array_equal(long[0].numpy()[:, :3], 0.0)  # the zero initial state


def test_masked_steps_pass_no_gradient_to_their_inputs():
    rng = np.random.default_rng(3)
    x = Variable(rng.standard_normal((B, T, F)))
    kernel, rk, bias = _weights(rng, 3, (2, 3 * U))
    seq, h = recurrent.gru(x, None, kernel, rk, bias, MASK)
    (seq.sum() + h.sum()).backward()
    assert np.all(x.grad[~MASK] == 0.0)
    assert np.all(np.abs(x.grad[MASK]).sum(axis=-1) > 0)


@pytest.mark.parametrize("name", sorted(recurrent.ACTIVATIONS))
def test_activation_derivatives_from_outputs(name):
    z = np.array([-4.0, -2.5, -0.7, 0.3, 1.1, 2.9, 4.5])  # away from kinks (0 and +-3)
    act = recurrent.ACTIVATIONS[name]
    np.testing.assert_allclose(act.forward(z.copy()), REF_ACTIVATIONS[name](z), rtol=1e-15)
    eps = 1e-6
    numeric = (REF_ACTIVATIONS[name](z + eps) - REF_ACTIVATIONS[name](z - eps)) / (2 * eps)
    analytic = np.broadcast_to(act.grad(act.forward(z.copy())), z.shape)
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)


@pytest.mark.parametrize("activation", sorted(recurrent.ACTIVATIONS))
def test_float32_stays_float32_for_every_activation(activation):
    rng = np.random.default_rng(4)
    x = Variable(rng.standard_normal((B, T, F)).astype(np.float32))
    kernel, rk, bias = (Variable(a.astype(np.float32)) for a in _weights(rng, 3, (2, 3 * U)))
    seq, h = recurrent.gru(x, None, kernel, rk, bias, MASK, activation=activation,
                           recurrent_activation=activation)  # fmt: skip
    assert seq.dtype == h.dtype == np.float32
    (seq.sum() + h.sum()).backward()
    for v in (x, kernel, rk, bias):
        assert v.grad.dtype == np.float32


def test_reverse_time():
    x = Variable(np.arange(12.0).reshape(2, 3, 2))
    y = recurrent.reverse_time(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy()[:, ::-1])
    y.backward(np.arange(12.0).reshape(2, 3, 2))
    np.testing.assert_array_equal(x.grad, np.arange(12.0).reshape(2, 3, 2)[:, ::-1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": np.ones((2, 3))}, r"3-D input .* Received: x.shape=\(2, 3\)"),
        ({"kernel": np.ones((4, 8))}, r"`kernel` of lstm: expected \(3, 8\)"),
        ({"recurrent_kernel": np.ones((2, 6))}, r"expected \(units, 4 \* units\)"),
        ({"bias": np.ones(6)}, r"`bias` of lstm: expected \(8,\)"),
        ({"h0": np.ones((3, 2))}, r"`h0` of lstm: expected \(2, 2\)"),
        ({"mask": np.ones((2, 5), bool)}, r"`mask` of lstm: expected \(2, 4\)"),
        ({"activation": "softmax"}, r"`activation`: recurrent ops support .*'softmax'"),
        ({"recurrent_activation": "gelu"}, r"Received: recurrent_activation='gelu'"),
        ({"dropout_mask": np.ones((3, 2, 3))}, r"`dropout_mask` of lstm: expected \(1 or 4"),
        ({"x": np.ones((2, 0, 3))}, r"at least one timestep"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    args = {
        "x": np.ones((2, 4, 3)),
        "h0": None,
        "c0": None,
        "kernel": np.ones((3, 8)),
        "recurrent_kernel": np.ones((2, 8)),
        "bias": np.ones(8),
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        recurrent.lstm(**args)


def test_gru_bias_shape_follows_reset_after():
    x, kernel, rk = np.ones((1, 2, 3)), np.ones((3, 6)), np.ones((2, 6))
    with pytest.raises(ValueError, match=r"`bias` of gru: expected \(2, 6\)"):
        recurrent.gru(x, None, kernel, rk, np.ones(6))
    with pytest.raises(ValueError, match=r"`bias` of gru: expected \(6,\)"):
        recurrent.gru(x, None, kernel, rk, np.ones((2, 6)), reset_after=False)


# -- PyTorch ----------------------------------------------------------------------------------


def _torch_compare(torch, module, ours, inputs, params, torch_grads, our_grads):
    """Run both on the same inputs; compare outputs and the gradients of sum(out * r)."""
    r = np.random.default_rng(9).standard_normal(ours[0].shape)
    out_t, _ = module(torch.tensor(inputs, requires_grad=True))
    np.testing.assert_allclose(ours[0].numpy(), out_t.detach().numpy(), rtol=1e-9, atol=1e-12)
    (out_t * torch.tensor(r)).sum().backward()
    (ours[0] * Tensor(r)).sum().backward()
    for mine, theirs in zip(our_grads(), torch_grads()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-12)


@pytest.mark.torch
def test_lstm_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 5, F))
    kernel, rk, bias = (Variable(a) for a in _weights(rng, 4, (4 * U,)))
    module = torch.nn.LSTM(F, U, batch_first=True).double()
    with torch.no_grad():  # torch gates i, f, g, o == Keras i, f, c, o; weights transposed
        module.weight_ih_l0.copy_(torch.tensor(kernel.numpy().T))
        module.weight_hh_l0.copy_(torch.tensor(rk.numpy().T))
        module.bias_ih_l0.copy_(torch.tensor(bias.numpy()))
        module.bias_hh_l0.zero_()
    ours = recurrent.lstm(x, None, None, kernel, rk, bias)

    def torch_grads():
        return [
            module.weight_ih_l0.grad.numpy().T,
            module.weight_hh_l0.grad.numpy().T,
            module.bias_ih_l0.grad.numpy(),
        ]

    _torch_compare(torch, module, ours, x, None, torch_grads,
                   lambda: [kernel.grad, rk.grad, bias.grad])  # fmt: skip


@pytest.mark.torch
def test_gru_reset_after_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 5, F))
    kernel, rk, bias = (Variable(a) for a in _weights(rng, 3, (2, 3 * U)))
    module = torch.nn.GRU(F, U, batch_first=True).double()

    def to_torch(a):  # Keras column blocks z, r, h -> torch row blocks r, z, n
        z, r, h = np.split(a, 3, axis=-1)
        return np.concatenate([r, z, h], axis=-1)

    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(to_torch(kernel.numpy()).T))
        module.weight_hh_l0.copy_(torch.tensor(to_torch(rk.numpy()).T))
        module.bias_ih_l0.copy_(torch.tensor(to_torch(bias.numpy()[0])))
        module.bias_hh_l0.copy_(torch.tensor(to_torch(bias.numpy()[1])))
    ours = recurrent.gru(x, None, kernel, rk, bias)

    def torch_grads():
        return [
            to_torch(module.weight_ih_l0.grad.numpy().T),
            to_torch(module.weight_hh_l0.grad.numpy().T),
            np.stack([to_torch(module.bias_ih_l0.grad.numpy()),
                      to_torch(module.bias_hh_l0.grad.numpy())]),
        ]  # fmt: skip

    # to_torch swaps the first two blocks, so it is its own inverse
    _torch_compare(torch, module, ours, x, None, torch_grads,
                   lambda: [kernel.grad, rk.grad, bias.grad])  # fmt: skip
