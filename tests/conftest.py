"""Test-wide settings: float64 available (library code passes dtypes explicitly)."""

import jax

jax.config.update("jax_enable_x64", True)
