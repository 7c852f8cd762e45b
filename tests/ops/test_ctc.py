"""CTC: ``ops.ctc_loss`` and ``ops.ctc_decode``, ``losses.ctc``/``losses.CTC``.

Values and gradients against Keras 3 on torch (where Keras is importable), float64 gradients
against finite differences, decoding against Keras (greedy and beam search), a model trained
with the CTC loss, saving by name, and the argument errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import layers, losses, ops
from cnnkit.autodiff import Tensor, Variable
from tests.harness import gradcheck


def _case(rng, batch, steps, classes, width, blank, dtype="float32"):
    """Logits, padded targets (no blank inside the lengths) and lengths shorter than the max."""
    logits = rng.standard_normal((batch, steps, classes)).astype(dtype)
    others = np.array([c for c in range(classes) if c != blank])
    target = others[rng.integers(0, len(others), (batch, width))].astype("int32")
    target[0, 1] = target[0, 0]  # a repeated label: needs a blank between the two
    target_length = rng.integers(0, width + 1, batch).astype("int32")
    target_length[0] = width
    output_length = rng.integers(2 * width + 1, steps + 1, batch).astype("int32")
    output_length[-1] = steps
    return target, logits, target_length, output_length


CASES = [  # batch, steps, classes, target width, blank
    (3, 9, 5, 3, 0),
    (4, 12, 6, 4, 5),
    (2, 7, 3, 2, 0),
    (1, 5, 4, 2, 3),
]


def _keras_loss_and_grad(keras, target, logits, target_length, output_length, blank):
    import torch

    z = torch.tensor(logits, requires_grad=True)
    loss = keras.ops.ctc_loss(
        torch.tensor(target), z, torch.tensor(target_length), torch.tensor(output_length), blank
    )
    weights = torch.linspace(0.5, 1.5, loss.shape[0], dtype=loss.dtype)
    (loss * weights).sum().backward()
    return loss.detach().numpy(), z.grad.numpy(), weights.numpy()


@pytest.mark.parametrize("case", CASES)
def test_ctc_loss_values_and_gradients_match_keras(case):
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("reference gradients from Keras's torch backend")
    batch, steps, classes, width, blank = case
    target, logits, target_length, output_length = _case(
        np.random.default_rng(sum(case)), batch, steps, classes, width, blank
    )
    expected, expected_grad, weights = _keras_loss_and_grad(
        keras, target, logits, target_length, output_length, blank
    )
    z = Variable(logits)
    loss = ops.ctc_loss(target, z, target_length, output_length, mask_index=blank)
    assert loss.shape == (batch,) and loss.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5, atol=1e-5)
    (loss * Tensor(weights)).sum().backward()
    np.testing.assert_allclose(z.grad, expected_grad, rtol=1e-4, atol=1e-6)
    assert not z.grad[np.arange(steps)[None, :] >= output_length[:, None]].any()


@pytest.mark.parametrize("blank", [0, 3])
def test_ctc_loss_gradient_matches_finite_differences(blank):
    target, logits, target_length, output_length = _case(
        np.random.default_rng(blank), 3, 8, 4, 3, blank, dtype="float64"
    )

    def fn(z):
        return ops.ctc_loss(target, z, target_length, output_length, mask_index=blank)

    gradcheck(fn, logits)


def test_ctc_loss_on_a_small_case_by_hand():
    # Two steps, classes {blank, 1}, uniform: the alignments of [1] are "1 1", "_ 1", "1 _".
    loss = ops.ctc_loss([[1]], np.zeros((1, 2, 2), "float32"), [1], [2])
    assert isinstance(loss, np.ndarray)
    np.testing.assert_allclose(loss, [-np.log(0.75)], rtol=1e-6)
    # An empty target: only the all-blank path.
    np.testing.assert_allclose(ops.ctc_loss([[1]], np.zeros((1, 3, 2)), [0], [3]), [3 * np.log(2)])
    # No output steps: only an empty target is possible (PyTorch's convention).
    no_steps = ops.ctc_loss([[1], [1]], np.zeros((2, 3, 2)), [1, 0], [0, 0])
    np.testing.assert_array_equal(no_steps, [np.inf, 0.0])


def test_ctc_loss_dtypes_and_an_impossible_alignment():
    half = ops.ctc_loss([[1]], np.zeros((1, 2, 2), "float16"), [1], [2])
    assert half.dtype == np.float32
    assert ops.ctc_loss([[1]], np.zeros((1, 2, 2)), [1], [2]).dtype == np.float64
    # [1, 1] needs "1 _ 1": three steps; two give an infinite loss, as in Keras.
    assert np.isinf(ops.ctc_loss([[1, 1]], np.zeros((1, 2, 3), "float32"), [2], [2])).all()
    if pytest.importorskip("keras").backend.backend() == "torch":
        import keras

        expected = keras.ops.ctc_loss(np.array([[1, 1]]), np.zeros((1, 2, 3)), [2], [2])
        assert np.isinf(keras.ops.convert_to_numpy(expected)).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda z: ops.ctc_loss([[1]], z[0], [1], [2]), "`output` must be a tensor of shape"),
        (lambda z: ops.ctc_loss([1], z, [1], [2]), "same first dimension"),
        (lambda z: ops.ctc_loss([[1], [1]], z, [1], [2]), "same first dimension"),
        (lambda z: ops.ctc_loss([[1]], z, [2], [2]), "`target_length` must hold lengths"),
        (lambda z: ops.ctc_loss([[1]], z, [1], [3]), "`output_length` must hold lengths"),
        (lambda z: ops.ctc_loss([[1]], z, [1, 1], [2]), "`target_length` must have shape"),
        (lambda z: ops.ctc_loss([[3]], z, [1], [2]), "labels in \\[0, 3\\)"),
        (lambda z: ops.ctc_loss([[1]], z, [1], [2], mask_index=3), "`mask_index` must be"),
        (lambda z: ops.ctc_loss([[1.5]], z, [1], [2]), "`target` must hold integer"),
        (lambda z: ops.ctc_decode(z, [2], strategy="best"), "Invalid strategy 'best'"),
        (lambda z: ops.ctc_decode(z, [2], "beam_search", beam_width=0), "`beam_width`"),
        (lambda z: ops.ctc_decode(z, [2], "beam_search", top_paths=0), "`top_paths`"),
        (lambda z: ops.ctc_decode(z, [3]), "`sequence_lengths` must hold lengths"),
        (lambda z: ops.ctc_decode(z, [2], mask_index=-1), "`mask_index` must be"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.zeros((1, 2, 3), "float32"))


DECODE_CASES = [  # batch, steps, classes, beam_width, top_paths, blank
    (3, 6, 4, 5, 2, 0),
    (2, 8, 5, 10, 3, 4),
    (4, 5, 3, 2, 1, 0),
    (2, 7, 6, 100, 1, 2),
]


def _decode_inputs(case):
    batch, steps, classes = case[:3]
    rng = np.random.default_rng(sum(case))
    logits = rng.standard_normal((batch, steps, classes)).astype("float32")
    logits[0, 2] = logits[0, 1]  # a repeated best class
    lengths = rng.integers(1, steps + 1, batch).astype("int32")
    lengths[0] = steps
    return logits, lengths


@pytest.mark.parametrize("case", DECODE_CASES)
@pytest.mark.parametrize("merge_repeated", [True, False])
def test_greedy_decode_matches_keras(case, merge_repeated):
    keras = pytest.importorskip("keras")
    logits, lengths = _decode_inputs(case)
    blank = case[-1]
    paths, scores = ops.ctc_decode(logits, lengths, merge_repeated=merge_repeated, mask_index=blank)
    expected = keras.ops.ctc_decode(
        logits, lengths, merge_repeated=merge_repeated, mask_index=blank
    )
    assert paths.dtype == np.int32 and paths.shape == (1, *logits.shape[:2])
    np.testing.assert_array_equal(paths, keras.ops.convert_to_numpy(expected[0]))
    np.testing.assert_allclose(scores, keras.ops.convert_to_numpy(expected[1]), rtol=1e-6)


@pytest.mark.parametrize("case", DECODE_CASES)
def test_beam_search_decode_matches_keras(case):
    keras = pytest.importorskip("keras")
    logits, lengths = _decode_inputs(case)
    _, _, _, beam_width, top_paths, blank = case
    kwargs = {"beam_width": beam_width, "top_paths": top_paths, "mask_index": blank}
    paths, scores = ops.ctc_decode(logits, lengths, strategy="beam_search", **kwargs)
    expected = keras.ops.ctc_decode(logits, lengths, strategy="beam_search", **kwargs)
    assert paths.shape == (top_paths, *logits.shape[:2]) and scores.shape == (
        len(logits),
        top_paths,
    )
    np.testing.assert_array_equal(paths, keras.ops.convert_to_numpy(expected[0]))
    np.testing.assert_allclose(scores, keras.ops.convert_to_numpy(expected[1]), rtol=1e-5)


def test_beam_search_finds_the_most_probable_labelling():
    # Per step: "1" then "1" has the best single path (greedy gives [1]), but the labelling
    # [1, 2] has more probability in total over its alignments.
    probs = np.array([[[0.0, 0.6, 0.4], [0.0, 0.6, 0.4]]]) + 1e-9
    greedy, _ = ops.ctc_decode(np.log(probs), [2])
    beam, scores = ops.ctc_decode(np.log(probs), [2], strategy="beam_search", top_paths=3)
    assert greedy[0, 0].tolist() == [1, -1]
    # [1]: 0.36; [1, 2]: 0.24; [2, 1]: 0.24; [2]: 0.16
    assert beam[:, 0].tolist()[0] == [1, -1]
    np.testing.assert_allclose(np.exp(scores[0]), [0.36, 0.24, 0.24], rtol=1e-6)


def test_tensors_in_give_tensors_out():
    paths, scores = ops.ctc_decode(Tensor(np.zeros((1, 2, 3), "float32")), [2])
    assert isinstance(paths, Tensor) and isinstance(scores, Tensor)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
def test_ctc_losses_match_keras(reduction):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    y_true = rng.integers(1, 5, (4, 3)).astype("int32")
    y_true[1, 2:] = 0  # padding
    y_true[3] = 0  # an empty target
    y_pred = rng.standard_normal((4, 8, 5)).astype("float32")
    weights = np.array([1.0, 0.5, 2.0, 0.0], "float32")
    expected = keras.losses.CTC(reduction=reduction)(y_true, y_pred, sample_weight=weights)
    got = losses.CTC(reduction=reduction)(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(got.numpy(), keras.ops.convert_to_numpy(expected), rtol=1e-5)
    np.testing.assert_allclose(
        losses.ctc(y_true, y_pred).numpy(),
        keras.ops.convert_to_numpy(keras.losses.ctc(y_true, y_pred)),
        rtol=1e-5,
    )
    assert losses.serialize(losses.CTC()) == keras.losses.serialize(keras.losses.CTC())


def test_ctc_function_checks_ranks():
    with pytest.raises(ValueError, match="Targets `y_true` are expected"):
        losses.ctc([1, 2], np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="Logits `y_pred` are expected"):
        losses.ctc([[1], [2]], np.zeros((2, 4)))


def test_ctc_resolves_by_name():
    assert losses.get("ctc") is losses.ctc
    assert isinstance(losses.get("CTC"), losses.CTC)
    loaded = losses.deserialize(losses.serialize(losses.CTC(reduction="sum", name="c")))
    assert isinstance(loaded, losses.CTC)
    assert loaded.get_config() == {"name": "c", "reduction": "sum"}


def _sequence_task(rng, n=48, steps=8, classes=4, width=3):
    """Each step's input one-hot encodes the label emitted there (blanks in between)."""
    y = rng.integers(1, classes, (n, width)).astype("int32")
    x = np.zeros((n, steps, classes), "float32")
    x[:, :, 0] = 1
    positions = np.array([1, 3, 5])
    x[:, positions, 0] = 0
    x[np.arange(n)[:, None], positions, y] = 1
    return x + 0.1 * rng.standard_normal(x.shape).astype("float32"), y


def test_a_model_trains_with_the_ctc_loss_and_saves_by_name(tmp_path):
    rng = np.random.default_rng(0)
    x, y = _sequence_task(rng)
    model = cnnkit.Sequential(
        [layers.Input((8, 4)), layers.Dense(16, activation="relu"), layers.Dense(4)]
    )
    model.compile(optimizer=cnnkit.optimizers.Adam(0.02), loss=losses.CTC())
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    paths, _ = ops.ctc_decode(model.predict(x, verbose=0), np.full(len(x), 8))
    assert (paths[0, :, :3] == y).mean() > 0.9
    path = tmp_path / "ctc.keras"
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    assert type(loaded.loss).__name__ == "CTC"
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0))


class CTCLayer(layers.Layer):
    """As in Keras's OCR examples: the loss is added in the graph, predictions pass through."""

    def call(self, y_true, y_pred):
        batch = ops.shape(y_pred)[0]
        input_length = ops.cast(ops.shape(y_pred)[1], "int32") * ops.ones((batch,), "int32")
        label_length = ops.cast(ops.sum(ops.not_equal(y_true, 0), axis=-1), "int32")
        self.add_loss(ops.mean(ops.ctc_loss(y_true, y_pred, label_length, input_length)))
        return y_pred


def test_a_functional_model_with_a_ctc_layer_trains():
    rng = np.random.default_rng(1)
    x, y = _sequence_task(rng)
    inputs = layers.Input((8, 4), name="image")
    labels = layers.Input((None,), name="label", dtype="int32")
    logits = layers.Dense(4, name="dense2")(layers.Dense(16, activation="relu")(inputs))
    model = cnnkit.Model([inputs, labels], CTCLayer(name="ctc_loss")(labels, logits))
    model.compile(optimizer=cnnkit.optimizers.Adam(0.02))
    history = model.fit({"image": x, "label": y}, epochs=10, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_a_functional_ctc_loss_saves_as_keras_ctc_loss_op(tmp_path):
    """``ops.ctc_loss`` on symbolic inputs is Keras's ``CTCLoss`` op: Keras loads the file."""
    keras = pytest.importorskip("keras")
    target = layers.Input((3,), dtype="int32")
    logits = layers.Input((8, 4))
    target_length = layers.Input((), dtype="int32")
    output_length = layers.Input((), dtype="int32")
    loss = ops.ctc_loss(target, logits, target_length, output_length, mask_index=3)
    model = cnnkit.Model([target, logits, target_length, output_length], loss)
    rng = np.random.default_rng(0)
    data = [
        rng.integers(0, 3, (2, 3)).astype("int32"),
        rng.standard_normal((2, 8, 4)).astype("float32"),
        np.array([3, 2], "int32"),
        np.array([8, 6], "int32"),
    ]
    expected = ops.ctc_loss(*data, mask_index=3)
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-6)
    path = str(tmp_path / "ctc_op.keras")
    model.save(path)
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(theirs.predict(data, verbose=0)), expected, rtol=1e-5
    )
