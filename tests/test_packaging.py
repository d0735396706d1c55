"""Packaging: every subpackage and every CUDA kernel source ships in the built wheel."""
import pathlib


import pytest

import deepcore
from deepcore.backend import kernel_sources

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    pkg = pathlib.Path(deepcore.__file__).parent
    found = {"deepcore." + ".".join(p.parent.relative_to(pkg).parts) if p.parent != pkg else "deepcore"
             for p in pkg.rglob("__init__.py")}
    assert found <= listed, f"missing from pyproject packages: {sorted(found - listed)}"
    assert "deepcore._kernels" in listed


def test_kernel_sources_are_found():
    names = {p.name for p in kernel_sources()}
    assert {"conv.cu", "pool.cu", "rnn.cu"} <= names
