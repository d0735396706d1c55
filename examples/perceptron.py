"""Will I pass the class? A one-neuron classifier (logistic regression) on two features.

Synthetic students (fixed seed) are described by hours studied and hours slept; whether they passed
follows a noisy linear rule. A single ``nn.Linear(2, 1)`` followed by a sigmoid is trained with binary
cross-entropy; the script prints the accuracy, the learned decision boundary as a line in the
(studied, slept) plane and a few predictions.

    python examples/perceptron.py
    python examples/perceptron.py --plot boundary.png
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device

import deepcore as dc  # importable from a source checkout once _common is imported
import deepcore.nn.functional as F
from deepcore import nn


def make_students(n, seed=0):
    """``(n, 2)`` float32 features (hours studied in [0, 10], hours slept in [3, 10]) and 0/1 labels.

    A student passes when ``studied + 0.8 * slept + noise > 10``: studying matters more than sleeping.
    """
    rng = np.random.default_rng(seed)
    studied = rng.uniform(0.0, 10.0, n)
    slept = rng.uniform(3.0, 10.0, n)
    score = studied + 0.8 * slept + rng.normal(0.0, 0.8, n)
    x = np.stack([studied, slept], axis=1).astype(np.float32)
    y = (score > 10.0).astype(np.float32)
    return x, y


def main(argv=None):
    p = base_parser(__doc__, "full-batch gradient steps (default: 300, smoke: 100)")
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--students", type=int, default=400)
    p.add_argument("--plot", metavar="PNG", help="save a scatter plot with the decision boundary")
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (100 if args.smoke else 300)

    x_np, y_np = make_students(args.students, seed=0)
    n_train = int(0.8 * len(x_np))
    # Standardise the features: gradient descent converges much faster on zero-mean, unit-variance inputs.
    mean, std = x_np[:n_train].mean(0), x_np[:n_train].std(0)

    def scale(a):
        return ((a - mean) / std).astype(np.float32)

    x_train = dc.tensor(scale(x_np[:n_train]), device=device)
    y_train = dc.tensor(y_np[:n_train, None], device=device)
    x_test = dc.tensor(scale(x_np[n_train:]), device=device)
    y_test = y_np[n_train:]

    dc.manual_seed(0)
    neuron = nn.Linear(2, 1).to(device)
    opt = dc.optim.SGD(neuron.parameters(), lr=args.lr)
    print(f"{n_train} students to learn from, {len(y_test)} to test on; {int(y_np.sum())} of {len(y_np)} passed")
    t0 = time.perf_counter()
    every = max(epochs // 5, 1)
    for epoch in range(1, epochs + 1):
        prob = neuron(x_train).sigmoid()
        loss = F.binary_cross_entropy(prob, y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch == 1 or epoch % every == 0:
            print(f"  epoch {epoch:4d}  BCE loss {loss.item():.4f}")
    seconds = time.perf_counter() - t0

    with dc.no_grad():
        train_acc = float(((neuron(x_train).numpy() > 0) == (y_np[:n_train, None] > 0.5)).mean())
        test_prob = neuron(x_test).sigmoid().numpy()[:, 0]
    test_acc = float(((test_prob > 0.5) == (y_test > 0.5)).mean())

    # Boundary w . (x - mean) / std + b = 0, written in hours: slept = slope * studied + intercept.
    w = neuron.weight.numpy()[0].astype(np.float64) / std
    b0 = float(neuron.bias.numpy()[0]) - float(np.dot(w, mean))
    slope, intercept = -w[0] / w[1], -b0 / w[1]
    print(f"train accuracy {train_acc:.1%}, test accuracy {test_acc:.1%}  ({seconds:.2f}s)")
    print(f"decision boundary: pass when {w[0]:.3f}*studied {w[1]:+.3f}*slept {b0:+.3f} > 0, "
          f"i.e. slept = {slope:.2f}*studied {intercept:+.2f}")
    print("  (the rule that generated the data: slept = -1.25*studied +12.50)")
    for studied, slept in ((2.0, 8.0), (6.0, 7.0), (9.0, 4.0)):
        with dc.no_grad():
            prob = neuron(dc.tensor(scale(np.array([[studied, slept]], np.float32)), device=device))
            prob = float(prob.sigmoid().item())
        print(f"  studied {studied:.0f}h, slept {slept:.0f}h -> {'pass' if prob > 0.5 else 'fail'} "
              f"(p = {prob:.2f})")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 5))
        passed = y_np > 0.5
        ax.scatter(x_np[passed, 0], x_np[passed, 1], s=12, c="tab:green", label="passed")
        ax.scatter(x_np[~passed, 0], x_np[~passed, 1], s=12, c="tab:red", marker="x", label="failed")
        xs = np.array([0.0, 10.0])
        ax.plot(xs, slope * xs + intercept, "k", label="learned boundary")
        ax.set(xlim=(0, 10), ylim=(3, 10), xlabel="hours studied", ylabel="hours slept",
               title=f"will I pass? (test accuracy {test_acc:.0%})")
        ax.legend(loc="lower left")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        plt.close(fig)
        print(f"saved the plot to {args.plot}")

    return {"train_accuracy": train_acc, "accuracy": test_acc, "slope": float(slope), "intercept": float(intercept),
            "final_loss": float(loss.item()), "seconds": seconds}


if __name__ == "__main__":
    main()
