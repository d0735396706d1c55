"""Elementwise ops: arithmetic and its operators, comparisons, bitwise operators, rounding, floating math,
lerp/logaddexp, the tests isnan/isinf/isfinite/isclose/allclose, clip and where.

Samples cover same shapes, broadcasting, 0-d tensors, Python scalars on either side, 0-size and
non-contiguous tensors; integer-input entries (``name[int]``) check PyTorch's type promotion (integer
inputs to floating ops give float32). Ties and kinks sit in samples with ``gradcheck=False``: there the
gradient is PyTorch's convention, which the parity test compares.
"""
from __future__ import annotations

import math
import operator

import numpy as np

import deepcore as dc

from . import OpEntry, Sample

FLOATS = (np.float32, np.float64)
WITH_INT = (np.float32, np.float64, np.int64)
INT_TOL = dict(rtol=1e-6, atol=1e-6)  # float32 outputs of integer inputs against a float64 reference
MIXED_TOL = {np.int64: INT_TOL}  # entries tested with integer tensors and Python floats


def _away(x, points, gap=0.05, shift=0.1):
    """``x`` with values within ``gap`` of any of ``points`` moved by ``shift`` (keeps finite differences
    off kinks)."""
    for p in points:
        x = np.where(np.abs(x - p) < gap, p + shift, x)
    return x


# --- binary arithmetic ------------------------------------------------------------------------------------
def _binary_samples(domain_a=None, domain_b=None, ints=True):
    """Samples for a binary op; ``domain_*`` map a raw normal array into the op's domain."""
    def samples(rng):
        da = domain_a or (lambda v: v)
        db = domain_b or (lambda v: v)

        def a(shape):
            return np.asarray(da(rng.standard_normal(shape)))

        def b(shape):
            return np.asarray(db(rng.standard_normal(shape)))
        out = [
            Sample((a((3, 4)), b((3, 4))), name="same"),
            Sample((a((2, 3, 4)), b((3, 1))), name="broadcast"),
            Sample((a((4, 1)), b((1, 5))), name="outer-broadcast"),
            Sample((a(()), b(())), name="0d"),
            Sample((a((3,)), b(())), name="0d-right"),
            Sample((a((3,)), float(db(np.array(1.7)))), name="pyscalar-right"),
            Sample((float(da(np.array(1.3))), b((2, 3))), name="pyscalar-left"),
            Sample((a((0, 3)), b((3,))), name="empty"),
            Sample((a((3, 4)), b((3, 4))), name="noncontig", noncontig=True),
        ]
        if ints:
            out.append(Sample((a((2, 3)), np.array([1, 2, 3])), name="int-right"))
            out.append(Sample((a((2, 3)), 2), name="pyint-right"))
        return out
    return samples


def _pos(v):
    return np.abs(v) + 0.5


def _nonzero(v):
    return np.where(np.abs(v) < 0.3, 0.7, v)


def _apart(v):
    """The second operand of max/min, moved 0.3 up so ties with the first are rare."""
    return v + 0.3


def _tie_samples(rng):
    a = np.array([1.0, 2.0, np.nan, 3.0, -1.0])
    b = np.array([1.0, 3.0, 1.0, np.nan, -1.0])
    return [Sample((a, b), name="ties-nan", gradcheck=False),
            Sample((np.array([[0.5, 1.0], [2.0, 2.0]]), 2.0), name="ties-pyscalar", gradcheck=False)]


def _torch(name):
    return lambda torch, *a, **k: getattr(torch, name)(*a, **k)


ARITH = [
    # name, dc fn, operator, ref, samples, dtypes
    ("add", dc.add, operator.add, np.add, _binary_samples(), WITH_INT),
    ("sub", dc.sub, operator.sub, np.subtract, _binary_samples(), WITH_INT),
    ("mul", dc.mul, operator.mul, np.multiply, _binary_samples(), WITH_INT),
    ("div", dc.div, operator.truediv, np.true_divide, _binary_samples(domain_b=_nonzero), FLOATS),
    ("pow", dc.pow, operator.pow, np.power, _binary_samples(domain_a=_pos), FLOATS),
    ("remainder", dc.remainder, operator.mod, np.remainder, _binary_samples(domain_b=_nonzero), FLOATS),
    ("floor_divide", dc.floor_divide, operator.floordiv, np.floor_divide, _binary_samples(domain_b=_nonzero), FLOATS),
]
DUNDERS = {"add": ("__add__", "__radd__"), "sub": ("__sub__", "__rsub__"), "mul": ("__mul__", "__rmul__"),
           "div": ("__truediv__", "__rtruediv__"), "pow": ("__pow__", "__rpow__"),
           "remainder": ("__mod__", "__rmod__"), "floor_divide": ("__floordiv__", "__rfloordiv__")}
TORCH_OPS = {"div": "true_divide"}


ENTRIES: list[OpEntry] = []

for _name, _fn, _op, _ref, _samples, _dtypes in ARITH:
    _grad = _name != "floor_divide"
    _gk = {}
    if _name == "remainder":
        _gk = {"eps": 1e-7}
    ENTRIES.append(OpEntry(_name, _fn, _samples, covers=(f"dc.{_name}", f"Tensor.{_name}"), ref=_ref,
                           torch_fn=_torch(TORCH_OPS.get(_name, _name)), dtypes=_dtypes, grad=_grad,
                           gradcheck_kw=_gk, tol=MIXED_TOL))
    ENTRIES.append(OpEntry(DUNDERS[_name][0], _op, _samples, covers=tuple(f"Tensor.{d}" for d in DUNDERS[_name]),
                           ref=_ref, torch_fn=lambda torch, a, b, _op=_op: _op(a, b), dtypes=_dtypes, grad=_grad,
                           gradcheck_kw=_gk, tol=MIXED_TOL))


ENTRIES += [
    OpEntry("maximum", dc.maximum, _binary_samples(domain_b=_apart), covers=("dc.maximum", "Tensor.maximum"),
            ref=np.maximum, torch_fn=lambda torch, a, b: torch.maximum(*_torch_pair(torch, a, b)), dtypes=WITH_INT,
            tol=MIXED_TOL),
    OpEntry("minimum", dc.minimum, _binary_samples(domain_b=_apart), covers=("dc.minimum", "Tensor.minimum"),
            ref=np.minimum, torch_fn=lambda torch, a, b: torch.minimum(*_torch_pair(torch, a, b)), dtypes=WITH_INT,
            tol=MIXED_TOL),
    OpEntry("maximum[ties]", dc.maximum, _tie_samples, covers=("dc.maximum",), ref=np.maximum,
            torch_fn=lambda torch, a, b: torch.maximum(*_torch_pair(torch, a, b))),
    OpEntry("minimum[ties]", dc.minimum, _tie_samples, covers=("dc.minimum",), ref=np.minimum,
            torch_fn=lambda torch, a, b: torch.minimum(*_torch_pair(torch, a, b))),
]


def _torch_pair(torch, a, b):
    """torch.maximum/minimum take tensors only: wrap a Python number as a 0-d tensor of PyTorch's type."""
    if not isinstance(a, torch.Tensor):
        a = torch.tensor(a, dtype=torch.result_type(b, a))
    if not isinstance(b, torch.Tensor):
        b = torch.tensor(b, dtype=torch.result_type(a, b))
    return a, b


def _alpha_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)), r((3, 4))), {"alpha": 2.5}, name="alpha"),
            Sample((r((2, 3)), r((3,))), {"alpha": -1}, name="alpha-broadcast"),
            Sample((r((2, 3)), 1.5), {"alpha": 0.5}, name="alpha-pyscalar")]


ENTRIES += [
    OpEntry("add[alpha]", dc.add, _alpha_samples, covers=("dc.add", "Tensor.add"),
            ref=lambda a, b, alpha=1: a + alpha * np.asarray(b), torch_fn=_torch("add")),
    OpEntry("sub[alpha]", dc.sub, _alpha_samples, covers=("dc.sub", "Tensor.sub"),
            ref=lambda a, b, alpha=1: a - alpha * np.asarray(b), torch_fn=_torch("sub")),
]


# integer and bool arithmetic: exact, and PyTorch's promotion (true division of ints is float32)
def _int_pair_samples(rng):
    a = rng.integers(-9, 10, (3, 4))
    b = rng.integers(1, 6, (3, 4)) * rng.choice([-1, 1], (3, 4))
    return [Sample((a, b), name="int64"), Sample((a.astype(np.int32), b), name="int32-int64"),
            Sample((a, 3), name="pyint"), Sample((a, -3), name="pyint-neg"), Sample((7, b), name="pyint-left"),
            Sample((a, 2.5), name="pyfloat"), Sample((a.astype(np.uint8), 3), name="uint8"),
            Sample((a > 0, b), name="bool-int"), Sample((a > 0, 1.5), name="bool-pyfloat")]


def _int_pair_samples_no_bool(rng):
    return [s for s in _int_pair_samples(rng) if not s.name.startswith("bool")]


for _name, _fn, _ref in [("add", operator.add, np.add), ("mul", operator.mul, np.multiply),
                         ("sub", operator.sub, np.subtract), ("div", operator.truediv, np.true_divide),
                         ("remainder", operator.mod, np.remainder), ("floor_divide", operator.floordiv, np.floor_divide),
                         ("fmod", dc.fmod, np.fmod), ("maximum", dc.maximum, np.maximum),
                         ("minimum", dc.minimum, np.minimum)]:
    _tfn = (lambda torch, a, b, _n=_name: getattr(torch, _n)(*_torch_pair(torch, a, b))) \
        if _name in ("maximum", "minimum", "fmod") else (lambda torch, a, b, _f=_fn: _f(a, b))
    ENTRIES.append(OpEntry(f"{_name}[int]", _fn, _int_pair_samples_no_bool if _name == "sub" else _int_pair_samples,
                           covers=(f"dc.{_name}",) + ((f"Tensor.{DUNDERS[_name][0]}",) if _name in DUNDERS else ()),
                           ref=_ref, torch_fn=_tfn, dtypes=(np.int64,), grad=False, tol=INT_TOL,
                           extra={"out_dtype": None}))


def _int_pow_samples(rng):
    a = rng.integers(-4, 5, (3, 4))
    return [Sample((a, rng.integers(0, 4, (3, 4))), name="int-int"), Sample((a, 3), name="pyint"),
            Sample((np.array([2, -1, -1, 0, 1, -2, 3]), np.array([-1, -1, -2, -1, -5, -2, 0])), name="neg-exponents"),
            Sample((a, 2.5), name="pyfloat"), Sample((2, rng.integers(0, 5, (4,))), name="pyint-base"),
            Sample((2.5, rng.integers(0, 5, (4,))), name="pyfloat-base")]


def _int_pow_ref(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return np.power(a.astype(np.float64), b)
    neg = b < 0
    y = np.power(a, np.where(neg, 0, b))
    special = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0))
    return np.where(neg, special, y)


ENTRIES.append(OpEntry("pow[int]", operator.pow, _int_pow_samples, covers=("dc.pow", "Tensor.__pow__", "Tensor.__rpow__"),
                       ref=_int_pow_ref, torch_fn=lambda torch, a, b: a ** b, dtypes=(np.int64,), grad=False,
                       tol=INT_TOL, extra={"out_dtype": None}))


def _pow_edge_samples(rng):
    return [Sample((np.array([0.0, 0.0, 2.0, -2.0, 0.0, 1.5]), np.array([0.0, -1.0, 2.0, 2.0, 1.0, 0.0])),
                   name="zero-base-and-exponent", gradcheck=False),
            Sample((np.array([0.0, 1.0, -2.0]), 0.0), name="x-pow-0", gradcheck=False),
            Sample((0.0, np.array([0.0, -1.0, 2.0])), name="0-pow-y", gradcheck=False)]


ENTRIES.append(OpEntry("pow[edges]", dc.pow, _pow_edge_samples, covers=("dc.pow",), ref=np.power,
                       torch_fn=lambda torch, a, b: torch.pow(a, b), dtypes=FLOATS))


def _div_mode_samples(rng):
    a = rng.integers(-20, 21, (3, 4))
    b = rng.integers(1, 6, (3, 4)) * rng.choice([-1, 1], (3, 4))
    fa = rng.standard_normal((3, 4)) * 5
    return [Sample((a, b), {"rounding_mode": "trunc"}, name="int-trunc"),
            Sample((a, b), {"rounding_mode": "floor"}, name="int-floor"),
            Sample((a, b), {"rounding_mode": None}, name="int-true"),
            Sample((fa, b), {"rounding_mode": "trunc"}, name="float-trunc"),
            Sample((fa, 3), {"rounding_mode": "floor"}, name="float-floor"),
            Sample((fa, -2.5), {"rounding_mode": "trunc"}, name="float-pyscalar"),
            Sample((a, 4), {"rounding_mode": "trunc"}, name="pyint")]


def _div_mode_ref(a, b, rounding_mode=None):
    a, b = np.asarray(a), np.asarray(b)
    if rounding_mode is None:
        return np.true_divide(a, b)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        q = np.floor_divide(a, b)
        if rounding_mode == "trunc":
            q = q + ((a - q * b != 0) & ((a < 0) != (b < 0)))
        return q
    return np.floor_divide(a, b) if rounding_mode == "floor" else np.trunc(a / b)


ENTRIES.append(OpEntry("div[rounding_mode]", dc.div, _div_mode_samples, covers=("dc.div", "Tensor.div"),
                       ref=_div_mode_ref, torch_fn=lambda torch, a, b, rounding_mode=None:
                       torch.div(a, b, rounding_mode=rounding_mode), dtypes=(np.float32, np.float64),
                       gradcheck_kw={}, extra={"out_dtype": None}))


def _fmod_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)) * 4, _nonzero(r((3, 4)))), name="same"),
            Sample((r((2, 3)) * 4, -1.5), name="pyscalar"),
            Sample((r((2, 3, 4)) * 4, _nonzero(r((3, 1)))), name="broadcast"),
            Sample((r((0, 2)), _nonzero(r(2))), name="empty")]


def _fmod_ok(samples):
    """fmod jumps where a / b is an integer; move the dividend so its quotient's fraction is in (0.2, 0.8)."""
    def fixed(rng):
        out = []
        for s in samples(rng):
            a, b = s.args
            q = a / b
            frac = np.abs(q - np.trunc(q))
            bad = (frac < 0.2) | (frac > 0.8)
            a = np.where(bad, (np.trunc(q) + 0.5 * np.sign(q + (q == 0))) * b, a)
            out.append(Sample((a, b), s.kwargs, name=s.name))
        return out
    return fixed


def _remainder_ok(samples):
    """remainder/floor_divide jump where a / b is an integer: keep the fraction of a / b in (0.2, 0.8)."""
    def fixed(rng):
        out = []
        for s in samples(rng):
            a, b = s.args
            if not (isinstance(a, np.ndarray) and a.dtype.kind == "f" and (
                    isinstance(b, (float, int)) or b.dtype.kind == "f")):
                out.append(s)
                continue
            q = np.asarray(a / b)
            frac = q - np.floor(q)
            bad = (frac < 0.2) | (frac > 0.8)
            a2 = np.where(bad, (np.floor(q) + 0.5) * b, a)
            out.append(Sample((np.broadcast_to(a2, np.broadcast_shapes(np.shape(a), np.shape(a2))).copy()
                               if np.shape(a2) != np.shape(a) else a2, b), s.kwargs, name=s.name,
                              noncontig=s.noncontig, gradcheck=s.gradcheck))
        return out
    return fixed


ENTRIES.append(OpEntry("fmod", dc.fmod, _fmod_ok(_fmod_samples), covers=("dc.fmod", "Tensor.fmod"), ref=np.fmod,
                       torch_fn=_torch("fmod")))

# remainder's own samples: quotients away from integers, so the finite differences see no jump; PyTorch has no
# gradient for remainder(number, tensor), so its parity call takes the number as a 0-d tensor
for _i, _e in enumerate(ENTRIES):
    if _e.name in ("remainder", "__mod__"):
        ENTRIES[_i] = OpEntry(_e.name, _e.fn, _remainder_ok(_binary_samples(domain_b=_nonzero)), covers=_e.covers,
                              ref=_e.ref, torch_fn=lambda torch, a, b: torch.remainder(*_torch_pair(torch, a, b)),
                              dtypes=_e.dtypes, tol=MIXED_TOL)


# --- unary arithmetic -----------------------------------------------------------------------------------------
def _unary_samples(domain=lambda v: v, ints=None):
    def samples(rng):
        r = rng.standard_normal
        return [Sample((domain(r((3, 4))),), name="matrix"), Sample((np.asarray(domain(r(()))),), name="0d"),
                Sample((domain(r((2, 3, 4))),), name="3d"), Sample((domain(r((0, 3))),), name="empty"),
                Sample((domain(r((3, 4))),), name="noncontig", noncontig=True)]
    return samples


def _nz(v):
    return _away(v, [0.0])


ENTRIES += [
    OpEntry("neg", dc.neg, _unary_samples(), covers=("dc.neg", "Tensor.neg"), ref=np.negative,
            torch_fn=_torch("neg"), dtypes=WITH_INT),
    OpEntry("__neg__", operator.neg, _unary_samples(), covers=("Tensor.__neg__",), ref=np.negative,
            torch_fn=lambda torch, x: -x, dtypes=WITH_INT),
    OpEntry("__pos__", operator.pos, _unary_samples(), covers=("Tensor.__pos__",), ref=np.positive,
            torch_fn=lambda torch, x: +x, dtypes=WITH_INT),
    OpEntry("abs", dc.abs, _unary_samples(_nz), covers=("dc.abs", "Tensor.abs"), ref=np.abs, torch_fn=_torch("abs"),
            dtypes=WITH_INT),
    OpEntry("__abs__", abs, _unary_samples(_nz), covers=("Tensor.__abs__",), ref=np.abs,
            torch_fn=lambda torch, x: abs(x), dtypes=WITH_INT),
]


# --- floating unary math: float inputs keep their dtype, integer/bool inputs give float32 --------------------------
def _in(lo, hi):
    return lambda v: lo + (hi - lo) / (1 + np.exp(-v))  # squashes into (lo, hi)


def _sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


def _erf_ref(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if np.size(x) else np.zeros(np.shape(x))


FLOAT_UNARY = [
    # name, ref, domain, torch name, integer sample values
    ("exp", np.exp, None, "exp", [0, 1, 2]),
    ("log", np.log, _pos, "log", [1, 2, 3]),
    ("sqrt", np.sqrt, _pos, "sqrt", [1, 4, 9]),
    ("sin", np.sin, None, "sin", [0, 1, 2]),
    ("cos", np.cos, None, "cos", [0, 1, 2]),
    ("tan", np.tan, _in(-1.2, 1.2), "tan", [0, 1, -1]),
    ("asin", np.arcsin, _in(-0.9, 0.9), "asin", [0, 1, -1]),
    ("acos", np.arccos, _in(-0.9, 0.9), "acos", [0, 1, -1]),
    ("atan", np.arctan, None, "atan", [0, 1, 5]),
    ("sinh", np.sinh, None, "sinh", [0, 1, 2]),
    ("cosh", np.cosh, None, "cosh", [0, 1, 2]),
    ("asinh", np.arcsinh, None, "asinh", [0, 1, -3]),
    ("acosh", np.arccosh, lambda v: np.abs(v) + 1.2, "acosh", [1, 2, 3]),
    ("atanh", np.arctanh, _in(-0.9, 0.9), "atanh", [0, 0, 0]),
    ("log2", np.log2, _pos, "log2", [1, 2, 8]),
    ("log10", np.log10, _pos, "log10", [1, 10, 1000]),
    ("exp2", np.exp2, None, "exp2", [0, 3, -2]),
    ("rsqrt", lambda x: 1 / np.sqrt(x), _pos, "rsqrt", [1, 4, 2]),
    ("erf", _erf_ref, None, "erf", [0, 1, -2]),
]


def _float_int_samples(values):
    def samples(rng):
        v = np.array(values)
        return [Sample((v,), name="int64"), Sample((v.astype(np.int32).reshape(3, 1),), name="int32"),
                Sample((v.astype(np.uint8) if v.min() >= 0 else v.astype(np.int8),), name="small-int"),
                Sample((v > 0,), name="bool")]
    return samples


for _name, _ref, _dom, _tname, _ivals in FLOAT_UNARY:
    _fn = getattr(dc, _name)
    ENTRIES.append(OpEntry(_name, _fn, _unary_samples(_dom or (lambda v: v)), covers=(f"dc.{_name}", f"Tensor.{_name}"),
                           ref=_ref, torch_fn=_torch(_tname)))
    ENTRIES.append(OpEntry(f"{_name}[int]", _fn, _float_int_samples(_ivals), covers=(f"dc.{_name}",),
                           ref=lambda x, _r=_ref: _r(x.astype(np.float64)),
                           torch_fn=_torch(_tname), dtypes=(np.int64,), grad=False, tol=INT_TOL,
                           extra={"out_dtype": np.float32}))


# --- rounding: integer dtypes unchanged, zero gradient ----------------------------------------------------------
def _off_grid(v, step=1.0):
    """Values at least 0.15 steps away from the rounding boundaries (multiples of step / 2)."""
    k = np.floor(v / step * 2)
    return (k + np.where(k % 2 == 0, 0.3, 0.7)) * step / 2 * 1.0


def _rounding_samples(step=1.0, kwargs=None):
    kwargs = kwargs or {}

    def samples(rng):
        r = lambda s: _off_grid(rng.standard_normal(s) * 4, step)
        return [Sample((r((3, 4)),), kwargs, name="matrix"), Sample((np.asarray(r(())),), kwargs, name="0d"),
                Sample((r((0, 3)),), kwargs, name="empty"), Sample((r((3, 4)),), kwargs, name="noncontig",
                                                                   noncontig=True),
                Sample((np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.0, np.inf, -np.inf, np.nan]),), kwargs,
                       name="halves-and-specials", gradcheck=False)]
    return samples


def _int_rounding_samples(rng):
    return [Sample((rng.integers(-9, 10, (3, 4)),), name="int64"), Sample((np.array([3, -2, 0], np.int32),), name="int32"),
            Sample((np.array([7, 0], np.uint8),), name="uint8")]


def _sign_ref(x):
    x = np.asarray(x)
    if x.dtype.kind in "fc":
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)
    return x if x.dtype == bool else np.sign(x)


ROUNDING = [("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc), ("round", np.round), ("sign", _sign_ref)]
for _name, _ref in ROUNDING:
    _fn = getattr(dc, _name)
    ENTRIES.append(OpEntry(_name, _fn, _rounding_samples(), covers=(f"dc.{_name}", f"Tensor.{_name}"), ref=_ref,
                           torch_fn=_torch(_name)))
    ENTRIES.append(OpEntry(f"{_name}[int]", _fn, _int_rounding_samples, covers=(f"dc.{_name}",),
                           ref=(lambda x, _r=_ref: x.copy() if x.dtype == bool else _r(x).astype(x.dtype)),
                           torch_fn=_torch(_name), dtypes=(np.int64,), grad=False))

ENTRIES += [
    OpEntry("sign[bool]", dc.sign, lambda rng: [Sample((np.array([True, False]),), name="bool")], covers=("dc.sign",),
            ref=lambda x: x.copy(), torch_fn=_torch("sign"), dtypes=(np.bool_,), grad=False),
    OpEntry("round[decimals]", dc.round, lambda rng: (
        _rounding_samples(0.1, {"decimals": 1})(rng)[:4]
        + _rounding_samples(100.0, {"decimals": -2})(rng)[:1]
        + [Sample((np.array([0.125, 0.375, -0.625, 2.5]),), {"decimals": 2}, name="ties", gradcheck=False)]),
        covers=("dc.round", "Tensor.round"), ref=lambda x, decimals=0: np.round(x, decimals),
        torch_fn=lambda torch, x, decimals=0: torch.round(x, decimals=decimals)),
    OpEntry("__round__", round, _rounding_samples(), covers=("Tensor.__round__",), ref=np.round,
            torch_fn=lambda torch, x: torch.round(x)),
]


# --- lerp, logaddexp ------------------------------------------------------------------------------------------
def _lerp_ref(start, end, weight):
    w = np.asarray(weight, dtype=np.float64)
    return np.where(w < 0.5, start + w * (end - start), end - (end - start) * (1 - w))


def _lerp_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)), r((3, 4)), 0.3), name="pyweight"), Sample((r((3, 4)), r((3, 4)), 0.75), name="pyweight-hi"),
            Sample((r((3, 4)), r((3, 4)), rng.uniform(0, 1, (3, 4))), name="tensor-weight"),
            Sample((r((2, 3, 4)), r((4,)), rng.uniform(0, 1, (3, 1))), name="broadcast"),
            Sample((r(()), r(()), np.array(0.6)), name="0d"), Sample((r((0, 2)), r((0, 2)), 0.5), name="empty"),
            Sample((r((3, 4)), r((3, 4)), rng.uniform(0, 1, (3, 4))), name="noncontig", noncontig=True)]


def _logaddexp_samples(rng):
    r = rng.standard_normal
    return [Sample((r((3, 4)), r((3, 4))), name="same"), Sample((r((2, 3, 4)) * 30, r((3, 1)) * 30), name="broadcast-large"),
            Sample((r((3,)), 0.5), name="pyscalar"), Sample((r(()), r((0,))), name="empty"),
            Sample((r((3, 4)), r((3, 4))), name="noncontig", noncontig=True)]


ENTRIES += [
    OpEntry("lerp", dc.lerp, _lerp_samples, covers=("dc.lerp", "Tensor.lerp"), ref=_lerp_ref,
            torch_fn=lambda torch, s, e, w: torch.lerp(s, e, w)),
    OpEntry("logaddexp", dc.logaddexp, _logaddexp_samples, covers=("dc.logaddexp", "Tensor.logaddexp"),
            ref=np.logaddexp, torch_fn=lambda torch, a, b: torch.logaddexp(*_torch_pair(torch, a, b))),
]


# --- tests: bool results, no gradient -----------------------------------------------------------------------------
def _special_samples(rng):
    v = np.array([[0.0, -1.5, np.nan], [np.inf, -np.inf, 2.0]])
    return [Sample((v,), name="specials"), Sample((np.array(np.nan),), name="0d"), Sample((v[:0],), name="empty"),
            Sample((v,), name="noncontig", noncontig=True), Sample((np.array([1, 2]),), name="int"),
            Sample((np.array([True]),), name="bool")]


for _name in ("isnan", "isinf", "isfinite"):
    ENTRIES.append(OpEntry(_name, getattr(dc, _name), _special_samples, covers=(f"dc.{_name}", f"Tensor.{_name}"),
                           ref=getattr(np, _name), torch_fn=_torch(_name), grad=False))


def _close_samples(rng):
    a = np.array([[1.0, 2.0, np.nan], [np.inf, -np.inf, 1e-9]])
    b = np.array([[1.0 + 1e-6, 2.1, np.nan], [np.inf, np.inf, 0.0]])
    return [Sample((a, b), name="default"), Sample((a, b), {"equal_nan": True}, name="equal_nan"),
            Sample((a, b), {"rtol": 0.1, "atol": 0.0}, name="rtol"),
            Sample((a[0], b[:, :1]), {"atol": 0.2}, name="broadcast"), Sample((a[:0], b[:0]), name="empty"),
            Sample((a, b), name="noncontig", noncontig=True)]


def _np_isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _np_allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.all(_np_isclose(a, b, rtol, atol, equal_nan)))


def _allclose_samples(rng):
    a = rng.standard_normal((3, 4))
    return [Sample((a, a + 1e-7), name="close"), Sample((a, a + 1e-2), name="far"),
            Sample((np.array([np.nan, 1.0]), np.array([np.nan, 1.0])), {"equal_nan": True}, name="nan"),
            Sample((a, a[0]), name="broadcast")]


ENTRIES += [
    OpEntry("isclose", dc.isclose, _close_samples, covers=("dc.isclose", "Tensor.isclose"), ref=_np_isclose,
            torch_fn=lambda torch, a, b, **k: torch.isclose(a, b, **k), grad=False),
    OpEntry("allclose", dc.allclose, _allclose_samples, covers=("dc.allclose", "Tensor.allclose"), ref=_np_allclose,
            torch_fn=lambda torch, a, b, **k: torch.allclose(a, b, **k), grad=False, extra={"host_sync": True}),
]


# --- comparisons -------------------------------------------------------------------------------------------
def _compare_samples(rng):
    a = np.round(rng.standard_normal((3, 4)), 1)
    b = np.round(rng.standard_normal((3, 4)), 1)
    b[0] = a[0]
    return [Sample((a, b), name="same"), Sample((a, b[1]), name="broadcast"), Sample((a, 0.0), name="pyscalar"),
            Sample((a, 1), name="pyint"), Sample((0.5, a), name="pyscalar-left"), Sample((a[:0], b[0]), name="empty"),
            Sample((a, b), name="noncontig", noncontig=True), Sample((np.array([1, 2, 3]), 2.5), name="int-pyfloat"),
            Sample((np.array([1, 2, 3]), np.array([1.0, 2.5, 3.0])), name="int-float")]


COMPARE = [("eq", operator.eq, "__eq__"), ("ne", operator.ne, "__ne__"), ("lt", operator.lt, "__lt__"),
           ("le", operator.le, "__le__"), ("gt", operator.gt, "__gt__"), ("ge", operator.ge, "__ge__")]
for _name, _op, _dunder in COMPARE:
    ENTRIES.append(OpEntry(_name, getattr(dc, _name), lambda rng: [s for s in _compare_samples(rng)
                                                                   if s.name != "pyscalar-left"],
                           covers=(f"dc.{_name}", f"Tensor.{_name}"), ref=_op,
                           torch_fn=lambda torch, a, b, _n=_name: getattr(torch, _n)(a, b), grad=False,
                           dtypes=WITH_INT, tol=MIXED_TOL))
    ENTRIES.append(OpEntry(_dunder, _op, _compare_samples, covers=(f"Tensor.{_dunder}",), ref=_op,
                           torch_fn=lambda torch, a, b, _op=_op: _op(a, b), grad=False, dtypes=WITH_INT,
                           tol=MIXED_TOL))


# --- bitwise: integer and bool tensors -------------------------------------------------------------------------
def _bit_samples(rng):
    a = rng.integers(-50, 50, (3, 4)).astype(np.float64)  # cast to the tested dtype
    b = rng.integers(-50, 50, (3, 4)).astype(np.float64)
    return [Sample((a, b), name="same"), Sample((a, b[0]), name="broadcast"), Sample((a, 6), name="pyint"),
            Sample((5, a), name="pyint-left"), Sample((a, True), name="pybool"), Sample((a[:0], b[0]), name="empty"),
            Sample((a, b), name="noncontig", noncontig=True),
            Sample((a, rng.integers(0, 2, (3, 4)).astype(bool)), name="bool-tensor")]


def _shift_samples(rng):
    a = rng.integers(-50, 50, (3, 4)).astype(np.float64)
    s = rng.integers(0, 8, (3, 4)).astype(np.float64)
    return [Sample((a, s), name="same"), Sample((a, 3), name="pyint"), Sample((3, s), name="pyint-left"),
            Sample((a, np.array([-1, 0, 63, 64, 70])[:4]), name="out-of-range"), Sample((a[:0], s[0]), name="empty"),
            Sample((a, s), name="noncontig", noncontig=True)]


def _np_shift(left):
    def ref(a, s):
        a, s = np.asarray(a), np.asarray(s)
        dt = np.result_type(a.dtype, s.dtype)
        if a.ndim and not s.ndim:
            dt = a.dtype
        if s.ndim and not a.ndim:
            dt = s.dtype
        a, s = a.astype(dt), s.astype(dt)
        width = dt.itemsize * 8
        bad = (s < 0) | (s >= width)
        safe = np.where(bad, 0, s)
        if left:
            return np.where(bad, 0, np.left_shift(a, safe)).astype(dt)
        return np.where(bad, np.where(a < 0, -1, 0), np.right_shift(a, safe)).astype(dt)
    return ref


_BIT_DTYPES = (np.int64, np.int32, np.uint8, np.bool_)
BITWISE = [("bitwise_and", operator.and_, "__and__", "__rand__", np.bitwise_and, _bit_samples, _BIT_DTYPES),
           ("bitwise_or", operator.or_, "__or__", "__ror__", np.bitwise_or, _bit_samples, _BIT_DTYPES),
           ("bitwise_xor", operator.xor, "__xor__", "__rxor__", np.bitwise_xor, _bit_samples, _BIT_DTYPES),
           ("bitwise_left_shift", operator.lshift, "__lshift__", "__rlshift__", _np_shift(True), _shift_samples,
            (np.int64, np.int32)),
           ("bitwise_right_shift", operator.rshift, "__rshift__", "__rrshift__", _np_shift(False), _shift_samples,
            (np.int64, np.int32))]
for _name, _op, _d, _rd, _ref, _samples, _dtypes in BITWISE:
    ENTRIES.append(OpEntry(_name, getattr(dc, _name), lambda rng, _s=_samples: [s for s in _s(rng)
                                                                                if not s.name.endswith("left")],
                           covers=(f"dc.{_name}", f"Tensor.{_name}"), ref=_ref,
                           torch_fn=lambda torch, a, b, _n=_name: getattr(torch, _n)(a, b), grad=False,
                           dtypes=_dtypes, extra={"out_dtype": None}))
    ENTRIES.append(OpEntry(_d, _op, _samples, covers=(f"Tensor.{_d}", f"Tensor.{_rd}"), ref=_ref,
                           torch_fn=lambda torch, a, b, _op=_op: _op(a, b), grad=False, dtypes=_dtypes,
                           extra={"out_dtype": None}))


def _invert_samples(rng):
    a = rng.integers(-50, 50, (3, 4)).astype(np.float64)
    return [Sample((a,), name="matrix"), Sample((a[:0],), name="empty"), Sample((a,), name="noncontig", noncontig=True),
            Sample((np.array(3.0),), name="0d")]


ENTRIES += [
    OpEntry("bitwise_not", dc.bitwise_not, _invert_samples, covers=("dc.bitwise_not", "Tensor.bitwise_not"),
            ref=np.invert, torch_fn=_torch("bitwise_not"), grad=False, dtypes=_BIT_DTYPES),
    OpEntry("__invert__", operator.invert, _invert_samples, covers=("Tensor.__invert__",), ref=np.invert,
            torch_fn=lambda torch, x: ~x, grad=False, dtypes=_BIT_DTYPES),
]


# --- clip, where ---------------------------------------------------------------------------------------------
def _clip_samples(rng):
    r = lambda s: _away(rng.standard_normal(s), [-0.5, 0.5, 0.0])
    return [Sample((r((3, 4)), -0.5, 0.5), name="both"), Sample((r((3, 4)), None, 0.5), name="max-only"),
            Sample((r((3, 4)), -0.5, None), name="min-only"), Sample((np.asarray(r(())), -0.5, 0.5), name="0d"),
            Sample((r((0, 3)), -0.5, 0.5), name="empty"), Sample((r((3, 4)), -0.5, 0.5), name="noncontig", noncontig=True),
            Sample((np.array([-0.5, 0.5, 0.2, np.nan]), -0.5, 0.5), name="at-bounds", gradcheck=False),
            Sample((r((3, 4)), 0.5, -0.5), name="min-above-max")]


def _np_clip(x, min=None, max=None):
    y = np.asarray(x)
    if min is not None:
        y = np.maximum(y, min)
    if max is not None:
        y = np.minimum(y, max)
    return y


def _clip_int_samples(rng):
    a = rng.integers(-5, 6, (3, 4))
    return [Sample((a, None, 2.5), name="float-max"), Sample((a, -1, 2), name="int-bounds"),
            Sample((a.astype(np.int32), 0, None), name="int32"), Sample((a, -1.5, 1.5), name="float-bounds")]


ENTRIES += [
    OpEntry("clip", dc.clip, _clip_samples, covers=("dc.clip", "Tensor.clip"), ref=_np_clip,
            torch_fn=lambda torch, x, min=None, max=None: torch.clip(x, min, max)),
    OpEntry("clamp", dc.clamp, _clip_samples, covers=("dc.clamp", "Tensor.clamp"), ref=_np_clip,
            torch_fn=lambda torch, x, min=None, max=None: torch.clamp(x, min, max)),
    OpEntry("clip[int]", dc.clip, _clip_int_samples, covers=("dc.clip",), ref=_np_clip,
            torch_fn=lambda torch, x, min=None, max=None: torch.clamp(x, min, max), dtypes=(np.int64,), grad=False,
            tol=INT_TOL, extra={"out_dtype": None}),
]


def _where_samples(rng):
    r = rng.standard_normal
    c = r((3, 4)) > 0
    return [Sample((c, r((3, 4)), r((3, 4))), name="same"), Sample((c, r((3, 4)), r((4,))), name="broadcast"),
            Sample((c[0], r((2, 1)), 0.5), name="pyscalar"), Sample((c, 1.5, r((3, 4))), name="pyscalar-left"),
            Sample((c[:0], r((0, 4)), r((4,))), name="empty"), Sample((c, r((3, 4)), r((3, 4))), name="noncontig",
                                                                     noncontig=True),
            Sample((c, r((3, 4)), np.array([1, 2, 3, 4])), name="int-branch")]


ENTRIES.append(OpEntry("where", dc.where, _where_samples, covers=("dc.where",), ref=np.where,
                       torch_fn=lambda torch, c, a, b: torch.where(c, a, b)))


def _where_int_samples(rng):
    c = rng.standard_normal((3, 4)) > 0
    return [Sample((c, rng.integers(0, 5, (3, 4)), 2.5), name="int-pyfloat"),
            Sample((c, rng.integers(0, 5, (3, 4)), 7), name="int-pyint"), Sample((c, 1.0, 0.0), name="both-scalars"),
            Sample((c, rng.integers(0, 5, (4,)).astype(np.int32), rng.integers(0, 5, (3, 1))), name="int32-int64")]


ENTRIES.append(OpEntry("where[int]", dc.where, _where_int_samples, covers=("dc.where",), ref=np.where,
                       torch_fn=lambda torch, c, a, b: torch.where(c, a, b), dtypes=(np.int64,), grad=False,
                       tol=INT_TOL, extra={"out_dtype": None}))

EXEMPT: dict[str, str] = {}
