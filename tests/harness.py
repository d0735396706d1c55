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
