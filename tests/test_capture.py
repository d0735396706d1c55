"""Whole-step CUDA graph capture (``dc.cuda.graphed``, ``fit(capture=True)``, ``deepcore-bench --capture``).

Replays must equal eager steps bit for bit. On the CPU there is nothing to capture: the cuda-parametrised
tests skip there, and ``graphed`` passes calls through (tested below on both devices). Launch and pool
counts exist only on the emulated CUDA device (``--emulate-cuda``); on a real GPU those checks are skipped.
"""
import sys

import numpy as np
import pytest

import deepcore as dc
from deepcore import capture as capture_mod

F = dc.nn.functional
N_STEPS = 20


def _cuda_only(device):
    if device != "cuda":
        pytest.skip("CUDA graph capture needs a CUDA device; on the CPU graphed() runs fn unchanged "
                    "(test_cpu_tensors_run_eagerly, test_without_cuda_calls_pass_through)")


def _emulation():
    """The active cupy_emulation module (pytest --emulate-cuda), else None (real GPU)."""
    emu = sys.modules.get("cupy_emulation")
    if emu is None or not emu.is_active() or dc.backend.cupy_module() is not sys.modules.get("cupy"):
        return None
    return emu


def _batches(n, batch=5, d_in=8, classes=4, seed=1, device="cuda"):
    rng = np.random.default_rng(seed)
    xs = [dc.tensor(rng.standard_normal((batch, d_in)).astype(np.float32), device=device) for _ in range(n)]
    ys = [dc.tensor(rng.integers(0, classes, batch), device=device) for _ in range(n)]
    return list(zip(xs, ys))


class Setup:
    """A small MLP with dropout, its optimizer and scheduler, and one training step ``step(x, y)``."""

    def __init__(self, opt="sgd", scheduler=False, dropout=0.3, device="cuda", seed=0):
        dc.manual_seed(seed)
        layers = [dc.nn.Linear(8, 16), dc.nn.ReLU()]
        if dropout:
            layers.append(dc.nn.Dropout(dropout))
        layers.append(dc.nn.Linear(16, 4))
        self.model = dc.nn.Sequential(*layers).to(device)
        params = list(self.model.parameters())
        self.opt = (dc.optim.SGD(params, lr=0.1, momentum=0.9) if opt == "sgd"
                    else dc.optim.Adam(params, lr=0.01))
        self.sched = dc.optim.lr_scheduler.StepLR(self.opt, step_size=3, gamma=0.5) if scheduler else None

    def step(self, x, y):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def train(self, step, batches):
        """Run ``step`` on every batch (a scheduler step after each); the losses as host arrays."""
        losses = []
        for x, y in batches:
            losses.append(step(x, y).numpy().copy())
            if self.sched is not None:
                self.sched.step()
        return np.array(losses)

    def state(self):
        """Parameters and every optimizer state entry, as host values."""
        params = {k: v.numpy().copy() for k, v in self.model.state_dict().items()}
        opt = self.opt.state_dict()["state"]
        return params, {(i, k): _host(v) for i, s in opt.items() for k, v in s.items()}


def _host(v):
    if isinstance(v, dc.Tensor):
        return v.numpy()
    return v.get() if hasattr(v, "get") else np.asarray(v)


def _assert_same_state(a, b):
    (pa, oa), (pb, ob) = a.state(), b.state()
    assert pa.keys() == pb.keys() and oa.keys() == ob.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=f"parameter {k}")
    for k in oa:
        np.testing.assert_array_equal(np.asarray(oa[k]), np.asarray(ob[k]), err_msg=f"optimizer state {k}")


# --- replay equals eager ------------------------------------------------------------------------------
def test_sgd_momentum_replay_is_bit_identical_to_eager(device):
    _cuda_only(device)
    batches = _batches(N_STEPS)
    eager = Setup("sgd")
    eager_losses = eager.train(eager.step, batches)

    cap = Setup("sgd")
    g = dc.cuda.graphed(cap.step)
    losses = cap.train(g, batches)

    info = g.cache_info()
    assert (info.warmups, info.captures, info.replays, info.eager_calls) == (1, 1, N_STEPS - 2, 0)
    np.testing.assert_array_equal(losses, eager_losses)
    _assert_same_state(cap, eager)
    assert all("momentum_buffer" in s for s in cap.opt.state.values())


def test_adam_steplr_dropout_replay_is_bit_identical_to_eager(device):
    _cuda_only(device)
    batches = _batches(N_STEPS, seed=2)
    eager = Setup("adam", scheduler=True, dropout=0.5)
    eager_losses = eager.train(eager.step, batches)

    cap = Setup("adam", scheduler=True, dropout=0.5)
    g = dc.cuda.graphed(cap.step)
    losses = cap.train(g, batches)

    assert g.cache_info().replays == N_STEPS - 2
    np.testing.assert_array_equal(losses, eager_losses)
    _assert_same_state(cap, eager)


def test_replay_outputs_are_the_same_tensors_and_python_runs_at_warmup_and_capture_only(device):
    _cuda_only(device)
    s = Setup("sgd", dropout=0)
    calls = []

    def step(x, y):
        calls.append(1)  # a Python side effect
        return s.step(x, y)

    g = dc.cuda.graphed(step)
    batches = _batches(5)
    outs = [g(x, y) for x, y in batches]
    assert len(calls) == 2  # warm-up and capture
    assert outs[1] is outs[2] is outs[3] is outs[4]  # the captured (static) output tensor
    assert outs[0] is not outs[1] and outs[4].grad_fn is None


def test_new_shape_captures_again_and_old_graphs_are_kept_up_to_the_cache_size(device):
    _cuda_only(device)
    small, big = _batches(8, batch=3, seed=3), _batches(8, batch=5, seed=4)
    order = small[:3] + big[:3] + small[3:5] + big[3:] + small[5:]

    eager = Setup("sgd")
    eager_losses = [eager.step(x, y).numpy().copy() for x, y in order]
    cap = Setup("sgd")
    g = dc.cuda.graphed(cap.step)
    losses = [g(x, y).numpy().copy() for x, y in order]

    info = g.cache_info()
    assert (info.warmups, info.captures, info.currsize) == (2, 2, 2)
    assert info.replays == len(order) - 4
    assert g.graph_for(*small[0]) is not None and g.graph_for(*big[0]) is not g.graph_for(*small[0])
    for a, b in zip(losses, eager_losses):
        np.testing.assert_array_equal(a, b)
    _assert_same_state(cap, eager)

    # a cache of one signature: alternating shapes evict each other (warm up and capture again), still exact
    eager1 = Setup("sgd", seed=5)
    eager_losses = [eager1.step(x, y).numpy().copy() for x, y in order]
    cap1 = Setup("sgd", seed=5)  # (seeds the device generator again: the same dropout masks)
    g1 = dc.cuda.graphed(cap1.step, cache_size=1)
    for (x, y), expect in zip(order, eager_losses):
        np.testing.assert_array_equal(g1(x, y).numpy(), expect)
    assert g1.cache_info().currsize == 1 and g1.cache_info().warmups == 5
    _assert_same_state(cap1, eager1)


def test_non_tensor_arguments_are_part_of_the_key(device):
    _cuda_only(device)
    w = dc.ones(4, device=device)

    def scaled_update(x, scale, *, shift=0.0):
        w.data *= scale  # in-place updates of captured state; Python scalars are kernel arguments
        w.data += x.data + shift
        return w + w

    g = dc.cuda.graphed(scaled_update)
    x = dc.full((4,), 0.5, device=device)
    expect = np.ones(4, np.float32)
    for scale, shift in [(2.0, 0.0), (2.0, 0.0), (3.0, 0.0), (2.0, 0.0), (3.0, 0.0), (3.0, 1.0), (2.0, 0.0)]:
        out = g(x, scale, shift=shift)
        expect = expect * scale + 0.5 + shift
        np.testing.assert_allclose(out.numpy(), expect * 2, rtol=1e-6)
    info = g.cache_info()
    assert (info.warmups, info.captures, info.currsize) == (3, 2, 3)
    with pytest.raises(TypeError, match="neither a Tensor .* nor hashable"):
        g(x, [1.0, [np.zeros(2)]])


def test_host_sync_inside_fn_raises_a_clear_error(device):
    _cuda_only(device)
    s = Setup("sgd", dropout=0)

    def step(x, y):
        loss = s.step(x, y)
        print_me = loss.item()  # a host sync: not allowed in a captured step
        return loss, print_me

    g = dc.cuda.graphed(step)
    (x, y), = _batches(1)
    g(x, y)  # the warm-up runs eagerly: fine
    with pytest.raises(dc.cuda.CaptureError, match=r"waited for the GPU .* while its call was being captured") as e:
        g(x, y)
    assert "item()" in str(e.value) and "test_host_sync_inside_fn" in str(e.value)
    assert "cudaErrorStreamCapture" in str(e.value.__cause__) or "capture" in str(e.value.__cause__).lower()
    # the stream is no longer capturing: eager work and host reads work again
    assert not dc.backend.cupy_module().cuda.get_current_stream().is_capturing()
    np.testing.assert_array_equal((dc.ones(3, device=device) * 2).numpy(), [2, 2, 2])
    with pytest.raises(dc.cuda.CaptureError):  # the same signature fails the same way again
        g(x, y)


def test_one_replay_is_one_graph_launch_plus_the_argument_copies(device):
    _cuda_only(device)
    emu = _emulation()
    if emu is None:
        pytest.skip("launch counters and pool accounting exist only on the emulated CUDA device")
    (x, y), = _batches(1)
    eager = Setup("adam")
    eager.step(x, y)
    with emu.counting() as c:
        eager.step(x, y)
    eager_launches = c.launches
    s = Setup("adam")
    g = dc.cuda.graphed(s.step)
    g(x, y)
    cp = dc.backend.cupy_module()
    default_used = cp.get_default_memory_pool().used_bytes()
    with emu.counting() as c:
        g(x, y)  # the capture, then its first replay
    assert c.syncs == 0 and c.copies == 0
    assert cp.get_default_memory_pool().used_bytes() <= default_used  # captured memory is in the private pool
    assert g._cache[next(iter(g._cache))].pool.used_bytes() > 0
    with emu.counting() as c:
        g(x, y)
    assert (c.launches, c.syncs, c.copies) == (3, 0, 0) and c.by_name["cudaGraphLaunch"] == 1
    assert len(g.graph_for(x, y)._ops) >= eager_launches > 0  # the whole step's kernels are in the graph


# --- portability: CPU tensors, no CUDA at all -----------------------------------------------------------
def test_cpu_tensors_run_eagerly(device):
    if device != "cpu":
        pytest.skip("the CPU path")
    s = Setup("sgd", device="cpu")
    g = dc.cuda.graphed(s.step)
    for x, y in _batches(3, device="cpu"):
        assert g(x, y).grad_fn is not None  # fn's own (eager) result every time
    assert g.cache_info().eager_calls == 3 and g.cache_info().currsize == 0


def test_without_cuda_calls_pass_through(monkeypatch):
    monkeypatch.setattr(capture_mod, "cuda_available", lambda: False)
    seen = []

    @dc.cuda.graphed
    def fn(a, b=1, *, c=2):
        seen.append((a, b, c))
        return seen

    assert fn(1, c=3) is seen and fn([1], 2) is seen
    assert seen == [(1, 1, 3), ([1], 2, 2)] and fn.__name__ == "fn"
    assert fn.cache_info().eager_calls == 2
    with pytest.raises(ValueError, match="cache_size"):
        dc.cuda.graphed(fn, cache_size=0)


# --- fit(capture=True) ----------------------------------------------------------------------------------
def _fit(device, capture, opt="sgd", callbacks=(), epochs=4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 6)).astype(np.float32)
    y = rng.integers(0, 3, 70)
    dc.manual_seed(0)
    model = dc.nn.Sequential(dc.nn.Linear(6, 12), dc.nn.ReLU(), dc.nn.Dropout(0.2), dc.nn.Linear(12, 3)).to(device)
    o = (dc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if opt == "sgd"
         else dc.optim.Adam(model.parameters(), lr=0.01))
    model.compile(optimizer=o, loss="cross_entropy", metrics=["accuracy"])
    # 56 training samples in batches of 16: three full batches and a partial one of 8 per epoch
    hist = model.fit(x, y, batch_size=16, epochs=epochs, validation_split=0.2, verbose=0, capture=capture,
                     callbacks=list(callbacks))
    return hist.history, model


def test_fit_capture_history_equals_fit(device):
    _cuda_only(device)
    emu = _emulation()
    plain, m1 = _fit(device, False)
    if emu is not None:
        with emu.counting() as c:
            captured, m2 = _fit(device, True)
        assert c.by_name["cudaGraphLaunch"] == 4 * 3 - 1  # every full batch but the warm-up
    else:
        captured, m2 = _fit(device, True)
    assert captured == plain
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_fit_capture_follows_a_learning_rate_schedule(device):
    _cuda_only(device)

    def schedule():
        return [dc.callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 * 0.5 ** epoch)]

    plain, _ = _fit(device, False, callbacks=schedule())
    captured, _ = _fit(device, True, callbacks=schedule())
    assert captured == plain and captured["lr"] == [0.05, 0.025, 0.0125, 0.00625]


def test_fit_capture_with_adam_equals_fit(device):
    _cuda_only(device)
    plain, m1 = _fit(device, False, opt="adam")
    captured, m2 = _fit(device, True, opt="adam")
    assert captured == plain
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_fit_capture_on_cpu_changes_nothing():
    plain, _ = _fit("cpu", False, epochs=2)
    captured, _ = _fit("cpu", True, epochs=2)
    assert captured == plain


# --- deepcore-bench --capture ----------------------------------------------------------------------------
def test_bench_capture_times_captured_steps(device, capsys):
    _cuda_only(device)
    from deepcore.bench import cli
    from deepcore.bench.runner import run_deepcore

    rec = run_deepcore("mlp", device, steps=2, warmup=2, capture=True)
    assert rec["captured"] is True and rec["ms"] > 0
    assert cli.main(["--device", "cuda", "--workload", "mlp", "--steps", "3", "--warmup", "2", "--capture"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("mlp"))
    assert "cuda (graph)" in row
