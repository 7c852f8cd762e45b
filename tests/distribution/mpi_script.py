"""Run by the distribution tests: one process of ``mpirun -n N python mpi_script.py MODE OUT``
(or a plain ``python`` run, the one-process reference).

Modes:
    train OPTIMIZER  2 epochs of 32 global batches of 32 on fixed data; each process writes
                     its final weights and history to OUT/weights-RANK.npz
    syncbn OPTIMIZER the same with BatchNormalization(synchronized=True): the statistics of
                     the global batch, so the one-process model again
    uneven OPTIMIZER the same on 1,025 samples: the last global batch has one sample, so
                     process 1 has no rows in it
    crash            process 1 raises during the second epoch (the job must end, not hang)
    exit             process 1 exits during the second epoch (likewise)
    kill             process 1 is killed (SIGKILL) during the second epoch (likewise)
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import cnnkit as keras
from cnnkit import layers


def build(optimizer: str, synchronized: bool = False):
    keras.utils.set_random_seed(1)
    norm = [layers.BatchNormalization(synchronized=True)] if synchronized else []
    model = keras.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            *norm,
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(16, activation="relu", kernel_regularizer="l2"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    opt = (
        keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
        if optimizer == "sgd"
        else keras.optimizers.Adam(learning_rate=0.003)
    )
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1024, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int64") + (
        x[:, 4:, :4].mean(axis=(1, 2, 3)) > 0
    )
    return x, y


class FailInEpoch(keras.callbacks.Callback):
    def __init__(self, how: str):
        super().__init__()
        self.how = how

    def on_train_batch_begin(self, batch, logs=None):
        if keras.distribution.process_index() == 1 and self.epoch == 1 and batch == 3:
            if self.how == "crash":
                raise RuntimeError("process 1 fails on purpose")
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            sys.exit(0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    keras.distribution.initialize()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    rank = keras.distribution.process_index()
    x, y = data()
    if mode == "uneven":
        x, y = np.concatenate([x, x[:1]]), np.concatenate([y, y[:1]])
    training = mode in ("train", "uneven", "syncbn")
    model = build(sys.argv[3] if training else "sgd", synchronized=mode == "syncbn")
    callbacks = [keras.callbacks.CSVLogger(os.path.join(out, f"log-{rank}.csv"))]
    if not training:
        callbacks.append(FailInEpoch(mode))
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=2, callbacks=callbacks)
    model.save(os.path.join(out, f"model-{rank}.keras"))
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    np.savez(os.path.join(out, f"weights-{rank}.npz"), **weights)
    loss, acc = model.evaluate(x[:100], y[:100], batch_size=30, verbose=0)
    pred = model.predict(x[:77], batch_size=20, verbose=0)
    with open(os.path.join(out, f"result-{rank}.json"), "w") as f:
        json.dump(
            {
                "history": history.history,
                "evaluate": [loss, acc],
                "predict": pred.tolist(),
                "threads": keras.backend.cpu_threads(),
            },
            f,
        )


if __name__ == "__main__":
    main()
