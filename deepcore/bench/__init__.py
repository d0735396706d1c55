"""Benchmark workloads and the ``deepcore-bench`` command line."""
from .runner import run_deepcore, run_torch
from .workloads import WORKLOADS

__all__ = ["WORKLOADS", "run_deepcore", "run_torch"]
