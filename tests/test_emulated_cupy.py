"""The emulated CUDA device itself: as strict as CuPy, counting what a block of code asks of the device,
and capturing/replaying graphs the way CUDA does. Runs in every test run, in a fresh interpreter
where the stand-in is not active (deepcore is already imported there)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EMULATED = Path(__file__).resolve().parent / "emulated_cuda"


def _run(body: str):
    """Run ``body`` with the stand-in active as ``cupy`` (and ``np``, ``cupy``, ``emu`` imported)."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(EMULATED)!r})
        import cupy_emulation as emu
        emu.activate()
        import numpy as np
        import cupy
    """) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_strict_like_cupy():
    _run("""
        import pytest
        a = cupy.asarray(np.arange(6.0).reshape(2, 3))
        assert type(a) is cupy.ndarray and not isinstance(a, np.ndarray)
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            np.asarray(a)
        with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
            a + np.ones(3)
        with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
            np.ones(3) * a
        with pytest.raises(TypeError, match="Unsupported type"):
            cupy.maximum(a, np.zeros(3))
        with pytest.raises(TypeError, match="only 0-dimensional arrays"):
            float(a[0, :1])
        with pytest.raises(ValueError, match="ambiguous"):
            bool(a)
        with pytest.raises(AttributeError, match="cupy.fft_magic"):
            cupy.fft_magic
        with pytest.raises(TypeError, match=r"cupy.sum\\(\\)"):
            cupy.sum(a, 0, None, None, False, "extra")
        assert float(a.sum()) == 15.0
        assert type(a.sum()) is cupy.ndarray and a.sum().ndim == 0   # never a NumPy scalar
        assert type(np.exp(a)) is cupy.ndarray                         # numpy ufuncs dispatch to cupy's
        assert np.testing.assert_allclose(cupy.asnumpy(np.sum(a, axis=0)), [3, 5, 7]) is None
    """)


def test_counts_launches_syncs_and_copies():
    out = _run("""
        host = np.arange(6.0, dtype=np.float32).reshape(2, 3)
        with emu.counting() as c:
            a = cupy.asarray(host)            # h2d
            b = a * 2 + 1                     # 2 launches
            v = b.T.reshape(-1)[::2]          # T is a view; reshape of a transposed array copies: 1 launch
            e = cupy.empty((4,))              # allocation only
            s = b.sum()                       # 1 launch
            x = float(s)                      # sync + d2h
            h = v.get()                       # sync + d2h
        print(c.launches, c.syncs, c.h2d, c.d2h)
    """)
    assert out.split() == ["4", "2", "1", "2"]


def test_capture_records_and_replay_updates_the_same_buffers():
    _run("""
        import pytest
        from cupy_emulation import CUDARuntimeError
        p = cupy.asarray(np.ones(3, np.float32))
        g = cupy.asarray(np.full(3, 0.5, np.float32))
        lr = cupy.asarray(np.float32(0.1))
        s = cupy.cuda.Stream(non_blocking=True)
        with s:
            s.begin_capture()
            assert s.is_capturing()
            p -= lr * g                       # recorded, not run
            t = p * 2                         # a new buffer, poisoned until replay
            with pytest.raises(CUDARuntimeError, match="cudaErrorStreamCaptureUnsupported"):
                t.get()
            graph_bad = None
        with pytest.raises(CUDARuntimeError, match="invalidated"):
            s.end_capture()
        assert np.allclose(p.get(), 1.0)      # nothing ran during the capture
        with s:
            s.begin_capture()
            p -= lr * g
            t = p * 2
            graph = s.end_capture()
        assert np.isnan(t.get()).all()
        with emu.counting() as c:
            graph.launch()
            graph.launch()
        assert c.launches == 2 and c.syncs == 0
        assert np.allclose(p.get(), 0.9) and np.allclose(t.get(), 1.8)
        lr.fill(0.2)                          # a device scalar read by the graph: replay sees the new value
        graph.launch()
        assert np.allclose(p.get(), 0.8) and np.allclose(t.get(), 1.6)
        with pytest.raises(RuntimeError, match="default stream"):
            cupy.cuda.Stream.null.begin_capture()
    """)


def test_random_state_lives_on_the_device():
    _run("""
        rng = cupy.random.default_rng(0)
        s = cupy.cuda.Stream(non_blocking=True)
        with emu.counting() as c:
            with s:
                s.begin_capture()
                r = rng.random((4,), dtype=np.float32)
                graph = s.end_capture()
        assert c.syncs == 0 and c.launches == 1
        graph.launch(); first = r.get()
        graph.launch(); second = r.get()
        assert ((0 <= first) & (first < 1)).all() and not np.array_equal(first, second)
    """)


def test_memory_pool_and_hooks_track_allocations():
    out = _run("""
        import gc
        pool = cupy.get_default_memory_pool()
        class Peak(cupy.cuda.MemoryHook):
            name = "peak"
            def __init__(self):
                self.cur = self.peak = pool.used_bytes()
            def malloc_postprocess(self, **kw):
                self.cur += kw["mem_size"]; self.peak = max(self.peak, self.cur)
            def free_postprocess(self, **kw):
                self.cur -= kw["mem_size"]
        base = pool.used_bytes()
        with Peak() as hook:
            a = cupy.zeros((1024,), np.float32)          # 4096 bytes
            b = a + 1
            del a, b
            gc.collect()
        print(hook.peak - base, pool.used_bytes() - base)
    """)
    assert out.split() == ["8192", "0"]


def test_scatter_add_refuses_bfloat16_like_cupy():
    _run("""
        import pytest, cupyx, ml_dtypes
        t = cupy.zeros((3,), dtype=ml_dtypes.bfloat16)
        with pytest.raises(TypeError, match="bfloat16"):
            cupyx.scatter_add(t, cupy.asarray(np.array([0, 0])), cupy.ones((2,), dtype=ml_dtypes.bfloat16))
        f = cupy.zeros((3,), np.float32)
        cupyx.scatter_add(f, cupy.asarray(np.array([0, 0, 2])), cupy.ones((3,), np.float32))
        assert f.get().tolist() == [2.0, 0.0, 1.0]
    """)


def test_private_pool_events_and_allocators():
    out = _run("""
        import gc
        default, pool = cupy.get_default_memory_pool(), cupy.cuda.MemoryPool()
        base = default.used_bytes()
        with cupy.cuda.using_allocator(pool.malloc):
            a = cupy.zeros((1024,), np.float32)        # charged to the private pool
        b = cupy.zeros((1024,), np.float32)            # and this one to the default pool again
        print(pool.used_bytes(), default.used_bytes() - base)
        del a, b
        gc.collect()
        print(pool.used_bytes(), pool.total_bytes(), default.used_bytes() - base)
        sizes = []
        with cupy.cuda.using_allocator(lambda n: sizes.append(n)):
            c = cupy.ones((10,), np.float32)           # a user allocator is asked for the memory
        print(sizes)
        s = cupy.cuda.Stream(non_blocking=True)
        e = s.record()
        assert isinstance(e, cupy.cuda.Event) and e.done
        cupy.cuda.get_current_stream().wait_event(e)
        with emu.counting() as n:
            e.synchronize()
        print(n.syncs)
    """)
    assert out.split("\n")[:4] == ["4096 4096", "0 4096 0", "[512]", "1"]


@pytest.mark.parametrize("expr", ["cupy.fft", "cupy.cuda.ExternalStream", "cupyx.scipy", "cupy.random.seed"])
def test_unknown_names_fail_loudly(expr):
    _run(f"""
        import pytest, cupyx
        with pytest.raises(AttributeError, match="emulated CuPy"):
            {expr}
    """)
