"""TensorBoard event files (read back with TensorBoard's reader), RemoteMonitor against a
local HTTP server, and SwapEMAWeights."""

import glob
import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import callbacks, layers


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int32")


def _model(optimizer="sgd"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Input((4,)),
            layers.Dense(3, activation="relu", name="hidden"),
            layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# -- TensorBoard --------------------------------------------------------------------------


def test_tensorboard_event_files_hold_the_history_histograms_and_graph(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    x, y = _data()
    model = _model()
    board = callbacks.TensorBoard(tmp_path, histogram_freq=1, update_freq=2)
    history = model.fit(
        x, y, batch_size=16, epochs=3, validation_data=(x, y), callbacks=[board], verbose=0
    )

    train = accumulator.EventAccumulator(str(tmp_path / "train"), size_guidance={"scalars": 0})
    train.Reload()
    tags = train.Tags()
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= set(tags["scalars"])
    losses = [e.value for e in train.Scalars("epoch_loss")]
    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1, 2]
    # 4 batches per epoch, update_freq=2: global batches 2, 4, ..., 12
    assert [e.step for e in train.Scalars("batch_loss")] == list(range(2, 13, 2))
    histograms = [t for t in tags["histograms"] if t.endswith("/histogram")]
    assert len(histograms) == 4  # two kernels, two biases
    kernel_tag = next(t for t in histograms if "hidden" in t and "kernel" in t)
    last = train.Histograms(kernel_tag)[-1].histogram_value
    kernel = model.get_layer("hidden").kernel.numpy()
    assert last.num == kernel.size and np.isclose(last.max, kernel.max())
    np.testing.assert_allclose(last.sum, kernel.sum(), rtol=1e-5)
    assert tags["graph"]
    graph = train.Graph()
    assert [n.op for n in graph.node][-2:] == ["Dense", "Dense"]
    assert list(graph.node[-1].input) == ["hidden"]

    val = accumulator.EventAccumulator(str(tmp_path / "validation"))
    val.Reload()
    val_losses = [e.value for e in val.Scalars("epoch_loss")]
    np.testing.assert_allclose(val_losses, history.history["val_loss"], rtol=1e-6)
    assert "evaluation_loss_vs_iterations" in val.Tags()["scalars"]
    assert glob.glob(str(tmp_path / "train" / "events.out.tfevents.*"))


def test_tensorboard_arguments():
    pytest.importorskip("tensorboard")
    with pytest.raises(ValueError, match="update_freq"):
        callbacks.TensorBoard(update_freq="sometimes")
    with pytest.raises(NotImplementedError, match="profile"):
        callbacks.TensorBoard(profile_batch=2)


# -- RemoteMonitor ------------------------------------------------------------------------


@pytest.fixture
def server():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()


def test_remote_monitor_posts_each_epochs_logs(server):
    root, received = server
    x, y = _data()
    history = _model().fit(
        x, y, epochs=2, verbose=0, callbacks=[callbacks.RemoteMonitor(root=root, path="/logs")]
    )
    assert len(received) == 2
    path, kind, body = received[1]
    assert path == "/logs" and kind == "application/x-www-form-urlencoded"
    sent = json.loads(urllib.parse.parse_qs(body.decode())["data"][0])
    assert sent["epoch"] == 1
    assert sent["loss"] == pytest.approx(history.history["loss"][1])
    _model().fit(
        x, y, epochs=1, verbose=0, callbacks=[callbacks.RemoteMonitor(root=root, send_as_json=True)]
    )
    path, kind, body = received[2]
    assert path == "/publish/epoch/end/" and kind == "application/json"
    assert json.loads(body)["epoch"] == 0


def test_remote_monitor_warns_when_the_server_is_unreachable():
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        callbacks.RemoteMonitor(root="http://127.0.0.1:9", timeout=2).on_epoch_end(0, {})


# -- SwapEMAWeights -------------------------------------------------------------------------


def test_swap_ema_weights_evaluates_with_the_average_and_trains_on_the_raw_weights():
    x, y = _data()
    model = _model(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    model.fit(x, y, epochs=2, verbose=0)
    optimizer = model.optimizer
    raw = [v.numpy().copy() for v in optimizer._trainable_variables]
    averages = [a.numpy().copy() for a in optimizer._model_variables_moving_average]
    assert any(not np.allclose(r, a) for r, a in zip(raw, averages))

    seen = {}

    class Spy(callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            seen["weights"] = [w.numpy().copy() for w in self.model.trainable_weights]

    swap = callbacks.SwapEMAWeights()
    swap.set_model(model)
    model.evaluate(x, y, verbose=0, callbacks=[swap, Spy()])
    for got, want in zip(seen["weights"], averages):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(model.trainable_weights, raw):  # swapped back
        np.testing.assert_array_equal(got.numpy(), want)


def test_swap_ema_weights_needs_use_ema():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="use_ema=True"):
        model.evaluate(x, y, verbose=0, callbacks=[callbacks.SwapEMAWeights()])
