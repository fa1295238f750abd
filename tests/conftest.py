"""Test-wide settings: float64 available (library code passes dtypes explicitly); several test
processes (pytest-xdist workers) may share one accelerator, so none preallocates its memory."""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # before JAX starts a backend

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)


import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _notebook_kernel_env(request, monkeypatch):
    """Notebook tests: the kernel they start inherits this environment. Quick settings, this checkout's
    code, and Jupyter's inline backend (what a notebook user has; a backend left in the environment by
    anything else would keep figures out of the outputs the tests look for). Restored afterwards."""
    if "notebook" not in request.node.path.name:
        return
    monkeypatch.setenv("LANDSCAPE_NB_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
