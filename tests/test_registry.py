"""The operator registry's driver: every entry of tests/registry, every sample, on the cpu and cuda devices.

For each ``OpEntry`` (see tests/registry/__init__.py) and each of its samples:

- ``test_forward``: the op against the entry's NumPy ``ref`` for every dtype in ``entry.dtypes`` (tolerance
  of the dtype, tests/harness.py ``TOL``), output device and dtype (a float output keeps the input float
  dtype, integer inputs give float32, integer/bool outputs match the reference's);
- ``test_gradcheck``: float64 finite differences (``dc.gradcheck``) for ``grad=True`` entries, with respect to
  the sample's ``grad_args`` (default: every float array);
- ``test_fastpath_vs_generic`` (one case per entry and device): for every sample and float dtype where a fast
  path (deepcore.backend.fastpath) is chosen, outputs and gradients with fast paths forced on equal those of
  the generic implementation;
- ``test_torch_parity``: where torch is installed and the entry has a ``torch_fn``, forward values, output
  dtypes and gradients (backward of a fixed random upstream gradient) equal PyTorch's on CPU tensors (every
  dtype on the cpu device, the first dtype on cuda);
- ``test_device_residency`` (emulated CUDA only): forward and backward on device tensors make no host
  synchronisation and no host<->device copy (entries with ``extra["host_sync"]`` have none).

Non-contiguous samples (``Sample.noncontig``) get tensors that are views with reversed axes (arrays with a
single axis longer than 1: every other element of a twice as long last axis); ``test_forward`` checks that
they really are non-contiguous.
``test_public_names_are_covered`` fails for a name in ``dc.__all__``, a public Tensor method/property or
operator, or a name in ``F.__all__`` that no entry covers and no family exempts; ``test_registry_is_well_formed``
and ``test_no_stale_names`` keep the registry itself honest. Ids read ``floor[broadcast-f32-cpu]``.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import registry
from harness import TOL

import deepcore as dc
import deepcore.nn.functional as F
from deepcore.backend import fastpath

# cuda cases exist only where a GPU or the emulated device is there (pytest_configure has run by now): thousands
# of cases that would only skip cost the CPU run more time than they are worth.
DEVICES = ("cpu", "cuda") if dc.cuda.is_available() else ("cpu",)
_HALF_TOL = {np.dtype(np.float16): {"rtol": 2e-3, "atol": 2e-3}, dc.bfloat16: {"rtol": 2e-2, "atol": 2e-2}}
_SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64", "int8": "i8", "uint8": "u8",
          "int16": "i16", "int32": "i32", "int64": "i64", "bool": "b"}
_MISSING = object()

FAMILIES, IMPORT_ERRORS = registry.load_families()
ENTRIES = [(fam, e) for fam, m in FAMILIES.items() for e in getattr(m, "ENTRIES", [])]


# --- samples, dtypes, tensors ---------------------------------------------------------------------------------

def _rng(entry):
    return np.random.default_rng(zlib.crc32(entry.name.encode()))


def _load_samples(entry):
    """``[(sample id, Sample)]`` or a string describing why the entry's samples could not be built."""
    try:
        samples = list(entry.samples(_rng(entry)))
    except Exception as exc:  # noqa: BLE001 - becomes a failing test naming the entry
        return f"{entry.name}: samples() raised {type(exc).__name__}: {exc}"
    out, seen = [], set()
    for i, s in enumerate(samples):
        sid = s.name or f"s{i}"
        if sid in seen:
            sid = f"{sid}{i}"
        seen.add(sid)
        out.append((sid, s))
    return out


SAMPLES = {e.name: _load_samples(e) for _, e in ENTRIES}


def _dt(d):
    return dc.backend.dtypes.as_dtype(d)


def _is_float(d):
    return d.kind == "f" or d == dc.bfloat16


def _short(d):
    return _SHORT.get(str(d), str(d))


def _is_array(a):
    return isinstance(a, np.ndarray)


def _cast(a, dtype):
    """A sample array as the op sees it: float arrays take the tested dtype, integer/bool arrays keep theirs."""
    return a.astype(dtype) if a.dtype.kind == "f" else a.copy()


def _grad_positions(sample):
    if sample.grad_args is not None:
        return tuple(sample.grad_args)
    return tuple(i for i, a in enumerate(sample.args) if _is_array(a) and a.dtype.kind == "f")


def _transposable(shape):
    """Whether reversing the axes of an array of ``shape`` gives a non-contiguous view (2+ axes longer than 1)."""
    return sum(d > 1 for d in shape) >= 2


def _leaf_array(a, noncontig):
    """The array a leaf tensor holds; ``_view`` turns the leaf into the tensor the op is given: the axes
    reversed, or (a single axis longer than 1) every other element along the last axis."""
    if not noncontig or a.ndim == 0:
        return a
    if _transposable(a.shape):
        return np.ascontiguousarray(a.transpose())
    return np.repeat(a, 2, axis=-1)


def _view(leaf, shape, noncontig):
    if not noncontig or len(shape) == 0:
        return leaf
    if _transposable(shape):
        return leaf.permute(*reversed(range(len(shape))))
    return leaf[..., ::2]


def _tensor(a, device, noncontig, requires_grad=False):
    leaf = dc.tensor(_leaf_array(a, noncontig), device=device)
    t = _view(leaf, a.shape, noncontig).detach()
    if requires_grad:
        t.requires_grad_()
    return t


def _build(sample, dtype, device, grad_positions=()):
    args = []
    for i, a in enumerate(sample.args):
        if _is_array(a):
            args.append(_tensor(_cast(a, dtype), device, sample.noncontig, i in grad_positions))
        else:
            args.append(a)
    return args


def _ref_args(sample, dtype):
    """float arrays rounded to the tested dtype, then float64 (or the tested dtype itself if not floating)."""
    out = []
    for a in sample.args:
        if _is_array(a) and a.dtype.kind == "f":
            out.append(a.astype(dtype).astype(np.float64) if _is_float(dtype) else a.astype(dtype))
        else:
            out.append(a.copy() if _is_array(a) else a)
    return out


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _tol(spec, dtype):
    base = dict(_HALF_TOL.get(dtype) or TOL.get(dtype.type, TOL[np.float64]))
    if spec:
        per = {_dt(k): v for k, v in spec.items() if not isinstance(k, str) or k not in ("rtol", "atol")}
        base.update(per.get(dtype, {}) if per else spec)
    return base


def _host(x):
    if isinstance(x, dc.Tensor):
        x = x.numpy()
    a = np.asarray(x)
    return a.astype(np.float64) if a.dtype == dc.bfloat16 else a


def _assert_close(got, expect, tol, what):
    g, e = _host(got), _host(expect)
    assert g.shape == e.shape, f"{what}: shape {g.shape}, expected {e.shape}"
    if g.dtype.kind in "fc" or e.dtype.kind in "fc":
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), equal_nan=True, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(g, e, err_msg=what)


def _expected_dtype(entry, dtype, got, ref_out):
    """What ``got`` (a Tensor output) should be, or None when there is no rule to apply."""
    spec = entry.extra.get("out_dtype", _MISSING)
    if spec is not _MISSING:
        if isinstance(spec, dict):
            spec = {_dt(k): v for k, v in spec.items()}.get(dtype, _MISSING)
            if spec is _MISSING:
                return _expected_dtype_rule(dtype, got, ref_out)
        elif callable(spec) and not isinstance(spec, (type, np.dtype)):
            spec = spec(dtype)
        return None if spec is None else _dt(spec)
    return _expected_dtype_rule(dtype, got, ref_out)


def _expected_dtype_rule(dtype, got, ref_out):
    ref_kind = None if ref_out is None else np.asarray(ref_out).dtype.kind
    if _is_float(got.dtype) or ref_kind == "f":
        return dtype if _is_float(dtype) else dc.float32
    if ref_kind in ("b", "i", "u"):
        return np.asarray(ref_out).dtype
    return None


def _upstream(outs, seed):
    """A fixed random upstream gradient (NumPy float64) for each floating output that requires grad."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(o.shape) if isinstance(o, dc.Tensor) and o.requires_grad else None for o in outs]


def _backward(outs, weights, device):
    total = None
    for o, w in zip(outs, weights):
        if w is not None:
            term = (o * dc.tensor(w.astype(o.dtype), device=device)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()


def _run(entry, sample, dtype, device, with_grad=True):
    """Forward (and backward of a fixed random projection): ``(outputs as host arrays, grads as host arrays)``."""
    pos = _grad_positions(sample) if (with_grad and entry.grad and _is_float(dtype)) else ()
    args = _build(sample, dtype, device, pos)
    outs = _outputs(entry.fn(*args, **sample.kwargs))
    weights = _upstream(outs, seed=1)
    _backward(outs, weights, device)
    grads = []
    for i in pos:
        g = args[i].grad
        grads.append(np.zeros(args[i].shape) if g is None else _host(g))
    return [_host(o) for o in outs], grads


# --- parametrisation -------------------------------------------------------------------------------------------

def _params(kind):
    out = []
    for _, entry in ENTRIES:
        samples = SAMPLES[entry.name]
        if isinstance(samples, str):
            continue
        try:
            dtypes = [_dt(d) for d in entry.dtypes]
        except ValueError:
            continue  # test_registry_is_well_formed names the bad dtype
        for sid, s in samples:
            if kind == "forward":
                combos = [(d, dev) for d in dtypes for dev in DEVICES]
            elif kind == "grad":
                if not entry.grad or not s.gradcheck or not _grad_positions(s):
                    continue
                combos = [(dc.float64, dev) for dev in DEVICES]
            elif kind == "torch":
                if entry.torch_fn is None:
                    continue
                # every dtype on the cpu; on the GPU the first torch-supported one (forward values there are
                # compared with ``ref`` for every dtype anyway)
                torch_dtypes = [d for d in dtypes if d != dc.bfloat16 and d != np.float16]
                combos = [(d, "cpu") for d in torch_dtypes] + [(d, dev) for d in torch_dtypes[:1]
                                                               for dev in DEVICES if dev != "cpu"]
            elif kind == "residency":
                if entry.extra.get("host_sync"):
                    continue
                first = next((d for d in dtypes if _is_float(d)), dtypes[0] if dtypes else None)
                combos = [(first, "cuda")] if first is not None and "cuda" in DEVICES else []
            for d, dev in combos:
                out.append(pytest.param((entry, s, d), dev, id=f"{entry.name}[{sid}-{_short(d)}-{dev}]"))
    return out


def _parametrize(kind):
    return pytest.mark.parametrize("case,device", _params(kind), indirect=["device"])


def _entry_params():
    """One case per entry and device (its samples loop inside): for tests that apply to few entries."""
    return pytest.mark.parametrize(
        "entry,device", [pytest.param(e, dev, id=f"{e.name}[{dev}]") for _, e in ENTRIES
                         if not isinstance(SAMPLES[e.name], str) and not e.extra.get("random") for dev in DEVICES],
        indirect=["device"])


# --- the op tests ----------------------------------------------------------------------------------------------

@_parametrize("forward")
def test_forward(case, device):
    entry, sample, dtype = case
    args = _build(sample, dtype, device)
    if sample.noncontig:
        assert any(isinstance(a, dc.Tensor) and not a.data.flags.c_contiguous for a in args), \
            f"{entry.name}: a noncontig sample whose tensors are all contiguous (too small to make a strided view?)"
    outs = _outputs(entry.fn(*args, **sample.kwargs))
    expects = None
    if entry.ref is not None:
        expects = _outputs(entry.ref(*_ref_args(sample, dtype), **sample.kwargs))
        assert len(outs) == len(expects), f"{entry.name}: {len(outs)} outputs, reference has {len(expects)}"
    tol = _tol(entry.tol, dtype)
    for k, o in enumerate(outs):
        e = None if expects is None else expects[k]
        what = f"{entry.name} output {k} ({_short(dtype)}, {device})"
        if isinstance(o, dc.Tensor):
            assert o.device == dc.device(device), f"{what}: on {o.device}"
            want = _expected_dtype(entry, dtype, o, e)
            if want is not None:
                assert o.dtype == want, f"{what}: dtype {o.dtype}, expected {want}"
        if e is not None:
            _assert_close(o, e, tol, what)


@_parametrize("grad")
def test_gradcheck(case, device):
    entry, sample, _ = case
    pos = _grad_positions(sample)
    args = _build(sample, np.float64, device)
    leaves = [dc.tensor(_leaf_array(sample.args[i].astype(np.float64), sample.noncontig), device=device)
              for i in pos]

    def fn(*xs):
        full = list(args)
        for i, x in zip(pos, xs):
            full[i] = _view(x, sample.args[i].shape, sample.noncontig)
        return entry.fn(*full, **sample.kwargs)

    assert dc.gradcheck(fn, leaves, **entry.gradcheck_kw)


@pytest.fixture
def chosen_fast_paths(monkeypatch):
    """The fast paths ``fastpath.select`` hands out during the test, as ``[op name]``."""
    chosen = []
    real = fastpath.select

    def spy(op, *args, **kwargs):
        fn = real(op, *args, **kwargs)
        if fn is not None:
            chosen.append(op)
        return fn

    monkeypatch.setattr(fastpath, "select", spy)
    return chosen


@_entry_params()
def test_fastpath_vs_generic(entry, device, chosen_fast_paths):
    """Each sample and float dtype where a fast path is chosen: outputs and gradients equal the generic path's.
    (One case per entry: fast paths exist for few ops, and thousands of skipped cases would cost the run.)"""
    compared = 0
    for sid, sample in SAMPLES[entry.name]:
        for dtype in [d for d in map(_dt, entry.dtypes) if d in (dc.float32, dc.float64)]:
            chosen_fast_paths.clear()
            with fastpath.forced(True):
                fast_outs, fast_grads = _run(entry, sample, dtype, device)
            if not chosen_fast_paths:
                continue
            ops = sorted(set(chosen_fast_paths))
            chosen_fast_paths.clear()
            with fastpath.forced(False):
                outs, grads = _run(entry, sample, dtype, device)
            assert not chosen_fast_paths, f"fast paths {chosen_fast_paths} chosen while forced off"
            tol = _tol(entry.tol, dtype)
            where = f"{entry.name}[{sid}-{_short(dtype)}-{device}]"
            for k, (f, g) in enumerate(zip(fast_outs, outs)):
                _assert_close(f, g, tol, f"{where} output {k}: fast paths {ops} vs generic")
            for i, (f, g) in zip(_grad_positions(sample), zip(fast_grads, grads)):
                _assert_close(f, g, tol, f"{where} gradient of arg {i}: fast paths {ops} vs generic")
            compared += 1
    if not compared:
        pytest.skip("no fast path is chosen for any sample of this entry")


def _torch_dtype_of(torch, t):
    return np.dtype(str(t.dtype).replace("torch.", "")) if t.dtype != torch.bool else np.dtype(bool)


@pytest.fixture(scope="module")
def torch():
    """PyTorch, imported once (the parity cases skip without it), on one thread: the cases are tiny and
    thread pools only wait on each other on a loaded machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@_parametrize("torch")
def test_torch_parity(case, device, torch):
    entry, sample, dtype = case
    pos = _grad_positions(sample) if (entry.grad and _is_float(dtype) and entry.extra.get("torch_grad", True)) else ()
    args = _build(sample, dtype, device, pos)
    targs = []
    for i, a in enumerate(sample.args):
        if _is_array(a):
            t = torch.from_numpy(np.array(_cast(a, dtype), order="C"))
            targs.append(t.requires_grad_() if i in pos else t)
        else:
            targs.append(a)
    outs = _outputs(entry.fn(*args, **sample.kwargs))
    touts = _outputs(entry.torch_fn(torch, *targs, **sample.kwargs))
    assert len(outs) == len(touts), f"{entry.name}: {len(outs)} outputs, torch gives {len(touts)}"
    tol = _tol(entry.extra.get("torch_tol") or entry.tol, dtype)
    for k, (o, t) in enumerate(zip(outs, touts)):
        what = f"{entry.name} output {k} vs torch ({_short(dtype)}, {device})"
        if isinstance(o, dc.Tensor) and isinstance(t, torch.Tensor):
            assert o.dtype == _torch_dtype_of(torch, t), f"{what}: dtype {o.dtype}, torch {t.dtype}"
        if not entry.extra.get("random"):
            tv = t.detach().numpy() if isinstance(t, torch.Tensor) else t
            _assert_close(o, tv, tol, what)
    if not pos:
        return
    weights = _upstream(outs, seed=2)
    _backward(outs, weights, device)
    total = None
    for t, w in zip(touts, weights):
        if w is not None and isinstance(t, torch.Tensor) and t.requires_grad:
            term = (t * torch.from_numpy(w.astype(_torch_dtype_of(torch, t)))).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    for i in pos:
        g = np.zeros(args[i].shape) if args[i].grad is None else args[i].grad
        tg = np.zeros(targs[i].shape) if targs[i].grad is None else targs[i].grad.numpy()
        _assert_close(g, tg, tol, f"{entry.name} gradient of arg {i} vs torch ({_short(dtype)}, {device})")


@_parametrize("residency")
def test_device_residency(case, device):
    """Tensors already on the device: forward and backward neither wait for the device nor copy."""
    import cupy_emulation
    if not cupy_emulation.is_active():
        pytest.skip("counters exist only on the emulated CUDA device (--emulate-cuda)")
    entry, sample, dtype = case
    pos = _grad_positions(sample) if (entry.grad and _is_float(dtype)) else ()
    args = _build(sample, dtype, device, pos)
    with cupy_emulation.counting() as counts:
        outs = _outputs(entry.fn(*args, **sample.kwargs))
    weights = [None if w is None else dc.tensor(w.astype(o.dtype), device=device)
               for o, w in zip(outs, _upstream(outs, seed=1))]
    with cupy_emulation.counting() as back:
        total = None
        for o, w in zip(outs, weights):
            if w is not None:
                term = (o * w).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
    assert counts.syncs == counts.copies == 0, f"{entry.name} forward: {counts}"
    assert back.syncs == back.copies == 0, f"{entry.name} backward: {back}"


# --- the registry itself ---------------------------------------------------------------------------------------

# Dunders that are Python machinery rather than tensor behaviour: never counted as public names.
_MACHINERY = {"__init__", "__new__", "__init_subclass__", "__subclasshook__", "__class_getitem__", "__getattribute__",
              "__getattr__", "__setattr__", "__delattr__", "__dir__", "__sizeof__", "__reduce__", "__reduce_ex__",
              "__getstate__", "__setstate__", "__hash__", "__format__", "__class__", "__copy__", "__deepcopy__"}


def _tensor_public_names():
    """Public attributes of Tensor (no leading underscore) and the dunders Tensor defines itself (operators
    and protocols such as ``__add__``, ``__getitem__``, ``__len__``), minus Python machinery."""
    names = {n for n in dir(dc.Tensor) if not n.startswith("_")}
    for cls in dc.Tensor.__mro__:
        if cls is object:
            continue
        for n, v in vars(cls).items():
            if n.startswith("__") and n.endswith("__") and n not in _MACHINERY and callable(v):
                names.add(n)
    return names


def public_names() -> set[str]:
    names = {f"dc.{n}" for n in dc.__all__}
    names |= {f"F.{n}" for n in F.__all__}
    names |= {f"Tensor.{n}" for n in _tensor_public_names()}
    return names


_ROOTS = {"dc": dc, "F": F, "Tensor": dc.Tensor, "nn": dc.nn}


def _resolves(name: str) -> bool:
    root, _, path = name.partition(".")
    if root not in _ROOTS or not path:
        return False
    obj = _ROOTS[root]
    for part in path.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _covered() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for fam, e in ENTRIES:
        for n in e.covers:
            out.setdefault(n, []).append(f"{fam}:{e.name}")
    return out


def _exempt() -> dict[str, tuple[str, str]]:
    out = {}
    for fam, m in FAMILIES.items():
        for n, why in getattr(m, "EXEMPT", {}).items():
            out[n] = (fam, why)
    return out


def _grouped(names):
    lines = []
    for prefix in ("dc", "Tensor", "F", "other"):
        group = sorted(n for n in names if (n.split(".", 1)[0] if n.split(".", 1)[0] in ("dc", "Tensor", "F")
                                            else "other") == prefix)
        if group:
            lines.append(f"  {prefix} ({len(group)}): " + " ".join(group))
    return "\n".join(lines)


def test_family_modules_import():
    assert not IMPORT_ERRORS, "registry families that do not import:\n" + "\n".join(
        f"--- {fam}\n{tb}" for fam, tb in IMPORT_ERRORS.items())


def test_public_names_are_covered():
    missing = public_names() - set(_covered()) - set(_exempt())
    assert not missing, (f"{len(missing)} public names have neither a registry entry (OpEntry.covers) nor an "
                         f"exemption (EXEMPT in a tests/registry module):\n{_grouped(missing)}")


def test_no_stale_names():
    problems = []
    for n, where in sorted(_covered().items()):
        if not _resolves(n):
            problems.append(f"covers {n!r} ({', '.join(where)}): no such public name")
    exempt = _exempt()
    covered = _covered()
    for n, (fam, why) in sorted(exempt.items()):
        if not _resolves(n):
            problems.append(f"exempts {n!r} ({fam}): no such public name")
        elif n in covered:
            problems.append(f"exempts {n!r} ({fam}) but {', '.join(covered[n])} covers it: drop the exemption")
        if not (isinstance(why, str) and why.strip()):
            problems.append(f"exempts {n!r} ({fam}) without a reason")
    assert not problems, "stale registry names:\n" + "\n".join(problems)


def test_entries_without_torch_say_why():
    """Every entry is compared with PyTorch, or says (``extra["no_torch"]``) why PyTorch cannot be the oracle."""
    silent = [f"{fam}:{e.name}" for fam, e in ENTRIES if e.torch_fn is None and not e.extra.get("no_torch")]
    assert not silent, ("entries with no torch_fn and no extra['no_torch'] reason (e.g. 'PyTorch refuses integer "
                        "input'): " + " ".join(silent))


def test_registry_is_well_formed():
    problems = []
    seen = {}
    for fam, e in ENTRIES:
        where = f"{fam}:{e.name}"
        if e.name in seen:
            problems.append(f"{where}: entry name also used in {seen[e.name]}")
        seen[e.name] = where
        samples = SAMPLES[e.name]
        if isinstance(samples, str):
            problems.append(samples)
            continue
        if not samples:
            problems.append(f"{where}: no samples")
        if not e.covers:
            problems.append(f"{where}: covers no public name")
        if e.ref is None and e.torch_fn is None:
            problems.append(f"{where}: neither a NumPy ref nor a torch_fn: nothing to compare with")
        try:
            dtypes = [_dt(d) for d in e.dtypes]
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not dtypes:
            problems.append(f"{where}: no dtypes")
        for sid, s in samples:
            if not isinstance(s, registry.Sample):
                problems.append(f"{where}[{sid}]: {type(s).__name__}, not a Sample")
                continue
            bad = [i for i in (s.grad_args or ()) if not (i < len(s.args) and _is_array(s.args[i])
                                                          and s.args[i].dtype.kind == "f")]
            if bad:
                problems.append(f"{where}[{sid}]: grad_args {bad} are not float arrays")
            if s.noncontig and not any(_is_array(a) and a.ndim and a.size > 1 for a in s.args):
                problems.append(f"{where}[{sid}]: noncontig, but no array argument with 2+ elements to make a view of")
        if e.grad and not any(_grad_positions(s) for _, s in samples if isinstance(s, registry.Sample)):
            problems.append(f"{where}: grad=True but no sample has an argument to differentiate")
    assert not problems, "registry problems:\n" + "\n".join(problems)
