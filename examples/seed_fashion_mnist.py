"""The lecture's Fashion-MNIST CNN (section 2.2), with only the imports changed.

Run:  python examples/seed_fashion_mnist.py  [--epochs 15]

Trains the lecture's model exactly as the lecture does (Adam, sparse
cross-entropy, batch 32, 15 epochs, validating on the test set), then shows
the confusion matrix and a few misclassified examples as text, and asserts the
test accuracy reaches 0.89 (PyTorch, same model and recipe: 0.899 final).
"""

import argparse

import numpy as np

import cnnkit as keras
from cnnkit.layers import Conv2D, Dense, Dropout, Flatten, Input
from cnnkit.models import Model

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--seed", type=int, default=1234)
args = parser.parse_args()
keras.utils.set_random_seed(args.seed)

# --- the lecture's code, unchanged apart from the imports ----------------------
fashion_mnist = keras.datasets.fashion_mnist
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
print("x_train.shape:", x_train.shape)

x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print(x_train.shape)

# Numero de classses
K = len(set(y_train))
print("numero de classes: ", K)

# construindo o codigo usando API funcinoal
i = Input(shape=x_train[0].shape)
x = Conv2D(32, (3, 3), strides=2, activation="relu")(i)
x = Conv2D(64, (3, 3), strides=2, activation="relu")(x)
x = Conv2D(128, (3, 3), strides=2, activation="relu")(x)
x = Flatten()(x)
x = Dropout(0.2)(x)
x = Dense(512, activation="relu")(x)
x = Dropout(0.2)(x)
x = Dense(K, activation="softmax")(x)

model = Model(i, x)

# Compilar e fit
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
r = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs)

# --- evaluation, as the lecture does it (text instead of plots) -----------------
p_test = model.predict(x_test).argmax(axis=1)
cm = np.zeros((K, K), dtype=int)
np.add.at(cm, (y_test, p_test), 1)
print("Confusion matrix (rows: true label, columns: predicted):")
print(cm)

labels = "T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle-boot".split()
misclassified_idx = np.where(p_test != y_test)[0]
for idx in misclassified_idx[:5]:
    print(f"True label: {labels[y_test[idx]]:<12} Predicted: {labels[p_test[idx]]}")

accuracy = float((p_test == y_test).mean())
best = max(r.history["val_accuracy"])
print(f"Test accuracy: {accuracy:.4f} (best epoch: {best:.4f})")
if args.epochs >= 15:
    assert accuracy >= 0.89, f"expected >= 0.89 test accuracy, got {accuracy:.4f}"
