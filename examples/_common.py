"""Pieces shared by the example scripts: the command-line set-up, the device check and the MNIST helpers.

Not an example itself. Each script puts its own folder on ``sys.path`` and imports from here, which
works both for ``python examples/x.py`` and for loading a script by path (as ``tests/test_examples.py``
does). Importing this module also makes ``deepcore`` importable from a source checkout.
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


def check_device(name):
    """``name`` unchanged, or exit with a clear message when it asks for CUDA and none is available."""
    if name.startswith("cuda") and not dc.cuda.is_available():
        raise SystemExit(f"--device {name}: CUDA is not available (needs CuPy and an NVIDIA GPU)")
    return name


def base_parser(doc, epochs_help, smoke_help="fast run for tests", epochs_default=None):
    """An ArgumentParser described by the first paragraph of ``doc``, with --device, --epochs and --smoke."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--epochs", type=int, default=epochs_default, help=epochs_help)
    p.add_argument("--smoke", action="store_true", help=smoke_help)
    return p


def mnist_parser(doc, epochs_help, smoke_help, batch_help, patience):
    """``base_parser`` plus the options of the Keras-style MNIST scripts: batch size, lr, patience, data, seed."""
    p = base_parser(doc, epochs_help, smoke_help)
    p.add_argument("--batch-size", type=int, default=None, help=batch_help)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=patience,
                   help="epochs without val_loss improvement before stopping")
    p.add_argument("--data", metavar="DIR", help="folder with the four MNIST IDX files (raw or .gz)")
    p.add_argument("--verbose", type=int, default=None, help="0: quiet, 1: progress bar per epoch (default)")
    p.add_argument("--seed", type=int, default=0)
    return p


def load_mnist(path=None, flat=True, n_train=None, n_test=None):
    """MNIST in [0, 1] as float32 ``(N, 784)`` (or ``(N, 1, 28, 28)`` unless ``flat``) with int64 labels.

    Keeps the first ``n_train`` / ``n_test`` images when given. Returns ``(x_train, y_train), (x_test,
    y_test), full`` where ``full`` says whether the IDX files of the full 60000-image set were found.
    """
    (x_train, y_train), (x_test, y_test) = dc.datasets.load_mnist(path)
    full = len(x_train) >= 60000
    if flat:
        x_train = x_train.reshape(len(x_train), -1).astype(np.float32) / 255.0
        x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    else:
        x_train = x_train[:, None].astype(np.float32) / 255.0
        x_test = x_test[:, None].astype(np.float32) / 255.0
    return (x_train[:n_train], y_train[:n_train]), (x_test[:n_test], y_test[:n_test]), full


def fit(model, x, y, args, epochs, batch_size, verbose, device):
    """Adam at ``args.lr`` and cross-entropy, 10 % held out, early stopping on val_loss keeping the best weights.

    Returns the ``History`` of ``model.fit`` and the seconds it took.
    """
    model.compile(optimizer=dc.optim.Adam(model.parameters(), lr=args.lr), loss="cross_entropy",
                  metrics=["accuracy"])
    stopper = dc.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    t0 = time.perf_counter()
    hist = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                     callbacks=[stopper], verbose=verbose, device=device, seed=args.seed)
    return hist, time.perf_counter() - t0


def report_fit(hist, epochs, verbose):
    """Print a line per epoch when ``fit`` ran quietly; return (epochs run, best epoch index, why it stopped)."""
    h = hist.history
    ran = len(h["loss"])
    best = int(np.argmin(h["val_loss"]))
    if verbose == 0:
        for e in range(ran):
            print(f"  epoch {e + 1:2d}/{epochs}  loss {h['loss'][e]:.4f}  accuracy {h['accuracy'][e]:.4f}  "
                  f"val_loss {h['val_loss'][e]:.4f}  val_accuracy {h['val_accuracy'][e]:.4f}")
    stop = "early stopping" if ran < epochs else "the epoch limit"
    return ran, best, stop
