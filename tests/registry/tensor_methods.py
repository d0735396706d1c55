"""Tensor methods defined in deepcore/tensor.py: PyTorch's metadata spellings (``size()``, ``numel()``, ``dim()``),
``clone``/``contiguous``, casts (``to``, ``astype``, ``float()``... ``bool()``) and the in-place updates
(``+=``, ``zero_``, ``fill_``, ``copy_``, ``__setitem__``), which run on a clone so inputs stay intact."""
import numpy as np

from . import OpEntry, Sample


def _meta_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)),), name="2d"), Sample((r(()),), name="0d"), Sample((r((0, 4, 1)),), name="empty"),
            Sample((r((3, 4)),), name="noncontig", noncontig=True)]


def _size_dim_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3, 4)), 1), name="dim1"), Sample((r((2, 3, 4)), -1), name="neg"),
            Sample((r((0, 4)), 0), name="empty"), Sample((r((3, 4)), 0), name="noncontig", noncontig=True)]


def _unary_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)),), name="2d"), Sample((r(()),), name="0d"), Sample((r((0, 3)),), name="empty"),
            Sample((r((3, 4)),), name="noncontig", noncontig=True)]


def _cast_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)) * 3,), name="2d"), Sample((np.array(-2.7),), name="0d"),
            Sample((r((0, 3)),), name="empty"), Sample((r((3, 4)) * 3,), name="noncontig", noncontig=True)]


def _torch_name(torch, d):
    return getattr(torch, d)


def _to_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)), "float64"), name="f64"), Sample((r((2, 3)), "float32"), name="f32", gradcheck=False),
            Sample((r((0, 3)), "float64"), name="empty"), Sample((r((3, 4)), "float64"), name="noncontig",
                                                                 noncontig=True)]


def _to_int_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)) * 3, "int64"), name="i64"), Sample((r((2, 3)), "bool"), name="bool"),
            Sample((r((2, 3)) * 3, "int32"), name="i32")]


def _inplace(op):
    def fn(x, y):
        z = x.clone()
        if op == "add":
            z += y
        elif op == "sub":
            z -= y
        elif op == "mul":
            z *= y
        else:
            z /= y
        return z
    return fn


def _np_inplace(op):
    return {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}[op]


def _torch_inplace(op):
    def fn(torch, x, y):
        z = x.detach().clone()
        getattr(z, {"add": "add_", "sub": "sub_", "mul": "mul_", "div": "div_"}[op])(y)
        return z
    return fn


def _inplace_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)), r((2, 3))), name="same"), Sample((r((2, 3)), r(3)), name="broadcast"),
            Sample((r((2, 3)), 1.5), name="scalar"), Sample((r((0, 3)), r(3)), name="empty"),
            Sample((r((3, 4)), r((3, 4))), name="noncontig", noncontig=True)]


def _zero(x):
    z = x.clone()
    z.zero_()
    return z


def _fill(x, v):
    z = x.clone()
    z.fill_(v)
    return z


def _copy(x, src):
    z = x.clone()
    z.copy_(src)
    return z


def _setitem(x, key, v):
    z = x.clone()
    z[key] = v
    return z


def _np_setitem(a, key, v):
    z = a.copy()
    z[key] = v
    return z


def _torch_setitem(torch, x, key, v):
    z = x.detach().clone()
    z[key] = v
    return z


def _setitem_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)), 1, r(4)), name="row"), Sample((r((3, 4)), (slice(None), 2), 0.5), name="column-scalar"),
            Sample((r((3, 4)), (slice(1, None), slice(None, 2)), r((2, 2))), name="block"),
            Sample((r((3, 4)), Ellipsis, r(4)), name="ellipsis-broadcast"),
            Sample((r((3, 4)), (0, 1), r(())), name="element"),
            Sample((r((3, 4)), 0, r(4)), name="noncontig", noncontig=True)]


_NO_GRAD_META = {"grad": False, "dtypes": (np.float32,)}

ENTRIES = [
    OpEntry("size", lambda x: x.size(), _meta_samples, covers=("Tensor.size",), ref=lambda a: a.shape,
            torch_fn=lambda torch, t: tuple(t.size()), **_NO_GRAD_META),
    OpEntry("size-dim", lambda x, d: x.size(d), _size_dim_samples, covers=("Tensor.size",),
            ref=lambda a, d: a.shape[d], torch_fn=lambda torch, t, d: t.size(d), **_NO_GRAD_META),
    OpEntry("numel", lambda x: x.numel(), _meta_samples, covers=("Tensor.numel",), ref=lambda a: a.size,
            torch_fn=lambda torch, t: t.numel(), **_NO_GRAD_META),
    OpEntry("nelement", lambda x: x.nelement(), _meta_samples, covers=("Tensor.nelement",), ref=lambda a: a.size,
            torch_fn=lambda torch, t: t.nelement(), **_NO_GRAD_META),
    OpEntry("dim", lambda x: x.dim(), _meta_samples, covers=("Tensor.dim",), ref=lambda a: a.ndim,
            torch_fn=lambda torch, t: t.dim(), **_NO_GRAD_META),
    OpEntry("element_size", lambda x: x.element_size(), _meta_samples, covers=("Tensor.element_size",),
            ref=None, torch_fn=lambda torch, t: t.element_size(), grad=False),
    OpEntry("clone", lambda x: x.clone(), _unary_samples, covers=("Tensor.clone",), ref=lambda a: a.copy(),
            torch_fn=lambda torch, t: t.clone()),
    OpEntry("contiguous", lambda x: x.contiguous(), _unary_samples, covers=("Tensor.contiguous",),
            ref=lambda a: a, torch_fn=lambda torch, t: t.contiguous()),
    OpEntry("double", lambda x: x.double(), _unary_samples, covers=("Tensor.double",),
            ref=lambda a: a.astype(np.float64), torch_fn=lambda torch, t: t.double(), extra={"out_dtype": np.float64}),
    # casts to a narrower float: finite differences through the rounding are meaningless (torch parity only)
    OpEntry("float", lambda x: x.float(), _unary_samples, covers=("Tensor.float",), ref=lambda a: a.astype(np.float32),
            torch_fn=lambda torch, t: t.float(), grad=False, extra={"out_dtype": np.float32}),
    OpEntry("half", lambda x: x.half(), _unary_samples, covers=("Tensor.half",), ref=lambda a: a.astype(np.float16),
            torch_fn=lambda torch, t: t.half(), grad=False, tol={"rtol": 1e-3, "atol": 1e-3},
            extra={"out_dtype": np.float16}),
    OpEntry("bfloat16", lambda x: x.bfloat16(), _unary_samples, covers=("Tensor.bfloat16",), ref=lambda a: a,
            torch_fn=None, grad=False, tol={"rtol": 1e-2, "atol": 1e-2},
            extra={"out_dtype": "bfloat16", "no_torch": "NumPy has no bfloat16 to compare PyTorch's with here"}),
    OpEntry("int", lambda x: x.int(), _cast_samples, covers=("Tensor.int",), ref=lambda a: a.astype(np.int32),
            torch_fn=lambda torch, t: t.int(), grad=False),
    OpEntry("long", lambda x: x.long(), _cast_samples, covers=("Tensor.long",), ref=lambda a: a.astype(np.int64),
            torch_fn=lambda torch, t: t.long(), grad=False),
    OpEntry("bool", lambda x: x.bool(), _cast_samples, covers=("Tensor.bool",), ref=lambda a: a.astype(bool),
            torch_fn=lambda torch, t: t.bool(), grad=False),
    OpEntry("to-dtype", lambda x, d: x.to(d), _to_samples, covers=("Tensor.to",), ref=lambda a, d: a.astype(d),
            torch_fn=lambda torch, t, d: t.to(_torch_name(torch, d)), extra={"out_dtype": lambda d: None}),
    OpEntry("astype", lambda x, d: x.astype(d), _to_samples, covers=("Tensor.astype",), ref=lambda a, d: a.astype(d),
            torch_fn=lambda torch, t, d: t.to(_torch_name(torch, d)), extra={"out_dtype": lambda d: None}),
    OpEntry("to-int", lambda x, d: x.to(d), _to_int_samples, covers=("Tensor.to",), ref=lambda a, d: a.astype(d),
            torch_fn=lambda torch, t, d: t.to(_torch_name(torch, d)), grad=False),
    *[OpEntry(f"__i{op}__", _inplace(op), _inplace_samples, covers=(f"Tensor.__i{'truediv' if op == 'div' else op}__",),
              ref=_np_inplace(op), torch_fn=_torch_inplace(op), grad=False)
      for op in ("add", "sub", "mul", "div")],
    OpEntry("zero_", _zero, _unary_samples, covers=("Tensor.zero_",), ref=np.zeros_like,
            torch_fn=lambda torch, t: t.detach().clone().zero_(), grad=False),
    OpEntry("fill_", _fill, lambda rng: [Sample((a.args[0], 2.5), name=a.name, noncontig=a.noncontig)
                                         for a in _unary_samples(rng)],
            covers=("Tensor.fill_",), ref=lambda a, v: np.full_like(a, v),
            torch_fn=lambda torch, t, v: t.detach().clone().fill_(v), grad=False),
    OpEntry("copy_", _copy, _inplace_samples, covers=("Tensor.copy_",),
            ref=lambda a, s: np.broadcast_to(s, a.shape).astype(a.dtype),
            torch_fn=lambda torch, t, s: t.detach().clone().copy_(torch.as_tensor(s)), grad=False),
    OpEntry("__setitem__", _setitem, _setitem_samples, covers=("Tensor.__setitem__",), ref=_np_setitem,
            torch_fn=_torch_setitem, grad=False),
]

EXEMPT: dict[str, str] = {
    "dc.Size": "the tuple type Tensor.size() returns: tests/test_tensor.py (test_size_numel_dim)",
    "Tensor.is_contiguous": "memory layout flag: tests/test_tensor.py (test_clone_contiguous)",
}
