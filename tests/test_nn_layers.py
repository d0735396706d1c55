"""Layers: PyTorch-compatible outputs for ported weights, gradients (input and parameters), shape errors,
and a small convnet that learns."""
import types

import numpy as np
import pytest

import deepcore as dc
from deepcore import nn
from harness import check_layer_grads

rng = np.random.default_rng(0)


def _port(torch_module, module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


LAYERS = [  # (deepcore layer, torch factory, input shape)
    (lambda: nn.Linear(4, 3), lambda t: t.nn.Linear(4, 3), (2, 4)),
    (lambda: nn.Linear(4, 3, bias=False), lambda t: t.nn.Linear(4, 3, bias=False), (2, 5, 4)),
    (lambda: nn.Conv2d(2, 4, 3, padding=1), lambda t: t.nn.Conv2d(2, 4, 3, padding=1), (2, 2, 5, 5)),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, dilation=1, groups=2), lambda t: t.nn.Conv2d(4, 4, 3, stride=2, groups=2),
     (1, 4, 6, 6)),
    (lambda: nn.MaxPool2d(2), lambda t: t.nn.MaxPool2d(2), (2, 2, 4, 4)),
    (lambda: nn.AvgPool2d(3, 1, 1), lambda t: t.nn.AvgPool2d(3, 1, 1), (1, 2, 4, 4)),
    (lambda: nn.AdaptiveAvgPool2d(2), lambda t: t.nn.AdaptiveAvgPool2d(2), (1, 2, 5, 5)),
    (lambda: nn.BatchNorm1d(3), lambda t: t.nn.BatchNorm1d(3), (6, 3)),
    (lambda: nn.BatchNorm2d(2), lambda t: t.nn.BatchNorm2d(2), (3, 2, 2, 2)),
    (lambda: nn.LayerNorm(4), lambda t: t.nn.LayerNorm(4), (3, 4)),
    (lambda: nn.LayerNorm((2, 3)), lambda t: t.nn.LayerNorm((2, 3)), (2, 2, 3)),
    (lambda: nn.PReLU(), lambda t: t.nn.PReLU(), (3, 4)),
    (lambda: nn.PReLU(3), lambda t: t.nn.PReLU(3), (2, 3, 2)),
    (lambda: nn.LeakyReLU(0.1), lambda t: t.nn.LeakyReLU(0.1), (3, 4)),
    (lambda: nn.ELU(0.5), lambda t: t.nn.ELU(0.5), (3, 4)),
    (lambda: nn.Softplus(), lambda t: t.nn.Softplus(), (3, 4)),
    (lambda: nn.Softsign(), lambda t: t.nn.Softsign(), (3, 4)),
    (lambda: nn.Hardtanh(-0.5, 0.5), lambda t: t.nn.Hardtanh(-0.5, 0.5), (3, 4)),
    (lambda: nn.Sigmoid(), lambda t: t.nn.Sigmoid(), (3, 4)),
    (lambda: nn.Tanh(), lambda t: t.nn.Tanh(), (3, 4)),
    (lambda: nn.ReLU(), lambda t: t.nn.ReLU(), (3, 4)),
    (lambda: nn.GELU(), lambda t: t.nn.GELU(), (3, 4)),
    (lambda: nn.GELU("tanh"), lambda t: t.nn.GELU("tanh"), (3, 4)),
    (lambda: nn.Sequential(nn.Linear(4, 5), nn.GELU(), nn.Linear(5, 3), nn.Sigmoid()),
     lambda t: t.nn.Sequential(t.nn.Linear(4, 5), t.nn.GELU(), t.nn.Linear(5, 3), t.nn.Sigmoid()), (2, 4)),
    (lambda: nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Conv2d(3, 2, 1), nn.ReLU()),
     lambda t: t.nn.Sequential(t.nn.Conv2d(2, 3, 3), t.nn.Tanh(), t.nn.Conv2d(3, 2, 1), t.nn.ReLU()), (2, 2, 5, 4)),
    (lambda: nn.Softmax(axis=1), lambda t: t.nn.Softmax(dim=1), (3, 4)),
    (lambda: nn.LogSoftmax(axis=-1), lambda t: t.nn.LogSoftmax(dim=-1), (3, 4)),
    (lambda: nn.Flatten(), lambda t: t.nn.Flatten(), (2, 3, 4)),
    (lambda: nn.Identity(), lambda t: t.nn.Identity(), (2, 3)),
]
IDS = [type(f()).__name__ + str(i) for i, (f, _, _) in enumerate(LAYERS)]


def _input(shape):
    x = rng.standard_normal(shape)
    # keep kinks (relu, hardtanh) away from the FD step, and no ties (a max-pool window's gradient)
    return np.where(np.abs(x) < 0.05, 0.1 + 0.1 * rng.random(shape), x)


@pytest.mark.parametrize("make,make_torch,shape", LAYERS, ids=IDS)
def test_layer_matches_torch(make, make_torch, shape, device):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = make_torch(torch).double()
    m = make().to(device=device, dtype=dc.float64)
    _port(tm, m)
    x = _input(shape)
    for training in (True, False):
        tm.train(training), m.train(training)
        expect = tm(torch.from_numpy(x)).detach().numpy()
        got = m(dc.tensor(x, device=device)).numpy()
        np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-8)
    for k, v in tm.state_dict().items():  # running statistics updated identically
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make,make_torch,shape", LAYERS, ids=IDS)
def test_layer_gradients(make, make_torch, shape, device):
    m = make().to(device=device)
    check_layer_grads(m, dc.tensor(_input(shape), device=device))


def test_default_init_matches_pytorch_bounds():
    lin = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    w = lin.weight.numpy()
    assert w.shape == (50, 100) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    conv = nn.Conv2d(3, 8, 3)
    assert conv.weight.shape == (8, 3, 3, 3) and np.abs(conv.weight.numpy()).max() <= 1 / np.sqrt(27)
    emb = nn.Embedding(1000, 8)
    assert abs(emb.weight.numpy().std() - 1) < 0.05


def test_lazy_linear_infers_in_features():
    lin = nn.Linear(None, 3)
    assert lin.weight is None
    y = lin(dc.randn(2, 7))
    assert y.shape == (2, 3) and lin.weight.shape == (3, 7) and lin.in_features == 7
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight"] or \
        {n for n, _ in lin.named_parameters()} == {"weight", "bias"}


def test_shape_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"Linear: expected input with last dimension 4, got shape \(2, 5\)"):
        nn.Linear(4, 3)(dc.randn(2, 5))
    with pytest.raises(ValueError, match=r"Conv2d: expected input of shape \(N, 3, H, W\).*got \(2, 4, 5, 5\)"):
        nn.Conv2d(3, 2, 3)(dc.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, 3, H, W\)"):
        nn.BatchNorm2d(3)(dc.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"LayerNorm: expected input ending in \(4,\)"):
        nn.LayerNorm(4)(dc.randn(2, 3))
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


def test_dropout_layer_train_and_eval():
    d = nn.Dropout(0.5)
    x = dc.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())


def test_embedding_layer(device):
    emb = nn.Embedding(10, 3, padding_idx=0).to(device)
    idx = dc.tensor([[1, 2, 1], [0, 4, 9]], device=device)
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.numpy()[0, 0], emb.weight.numpy()[1])
    out.backward(dc.ones(2, 3, 3, device=device))
    g = emb.weight.grad.numpy()
    assert g[1].tolist() == [2, 2, 2] and g[0].tolist() == [0, 0, 0] and g[3].tolist() == [0, 0, 0]


def test_l1_l2_penalties():
    lin = nn.Linear(2, 2)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert nn.l2_penalty(lin.parameters()).item() == pytest.approx((w ** 2).sum() + (b ** 2).sum(), rel=1e-5)
    l1 = nn.l1_penalty(lin.parameters(), weight=0.5)
    assert l1.item() == pytest.approx(0.5 * (np.abs(w).sum() + np.abs(b).sum()), rel=1e-5)
    l1.backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), 0.5 * np.sign(w))


def test_mnist_convnet_learns_on_synthetic_data(device):
    """The benchmark's MNIST convnet (narrowed) learns a synthetic 28x28 task: its loss falls."""
    dc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Dropout(0.25), nn.Flatten(), nn.Linear(16 * 12 * 12, 32), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(32, 10)).to(device)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    for k in range(10):  # plant a class-dependent pattern
        x[y == k, 0, 2 * k:2 * k + 4, 4:24] += 2.0
    xt, yt = dc.tensor(x, device=device), dc.tensor(y, device=device)
    opt = dc.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for step in range(25):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


# --- Sequential fuses Linear/Conv2d + activation: same numbers, same gradients, same state_dict ---------------
def _fusion_model():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, stride=2), nn.Tanh(),
                         nn.Flatten(), nn.Linear(12, 8), nn.GELU(), nn.Linear(8, 6), nn.GELU("tanh"),
                         nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))


def _one_by_one(model, x):
    for layer in model:
        x = layer(x)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_fusion_matches_the_layers_one_by_one(dtype, device):
    dc.manual_seed(3)
    model = _fusion_model().to(device=device, dtype=dtype)
    xa = rng.standard_normal((3, 2, 5, 5)).astype(dtype)
    g = rng.standard_normal((3, 3)).astype(dtype)
    results = []
    for run in (model, lambda x: _one_by_one(model, x)):
        model.zero_grad()
        x = dc.tensor(xa, device=device, requires_grad=True)
        y = run(x)
        y.backward(dc.tensor(g, device=device))
        results.append([y.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()])
    for a, b in zip(*results):
        if device == "cpu":
            np.testing.assert_array_equal(a, b)            # the same NumPy operations in the same order
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    names = [n for n, _ in model.named_parameters()]
    assert list(model.state_dict()) == names == [f"{i}.{k}" for i in (0, 2, 5, 7, 9, 11, 13)
                                                 for k in ("weight", "bias")]


def test_sequential_fuses_exactly_the_pairs_it_knows():
    class MyReLU(nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2.0

    x = dc.randn(2, 4, requires_grad=True)
    fused = nn.Sequential(nn.Linear(4, 3), nn.ReLU())(x)
    assert type(fused._grad_fn).__name__ == "Linear" and fused._grad_fn.activation == "relu"
    plain = nn.Sequential(nn.Linear(4, 3), MyReLU())            # a subclass may change forward: not fused
    y = plain(x)
    assert type(y._grad_fn).__name__ == "Mul"
    np.testing.assert_allclose(y.numpy(), np.maximum(_one_by_one(plain, x).numpy(), 0))
    gelu = nn.Sequential(nn.Conv2d(1, 2, 1), nn.GELU("tanh"))(dc.randn(1, 1, 2, 2, requires_grad=True))
    assert gelu._grad_fn.activation == "gelu_tanh"
    last = nn.Sequential(nn.ReLU(), nn.Linear(4, 3))(x)          # an activation before the layer: nothing fused
    assert last._grad_fn.activation is None


def test_sequential_mlp_step_launches_on_the_device(device):
    """Linear+ReLU pairs: a GEMM and one bias+activation kernel each way, whatever the batch."""
    import sys
    from deepcore.backend import fastpath
    emulation = sys.modules.get("cupy_emulation")
    if device == "cpu" or emulation is None or not emulation.is_active() or not fastpath.enabled():
        pytest.skip("launch counts of the fast paths exist on the emulated CUDA device only")
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).to(device)
    x, y = dc.randn(7, 6, device=device), dc.randint(0, 3, (7,), device=device)
    dc.nn.functional.cross_entropy(model(x), y).backward()       # warm-up: the loss's persistent flag, ticket
    with emulation.counting() as fwd:
        out = model(x)
    with emulation.counting() as loss_c:
        loss = dc.nn.functional.cross_entropy(out, y)
    with emulation.counting() as bwd:
        loss.backward()
    assert fwd.by_name == {"matmul": 3, "bias_act_fwd_f32": 3}, fwd.by_name
    assert loss_c.by_name == {"ce_fwd_f32_i64": 1}, loss_c.by_name
    # one backward of the loss, 2 fused bias+activation backwards, the last bias gradient, 5 GEMMs;
    # autograd adds its initial gradient and its copies into the parameters' gradient buffers
    assert bwd.by_name["ce_bwd_f32_i64"] == 1 and bwd.by_name["bias_act_bwd_f32"] == 2
    assert bwd.by_name["matmul"] == 5 and bwd.by_name["sum"] == 1
    assert (fwd.syncs + loss_c.syncs + bwd.syncs, fwd.copies + loss_c.copies + bwd.copies) == (0, 0)


# --- loss modules (torch.nn's names and arguments) ------------------------------------------------------------
def _loss_cases(rng):
    """``(cases, w)``: each case is (deepcore module, torch module factory, input, target); ``w`` the class
    weights the factories get as ``T.w`` (a float64 torch tensor)."""
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p, q = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    y = np.array([0, 2, 1, 2])
    w = rng.uniform(0.5, 2, 3)
    lp = np.log(rng.dirichlet(np.ones(3), 4))
    return [
        (nn.MSELoss(), lambda T: T.MSELoss(), x, t),
        (nn.L1Loss(reduction="sum"), lambda T: T.L1Loss(reduction="sum"), x, t),
        (nn.SmoothL1Loss(beta=0.5), lambda T: T.SmoothL1Loss(beta=0.5), x, t),
        (nn.HuberLoss(delta=0.7, reduction="none"), lambda T: T.HuberLoss(delta=0.7, reduction="none"), x, t),
        (nn.KLDivLoss(reduction="batchmean"), lambda T: T.KLDivLoss(reduction="batchmean"), lp, np.exp(lp[::-1])),
        (nn.BCELoss(weight=w), lambda T: T.BCELoss(weight=T.w), p, q),
        (nn.BCEWithLogitsLoss(pos_weight=w), lambda T: T.BCEWithLogitsLoss(pos_weight=T.w), x, q),
        (nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1),
         lambda T: T.CrossEntropyLoss(weight=T.w, ignore_index=1, label_smoothing=0.1), x, y),
        (nn.NLLLoss(weight=w, reduction="sum"), lambda T: T.NLLLoss(weight=T.w, reduction="sum"), lp, y),
    ], w


@pytest.mark.parametrize("k", range(9))
def test_loss_modules_match_torch(k, device):
    torch = pytest.importorskip("torch")
    cases, w = _loss_cases(np.random.default_rng(3))
    module, make_torch, x, t = cases[k]
    tm = make_torch(types.SimpleNamespace(**vars(torch.nn), w=torch.tensor(w)))
    module = module.to(device=device, dtype=dc.float64)
    dx = dc.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    got, want = module(dx, dc.tensor(t, device=device)), tm(tx, torch.tensor(t))
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-7, atol=1e-9)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-7, atol=1e-9)
    assert list(module.state_dict()) == list(tm.state_dict())        # class weights are buffers, as in torch


def test_loss_modules_check_their_arguments():
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        nn.NLLLoss(ignore_index=0.5)
    with pytest.raises(TypeError):                    # torch's positional slots there are size_average/reduce
        nn.CrossEntropyLoss(None, None, 1)
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    loss = nn.CrossEntropyLoss()
    assert loss(dc.zeros(2, 3), dc.tensor([0, 2])).item() == pytest.approx(np.log(3))


# --- ModuleList and ModuleDict ---------------------------------------------------------------------------------
def test_module_list_registers_and_behaves_like_a_list():
    ml = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
    ml.append(nn.Linear(3, 4))
    ml.extend([nn.Tanh(), nn.Linear(4, 1)])
    assert len(ml) == 5 and isinstance(ml[-1], nn.Linear) and isinstance(ml[1], nn.ReLU)
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight",
                                                    "4.bias"]
    ml.insert(0, nn.Linear(2, 2))
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert isinstance(ml[1], nn.Linear) and ml[1].out_features == 3
    sub = ml[1:3]
    assert isinstance(sub, nn.ModuleList) and len(sub) == 2 and sub[0] is ml[1]
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3", "4"]
    popped = ml.pop()
    assert isinstance(popped, nn.Linear) and len(ml) == 4
    ml[1] = nn.Sigmoid()
    assert isinstance(ml[1], nn.Sigmoid)
    ml += [nn.Identity()]
    assert len(ml) == 5 and [type(m).__name__ for m in ml][-1] == "Identity"
    with pytest.raises(IndexError, match="out of range"):
        ml[9]
    with pytest.raises(TypeError, match="must be a Module"):
        ml.append(3)
    with pytest.raises(TypeError, match="item 1 must be a Module"):
        ml.extend([nn.ReLU(), "relu"])
    assert len(ml) == 5                                    # nothing appended from the refused list


def test_module_list_in_a_model_trains_and_round_trips_state():
    torch = pytest.importorskip("torch")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)])

    tnet, net = TNet(), Net()
    assert list(net.state_dict()) == list(tnet.state_dict())
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    x = rng.standard_normal((5, 3)).astype(np.float32)
    expect = tnet.layers[1](tnet.layers[0](torch.from_numpy(x))).detach().numpy()
    np.testing.assert_allclose(net(dc.tensor(x)).numpy(), expect, rtol=1e-5, atol=1e-6)
    assert len(list(net.parameters())) == 4


def test_module_dict_registers_and_behaves_like_a_dict():
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    md["dec"] = nn.Linear(3, 2)
    md.update([("norm", nn.LayerNorm(3))])
    md.update({"drop": nn.Dropout(0.1)})
    assert list(md.keys()) == ["enc", "act", "dec", "norm", "drop"] == list(md)
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias",
                                                    "norm.weight", "norm.bias"]
    assert "enc" in md and len(md) == 5 and md["act"] is dict(md.items())["act"]
    assert isinstance(md.pop("drop"), nn.Dropout) and "drop" not in md
    del md["act"]
    assert list(md) == ["enc", "dec", "norm"] and [type(m).__name__ for m in md.values()] == ["Linear", "Linear",
                                                                                           "LayerNorm"]
    with pytest.raises(KeyError):
        md["missing"]
    with pytest.raises(TypeError, match="keys must be strings"):
        md[3] = nn.ReLU()
    with pytest.raises(KeyError, match="without '.'"):
        md["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match="already an attribute"):
        md["keys"] = nn.ReLU()
    with pytest.raises(TypeError, match="must be a Module"):
        md.update({"x": nn.ReLU(), "y": 5})
    assert "x" not in md                                   # nothing added from the refused update
    md.clear()
    assert len(md) == 0 and list(md.parameters()) == []
