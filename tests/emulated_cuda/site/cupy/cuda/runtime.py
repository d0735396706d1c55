"""The emulated ``cupy.cuda.runtime``: device count, current device, errors."""
from cupy_emulation._cuda import _RuntimeModule as _R
from cupy_emulation._runtime import CUDARuntimeError  # noqa: F401

getDeviceCount = _R.getDeviceCount
getDevice = _R.getDevice
setDevice = _R.setDevice
deviceSynchronize = _R.deviceSynchronize
memGetInfo = _R.memGetInfo
runtimeGetVersion = _R.runtimeGetVersion
driverGetVersion = _R.driverGetVersion


def __getattr__(name):
    raise AttributeError(f"the emulated CuPy has no cupy.cuda.runtime.{name}")
