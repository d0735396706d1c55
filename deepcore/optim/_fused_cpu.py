"""Fused numba optimizer updates for the CPU: one pass over each parameter's slice of a flat bucket
(``_flat.Bucket``) and its gradient, instead of NumPy's chain of in-place ufuncs (~8 passes for Adam).
Overrides (``backend.fastpath``, registered beside each optimizer) of the generic ``_update``, which the
tests use as the reference. Imported lazily (numba's import is slow).

Same contract as kernels/optim.cu: a parameter with a gradient is updated with ``t = steps[j] + 1`` for the
bias corrections, then ``steps[j]`` advances; the learning rate is the bucket's ``lr`` array. On the CPU the
gradients stay where backward left them (copying them into a flat buffer would cost more than the
per-parameter calls here), so each parameter is one call of an element loop. The loops vectorise because
they use the numpy error model (Python's checks every division for zero) and scalars of the arrays' own
dtype (a float64 scalar would promote float32 arithmetic): per-parameter scalars are computed in float64
and converted.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"})


# --- Adam / AdamW ------------------------------------------------------------------------------------------
@njit(**_JIT)
def _adam_elems(p, g, m, v, b1, omb1, b2, omb2, eps, l2, decay, step_size, inv_sqrt_bc2):
    for k in range(p.size):
        pk = p[k]
        gk = g[k] + l2 * pk                                   # L2 weight decay (Adam), else l2 = 0
        mk = b1 * m[k] + omb1 * gk
        vk = b2 * v[k] + omb2 * gk * gk
        m[k] = mk
        v[k] = vk
        p[k] = pk * decay - step_size * mk / (np.sqrt(vk) * inv_sqrt_bc2 + eps)   # decay: AdamW, else 1


@njit(**_JIT)
def _amsgrad_elems(p, g, m, v, vmax, b1, omb1, b2, omb2, eps, l2, decay, step_size, inv_sqrt_bc2):
    for k in range(p.size):
        pk = p[k]
        gk = g[k] + l2 * pk
        mk = b1 * m[k] + omb1 * gk
        vk = b2 * v[k] + omb2 * gk * gk
        m[k] = mk
        v[k] = vk
        vm = vmax[k]
        if vm > vk or np.isnan(vm):                           # NaN propagates, as torch.maximum
            vk = vm
        vmax[k] = vk
        p[k] = pk * decay - step_size * mk / (np.sqrt(vk) * inv_sqrt_bc2 + eps)


def _segments(b, grads):
    """(j, lo, hi, gradient as 1-D) of every parameter of ``b`` that has a gradient."""
    for j, (g, (lo, hi)) in enumerate(zip(grads, b.bounds)):
        if g is not None:
            yield j, lo, hi, g.reshape(-1)


def adam(b, grads, beta1, beta2, eps, weight_decay, decoupled, amsgrad):
    s, lr, steps = b.dtype.type, float(b.lr[0]), b.steps
    p, m, v = b.param, b.buffers["exp_avg"], b.buffers["exp_avg_sq"]
    vmax = b.buffers["max_exp_avg_sq"] if amsgrad else None
    common = (s(beta1), s(1.0 - beta1), s(beta2), s(1.0 - beta2), s(eps), s(0.0 if decoupled else weight_decay),
              s(1.0 - lr * weight_decay if decoupled else 1.0))
    for j, lo, hi, g in _segments(b, grads):
        t = int(steps[j]) + 1
        scalars = common + (s(lr / (1.0 - beta1 ** t)), s(1.0 / np.sqrt(1.0 - beta2 ** t)))
        if amsgrad:
            _amsgrad_elems(p[lo:hi], g, m[lo:hi], v[lo:hi], vmax[lo:hi], *scalars)
        else:
            _adam_elems(p[lo:hi], g, m[lo:hi], v[lo:hi], *scalars)
        steps[j] = t


# --- SGD ---------------------------------------------------------------------------------------------------
@njit(**_JIT)
def _sgd_elems(p, g, l2, lr):
    for k in range(p.size):
        p[k] -= lr * (g[k] + l2 * p[k])


@njit(**_JIT)
def _sgd_momentum_elems(p, g, buf, l2, momentum, one_minus_dampening, lr, nesterov, first):
    for k in range(p.size):
        d = g[k] + l2 * p[k]
        b = d if first else momentum * buf[k] + one_minus_dampening * d   # the first step copies d
        buf[k] = b
        p[k] -= lr * (d + momentum * b if nesterov else b)


def sgd(b, grads, momentum, dampening, weight_decay, nesterov):
    s, steps, p = b.dtype.type, b.steps, b.param
    l2, lr = s(weight_decay), s(float(b.lr[0]))
    buf = b.buffers["momentum_buffer"] if momentum != 0 else None
    for j, lo, hi, g in _segments(b, grads):
        if buf is None:
            _sgd_elems(p[lo:hi], g, l2, lr)
        else:  # steps count the steps taken with momentum: the first copies d into the buffer
            _sgd_momentum_elems(p[lo:hi], g, buf[lo:hi], l2, s(momentum), s(1.0 - dampening), lr, bool(nesterov),
                                steps[j] == 0)
            steps[j] += 1


# --- RMSprop -----------------------------------------------------------------------------------------------
@njit(**_JIT)
def _rmsprop_elems(p, g, sq, ga, buf, centered, use_momentum, alpha, oma, eps, l2, momentum, lr):
    for k in range(p.size):
        gk = g[k] + l2 * p[k]
        s = alpha * sq[k] + oma * gk * gk
        sq[k] = s
        if centered:
            a = alpha * ga[k] + oma * gk
            ga[k] = a
            avg = np.sqrt(s - a * a) + eps
        else:
            avg = np.sqrt(s) + eps
        if use_momentum:
            bk = momentum * buf[k] + gk / avg
            buf[k] = bk
            p[k] -= lr * bk
        else:
            p[k] -= lr * gk / avg


def rmsprop(b, grads, alpha, eps, weight_decay, momentum, centered):
    s, steps, p = b.dtype.type, b.steps, b.param
    sq = b.buffers["square_avg"]
    ga = b.buffers["grad_avg"] if centered else sq
    buf = b.buffers["momentum_buffer"] if momentum > 0 else sq
    scalars = (bool(centered), momentum > 0, s(alpha), s(1.0 - alpha), s(eps), s(weight_decay), s(momentum),
               s(float(b.lr[0])))
    for j, lo, hi, g in _segments(b, grads):
        _rmsprop_elems(p[lo:hi], g, sq[lo:hi], ga[lo:hi], buf[lo:hi], *scalars)
        steps[j] += 1


# --- Adagrad -----------------------------------------------------------------------------------------------
@njit(**_JIT)
def _adagrad_elems(p, g, total, l2, eps, clr):
    for k in range(p.size):
        gk = g[k] + l2 * p[k]
        s = total[k] + gk * gk
        total[k] = s
        p[k] -= clr * gk / (np.sqrt(s) + eps)


def adagrad(b, grads, lr_decay, eps, weight_decay):
    s, lr, steps, p, total = b.dtype.type, float(b.lr[0]), b.steps, b.param, b.buffers["sum"]
    l2, e = s(weight_decay), s(eps)
    for j, lo, hi, g in _segments(b, grads):
        t = int(steps[j]) + 1
        _adagrad_elems(p[lo:hi], g, total[lo:hi], l2, e, s(lr / (1.0 + (t - 1) * lr_decay)))
        steps[j] = t


# --- Adadelta ----------------------------------------------------------------------------------------------
@njit(**_JIT)
def _adadelta_elems(p, g, sq, acc, rho, omr, eps, l2, lr):
    for k in range(p.size):
        gk = g[k] + l2 * p[k]
        s = rho * sq[k] + omr * gk * gk
        sq[k] = s
        a = acc[k]
        delta = np.sqrt(a + eps) / np.sqrt(s + eps) * gk
        acc[k] = rho * a + omr * delta * delta
        p[k] -= lr * delta


def adadelta(b, grads, rho, eps, weight_decay):
    s, steps, p = b.dtype.type, b.steps, b.param
    sq, acc = b.buffers["square_avg"], b.buffers["acc_delta"]
    scalars = (s(rho), s(1.0 - rho), s(eps), s(weight_decay), s(float(b.lr[0])))
    for j, lo, hi, g in _segments(b, grads):
        _adadelta_elems(p[lo:hi], g, sq[lo:hi], acc[lo:hi], *scalars)
        steps[j] += 1
