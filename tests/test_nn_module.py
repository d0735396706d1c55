"""Module system: registration, names, state dicts, modes, placement, Sequential, repr."""
from collections import OrderedDict

import numpy as np
import pytest

import deepcore as dc
from deepcore import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
        self.scale = nn.Parameter(dc.ones(1))
        self.not_a_param = dc.ones(2)

    def forward(self, x):
        return self.head(self.bn(self.fc(x))) * self.scale


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias", "head.1.weight", "head.1.bias"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_children()] == ["fc", "bn", "head"]
    assert len(list(net.modules())) == 6
    assert list(net.state_dict()) == names[:5] + ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"] + names[5:]


def test_shared_parameter_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_state_dict_round_trip_and_forward_equal():
    a, b = Net(), Net()
    x = dc.randn(5, 4)
    a.eval(), b.eval()
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy())


def test_load_state_dict_wrong_shape_leaves_model_unchanged():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    sd = Net().state_dict()
    sd["head.1.weight"] = dc.zeros(5, 5)
    with pytest.raises(ValueError, match=r"'head.1.weight'.*\(5, 5\).*\(2, 3\)"):
        net.load_state_dict(sd)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_missing_and_unexpected_keys():
    net = Net()
    before = net.fc.weight.numpy().copy()
    sd = Net().state_dict()
    del sd["bn.running_var"]
    sd["extra"] = dc.zeros(1)
    with pytest.raises(KeyError, match="missing key.*'bn.running_var'.*unexpected key.*'extra'"):
        net.load_state_dict(sd)
    np.testing.assert_array_equal(net.fc.weight.numpy(), before)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["bn.running_var"] and result.unexpected_keys == ["extra"]


def test_load_state_dict_accepts_numpy_and_casts():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    assert lin.weight.dtype == dc.float32
    np.testing.assert_array_equal(lin.weight.numpy(), np.eye(2))


def test_train_eval_propagates():
    net = Net()
    net.eval()
    assert not net.training and not net.bn.training and not net.head[1].training
    net.train()
    assert all(m.training for m in net.modules())


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    w = net.fc.weight
    net.to(dtype=dc.float64)
    assert net.fc.weight is w and w.dtype == dc.float64 and net.bn.running_mean.dtype == dc.float64
    net.to(dc.float32)
    assert w.dtype == dc.float32


def test_zero_grad():
    lin = nn.Linear(3, 1)
    lin(dc.randn(2, 3)).backward(dc.ones(2, 1))
    assert lin.weight.grad is not None
    lin.zero_grad()
    assert lin.weight.grad is None


def test_repr_is_readable():
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    text = repr(model)
    assert "(0): Linear(in_features=784, out_features=128, bias=True)" in text
    assert "(2): Dropout(p=0.2)" in text


def test_sequential_forms():
    a = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    b = nn.Sequential([nn.Linear(2, 3), nn.ReLU()])
    c = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))
    d = nn.Sequential()
    d.add(nn.Linear(2, 3))
    assert len(a) == len(b) == len(c) == 2 and len(d) == 1
    assert isinstance(a[0], nn.Linear) and isinstance(a[-1], nn.ReLU) and len(a[0:1]) == 1
    assert [n for n, _ in c.named_parameters()] == ["fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential(lambda x: x)


def test_setattr_before_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_buffers_follow_state_dict():
    bn = nn.BatchNorm2d(3)
    assert set(dict(bn.named_buffers())) == {"running_mean", "running_var", "num_batches_tracked"}
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def test_save_and_load_weights(tmp_path):
    a, b = Net(), Net()
    path = tmp_path / "w.npz"
    a.save_weights(path)
    b.load_weights(path)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        b.load_weights(tmp_path / "missing.npz")
