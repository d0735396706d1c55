"""Reductions: sum mean prod max min amax amin var std var_mean std_mean logsumexp argmax argmin any all.

Samples cover no axis, int / negative / tuple axes, ``keepdims``, 0-d tensors, 0-size tensors (an empty
non-reduced axis, and an empty reduced axis where the op has a value there) and non-contiguous views.
References are NumPy; ``torch_fn`` translates ``axis``/``keepdims``/``ddof`` to ``dim``/``keepdim``/``correction``.
Samples with ties skip the finite-difference check (the derivative does not exist there; the tie rule is
compared with PyTorch's gradient instead).
"""
import numpy as np

import deepcore as dc

from . import OpEntry, Sample

_INT = np.int64


def _np_axis(x, axis):
    """NumPy rejects axis=0 of a 0-d array; torch (and deepcore) reduce over nothing there."""
    return None if np.ndim(x) == 0 else axis


def _tkw(kw, all_axes=None):
    """deepcore keywords -> torch's. ``axis=None`` is left out, or given as ``all_axes`` where torch needs a
    dim to keep dimensions (``keepdim=True``)."""
    names = {"axis": "dim", "keepdims": "keepdim", "ddof": "correction"}
    out = {names.get(k, k): v for k, v in kw.items() if not (k == "axis" and v is None)}
    if out.get("keepdim") and "dim" not in out:
        out["dim"] = all_axes
    return out


def _away_from_zero(a):
    return np.sign(a) * (0.5 + np.abs(a))


# --- samples ---------------------------------------------------------------------------------------------------
def _axes_samples(rng, empty_reduced=True, data=None, ints=True):
    """The common axis cases; ``empty_reduced``: also reduce over a 0-size axis (sum, mean, prod, var...)."""
    make = data or (lambda shape: rng.standard_normal(shape))

    def data(shape):
        return np.asarray(make(shape))  # a 0-d array, not a NumPy scalar (which would pass as a Python value)

    out = [
        Sample((data(()),), name="0d"),
        Sample((data(()),), {"axis": 0, "keepdims": True}, name="0d-axis"),
        Sample((data(5),), name="vector"),
        Sample((data(5),), {"axis": 0, "keepdims": True}, name="vector-keep"),
        Sample((data((3, 4)),), {"axis": 1}, name="axis1"),
        Sample((data((3, 4)),), {"axis": -2, "keepdims": True}, name="neg-axis-keep"),
        Sample((data((2, 3, 4)),), {"axis": (0, 2)}, name="tuple"),
        Sample((data((2, 3, 4)),), {"axis": (2, -3), "keepdims": True}, name="tuple-neg-keep"),
        Sample((data((2, 3, 4)),), {"keepdims": True}, name="all-keep"),
        Sample((data((3, 4)),), {"axis": 0}, name="noncontig", noncontig=True),
        Sample((data((2, 3, 4)),), {"axis": (1, 2)}, name="noncontig-tuple", noncontig=True),
        Sample((data((0, 3)),), {"axis": 1}, name="empty-kept-axis"),
        Sample((data((2, 0, 3)),), {"axis": (0, 2), "keepdims": True}, name="empty-kept-axis-tuple"),
    ]
    if empty_reduced:
        out += [Sample((data((0, 3)),), {"axis": 0}, name="empty-reduced-axis"),
                Sample((data((0, 3)),), name="empty-all")]
    if ints:
        out.append(Sample((rng.integers(-5, 6, (3, 4)),), {"axis": 1}, name="int64"))
    return out


def _sum_samples(rng):
    return _axes_samples(rng) + [Sample((rng.integers(0, 2, (3, 4)).astype(bool),), {"axis": 0}, name="bool"),
                                 Sample((rng.integers(-5, 6, (3, 4)).astype(np.int32),), name="int32")]


def _prod_samples(rng):
    zeros = np.array([[0.0, 2.0, 3.0, -1.5], [1.0, 0.0, 0.0, 2.0], [1.5, -2.0, 0.5, 1.25]])
    return _axes_samples(rng, data=lambda s: _away_from_zero(rng.standard_normal(s))) + [
        Sample((zeros,), {"axis": 1}, name="zeros"),
        Sample((zeros,), {"axis": 0, "keepdims": True}, name="zeros-axis0"),
        Sample((np.zeros(3),), name="all-zeros"),
    ]


def _extreme_samples(rng):
    """max/min/amax/amin over axes: distinct values, plus ties (no finite differences)."""
    def distinct(shape):
        return rng.permutation(max(int(np.prod(shape)), 1))[:int(np.prod(shape))].reshape(shape) * 0.25 - 1.0

    ties = np.array([[1.0, 3.0, 3.0, -2.0], [-1.0, -1.0, -1.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    return _axes_samples(rng, empty_reduced=False, data=distinct) + [
        Sample((ties,), {"axis": 1}, name="ties", gradcheck=False),
        Sample((ties,), name="ties-all", gradcheck=False),
        Sample((ties,), {"axis": (0, 1), "keepdims": True}, name="ties-tuple", gradcheck=False),
    ]


def _max_samples(rng):
    """max/min without an axis (a 0-d tensor): ties share the gradient."""
    ties = np.array([[2.0, 5.0, 5.0], [5.0, 1.0, 0.0]])
    return [Sample((rng.permutation(12).reshape(3, 4) * 0.5,), name="matrix"),
            Sample((np.asarray(rng.standard_normal(())),), name="0d"),
            Sample((rng.permutation(6).astype(float),), name="noncontig", noncontig=True),
            Sample((ties,), name="ties", gradcheck=False),
            Sample((rng.integers(-5, 6, (3, 4)),), name="int64")]


def _max_dim_samples(rng):
    def distinct(shape):
        return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 2.0

    ties = np.array([[1.0, 3.0, 3.0, -2.0], [-1.0, -1.0, -1.0, 0.0]])
    return [
        Sample((distinct((3, 4)), 1), name="dim1"),
        Sample((distinct((3, 4)), 0), {"keepdims": True}, name="dim0-keep"),
        Sample((distinct((2, 3, 4)), -1), name="neg-dim"),
        Sample((distinct((2, 3, 4)), 1), {"keepdim": True}, name="keepdim-alias"),
        Sample((np.array(1.5), 0), name="0d"),
        Sample((distinct((3, 4)), 1), name="noncontig", noncontig=True),
        Sample((np.zeros((0, 3)), 1), name="empty-kept-axis"),
        Sample((ties, 1), name="ties", gradcheck=False),
        Sample((rng.integers(-5, 6, (3, 4)), 0), name="int64"),
    ]


def _var_samples(rng):
    def spread(shape):
        a = rng.standard_normal(shape)
        return a + np.arange(a.size).reshape(a.shape) * 0.1  # keeps the std away from 0

    return _axes_samples(rng, data=spread, ints=False) + [
        Sample((spread((4, 5)),), {"axis": 1, "ddof": 1}, name="ddof1"),
        Sample((spread((4, 5)),), {"axis": 0, "ddof": 2, "keepdims": True}, name="ddof2"),
        Sample((spread((4, 5)),), {"ddof": 1}, name="ddof1-all"),
        Sample((spread((4, 5)),), {"axis": 1, "correction": 1}, name="correction"),
        Sample((spread((4, 5)),), {"axis": -1, "unbiased": False}, name="unbiased-false"),
        Sample((np.full((3, 4), 2.5),), {"axis": 1}, name="constant"),
        Sample((np.full((3, 4), 2.5),), {"ddof": 1}, name="constant-ddof1"),
        Sample((spread((1, 3)),), {"axis": 0}, name="one-element"),
    ]


def _var_mean_samples(rng):
    """var_mean/std_mean compose var/std and mean: a few cases that pass every keyword through."""
    keep = ("0d", "axis1", "tuple-neg-keep", "noncontig", "empty-reduced-axis", "ddof1", "correction",
            "unbiased-false", "constant")
    return [s for s in _var_samples(rng) if s.name in keep]


def _lse_samples(rng):
    return _axes_samples(rng, empty_reduced=False, ints=False) + [
        Sample((np.array([[1.0, 0.5, -0.25], [0.0, 0.0, 0.0]]) * 1e4,), {"axis": 1}, name="large"),
        Sample((np.zeros((0, 3)),), {"axis": 0}, name="empty-reduced-axis"),
    ]


def _arg_samples(rng):
    def distinct(shape):
        return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 - 2.0

    return [
        Sample((distinct((3, 4)),), name="flat"),
        Sample((distinct((3, 4)),), {"axis": 1}, name="axis1"),
        Sample((distinct((3, 4)),), {"axis": -2, "keepdims": True}, name="neg-axis-keep"),
        Sample((distinct((2, 3, 4)),), {"axis": 1}, name="3d"),
        Sample((np.array(1.5),), name="0d"),
        Sample((distinct((3, 4)),), {"axis": 0}, name="noncontig", noncontig=True),
        Sample((np.zeros((0, 3)),), {"axis": 1}, name="empty-kept-axis"),
        Sample((np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),), {"axis": 1}, name="ties"),
        Sample((rng.integers(-5, 6, (3, 4)),), {"axis": 0}, name="int64"),
    ]


def _logical_samples(rng):
    b = rng.integers(0, 2, (3, 4)).astype(bool)
    f = rng.integers(0, 2, (3, 4)) * rng.standard_normal((3, 4))
    return [
        Sample((b,), name="bool"),
        Sample((b,), {"axis": 1}, name="bool-axis"),
        Sample((b,), {"axis": 0, "keepdims": True}, name="bool-keep"),
        Sample((f,), {"axis": -1}, name="float"),
        Sample((rng.integers(0, 2, (2, 3, 4)),), {"axis": (0, 2)}, name="int-tuple"),
        Sample((np.zeros((0, 3), dtype=bool),), {"axis": 0}, name="empty-reduced-axis"),
        Sample((np.zeros((0, 3), dtype=bool),), name="empty-all"),
        Sample((np.array(True),), name="0d"),
        Sample((f,), {"axis": 1}, name="noncontig", noncontig=True),
    ]


# --- references ---------------------------------------------------------------------------------------------
def _quiet(fn):
    def ref(x, axis=None, keepdims=False, **kw):
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, axis=_np_axis(x, axis), keepdims=keepdims, **kw))
    return ref


def _int_sum(fn):
    """sum/prod of integers and bools are int64 (as PyTorch)."""
    def ref(x, axis=None, keepdims=False, **kw):
        if x.dtype.kind in "biu":
            kw["dtype"] = _INT
        return _quiet(fn)(x, axis, keepdims, **kw)
    return ref


def _mean_ref(x, axis=None, keepdims=False):
    return _quiet(np.mean)(x.astype(np.float64) if x.dtype.kind != "f" else x, axis, keepdims)


def _ddof(kw):
    ddof = kw.pop("ddof", 0)
    if "correction" in kw:
        ddof = kw.pop("correction")
    if "unbiased" in kw:
        ddof = int(kw.pop("unbiased"))
    return ddof


def _var_ref(fn):
    def ref(x, axis=None, keepdims=False, **kw):
        x = x.astype(np.float64) if x.dtype.kind != "f" else x
        return _quiet(fn)(x, axis, keepdims, ddof=_ddof(kw))
    return ref


def _var_mean_ref(fn):
    def ref(x, axis=None, keepdims=False, **kw):
        return _var_ref(fn)(x, axis, keepdims, **kw), _mean_ref(x, axis, keepdims)
    return ref


def _torch_var(name):
    def call(torch, x, axis=None, keepdims=False, **kw):
        x = x if x.is_floating_point() else x.float()
        kw = _tkw(dict(axis=axis, keepdims=keepdims, **kw))
        if "correction" not in kw and "unbiased" not in kw:
            kw["correction"] = 0  # deepcore's default is the population form
        return getattr(torch, name)(x, **kw)
    return call


def _kept_shape(shape, axis):
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = {a % len(shape) for a in axes} if shape else set()
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _lse_ref(x, axis=None, keepdims=False):
    x = x.astype(np.float64) if x.dtype.kind != "f" else x
    axis = _np_axis(x, axis)
    with np.errstate(all="ignore"):
        m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros(_kept_shape(x.shape, axis))
        m = np.where(np.isfinite(m), m, 0)
        y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return y
    return y.reshape(()) if axis is None else np.squeeze(y, axis=axis)


def _torch_lse(torch, x, axis=None, keepdims=False):
    x = x if x.is_floating_point() else x.float()
    dim = tuple(range(x.ndim)) if axis is None else axis
    return torch.logsumexp(x, dim=dim, keepdim=keepdims)


def _torch_prod(torch, x, axis=None, keepdims=False, **kw):
    """torch.prod takes one int dim: several axes one after another."""
    if x.ndim == 0 or axis is None and not keepdims:
        return torch.prod(x, **kw)
    axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    for a in sorted((a % x.ndim for a in axes), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims, **kw)
        kw = {}
    return x


def _max_dim_ref(fn, arg):
    def ref(x, axis, keepdims=False, keepdim=None):
        keep = keepdims if keepdim is None else keepdim
        if x.ndim == 0:
            return x.copy(), np.array(0)
        i = np.expand_dims(arg(x, axis=axis), axis)
        v = np.take_along_axis(x, i, axis)
        return (v, i) if keep else (np.squeeze(v, axis), np.squeeze(i, axis))
    return ref


def _torch_max_dim(name):
    def call(torch, x, axis, keepdims=False, keepdim=None):
        return getattr(torch, name)(x, axis, keepdim=keepdims if keepdim is None else keepdim)
    return call


def _amax_ref(fn):
    def ref(x, axis=None, keepdims=False):
        if axis is not None and x.ndim == 0:
            axis = None
        return np.asarray(fn(x, axis=axis, keepdims=keepdims))
    return ref


def _arg_ref(fn):
    def ref(x, axis=None, keepdims=False):
        if x.ndim == 0:
            return np.array(0)
        return np.asarray(fn(x, axis=axis, keepdims=keepdims)).astype(_INT)
    return ref


def _torch_logical(name):
    def call(torch, x, axis=None, keepdims=False):
        if axis is None:
            return getattr(torch, name)(x) if not keepdims else getattr(torch, name)(x, dim=tuple(range(x.ndim)),
                                                                                       keepdim=True)
        return getattr(torch, name)(x, dim=axis, keepdim=keepdims)
    return call


def _torch_dtype(torch, kw):
    kw = dict(kw)
    if "dtype" in kw:
        kw["dtype"] = getattr(torch, kw["dtype"])
    return kw


def _dtype_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)),), {"dtype": "float64"}, name="to-f64"),
            Sample((r((3, 4)),), {"axis": 1, "dtype": "float64", "keepdims": True}, name="to-f64-axis"),
            Sample((rng.integers(-3, 4, (3, 4)),), {"axis": 0, "dtype": "float64"}, name="int-to-f64")]


def _dtype_ref(fn):
    def ref(x, axis=None, keepdims=False, dtype=None):
        return np.asarray(fn(x.astype(dtype), axis=axis, keepdims=keepdims))
    return ref


ENTRIES = [
    OpEntry("sum", dc.sum, _sum_samples, covers=("dc.sum", "Tensor.sum"), ref=_int_sum(np.sum),
            torch_fn=lambda torch, x, **kw: torch.sum(x, **_tkw(kw))),
    OpEntry("sum_dtype", dc.sum, _dtype_samples, covers=("dc.sum",), ref=_dtype_ref(np.sum),
            torch_fn=lambda torch, x, **kw: torch.sum(x, **_tkw(_torch_dtype(torch, kw))),
            extra={"out_dtype": np.float64}),
    OpEntry("mean", dc.mean, lambda rng: _axes_samples(rng, ints=False), covers=("dc.mean", "Tensor.mean"),
            ref=_mean_ref,
            torch_fn=lambda torch, x, **kw: torch.mean(x if x.is_floating_point() else x.float(), **_tkw(kw))),
    OpEntry("mean_dtype", dc.mean, _dtype_samples, covers=("dc.mean",), ref=_dtype_ref(np.mean),
            torch_fn=lambda torch, x, **kw: torch.mean(x, **_tkw(_torch_dtype(torch, kw))),
            extra={"out_dtype": np.float64}),
    OpEntry("prod", dc.prod, _prod_samples, covers=("dc.prod", "Tensor.prod"), ref=_int_sum(np.prod),
            torch_fn=_torch_prod),
    OpEntry("prod_dtype", dc.prod, _dtype_samples, covers=("dc.prod",), ref=_dtype_ref(np.prod),
            torch_fn=lambda torch, x, axis=None, keepdims=False, **kw: _torch_prod(
                torch, x, axis, keepdims, **_torch_dtype(torch, kw)),
            extra={"out_dtype": np.float64}),
    OpEntry("max", dc.max, _max_samples, covers=("dc.max", "Tensor.max"), ref=lambda x: np.asarray(np.max(x)),
            torch_fn=lambda torch, x: torch.max(x)),
    OpEntry("min", dc.min, _max_samples, covers=("dc.min", "Tensor.min"), ref=lambda x: np.asarray(np.min(x)),
            torch_fn=lambda torch, x: torch.min(x)),
    OpEntry("max_dim", dc.max, _max_dim_samples, covers=("dc.max", "Tensor.max"),
            ref=_max_dim_ref(np.max, np.argmax), torch_fn=_torch_max_dim("max")),
    OpEntry("min_dim", dc.min, _max_dim_samples, covers=("dc.min", "Tensor.min"),
            ref=_max_dim_ref(np.min, np.argmin), torch_fn=_torch_max_dim("min")),
    OpEntry("max_binary", lambda a, b: dc.max(a, b),
            lambda rng: [Sample((rng.standard_normal((3, 4)), rng.standard_normal((3, 4))), name="same"),
                         Sample((rng.standard_normal((3, 4)), rng.standard_normal(4)), name="broadcast")],
            covers=("dc.max", "Tensor.max"), ref=np.maximum, torch_fn=lambda torch, a, b: torch.max(a, b)),
    OpEntry("min_binary", lambda a, b: a.min(b),
            lambda rng: [Sample((rng.standard_normal((3, 4)), rng.standard_normal((3, 4))), name="same"),
                         Sample((rng.standard_normal((3, 4)), rng.standard_normal(4)), name="broadcast")],
            covers=("dc.min", "Tensor.min"), ref=np.minimum, torch_fn=lambda torch, a, b: torch.min(a, b)),
    OpEntry("amax", dc.amax, _extreme_samples, covers=("dc.amax", "Tensor.amax"), ref=_amax_ref(np.max),
            torch_fn=lambda torch, x, **kw: torch.amax(x, **_tkw(kw, ()))),
    OpEntry("amin", dc.amin, _extreme_samples, covers=("dc.amin", "Tensor.amin"), ref=_amax_ref(np.min),
            torch_fn=lambda torch, x, **kw: torch.amin(x, **_tkw(kw, ()))),
    OpEntry("var", dc.var, _var_samples, covers=("dc.var", "Tensor.var"), ref=_var_ref(np.var),
            torch_fn=_torch_var("var")),
    OpEntry("std", dc.std, _var_samples, covers=("dc.std", "Tensor.std"), ref=_var_ref(np.std),
            torch_fn=_torch_var("std")),
    OpEntry("var_mean", dc.var_mean, _var_mean_samples, covers=("dc.var_mean",), ref=_var_mean_ref(np.var),
            torch_fn=_torch_var("var_mean")),
    OpEntry("std_mean", dc.std_mean, _var_mean_samples, covers=("dc.std_mean",), ref=_var_mean_ref(np.std),
            torch_fn=_torch_var("std_mean")),
    OpEntry("logsumexp", dc.logsumexp, _lse_samples, covers=("dc.logsumexp", "Tensor.logsumexp"), ref=_lse_ref,
            torch_fn=_torch_lse),
    OpEntry("argmax", dc.argmax, _arg_samples, covers=("dc.argmax", "Tensor.argmax"), ref=_arg_ref(np.argmax),
            torch_fn=lambda torch, x, **kw: torch.argmax(x, **_tkw(kw)), grad=False),
    OpEntry("argmin", dc.argmin, _arg_samples, covers=("dc.argmin", "Tensor.argmin"), ref=_arg_ref(np.argmin),
            torch_fn=lambda torch, x, **kw: torch.argmin(x, **_tkw(kw)), grad=False),
    OpEntry("any", dc.any, _logical_samples, covers=("dc.any", "Tensor.any"), ref=_quiet(np.any),
            torch_fn=_torch_logical("any"), grad=False),
    OpEntry("all", dc.all, _logical_samples, covers=("dc.all", "Tensor.all"), ref=_quiet(np.all),
            torch_fn=_torch_logical("all"), grad=False),
]



def _int_samples(rng):
    return [Sample((rng.integers(-5, 6, (3, 4)),), {"axis": 1}, name="int64"),
            Sample((rng.integers(-5, 6, (2, 3)),), name="int64-all"),
            Sample((rng.integers(0, 2, (2, 3)).astype(bool),), {"axis": 0, "keepdims": True}, name="bool")]


def _as_float(torch_fn):
    return lambda torch, x, **kw: torch_fn(torch, x.float(), **kw)


# integer and bool inputs of the floating reductions give float32 (DESIGN: type promotion as PyTorch)
ENTRIES += [
    OpEntry(f"{name}_int", fn, _int_samples, covers=(f"dc.{name}",), ref=ref, torch_fn=_as_float(tfn),
            dtypes=(np.int64,), grad=False, tol={"rtol": 1e-5, "atol": 1e-6}, extra={"out_dtype": np.float32})
    for name, fn, ref, tfn in [
        ("mean", dc.mean, _mean_ref, lambda torch, x, **kw: torch.mean(x, **_tkw(kw))),
        ("var", dc.var, _var_ref(np.var), _torch_var("var")),
        ("std", dc.std, _var_ref(np.std), _torch_var("std")),
        ("logsumexp", dc.logsumexp, _lse_ref, _torch_lse),
    ]
]

EXEMPT: dict[str, str] = {}
