"""Fit a line y = m*x + b to noisy points by gradient descent, the PyTorch way, with deepcore tensors.

Two scalar tensors ``m`` and ``b`` require gradients; each epoch computes the mean squared error,
calls ``backward()`` and takes a step ``p -= lr * p.grad`` inside ``dc.no_grad()`` (or, with
``--optimizer sgd``, lets ``dc.optim.SGD`` do the same update).

    python examples/linear_regression.py                  # prints the loss curve and the learned m, b
    python examples/linear_regression.py --plot fit.png   # also saves the data, the fit and the loss curve
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device

import deepcore as dc  # importable from a source checkout once _common is imported

TRUE_M, TRUE_B = 2.5, -1.0


def make_data(n, noise=0.3, seed=0):
    """``n`` points on y = 2.5 x - 1 with Gaussian noise, x uniform in [-2, 2]; float32 arrays."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=n).astype(np.float32)
    y = (TRUE_M * x + TRUE_B + noise * rng.standard_normal(n)).astype(np.float32)
    return x, y


def main(argv=None):
    p = base_parser(__doc__, "gradient steps (default: 100)",
                    "fast run for tests (this example is always fast)", epochs_default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--optimizer", choices=["manual", "sgd"], default="manual",
                   help="manual update under dc.no_grad() (default) or dc.optim.SGD")
    p.add_argument("--plot", metavar="PNG", help="save a figure of the fit and the loss curve")
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs

    x_np, y_np = make_data(args.points)
    x = dc.tensor(x_np, device=device)
    y = dc.tensor(y_np, device=device)
    dc.manual_seed(0)
    m = dc.zeros((), device=device, requires_grad=True)     # start from the flat line y = 0
    b = dc.zeros((), device=device, requires_grad=True)
    opt = dc.optim.SGD([m, b], lr=args.lr) if args.optimizer == "sgd" else None

    print(f"fitting y = m*x + b to {args.points} noisy points (true m = {TRUE_M}, b = {TRUE_B}), "
          f"{epochs} steps of gradient descent, lr {args.lr}, device {device}")
    losses = []
    every = max(epochs // 10, 1)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        pred = m * x + b
        loss = ((pred - y) ** 2).mean()
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            m.grad = None
            b.grad = None
            loss.backward()
            with dc.no_grad():              # the update itself must not be recorded in the graph
                m -= args.lr * m.grad
                b -= args.lr * b.grad
        losses.append(loss.item())
        if epoch == 1 or epoch % every == 0 or epoch == epochs:
            print(f"  epoch {epoch:4d}  loss {losses[-1]:.5f}  m {m.item():+.4f}  b {b.item():+.4f}")
    seconds = time.perf_counter() - t0

    # Closed-form least squares, for reference: what gradient descent should converge to.
    A = np.stack([x_np, np.ones_like(x_np)], axis=1).astype(np.float64)
    ls_m, ls_b = np.linalg.lstsq(A, y_np.astype(np.float64), rcond=None)[0]
    m_val, b_val = m.item(), b.item()
    print(f"learned  m = {m_val:+.4f}, b = {b_val:+.4f}")
    print(f"true     m = {TRUE_M:+.4f}, b = {TRUE_B:+.4f}")
    print(f"least squares (closed form) m = {ls_m:+.4f}, b = {ls_b:+.4f}; final loss {losses[-1]:.5f} "
          f"({seconds:.2f}s)")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
        ax0.scatter(x_np, y_np, s=8, alpha=0.5, label="data")
        xs = np.array([-2.0, 2.0])
        ax0.plot(xs, TRUE_M * xs + TRUE_B, "k--", label=f"true: {TRUE_M}x{TRUE_B:+}")
        ax0.plot(xs, m_val * xs + b_val, "r", label=f"fit: {m_val:.2f}x{b_val:+.2f}")
        ax0.set(xlabel="x", ylabel="y", title="linear regression")
        ax0.legend()
        ax1.plot(range(1, len(losses) + 1), losses)
        ax1.set(xlabel="epoch", ylabel="MSE", yscale="log", title="loss")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        plt.close(fig)
        print(f"saved the plot to {args.plot}")

    return {"m": m_val, "b": b_val, "true_m": TRUE_M, "true_b": TRUE_B, "lstsq_m": float(ls_m),
            "lstsq_b": float(ls_b), "losses": losses, "final_loss": losses[-1], "seconds": seconds}


if __name__ == "__main__":
    main()
