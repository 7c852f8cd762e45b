"""The lecture's improved model on Fashion-MNIST: VGG blocks, batch normalisation, augmentation.

Run:  python examples/vgg_fashion_mnist.py [--epochs 15] [--plain]

Three VGG blocks (Conv-BN-Conv-BN-MaxPool with 32, 64 and 128 filters), dropout and a dense
head, trained with Adam and a cosine-decaying learning rate on images randomly mirrored and
shifted during training. ``--plain`` trains the same network with the same schedule but
without batch normalisation and without augmentation, the lecture's comparison: it fits the
training set more closely and generalises less well. Prints the train and test accuracy,
their gap and the wall time. With the defaults it asserts a test accuracy of at least 0.93;
measured on a 2-core machine: test 0.9409, train 0.9608 after 15 epochs (the README has the
plain network beside it).
"""

import argparse
import time

import numpy as np

import cnnkit as keras
from cnnkit import layers

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--plain", action="store_true", help="no batch norm, no augmentation")
parser.add_argument("--limit", type=int, default=None, help="first N training images only")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
keras.utils.set_random_seed(args.seed)

(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train = x_train[: args.limit, :, :, None].astype("float32") / np.float32(255)
y_train = y_train[: args.limit]
x_test = x_test[..., None].astype("float32") / np.float32(255)

i = layers.Input(shape=(28, 28, 1))
x = i
if not args.plain:
    x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomTranslation(0.08, 0.08, fill_mode="constant")(x)
for filters in (32, 64, 128):
    for _ in range(2):
        x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)
        if not args.plain:
            x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D((2, 2))(x)
x = layers.Flatten()(x)
x = layers.Dropout(0.2)(x)
x = layers.Dense(1024, activation="relu")(x)
x = layers.Dropout(0.2)(x)
x = layers.Dense(10, activation="softmax")(x)
model = keras.Model(i, x)
steps = args.epochs * -(-len(x_train) // 32)
schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
model.compile(
    optimizer=keras.optimizers.Adam(schedule),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)

start = time.perf_counter()
model.fit(x_train, y_train, epochs=args.epochs, validation_data=(x_test, y_test), verbose=2)
minutes = (time.perf_counter() - start) / 60
_, train_acc = model.evaluate(x_train, y_train, batch_size=500, verbose=0)
_, test_acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
label = "plain (no batch norm, no augmentation)" if args.plain else "batch norm + augmentation"
print(f"{label}: train {train_acc:.4f}, test {test_acc:.4f}, gap {train_acc - test_acc:+.4f}")
print(f"wall time: {minutes:.1f} min for {args.epochs} epochs")
if not args.plain and args.limit is None and args.epochs >= 15:
    assert test_acc >= 0.93, f"expected >= 0.93 test accuracy, got {test_acc:.4f}"
