"""Random generators, one per device, seeded together by ``manual_seed``; their state saved and restored whole.

``get_rng_state()`` captures every generator deepcore draws from: the CPU generator (initialisers,
shuffling, CPU dropout), each CUDA device's generator, and the device-side counters of kernels with their
own counter-based RNG (dropout, registered through :func:`register_device_stream`). ``set_rng_state``
puts them all back, so a run continued from a checkpoint draws exactly the numbers the uninterrupted run
drew. The state is a plain dict of NumPy arrays and strings that ``dc.save`` writes as it is.
"""
import numbers

import numpy as np

from .device import CPU, Device, cuda_available, cuda_device_count, cupy_module

_cpu_generator = np.random.default_rng()
_cuda_generators: dict = {}
_cuda_seed = [None]
# name -> dict {device index: (generator it was seeded from, uint64 device array)}: kernel RNG counters
_device_streams: dict = {}

_FORMAT = "deepcore.rng_state"
_MASK64 = (1 << 64) - 1


def manual_seed(seed: int) -> None:
    """Seed the CPU generator and every CUDA device's generator."""
    global _cpu_generator
    seed = int(seed)
    _cpu_generator = np.random.default_rng(seed)
    _cuda_generators.clear()
    _cuda_seed[0] = seed


def generator(dev: Device = CPU):
    """The generator for ``dev``: numpy.random.Generator on CPU, cupy.random.Generator on CUDA."""
    if dev.type == "cpu":
        return _cpu_generator
    gen = _cuda_generators.get(dev.index)
    if gen is None:
        cp = cupy_module()
        with cp.cuda.Device(dev.index):
            seed = None if _cuda_seed[0] is None else _cuda_seed[0] + dev.index
            gen = cp.random.default_rng(seed)
        _cuda_generators[dev.index] = gen
    return gen


def next_seed(dev: Device = CPU) -> int:
    """A fresh 63-bit seed drawn from ``dev``'s generator, for kernels with their own counter-based RNG."""
    return int(_cpu_generator.integers(0, 2**63 - 1)) if dev.type == "cpu" else int(
        generator(dev).integers(0, 2**31 - 1, size=1).get()[0])


def register_device_stream(name: str, states: dict) -> None:
    """Include a kernel's device-side RNG counters in :func:`get_rng_state`.

    ``states`` maps a CUDA device index to ``(generator, counters)``: ``counters`` a uint64 device array
    the kernel reads and advances, valid while ``generator`` is still that device's generator (the kernel
    seeds a new one from the generator after ``manual_seed``). Restoring writes the saved counters back
    into the same array, so captured CUDA graphs keep pointing at it.
    """
    _device_streams[str(name)] = states


# --- whole-state capture ------------------------------------------------------------------------------
def _pack_cpu(gen) -> dict:
    """A NumPy generator's state as arrays: PCG64's 128-bit words split into uint64 halves."""
    st = gen.bit_generator.state
    name = st["bit_generator"]
    if name != "PCG64":
        raise TypeError(f"get_rng_state: the CPU generator uses {name}; only PCG64 (numpy's default) is saved")
    s, inc = st["state"]["state"], st["state"]["inc"]
    packed = [s >> 64, s & _MASK64, inc >> 64, inc & _MASK64, int(st["has_uint32"]), int(st["uinteger"])]
    return {"bit_generator": name, "words": np.array(packed, dtype=np.uint64)}


def _unpack_cpu(state, where) -> dict:
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64" or "words" not in state:
        raise ValueError(f"set_rng_state: {where} must be a PCG64 state saved by get_rng_state, got {state!r:.200}")
    w = np.asarray(state["words"])
    if w.shape != (6,) or w.dtype.kind not in "iu":
        raise ValueError(f"set_rng_state: {where}['words'] must hold 6 unsigned 64-bit words, got shape "
                         f"{tuple(w.shape)} and dtype {w.dtype}")
    w = [int(v) & _MASK64 for v in w.astype(np.uint64)]
    return {"bit_generator": "PCG64", "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
            "has_uint32": int(w[4]), "uinteger": int(w[5])}


def generator_state(gen) -> dict:
    """A NumPy generator's state in a form ``dc.save`` writes (PCG64 as arrays; others as NumPy gives it)."""
    if gen.bit_generator.state.get("bit_generator") == "PCG64":
        return _pack_cpu(gen)
    return dict(gen.bit_generator.state)


def set_generator_state(gen, state, where="state") -> None:
    """Put ``state`` (from :func:`generator_state`) back into the NumPy generator ``gen``, in place."""
    if isinstance(state, dict) and "words" in state:
        state = _unpack_cpu(state, where)
    if not isinstance(state, dict) or state.get("bit_generator") != gen.bit_generator.state.get("bit_generator"):
        raise ValueError(f"{where} is not a state of a {type(gen.bit_generator).__name__} generator")
    gen.bit_generator.state = state


def _cuda_state_buffer(gen):
    """The device array that holds all of a CuPy generator's state (cuRAND states; CuPy keeps them in
    ``bit_generator._state``), or an error saying this CuPy does not expose it."""
    buf = getattr(getattr(gen, "bit_generator", None), "_state", None)
    if buf is None or not hasattr(buf, "shape"):
        raise RuntimeError("get_rng_state: this CuPy does not expose its generator state "
                           "(cupy.random.Generator.bit_generator._state); the CUDA generators cannot be saved")
    return buf


def get_rng_state() -> dict:
    """The state of every generator deepcore uses, as a dict ``dc.save`` can write and :func:`set_rng_state`
    restores: ``{"format", "cpu", "cuda_seed", "cuda": {index: state}, "streams": {name: {index: counters}}}``.

    Only what exists is saved: CUDA generators are created on first use, so an unused device has no entry
    (after a restore it is created again from the saved ``manual_seed``). Reading device state waits for the
    device (one copy per generator); call it between steps, e.g. when writing a checkpoint.
    """
    cuda = {}
    for index, gen in sorted(_cuda_generators.items()):
        buf = _cuda_state_buffer(gen)
        with cupy_module().cuda.Device(index):
            cuda[str(index)] = buf.get()
    streams = {}
    for name, states in sorted(_device_streams.items()):
        saved = {}
        for index, (gen, counters) in sorted(states.items()):
            if _cuda_generators.get(index) is gen:  # a stale entry is re-seeded at its next use anyway
                with cupy_module().cuda.Device(index):
                    saved[str(index)] = counters.get()
        streams[name] = saved
    seed = _cuda_seed[0]
    return {"format": _FORMAT, "cpu": _pack_cpu(_cpu_generator),
            "cuda_seed": "none" if seed is None else str(seed), "cuda": cuda, "streams": streams}


def _index(key, where) -> int:
    try:
        if isinstance(key, bool):
            raise ValueError
        return int(key)
    except (TypeError, ValueError):
        raise ValueError(f"set_rng_state: {where} key {key!r} is not a device index") from None


def set_rng_state(state) -> None:
    """Restore generators saved by :func:`get_rng_state` (checked whole before anything changes).

    Generators are restored in place, so objects holding one keep drawing from the restored stream. CUDA
    entries are skipped when no CUDA device is present (a GPU checkpoint resumed on the CPU); a device whose
    generator did not exist at save time gets a fresh one from the saved seed at its next use.
    """
    if not isinstance(state, dict):
        raise TypeError(f"set_rng_state: expected the dict returned by get_rng_state, got {type(state).__name__}")
    if state.get("format") != _FORMAT or "cpu" not in state:
        raise ValueError(f"set_rng_state: not a deepcore RNG state (keys {sorted(map(str, state))}); pass what "
                         "dc.get_rng_state() returned")
    cpu = _unpack_cpu(state["cpu"], "state['cpu']")
    raw_seed = state.get("cuda_seed", "none")
    if isinstance(raw_seed, np.ndarray):
        raw_seed = raw_seed.item()
    if raw_seed in ("none", None):
        cuda_seed = None
    elif isinstance(raw_seed, (str, numbers.Integral)) and not isinstance(raw_seed, bool):
        try:
            cuda_seed = int(raw_seed)
        except ValueError:
            raise ValueError(f"set_rng_state: cuda_seed must be an integer or 'none', got {raw_seed!r}") from None
    else:
        raise ValueError(f"set_rng_state: cuda_seed must be an integer or 'none', got {raw_seed!r}")
    cuda_in, streams_in = state.get("cuda") or {}, state.get("streams") or {}
    if not isinstance(cuda_in, dict) or not isinstance(streams_in, dict):
        raise ValueError("set_rng_state: 'cuda' and 'streams' must be dicts")
    cuda = {_index(k, "state['cuda']"): np.asarray(v) for k, v in cuda_in.items()}
    streams = {}
    for name, saved in streams_in.items():
        if not isinstance(saved, dict):
            raise ValueError(f"set_rng_state: state['streams'][{name!r}] must be a dict, got {type(saved).__name__}")
        streams[str(name)] = {_index(k, f"state['streams'][{name!r}]"): np.asarray(v) for k, v in saved.items()}
    for name, saved in streams.items():
        for index, counters in saved.items():
            if counters.dtype != np.uint64 or counters.ndim != 1:
                raise ValueError(f"set_rng_state: stream {name!r} of device {index} must be a 1-d uint64 array, "
                                 f"got dtype {counters.dtype} and shape {counters.shape}")
    cp = cupy_module() if cuda_available() else None
    created = {}
    if cp is not None:
        count = cuda_device_count()
        for index, saved in cuda.items():
            if not 0 <= index < count:
                raise ValueError(f"set_rng_state: the state holds CUDA device {index}, but {count} device(s) exist "
                                 "(to load a checkpoint without its RNG state: load_checkpoint(..., restore_rng=False))")
            # the generator's buffer must be the same size as the saved one (same CuPy, same GPU model)
            probe = _cuda_generators.get(index)
            if probe is None:
                with cp.cuda.Device(index):
                    probe = created[index] = cp.random.default_rng(0)
            buf = _cuda_state_buffer(probe)
            if tuple(buf.shape) != saved.shape or buf.dtype != saved.dtype:
                raise ValueError(f"set_rng_state: the saved state of CUDA device {index} has shape {saved.shape} "
                                 f"and dtype {saved.dtype}, this device's generator {tuple(buf.shape)} and "
                                 f"{buf.dtype} (saved with another CuPy or GPU; load_checkpoint(..., "
                                 "restore_rng=False) loads a checkpoint without it)")
    # everything checked: now change state
    _cpu_generator.bit_generator.state = cpu
    _cuda_seed[0] = cuda_seed
    if cp is None:
        return
    for index in list(_cuda_generators):
        if index not in cuda:
            del _cuda_generators[index]  # re-created from the restored seed at its next use
    _cuda_generators.update(created)
    for index, saved in cuda.items():
        with cp.cuda.Device(index):
            _cuda_state_buffer(_cuda_generators[index])[...] = cp.asarray(saved)
    for name, states in _device_streams.items():
        saved = streams.get(name, {})
        for index in list(states):
            if index not in saved:
                del states[index]  # seeded again from the restored generator at its next use, as originally
        for index, counters in saved.items():
            gen = _cuda_generators.get(index)
            if gen is None:
                continue
            entry = states.get(index)
            with cp.cuda.Device(index):
                if entry is not None and entry[1].shape == counters.shape:
                    entry[1][...] = cp.asarray(counters)
                    states[index] = (gen, entry[1])
                else:
                    states[index] = (gen, cp.asarray(counters))
