"""Linear algebra (deepcore/ops/linalg.py): matmul with batched broadcasting and 1-D operands (also ``@``),
dot, outer and einsum; zero-size inner dimensions give zeros, as in PyTorch."""
import numpy as np

import deepcore as dc

from . import OpEntry, Sample

MATMUL_SHAPES = [
    ((3,), (3,), "vec-vec"), ((2, 3), (3,), "mat-vec"), ((3,), (3, 4), "vec-mat"), ((2, 3), (3, 4), "mat-mat"),
    ((1, 1), (1, 1), "ones"), ((5, 2, 3), (3, 4), "batch-mat"), ((5, 2, 3), (3,), "batch-vec"),
    ((3,), (5, 3, 4), "vec-batch"), ((2, 3), (5, 3, 4), "mat-batch"), ((5, 2, 3), (5, 3, 4), "batch-batch"),
    ((2, 1, 2, 3), (4, 3, 2), "broadcast-batch"), ((1, 2, 3), (4, 3, 2), "broadcast-1"),
    ((2, 3, 0), (0, 5), "empty-inner"), ((0, 3), (3, 4), "empty-rows"), ((2, 0, 3), (3, 4), "empty-batch-rows"),
    ((0,), (0,), "empty-vec"),
]


def _matmul_samples(rng):
    r = rng.standard_normal
    out = [Sample((r(a), r(b)), name=n) for a, b, n in MATMUL_SHAPES]
    out += [Sample((r((3, 4)), r((4, 2))), name="noncontig", noncontig=True),
            Sample((r((2, 3, 4)), r((4, 5))), name="noncontig-batch", noncontig=True)]
    return out


def _operator_samples(rng):
    r = rng.standard_normal
    return [Sample((r((2, 3)), r((3, 4))), name="mat-mat"), Sample((r((5, 2, 3)), r(3)), name="batch-vec"),
            Sample((r((2, 3, 0)), r((0, 5))), name="empty-inner"),
            Sample((r((3, 4)), r((4, 2))), name="noncontig", noncontig=True)]


def _dot_samples(rng):
    r = rng.standard_normal
    return [Sample((r(4), r(4)), name="4"), Sample((r(1), r(1)), name="1"), Sample((r(0), r(0)), name="empty"),
            Sample((r(5), r(5)), name="noncontig", noncontig=True)]


def _outer_samples(rng):
    r = rng.standard_normal
    return [Sample((r(3), r(4)), name="3x4"), Sample((r(1), r(5)), name="1x5"), Sample((r(0), r(3)), name="empty"),
            Sample((r(3), r(2)), name="noncontig", noncontig=True)]


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)], "matmul"), ("ij,jk", [(2, 3), (3, 4)], "implicit"), ("ii->i", [(3, 3)], "diag"),
    ("ii", [(3, 3)], "trace"), ("ij->", [(2, 3)], "sum"), ("ij->j", [(2, 3)], "colsum"),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], "bmm"), ("...ij,...jk", [(2, 3, 4), (4, 5)], "ellipsis"),
    ("i,j->ij", [(3,), (4,)], "outer"), ("i,i->", [(3,), (3,)], "dot"), ("iij->ij", [(3, 3, 2)], "repeat-3d"),
    ("ij,ij,ij->i", [(2, 3)] * 3, "three"), ("bi,bi->b", [(0, 3), (0, 3)], "empty"),
    ("...i,...i->...", [(2, 1, 3), (4, 3)], "ellipsis-broadcast"), ("ji", [(2, 3)], "transpose"),
    ("ab,cd->", [(2, 3), (4, 5)], "separate-sums"), (" i j , j k -> i k ", [(2, 3), (3, 2)], "spaces"),
]


def _einsum_samples(rng):
    r = rng.standard_normal
    out = [Sample((eq,) + tuple(r(s) for s in shapes), name=n) for eq, shapes, n in EINSUM]
    out.append(Sample(("bij,bjk->bik", r((2, 3, 4)), r((2, 4, 2))), name="noncontig", noncontig=True))
    return out


ENTRIES = [
    OpEntry("matmul", lambda a, b: dc.matmul(a, b), _matmul_samples, covers=("dc.matmul", "Tensor.matmul"),
            ref=np.matmul, torch_fn=lambda torch, a, b: torch.matmul(a, b)),
    OpEntry("__matmul__", lambda a, b: a @ b, _operator_samples, covers=("Tensor.__matmul__",), ref=np.matmul,
            torch_fn=lambda torch, a, b: a @ b),
    OpEntry("__rmatmul__", lambda a, b: b.__rmatmul__(a), _operator_samples, covers=("Tensor.__rmatmul__",),
            ref=np.matmul, torch_fn=lambda torch, a, b: b.__rmatmul__(a)),
    OpEntry("dot", lambda a, b: a.dot(b), _dot_samples, covers=("dc.dot", "Tensor.dot"), ref=np.dot,
            torch_fn=lambda torch, a, b: torch.dot(a, b)),
    OpEntry("outer", lambda a, b: dc.outer(a, b), _outer_samples, covers=("dc.outer", "Tensor.outer"), ref=np.outer,
            torch_fn=lambda torch, a, b: torch.outer(a, b)),
    OpEntry("einsum", lambda eq, *xs: dc.einsum(eq, *xs), _einsum_samples, covers=("dc.einsum",),
            ref=lambda eq, *xs: np.einsum(eq.replace(" ", ""), *xs),
            torch_fn=lambda torch, eq, *xs: torch.einsum(eq, *xs)),
]

EXEMPT: dict[str, str] = {}
