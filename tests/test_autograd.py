"""The autograd engine: graph walk, accumulation, retain_graph, grad modes, autograd.grad, gradcheck."""
import numpy as np
import pytest

import deepcore as dc


def test_chain_of_10000_ops_is_iterative(device):
    x = dc.tensor(1.0, device=device, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** 10_000, rtol=1e-3)


def test_gradient_accumulates_for_reused_tensor(device):
    x = dc.tensor([2.0, 3.0], device=device, requires_grad=True)
    y = x * x + x  # x used three times
    y.backward(dc.ones(2, device=device))
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])
    (x * 3).backward(dc.ones(2, device=device))  # .grad accumulates across backward calls
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 10.0])


def test_diamond_graph():
    x = dc.tensor(3.0, requires_grad=True)
    a = x * 2
    b = a * a
    c = a + b
    c.backward()
    assert x.grad.item() == pytest.approx(2 + 2 * 2 * 6)


def test_second_backward_raises_unless_retained():
    x = dc.tensor(2.0, requires_grad=True)
    y = x.exp() * x
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert x.grad.item() == pytest.approx(2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_graph_frees_saved_arrays():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    fn = y.grad_fn
    assert fn.saved_tensors
    y.backward(dc.ones(2))
    assert fn._saved == () and fn._freed


def test_nonscalar_backward_needs_grad():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs; got shape \(2,\)"):
        (x * 2).backward()


def test_no_grad_and_enable_grad():
    x = dc.tensor(1.0, requires_grad=True)
    with dc.no_grad():
        y = x * 2
        with dc.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @dc.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    assert dc.is_grad_enabled()


def test_autograd_grad_does_not_touch_dot_grad():
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = (h * 3.0).exp()
    gx, gh = dc.autograd.grad([y], [x, h], [dc.ones(2)])
    np.testing.assert_allclose(gh.numpy(), 3 * np.exp(3 * np.array([1.0, 4.0])), rtol=1e-5)
    np.testing.assert_allclose(gx.numpy(), gh.numpy() * 2 * np.array([1.0, 2.0]), rtol=1e-5)
    assert x.grad is None


def test_autograd_grad_unused_input():
    x = dc.tensor(1.0, requires_grad=True)
    z = dc.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        dc.autograd.grad(x * 2, [x, z])
    assert dc.autograd.grad(x * 2, [x, z], allow_unused=True)[1] is None


class Cube(dc.autograd.Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, gy):
        (x,) = self.saved_tensors
        return 3 * x ** 2 * gy


class WrongCube(Cube):
    def backward(self, gy):
        (x,) = self.saved_tensors
        return 2 * x ** 2 * gy


def test_custom_function_and_gradcheck(device):
    t = dc.tensor([1.0, -2.0, 0.5], device=device, requires_grad=True)
    y = Cube.apply(t)
    np.testing.assert_allclose(y.numpy(), [1.0, -8.0, 0.125])
    y.backward(dc.ones(3, device=device))
    np.testing.assert_allclose(t.grad.numpy(), [3.0, 12.0, 0.75])
    assert dc.gradcheck(Cube.apply, [dc.randn(4, device=device)])


def test_gradcheck_detects_wrong_backward():
    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        dc.gradcheck(WrongCube.apply, [dc.randn(4)])


def test_custom_function_wrong_grad_shape_is_reported():
    class Bad(dc.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy[:1]
    x = dc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(1,\) for an input of "
                                           r"shape \(2,\)"):
        Bad.apply(x).backward(dc.ones(2))


def test_mixing_devices_names_both():
    if not dc.cuda.is_available():
        pytest.skip("needs a GPU")
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        dc.ones(2) + dc.ones(2, device="cuda")


def test_intermediate_arrays_not_kept_alive():
    import weakref
    x = dc.tensor(np.ones(10), requires_grad=True)
    h = x + 1.0  # Add saves nothing; its output is not referenced by the graph
    ref = weakref.ref(h)
    y = h * 2.0
    del h
    assert ref() is None
    y.backward(dc.ones(10, dtype=dc.float64))
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


class _Fan(dc.Function):
    """y = a + b; backward returns the SAME array for both inputs (as Add-like ops may)."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


def test_fan_in_sums_in_place_without_touching_foreign_arrays(device):
    # x's gradient slot receives 6 contributions: the first two make a new sum, the rest add into it.
    x = dc.tensor(np.arange(1.0, 5.0), device=device, requires_grad=True)
    h = x * 1.0
    y = _Fan.apply(_Fan.apply(h, h), _Fan.apply(h * 2.0, h)) + h * h
    seed = np.linspace(-1.0, 1.0, 4)
    seed_copy = seed.copy()
    y.backward(dc.tensor(seed, device=device))
    np.testing.assert_allclose(x.grad.numpy(), seed * (1 + 1 + 2 + 1 + 2 * np.arange(1.0, 5.0)))
    np.testing.assert_array_equal(seed, seed_copy)           # the caller's gradient is never written to

    # every leaf contribution is the caller's own array: the leaf's sum must be a new array
    leaf = dc.tensor(np.ones(3), device=device, requires_grad=True)
    g = dc.tensor(np.full(3, 2.0), device=device)
    _Fan.apply(_Fan.apply(leaf, leaf), leaf).backward(g)
    np.testing.assert_allclose(leaf.grad.numpy(), np.full(3, 6.0))
    np.testing.assert_allclose(g.numpy(), np.full(3, 2.0))
    assert dc.gradcheck(lambda a: _Fan.apply(_Fan.apply(a, a * a), a).sum(),
                        [dc.tensor(np.arange(3.0), device=device, requires_grad=True)])
