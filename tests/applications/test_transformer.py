"""The transformer text classifier of the Keras examples: sizes, errors, learning, saving."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit as keras
from cnnkit.applications import TokenAndPositionEmbedding, TransformerBlock, transformer_classifier
from tests.applications.test_text_models import _keyword_data


def test_parameter_count_by_hand():
    v, t, d, f = 1000, 100, 32, 32
    heads = 2
    attention = 3 * (d * heads * d + heads * d) + (heads * d * d + d)
    ffn = (d * f + f) + (f * d + d)
    expected = v * d + t * d + attention + ffn + 2 * (2 * d) + (d * 20 + 20) + (20 + 1)
    model = transformer_classifier(v, sequence_length=t)
    assert model.count_params() == expected
    assert model.output_shape == (None, 1)
    assert transformer_classifier(v, 50, classes=3).output_shape == (None, 3)


def test_embedding_adds_positions():
    layer = TokenAndPositionEmbedding(maxlen=6, vocab_size=10, embed_dim=4)
    tokens = np.array([[3, 3, 0]])
    out = layer(tokens).numpy()
    tok, pos = layer.token_emb.embeddings.numpy(), layer.pos_emb.embeddings.numpy()
    np.testing.assert_allclose(out[0], tok[[3, 3, 0]] + pos[:3], rtol=1e-6)
    with pytest.raises(ValueError, match="maxlen=6"):
        layer(np.zeros((1, 7), "int32"))


def test_block_is_post_norm_attention_and_feed_forward():
    block = TransformerBlock(embed_dim=4, num_heads=2, ff_dim=8)
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype("float32")
    out = block(x).numpy()
    y = block.layernorm1(x + block.att(x, x).numpy()).numpy()
    expected = block.layernorm2(y + block.ffn(y).numpy()).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert len(block.trainable_weights) == 8 + 4 + 4
    config = block.get_config()
    assert TransformerBlock.from_config(config).get_config() == config


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sequence_length"):
        transformer_classifier(100, sequence_length=None)
    with pytest.raises(ValueError, match="vocab_size"):
        transformer_classifier(0)


def test_learns_a_keyword_task_and_saves(tmp_path):
    keras.utils.set_random_seed(1)
    x, y = _keyword_data()
    model = transformer_classifier(40, sequence_length=20, embed_dim=16, ff_dim=16)
    model.compile(
        optimizer=keras.optimizers.Adam(0.003), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    x_test, y_test = _keyword_data(seed=1)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.9
    path = str(tmp_path / "transformer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))


@pytest.mark.slow
def test_spam_test_accuracy():
    """The Keras example's model on the SpamAssassin corpus: at least 0.97 test accuracy."""
    from cnnkit.datasets import spam

    keras.utils.set_random_seed(0)
    try:
        (x, y), (x_test, y_test) = spam.load_data(num_words=20000, maxlen=100)
    except (OSError, ValueError) as exc:
        pytest.skip(f"spam corpus unavailable: {exc}")
    model = transformer_classifier(20000, sequence_length=100)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert model.evaluate(x_test, y_test, verbose=0)[1] >= 0.97


def test_cli_trains_the_transformer(tmp_path, monkeypatch, capsys):
    import json

    from cnnkit import cli
    from cnnkit.cli import catalog

    rng = np.random.default_rng(0)
    x = rng.integers(2, 50, (240, 30)).astype("int32")
    y = rng.integers(0, 2, 240)
    x[y == 1, 26] = 1  # a word only spam uses

    def fake_load(name, num_words, maxlen):
        assert (name, num_words, maxlen) == ("spam", 50, 30)
        return (x[:200], y[:200]), (x[200:], y[200:])

    monkeypatch.setattr(catalog, "load_text_dataset", fake_load)
    out = tmp_path / "transformer"
    code = cli.main(
        ["train", "--dataset", "spam", "--model", "transformer", "--num-words", "50",
         "--maxlen", "30", "--epochs", "20", "--learning-rate", "0.003", "--seed", "0",
         "--verbose", "0", "--output", str(out), "--no-report"]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-2].startswith("Test accuracy ")
    assert json.loads((out / "history.json").read_text())["test_accuracy"] > 0.9
