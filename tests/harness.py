"""The one op-test pattern: forward against a NumPy reference, gradients against finite differences.

``check_op(dc_fn, np_fn, arrays, device, dtype)`` runs ``dc_fn`` on tensors made from ``arrays`` and
compares with ``np_fn`` on the float64 arrays; ``gradcheck`` then compares autograd with central
differences in float64 on the same device.
"""
import numpy as np

import deepcore as dc

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


def as_np(x):
    return x.numpy() if isinstance(x, dc.Tensor) else np.asarray(x)


def check_forward(dc_fn, np_fn, arrays, device="cpu", dtype=np.float32, **tol):
    tensors = [dc.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device=device) for a in arrays]
    out = dc_fn(*tensors)
    expect = np_fn(*[a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays])
    outs = out if isinstance(out, (tuple, list)) else [out]
    expects = expect if isinstance(expect, (tuple, list)) else [expect]
    for o, e in zip(outs, expects):
        assert o.device == dc.device(device)
        if np.asarray(e).dtype.kind == "f":
            assert o.dtype == dtype, f"output dtype {o.dtype}, expected {np.dtype(dtype)}"
        np.testing.assert_allclose(as_np(o), e, **(tol or TOL[dtype]))
    return out


def check_grad(dc_fn, arrays, device="cpu", **kw):
    tensors = [dc.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a, device=device) for a in arrays]
    assert dc.gradcheck(dc_fn, tensors, **kw)


def check_op(dc_fn, np_fn, arrays, device="cpu", dtype=np.float32, grad=True, tol=None, **gradcheck_kw):
    check_forward(dc_fn, np_fn, arrays, device, dtype, **(tol or {}))
    if grad:
        check_grad(dc_fn, arrays, device, **gradcheck_kw)


def check_layer_grads(layer, x, eps=1e-6, atol=1e-5, rtol=1e-3, train=True):
    """Finite-difference check, in float64, of a layer's gradients w.r.t. its input AND every parameter."""
    layer.to(dtype=dc.float64).train(train)
    x = dc.tensor(as_np(x).astype(np.float64), device=x.device if isinstance(x, dc.Tensor) else "cpu",
                  requires_grad=True)
    params = [p for p in layer.parameters() if p.requires_grad]
    out = layer(x)
    out = out[0] if isinstance(out, tuple) else out
    w = np.random.default_rng(1).standard_normal(out.shape)
    wt = dc.tensor(w, device=out.device)
    layer.zero_grad()
    (out * wt).backward(dc.ones(out.shape, dtype=dc.float64, device=out.device))

    def objective():
        with dc.no_grad():
            o = layer(x)
            o = o[0] if isinstance(o, tuple) else o
            return float((o.numpy() * w).sum())

    for name, t, g in [("input", x, x.grad)] + [(f"param {i}", p, p.grad) for i, p in enumerate(params)]:
        flat = t.data.reshape(-1)
        num = np.zeros(t.numel())
        for j in range(t.numel()):
            old = flat[j].item()
            flat[j] = old + eps
            plus = objective()
            flat[j] = old - eps
            minus = objective()
            flat[j] = old
            num[j] = (plus - minus) / (2 * eps)
        ana = np.zeros(t.numel()) if g is None else as_np(g).reshape(-1)
        np.testing.assert_allclose(ana, num, atol=atol, rtol=rtol, err_msg=f"gradient of {name} {t.shape}")
