"""The CUDA-specific behaviour of deepcore: index checks that never sync, host copies refused, bfloat16
scatter, kernels launched on the arrays' device. Parametrised over ``device``; the parts that need
the launch counters skip on a real GPU."""
import numpy as np
import pytest

import deepcore as dc
import deepcore.nn.functional as F


def _counting():
    import cupy_emulation
    if not cupy_emulation.is_active():
        pytest.skip("launch counters exist only on the emulated CUDA device (--emulate-cuda)")
    return cupy_emulation.counting()


def _cuda_only(device):
    if device == "cpu":
        pytest.skip("device-side checks and transfers concern CUDA tensors only")


def test_bad_target_is_flagged_on_the_device_without_a_sync(device):
    _cuda_only(device)
    logits = dc.randn(4, 3, device=device, requires_grad=True)
    bad = dc.tensor([0, 2, 5, 1], device=device)
    with _counting() as c:
        loss = F.cross_entropy(logits, bad)
        loss.backward()
    assert c.syncs == 0 and c.copies == 0
    with pytest.raises(IndexError, match=r"cross_entropy: a target class was out of range for 3 classes"):
        dc.cuda.synchronize()
    dc.cuda.synchronize()  # reported once
    F.cross_entropy(logits, dc.tensor([0, 1, 2, 1], device=device)).item()  # good targets: no error


def test_bad_index_is_reported_at_the_next_item(device):
    _cuda_only(device)
    w = dc.randn(5, 2, device=device)
    out = F.embedding(dc.tensor([1, 7], device=device), w)
    with pytest.raises(IndexError, match="embedding: an index was out of range for num_embeddings=5"):
        out.sum().item()


def test_cpu_reports_the_first_bad_value_at_once():
    with pytest.raises(IndexError, match="target class 5 is out of range for 3 classes"):
        F.cross_entropy(dc.randn(4, 3), dc.tensor([0, 2, 5, 1]))


def test_fit_checks_class_labels_on_its_host_copy(device):
    model = dc.nn.Sequential(dc.nn.Linear(4, 3)).to(device)
    model.compile(optimizer="sgd", loss="cross_entropy")
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 7, 0])
    with pytest.raises(IndexError, match="target class 7 is out of range for 3 classes"):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)


def test_host_data_next_to_a_cuda_tensor_is_refused(device):
    _cuda_only(device)
    x = dc.ones(3, device=device)
    for host in (np.ones(3, np.float32), [1.0, 2.0, 3.0]):
        with pytest.raises(RuntimeError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
            x + host
    assert (x + 2.0).device == dc.device(device)  # Python scalars are fine


def test_bfloat16_embedding_gradient_accumulates(device):
    from ml_dtypes import bfloat16
    w = dc.tensor(np.zeros((4, 2)), dtype=dc.bfloat16, device=device, requires_grad=True)
    idx = dc.tensor([[1, 1], [1, 3]], device=device)
    F.embedding(idx, w).backward(dc.ones(2, 2, 2, dtype=dc.bfloat16, device=device))
    assert w.grad.dtype == bfloat16
    np.testing.assert_array_equal(w.grad.numpy().astype(np.float32), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_rnn_kernels_launch_inside_the_arrays_device(device, monkeypatch):
    _cuda_only(device)
    if not dc.backend.fastpath.enabled():
        pytest.skip("checks the CUDA step kernels, a fast path (--no-fast-paths is set)")
    from deepcore.backend import Device
    from deepcore.ops import rnn
    depth = [0]
    enter, leave = Device.__enter__, Device.__exit__
    monkeypatch.setattr(Device, "__enter__", lambda self: (depth.__setitem__(0, depth[0] + 1), enter(self))[1])
    monkeypatch.setattr(Device, "__exit__", lambda self, *e: (depth.__setitem__(0, depth[0] - 1), leave(self, *e))[1])
    real_get = rnn.get_kernel
    launched = []

    def spy(filename, name, dev):
        fn = real_get(filename, name, dev)
        return lambda *a, **k: (launched.append(depth[0]), fn(*a, **k))[1]

    monkeypatch.setattr(rnn, "get_kernel", spy)
    lstm = dc.nn.LSTM(3, 4, batch_first=True).to(device)
    lstm(dc.randn(2, 5, 3, device=device))[0].sum().backward()
    assert launched and all(d > 0 for d in launched)


def test_python_scalars_make_no_host_copy(device):
    _cuda_only(device)
    x = dc.ones(3, device=device, requires_grad=True)
    with _counting() as c:
        y = (x * 2.0 + 1 - 0.5) / 3
        y.sum().backward()
    assert c.copies == 0 and c.syncs == 0
    np.testing.assert_allclose(y.numpy(), np.full(3, 2.5 / 3), rtol=1e-6)
