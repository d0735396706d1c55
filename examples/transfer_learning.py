"""Transfer learning: reuse features learned on digits 0-4 to classify digits 5-9.

1. Train a small network (feature layers + a 5-way head) on the 8x8 digits 0-4 and save its weights.
2. Build a new network, load those weights, give it a fresh head for the digits 5-9 and freeze the
   feature layers (``requires_grad_(False)``; the optimizer only sees the head's parameters).
3. Fine-tune the head on a small set of 5-9 images; report the accuracy before and after, and check
   that the frozen weights did not move.

Uses scikit-learn's bundled 8x8 digits (``dc.datasets.load_digits``), so it runs in seconds.

    python examples/transfer_learning.py
    python examples/transfer_learning.py --weights digits04.npz
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device

import deepcore as dc  # importable from a source checkout once _common is imported
import deepcore.nn.functional as F
from deepcore import nn


class DigitNet(nn.Module):
    """``features`` (64 -> 256, ReLU) and a linear ``head`` from those 256 features to ``classes`` logits."""

    def __init__(self, classes=5, hidden=256):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(64, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.features(x))


def split_digits(x, y, digits, n_train, rng):
    """Images of ``digits`` relabelled 0..len(digits)-1, split into ``n_train`` training and the rest test."""
    keep = np.isin(y, digits)
    xs, ys = x[keep].reshape(-1, 64), np.searchsorted(digits, y[keep])
    perm = rng.permutation(len(xs))
    tr, te = perm[:n_train], perm[n_train:]
    return xs[tr], ys[tr], xs[te], ys[te]


def train(model, params, x, y, epochs, device, lr=1e-2, batch_size=32):
    """A PyTorch-style loop over mini-batches; only ``params`` are updated."""
    opt = dc.optim.Adam(params, lr=lr)
    loader = dc.data.DataLoader(dc.data.TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return loss.item()


def accuracy(model, x, y, device):
    model.eval()
    with dc.no_grad():
        pred = model(dc.tensor(x, device=device)).numpy().argmax(axis=1)
    return float((pred == y).mean())


def main(argv=None):
    p = base_parser(__doc__, "epochs of each phase (default: 30, smoke: 5)")
    p.add_argument("--finetune-samples", type=int, default=100,
                   help="labelled images of digits 5-9 used for fine-tuning (default: 100)")
    p.add_argument("--weights", metavar="NPZ", help="where to save the 0-4 weights (default: a temp file)")
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (5 if args.smoke else 30)

    x, y = dc.datasets.load_digits()
    rng = np.random.default_rng(0)
    xa, ya, xa_test, ya_test = split_digits(x, y, np.arange(5), 600, rng)
    xb, yb, xb_test, yb_test = split_digits(x, y, np.arange(5, 10), args.finetune_samples, rng)
    print(f"phase 1: {len(xa)} images of digits 0-4; phase 2: {len(xb)} images of digits 5-9 "
          f"({len(xb_test)} held out); device {device}")

    t0 = time.perf_counter()
    dc.manual_seed(0)
    source = DigitNet().to(device)
    train(source, source.parameters(), xa, ya, epochs, device)
    source_acc = accuracy(source, xa_test, ya_test, device)
    print(f"[1] trained on digits 0-4: test accuracy {source_acc:.1%}")

    tmpdir = None
    path = args.weights
    if path is None:
        tmpdir = tempfile.TemporaryDirectory()
        path = os.path.join(tmpdir.name, "digits04.npz")
    if hasattr(source, "save_weights"):
        source.save_weights(path)
    else:
        dc.save(source.state_dict(), path)
    print(f"    saved its weights to {path}")

    model = DigitNet().to(device)
    if hasattr(model, "load_weights"):
        model.load_weights(path)
    else:
        model.load_state_dict(dc.load(path))
    if tmpdir is not None:
        tmpdir.cleanup()
    model.head = nn.Linear(model.head.in_features, 5).to(device)        # a fresh head for the new classes 5-9
    model.features.requires_grad_(False)            # freeze the transferred feature layers
    frozen_before = {k: v.numpy().copy() for k, v in model.features.state_dict().items()}
    trainable = [prm for prm in model.parameters() if prm.requires_grad]
    n_frozen = sum(prm.size for prm in model.features.parameters())
    n_train = sum(prm.size for prm in trainable)
    print(f"[2] loaded them into a new network, froze {n_frozen} feature weights, {n_train} head weights "
          "left to train")

    before = accuracy(model, xb_test, yb_test, device)
    print(f"    digits 5-9 before fine-tuning (random head): {before:.1%}")
    train(model, model.head.parameters(), xb, yb, epochs * 2, device)
    after = accuracy(model, xb_test, yb_test, device)
    changed = max(float(np.abs(v.numpy() - frozen_before[k]).max())
                  for k, v in model.features.state_dict().items())
    print(f"[3] digits 5-9 after fine-tuning only the head on {len(xb)} images: {after:.1%}")
    print(f"    largest change of a frozen weight: {changed:g} "
          f"({'unchanged' if changed == 0 else 'CHANGED'})")

    # For comparison: the same small data with nothing transferred (every layer trained from scratch).
    dc.manual_seed(1)
    scratch = DigitNet().to(device)
    train(scratch, scratch.parameters(), xb, yb, epochs * 2, device)
    scratch_acc = accuracy(scratch, xb_test, yb_test, device)
    seconds = time.perf_counter() - t0
    print(f"    for comparison, the whole network trained from scratch on those {len(xb)} images: "
          f"{scratch_acc:.1%}  ({seconds:.1f}s in all)")
    print("    (the frozen features were shaped for 0-4 only; transfer pays off most when the first task is "
          "large and close to the second)")
    return {"source_accuracy": source_acc, "before": before, "after": after, "scratch_accuracy": scratch_acc,
            "frozen_max_change": changed, "trainable_params": n_train, "frozen_params": n_frozen,
            "seconds": seconds}


if __name__ == "__main__":
    main()
