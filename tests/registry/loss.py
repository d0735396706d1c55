"""Losses: ``F.mse_loss l1_loss smooth_l1_loss huber_loss kl_div binary_cross_entropy
binary_cross_entropy_with_logits cross_entropy nll_loss``, against independent NumPy formulas and PyTorch.

Every loss has samples for each reduction, broadcasting where the loss broadcasts, 0-d and 0-size inputs,
and non-contiguous views. The class losses' reference is a per-sample loop over torch's definition
(``loss_i = -sum_k q_k w_k log p_ik`` with ``q = (1 - eps) onehot + eps / C``), independent of the fused
implementation. What the registry cannot express stays in tests/test_ops_loss.py: extreme logits, error
messages, the device flags, the CUDA fast path's launch counts.
"""
import numpy as np

import deepcore.nn.functional as F

from . import OpEntry, Sample

REDUCTIONS = ("mean", "sum", "none")


# --- NumPy references ----------------------------------------------------------------------------------------
def np_reduce(loss, reduction, denom=None):
    loss = np.asarray(loss, dtype=np.float64)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float64(loss.sum()) / (loss.size if denom is None else denom)


def np_log_softmax(x, axis=1):
    if x.shape[axis] == 0:
        return x.copy()
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_class_loss(logp, y, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Class-index targets: a loop over the samples of torch's definition; the mean divides by sum w[y]."""
    unbatched = logp.ndim == 1
    if unbatched:
        logp, y = logp[None], np.asarray(y)[None]
    lp = np.moveaxis(logp, 1, -1)  # (N, d..., C)
    C = lp.shape[-1]
    w = np.ones(C) if weight is None else weight
    eps = label_smoothing
    flat_y = np.asarray(y).reshape(-1)
    flat_lp = lp.reshape(flat_y.size, C)
    losses, denom = np.zeros(flat_y.size), 0.0
    for i, (row, k) in enumerate(zip(flat_lp, flat_y)):
        if k == ignore_index:
            continue
        losses[i] = -(w[k] * (1 - eps) * row[k]) - (eps / C) * (w * row).sum()
        denom += w[k]
    out = np_reduce(losses.reshape(np.shape(y)), reduction, denom)
    return out.reshape(()) if unbatched and reduction == "none" else out


def _ce_ref(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    logp = np_log_softmax(x, axis=0 if x.ndim == 1 else 1)
    if t.dtype.kind in "iu":
        return np_class_loss(logp, t, weight, ignore_index, reduction, label_smoothing)
    C = x.shape[0 if x.ndim == 1 else 1]
    q = t * (1 - label_smoothing) + label_smoothing / C if label_smoothing else t
    wc = 1.0 if weight is None else weight.reshape((-1,) + (1,) * max(x.ndim - 2, 0))
    loss = -(wc * q * logp).sum(axis=0 if x.ndim == 1 else 1)
    return np_reduce(loss, reduction, denom=loss.size if C else np.nan)


def _nll_ref(logp, t, weight=None, ignore_index=-100, reduction="mean"):
    return np_class_loss(logp, t, weight, ignore_index, reduction)


def _weighted(loss, weight, reduction, mean_by_sum=True):
    """torch's ``weight=`` of mse/l1/huber: elementwise; mse/l1 average over sum(weight), huber over the count."""
    if weight is None:
        return np_reduce(loss, reduction)
    loss = loss * weight
    if reduction == "mean" and mean_by_sum:
        with np.errstate(invalid="ignore"):
            return np.float64(loss.sum()) / weight.sum()
    return np_reduce(loss, reduction)


def _mse_ref(x, t, w=None, reduction="mean"):
    return _weighted((x - t) ** 2, w, reduction)


def _l1_ref(x, t, w=None, reduction="mean"):
    return _weighted(np.abs(x - t), w, reduction)


def _smooth_l1_ref(x, t, reduction="mean", beta=1.0):
    a = np.abs(x - t)
    loss = a if beta == 0 else np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)
    return np_reduce(loss, reduction)


def _huber_ref(x, t, w=None, reduction="mean", delta=1.0):
    a = np.abs(x - t)
    return _weighted(np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta)), w, reduction, mean_by_sum=False)


def _kl_ref(x, t, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(t) * (t - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(t == 0, 0.0, t * np.log(t)) - t * x
    if reduction == "batchmean":
        with np.errstate(invalid="ignore"):
            return np.float64(loss.sum()) / (x.shape[0] if x.ndim else 1)
    return np_reduce(loss, reduction)


def _bce_ref(p, t, weight=None, reduction="mean"):
    with np.errstate(divide="ignore"):
        loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
    return np_reduce(loss if weight is None else loss * weight, reduction)


def _bce_logits_ref(x, t, weight=None, pos_weight=None, reduction="mean"):
    log_sig = -np.logaddexp(0.0, -x)
    log_sig_neg = -np.logaddexp(0.0, x)
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * log_sig + (1 - t) * log_sig_neg)
    return np_reduce(loss if weight is None else loss * weight, reduction)


# --- samples -------------------------------------------------------------------------------------------------
def _with_reductions(samples):
    """Each sample once per reduction (its name suffixed), keeping its other keyword arguments."""
    out = []
    for s in samples:
        for r in REDUCTIONS:
            out.append(Sample(s.args, {**s.kwargs, "reduction": r}, name=f"{s.name}-{r}", grad_args=s.grad_args,
                              noncontig=s.noncontig, gradcheck=s.gradcheck))
    return out


def _regression_samples(rng, **kw):
    r = rng.standard_normal
    tag = "".join(f"-{k}{v:g}" for k, v in kw.items())
    return _with_reductions([
        Sample((r((3, 4)) * 1.5, r((3, 4)) * 1.5), kw, name="basic" + tag),
        Sample((r((2, 3)) * 1.5, r(3) * 1.5), kw, name="broadcast" + tag),
        Sample((np.array(0.7), np.array(-0.6)), kw, name="scalar" + tag),
        Sample((r((0, 3)), r((0, 3))), kw, name="empty" + tag),
        Sample((r((4, 3)) * 1.5, r((4, 3)) * 1.5), kw, name="noncontig" + tag, noncontig=True),
    ])


def _weighted_samples(rng, **kw):
    """(input, target, weight) for the ``weight=`` entries; weight has the input's shape (torch's rule)."""
    r, u = rng.standard_normal, rng.uniform
    return _with_reductions([
        Sample((r((3, 4)) * 1.5, r((3, 4)) * 1.5, u(0.2, 2, (3, 4))), kw, name="weighted"),
        Sample((r((2, 3)) * 1.5, r(3) * 1.5, u(0.2, 2, (2, 3))), kw, name="weighted-broadcast"),
        Sample((r((0, 3)), r((0, 3)), u(0.2, 2, (0, 3))), kw, name="weighted-empty"),
        Sample((r((4, 3)), r((4, 3)), u(0.2, 2, (4, 3))), kw, name="weighted-noncontig", noncontig=True),
    ])


def _weighted_fn(fn):
    return lambda x, t, w, **k: fn(x, t, weight=w, **k)


def _weighted_torch(name):
    return lambda torch, x, t, w, **k: getattr(torch.nn.functional, name)(x, t, weight=w, **k)


def _smooth_l1_samples(rng):
    return _regression_samples(rng) + _regression_samples(rng, beta=0.5) + _regression_samples(rng, beta=0.0)[:3]


def _huber_samples(rng):
    return _regression_samples(rng) + _regression_samples(rng, delta=0.7)


def _log_probs(rng, shape):
    return np_log_softmax(rng.standard_normal(shape), axis=-1)


def _probs(rng, shape):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


def _kl_samples(rng):
    out = []
    for kw in ({}, {"log_target": True}):
        for r in REDUCTIONS + ("batchmean",):
            k = {**kw, "reduction": r}
            t = _log_probs(rng, (4, 3)) if kw else _probs(rng, (4, 3))
            tag = f"{'log-' if kw else ''}{r}"
            out += [Sample((_log_probs(rng, (4, 3)), t), k, name=f"basic-{tag}"),
                    Sample((_log_probs(rng, (3, 4)), t.T.copy()), k, name=f"noncontig-{tag}", noncontig=True)]
        out.append(Sample((_log_probs(rng, (2, 3, 4)), _probs(rng, (3, 4)) if not kw else _log_probs(rng, (3, 4))),
                          {**kw, "reduction": "sum"}, name=f"broadcast-{'log' if kw else 'p'}"))
    out.append(Sample((np.array(-0.7), np.array(0.4)), {"reduction": "batchmean"}, name="scalar"))
    out.append(Sample((_log_probs(rng, (0, 3)), _probs(rng, (0, 3))), {"reduction": "batchmean"}, name="empty"))
    t0 = _probs(rng, (2, 3))
    t0[0, 1] = 0.0                                   # 0 log 0 = 0 in the forward; the target gradient is NaN there
    out.append(Sample((_log_probs(rng, (2, 3)), t0), {"reduction": "sum"}, name="zero-target", grad_args=(0,)))
    return out


def _bce_samples(rng):
    u = rng.uniform
    edge = Sample((np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30]), np.array([0.3, 0.3, 0.0, 1.0, 1.0, 0.2])),
                  {"reduction": "sum"}, name="edges", gradcheck=False)  # log clamped at -100; d/dt infinite at 0, 1
    return _with_reductions([
        Sample((u(0.05, 0.95, (4, 3)), u(0, 1, (4, 3))), name="basic"),
        Sample((u(0.05, 0.95, (4, 3)), u(0, 1, (4, 3)), u(0.5, 2, 3)), name="weight-broadcast", grad_args=(0, 1)),
        Sample((np.array(0.3), np.array(0.8)), name="scalar"),
        Sample((u(0.05, 0.95, (0, 2)), u(0, 1, (0, 2))), name="empty"),
        Sample((u(0.05, 0.95, (3, 4)), u(0, 1, (3, 4))), name="noncontig", noncontig=True),
    ]) + [edge]


def _bce_logits_samples(rng):
    r, u = rng.standard_normal, rng.uniform
    return _with_reductions([
        Sample((r((5, 2)) * 3, u(0, 1, (5, 2))), name="basic"),
        Sample((r((3, 4)) * 3, u(0, 1, (3, 4)), u(0.5, 2, (3, 1)), u(0.5, 3, 4)), name="weights", grad_args=(0, 1)),
        Sample((r((3, 4)) * 3, u(0, 1, (3, 4)), None, u(0.5, 3, 4)), name="pos-weight", grad_args=(0, 1)),
        Sample((np.array(-1.3), np.array(0.4)), name="scalar"),
        Sample((r((0, 3)), u(0, 1, (0, 3))), name="empty"),
        Sample((r((4, 3)) * 3, u(0, 1, (4, 3))), name="noncontig", noncontig=True),
        Sample((np.array([40.0, -40.0, 0.0, 800.0]), np.array([0.0, 1.0, 0.5, 1.0])), name="extreme"),
    ])


def _ce_samples(rng):
    r = rng.standard_normal
    y6 = rng.integers(0, 5, 6)
    y_ign = y6.copy()
    y_ign[[1, 4]] = 2
    ys = rng.integers(0, 3, (2, 2, 3))
    ys[0, 1, 2] = -100
    q = _probs(rng, (4, 3))
    w5, w3 = rng.uniform(0.2, 2.0, 5), rng.uniform(0.5, 2.0, 3)
    return _with_reductions([
        Sample((r((6, 5)) * 2, y6), name="basic"),
        Sample((r((6, 5)), y_ign, w5), {"ignore_index": 2, "label_smoothing": 0.15}, name="weight-ignore-smooth",
               grad_args=(0,)),
        Sample((r((2, 3, 2, 3)), ys), name="spatial"),
        Sample((r((2, 3, 4)), rng.integers(0, 3, (2, 4)), w3), {"label_smoothing": 0.2}, name="spatial-weight-smooth",
               grad_args=(0,)),
        Sample((r(4), np.array(3)), name="unbatched"),
        Sample((r((4, 3)), q), name="probs"),
        Sample((r((4, 3)), q, w3), {"label_smoothing": 0.1}, name="probs-weight-smooth", grad_args=(0, 1)),
        Sample((r((0, 3)), np.zeros(0, dtype=np.int64)), name="empty-batch"),
        Sample((r((3, 0)), np.full(3, -100)), name="no-classes-all-ignored"),
        Sample((r((3, 0)), np.zeros((3, 0))), name="no-classes-probs"),
        Sample((r((5, 4)), rng.integers(0, 4, 5)), name="noncontig", noncontig=True),
    ])


def _nll_samples(rng):
    y = rng.integers(0, 4, 5)
    y[2] = -100
    w4 = rng.uniform(0.2, 2.0, 4)
    return _with_reductions([
        Sample((np_log_softmax(rng.standard_normal((5, 4))), y), name="ignore"),
        Sample((np_log_softmax(rng.standard_normal((2, 4, 3))), rng.integers(0, 4, (2, 3)), w4), name="spatial-weight",
               grad_args=(0,)),
        Sample((np_log_softmax(rng.standard_normal(4), axis=0), np.array(1)), name="unbatched"),
        Sample((np.zeros((0, 4)), np.zeros(0, dtype=np.int64)), name="empty-batch"),
        Sample((np.zeros((2, 0)), np.full(2, -100)), name="no-classes-all-ignored"),
        Sample((np_log_softmax(rng.standard_normal((3, 5))), rng.integers(0, 5, 3)), {"ignore_index": 1},
               name="noncontig", noncontig=True),
    ])


def _torch(name):
    return lambda torch, *a, **k: getattr(torch.nn.functional, name)(*a, **k)


def _bce_logits_torch(torch, x, t, weight=None, pos_weight=None, reduction="mean"):
    return torch.nn.functional.binary_cross_entropy_with_logits(x, t, weight, reduction=reduction,
                                                                pos_weight=pos_weight)


ENTRIES = [
    OpEntry("mse_loss", F.mse_loss, lambda rng: _regression_samples(rng), covers=("F.mse_loss",), ref=_mse_ref,
            torch_fn=_torch("mse_loss")),
    OpEntry("l1_loss", F.l1_loss, lambda rng: _regression_samples(rng), covers=("F.l1_loss",), ref=_l1_ref,
            torch_fn=_torch("l1_loss")),
    OpEntry("mse_loss_weighted", _weighted_fn(F.mse_loss), _weighted_samples, covers=("F.mse_loss",), ref=_mse_ref,
            torch_fn=_weighted_torch("mse_loss")),
    OpEntry("l1_loss_weighted", _weighted_fn(F.l1_loss), _weighted_samples, covers=("F.l1_loss",), ref=_l1_ref,
            torch_fn=_weighted_torch("l1_loss")),
    OpEntry("huber_loss_weighted", _weighted_fn(F.huber_loss), lambda rng: _weighted_samples(rng, delta=0.7),
            covers=("F.huber_loss",), ref=_huber_ref, torch_fn=_weighted_torch("huber_loss")),
    OpEntry("smooth_l1_loss", F.smooth_l1_loss, _smooth_l1_samples, covers=("F.smooth_l1_loss",), ref=_smooth_l1_ref,
            torch_fn=_torch("smooth_l1_loss")),
    OpEntry("huber_loss", F.huber_loss, _huber_samples, covers=("F.huber_loss",), ref=_huber_ref,
            torch_fn=_torch("huber_loss")),
    OpEntry("kl_div", F.kl_div, _kl_samples, covers=("F.kl_div",), ref=_kl_ref, torch_fn=_torch("kl_div")),
    OpEntry("binary_cross_entropy", F.binary_cross_entropy, _bce_samples, covers=("F.binary_cross_entropy",),
            ref=_bce_ref, torch_fn=_torch("binary_cross_entropy")),
    OpEntry("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, _bce_logits_samples,
            covers=("F.binary_cross_entropy_with_logits",), ref=_bce_logits_ref, torch_fn=_bce_logits_torch),
    OpEntry("cross_entropy", F.cross_entropy, _ce_samples, covers=("F.cross_entropy",), ref=_ce_ref,
            torch_fn=_torch("cross_entropy")),
    OpEntry("nll_loss", F.nll_loss, _nll_samples, covers=("F.nll_loss",), ref=_nll_ref, torch_fn=_torch("nll_loss")),
]

EXEMPT: dict[str, str] = {}
