"""float32 stays float32 through a whole training step: outputs, loss, gradients, optimizer state."""
import numpy as np
import pytest

import deepcore as dc
from deepcore.bench.workloads import WORKLOADS, build_deepcore
from deepcore.nn import functional as F


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_training_step_keeps_float32(name, device):
    w = WORKLOADS[name]
    model = build_deepcore(name).to(device)
    x = dc.randn(4, *w.input_shape, device=device)
    y = dc.randint(0, 10, (4,), device=device)
    opt = dc.optim.Adam(model.parameters(), lr=1e-3)
    out = model(x)
    loss = F.cross_entropy(out, y)
    assert out.dtype == dc.float32 and loss.dtype == dc.float32
    loss.backward()
    opt.step()
    for p in model.parameters():
        assert p.dtype == dc.float32 and p.grad.dtype == dc.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))
