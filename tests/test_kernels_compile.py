"""Every CUDA source in kernels/ compiles with NVRTC, given the options CuPy 14 gives it (no GPU needed).

``deepcore.backend.get_kernel`` builds ``cupy.RawModule(code=src, options=("-std=c++17",))``. CuPy 14.2 hands
NVRTC these options, in this order (read from CuPy v14.2.0's source):

* ``cupy/_core/core.pyx`` ``assemble_cupy_compiler_options``: the bundled CCCL include dirs first
  (``-I<cupy>/_core/include/cupy/_cccl/{cub,thrust,libcudacxx}``), then our options (CuPy appends
  ``--std=c++17`` only when no ``-std=`` is given), then ``-I<cupy>/_core/include`` and ``-I`` of the CUDA
  runtime headers (``cuda.pathfinder.find_nvidia_header_directory("cudart")``: the nvidia-cuda-runtime wheel
  that ``cupy-cuda12x[ctk]`` installs);
* ``cupy/cuda/compiler.py`` ``_compile_with_cache_cuda``: ``-ftz=true``;
* ``cupy/cuda/compiler.py`` ``_compile_using_nvrtc_no_warning``: ``-arch=sm_XY`` from
  ``_get_arch_for_options_for_nvrtc`` (a cubin while XY <= the newest arch NVRTC knows; 90 on H100/H200),
  then ``--device-as-default-execution-space`` (RawModule does not use jitify). ``--pch`` is added only with
  ``CUPY_NVRTC_USE_PCH=1``, ``--device-debug --generate-line-info`` only with ``CUPY_CUDA_COMPILE_WITH_DEBUG=1``.

NVRTC comes from the ``nvidia-cuda-nvrtc-cu12`` wheel (the ``dev`` extra) and is called through ctypes.
The include dirs are added when they are on this machine: CuPy's own headers from the real CuPy that
``.ci/run`` installs into ``$DEEPCORE_REAL_CUPY``, the runtime headers from an ``nvidia-cuda-runtime-cu12``
wheel. The kernels include no header, so a missing one changes nothing but the command line.
"""
import ctypes
import importlib.util
import os
from pathlib import Path

import pytest

from deepcore.backend import kernel_sources

SOURCES = kernel_sources()
ARCH = "90"  # H100 / H200
OUR_OPTIONS = ("-std=c++17",)  # deepcore/backend/kernels.py get_kernel


def _wheel_dir(package: str, sub: str) -> Path | None:
    """``<site-packages>/nvidia/<package>/<sub>`` of an installed NVIDIA wheel, or None."""
    try:
        spec = importlib.util.find_spec(f"nvidia.{package}")
    except ModuleNotFoundError:
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / sub).is_dir():
            return Path(location) / sub
    return None


def cupy_nvrtc_options(arch: str = ARCH) -> list[str]:
    """The NVRTC options of ``cupy.RawModule(code=..., options=OUR_OPTIONS)`` in CuPy 14 (module docstring)."""
    real_cupy = os.environ.get("DEEPCORE_REAL_CUPY")
    cupy_include = Path(real_cupy, "cupy", "_core", "include") if real_cupy else None
    if cupy_include is not None and not cupy_include.is_dir():
        cupy_include = None
    cudart_include = _wheel_dir("cuda_runtime", "include")

    opts = []
    if cupy_include:
        opts += [f"-I{cupy_include}/cupy/_cccl/{lib}" for lib in ("cub", "thrust", "libcudacxx")]
    opts += OUR_OPTIONS
    if cupy_include:
        opts.append(f"-I{cupy_include}")
    if cudart_include:
        opts.append(f"-I{cudart_include}")
    opts += ["-ftz=true", f"-arch=sm_{arch}", "--device-as-default-execution-space"]
    return opts


class Nvrtc:
    """The few NVRTC calls a compile check needs, on ``libnvrtc.so.12`` from the nvidia-cuda-nvrtc-cu12 wheel."""

    def __init__(self, path: Path):
        self.lib = lib = ctypes.CDLL(str(path))
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
        self.version = (major.value, minor.value)

    def _check(self, result: int, log: str = ""):
        if result != 0:
            raise RuntimeError(f"{self.lib.nvrtcGetErrorString(result).decode()}\n{log}")

    def compile(self, source: str, name: str, options: list[str]) -> bytes:
        """The cubin of ``source``; raises RuntimeError with NVRTC's log when it does not compile."""
        lib, prog = self.lib, ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None))
        try:
            argv = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
            result = lib.nvrtcCompileProgram(prog, len(options), argv)
            size = ctypes.c_size_t()
            self._check(lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)))
            log = ctypes.create_string_buffer(size.value)
            self._check(lib.nvrtcGetProgramLog(prog, log))
            self._check(result, log.value.decode(errors="replace"))
            self._check(lib.nvrtcGetCUBINSize(prog, ctypes.byref(size)))
            cubin = ctypes.create_string_buffer(size.value)
            self._check(lib.nvrtcGetCUBIN(prog, cubin))
            return cubin.raw
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))


@pytest.fixture(scope="module")
def nvrtc():
    lib_dir = _wheel_dir("cuda_nvrtc", "lib")
    if lib_dir is None or not (lib_dir / "libnvrtc.so.12").exists():
        pytest.skip("NVRTC not installed: pip install nvidia-cuda-nvrtc-cu12 (part of the dev extra)")
    return Nvrtc(lib_dir / "libnvrtc.so.12")


def test_kernel_sources_exist():
    names = {p.name for p in SOURCES}
    assert {"conv.cu", "pool.cu"} <= names


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_kernel_compiles_with_nvrtc_as_cupy_does(source, nvrtc):
    options = cupy_nvrtc_options()
    try:
        cubin, error = nvrtc.compile(source.read_text(), source.name, options), None
    except RuntimeError as e:
        cubin, error = b"", str(e)
    if error is not None:
        pytest.fail(f"NVRTC {nvrtc.version} failed on {source.name} with {' '.join(options)}:\n{error}", pytrace=False)
    assert cubin[:4] == b"\x7fELF"
