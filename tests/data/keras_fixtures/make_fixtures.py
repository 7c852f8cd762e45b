"""Regenerate the Keras 3 fixtures read by ``tests/saving/test_interop.py``.

Run with Keras 3 (JAX backend) installed, not with cnnkit::

    python -m venv /tmp/kenv && /tmp/kenv/bin/pip install keras jax
    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/data/keras_fixtures/make_fixtures.py

The torch-backend fixture (``torch_dense_bn.keras``: Keras on torch names its optimizers by
backend modules such as ``keras.src.backend.torch.optimizers.torch_adam``) is written with::

    KERAS_BACKEND=torch python tests/data/keras_fixtures/make_fixtures.py torch

For each model it writes ``<name>.keras`` (saved by Keras after a few training steps, so the
optimizer state and BatchNormalization statistics are not trivial) and ``<name>.npz`` with the
inputs ``x0``, ``x1``..., Keras's predictions ``y``, and the optimizer's variables
``optimizer_0``, ``optimizer_1``... (``optimizer_0`` is the step count).
"""

from __future__ import annotations

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def sequential_cnn():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(4, activation="softmax"),
        ],
        name="sequential_cnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model, [(6, 8, 8, 1)], 4


def functional_branches():
    import keras
    from keras import layers

    a = keras.Input((5,), name="a")
    b = keras.Input((5,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    left = layers.Concatenate(name="concat")([shared(a), b])
    right = layers.Add(name="add")([shared(b), a])
    merged = layers.Concatenate(name="merge")([left, right])
    out = layers.Dense(3, activation="softmax", name="out")(merged)
    model = keras.Model([a, b], out, name="functional_branches")
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(),
    )
    return model, [(6, 5), (6, 5)], 3


def embedding_lstm():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((7,), dtype="int32"),
            layers.Embedding(12, 4, mask_zero=True),
            layers.LSTM(5),
            layers.Dense(2, activation="softmax"),
        ],
        name="embedding_lstm",
    )
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    return model, [(6, 7)], 2


def torch_dense_bn():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(3, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(2, activation="softmax"),
        ],
        name="torch_dense_bn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model, [(6, 4)], 2


def main(argv: list[str]) -> None:
    backend = "torch" if argv[1:] == ["torch"] else "jax"
    os.environ.setdefault("KERAS_BACKEND", backend)
    import keras  # imported here: importing this module (pytest's doctest pass) needs no Keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if backend == "torch":
        builds = (torch_dense_bn,)
    else:
        builds = (sequential_cnn, functional_branches, embedding_lstm)
    for build in builds:
        model, shapes, classes = build()
        name = model.name
        if name == "embedding_lstm":
            xs = [rng.integers(0, 12, size=s).astype("int32") for s in shapes]
            for row, length in zip(xs[0], (7, 5, 3, 6, 2, 4)):
                row[length:] = 0  # padded sequences: exercises the mask
        else:
            xs = [rng.standard_normal(s).astype("float32") for s in shapes]
        x = xs if len(xs) > 1 else xs[0]
        y = rng.integers(0, classes, size=shapes[0][0])
        model.fit(x, y, epochs=3, batch_size=3, verbose=0)
        model.save(os.path.join(HERE, f"{name}.keras"))
        arrays = {f"x{i}": v for i, v in enumerate(xs)}
        arrays["y"] = np.asarray(model.predict(x, verbose=0))
        for i, variable in enumerate(model.optimizer.variables):
            arrays[f"optimizer_{i}"] = np.asarray(variable)
        np.savez(os.path.join(HERE, f"{name}.npz"), **arrays)
        print(f"wrote {name}.keras and {name}.npz (keras {keras.__version__})")


if __name__ == "__main__":
    import sys

    main(sys.argv)
