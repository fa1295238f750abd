"""Activations by name (the paper's list) or any callable, and the facts about σ the
paper's conditions use (σ(0), analyticity, derivatives at 0, polynomial coefficients).

Every activation is an element-wise ``jnp`` function. Names are the static,
hashable way to pick one (they go into saved configs); a callable is accepted
anywhere a name is and is used as it is. The inverse of σ used by Theorem 6 is
``theory.invert_activation``.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

Activation = Union[str, Callable[[jax.Array], jax.Array]]


def _shifted_sigmoid(z):
    # σ(z) = 1/(1+e^{-z}) − ½, so that σ(0) = 0 (the paper's footnote 6).
    return jax.nn.sigmoid(z) - 0.5


def _quadratic(z):
    return z * z


def _cubic(z):
    return z * z * z


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "linear": lambda z: z,
    "relu": jax.nn.relu,
    "leaky_relu": lambda z: jax.nn.leaky_relu(z, negative_slope=0.01),
    "elu": jax.nn.elu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "shifted_sigmoid": _shifted_sigmoid,
    "softplus": jax.nn.softplus,
    "quadratic": _quadratic,
    "cubic": _cubic,
}
"""The named activations. ``leaky_relu`` has slope 0.01 (PyTorch's default)."""


def polynomial(coefficients) -> Callable[[jax.Array], jax.Array]:
    """Returns σ(z) = Σ_k a_k z^k for ``coefficients = (a_0, a_1, ..., a_t)``."""
    coeffs = tuple(float(c) for c in coefficients)
    if not coeffs:
        raise ValueError("polynomial: `coefficients` must hold at least one number")

    def sigma(z):
        out = jnp.zeros_like(z) + coeffs[-1]
        for a in reversed(coeffs[:-1]):  # Horner's rule
            out = out * z + a
        return out

    sigma.__name__ = f"polynomial{coeffs}"
    sigma.coefficients = coeffs
    return sigma


def get_activation(activation: Activation) -> Callable[[jax.Array], jax.Array]:
    """Resolves a name (see ``ACTIVATIONS``) or returns the callable unchanged.

    Raises:
      ValueError: an unknown name, listing the known ones.
      TypeError: neither a string nor a callable.
    """
    if callable(activation):
        return activation
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation]
        except KeyError:
            raise ValueError(
                f"activation: unknown name {activation!r}; expected one of "
                f"{sorted(ACTIVATIONS)} or a callable"
            ) from None
    raise TypeError(f"activation: expected a name or a callable, got {type(activation).__name__}")


def activation_name(activation: Activation) -> str:
    """A printable name for configs and tables."""
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", repr(activation))


# ----------------------------------------------------------------------------- facts about σ at 0
# The paper's conditions ask about σ(0), real analyticity and the derivatives σ^(k)(0)
# (Assumption 2, Theorems 3 and 6); these are the known facts, one place for all of them.

POLYNOMIALS: dict[str, tuple] = {"linear": (0.0, 1.0), "quadratic": (0.0, 0.0, 1.0), "cubic": (0.0, 0.0, 0.0, 1.0)}
"""Coefficients ``(a_0, …, a_t)`` of the named polynomial activations."""

ANALYTIC: dict[str, bool] = {"linear": True, "tanh": True, "sigmoid": True, "shifted_sigmoid": True, "softplus": True,
                             "quadratic": True, "cubic": True, "relu": False, "leaky_relu": False, "elu": False}
"""Real analyticity of the named activations (ReLU and leaky ReLU have a kink at 0; ELU's
second derivative jumps there)."""

NONZERO_DERIVATIVES: dict[str, str] = {
    # Orders k with σ^(k)(0) != 0, for every k of the stated parity (known Taylor series at 0):
    "tanh": "odd",             # coefficients 2^{2m}(2^{2m}−1)B_{2m}/(2m)! of z^{2m−1}: all non-zero
    "shifted_sigmoid": "odd",  # ½ tanh(z/2)
    "sigmoid": "odd",          # ½ + ½ tanh(z/2) (k = 0 as well)
    "softplus": "even",        # log 2 + z/2 + log cosh(z/2): even log-cosh coefficients non-zero (k = 1 as well)
}
"""For the named non-polynomial analytic activations: the parity of the orders ``k`` at which
``σ^(k)(0) ≠ 0`` holds for *every* ``k`` of that parity (a proved fact, not a numerical test)."""


def polynomial_coefficients(activation: Activation) -> Optional[tuple]:
    """``(a_0, …, a_t)`` when σ is a known polynomial (``POLYNOMIALS`` or ``polynomial(...)``), else None."""
    if isinstance(activation, str):
        return POLYNOMIALS.get(activation)
    return getattr(activation, "coefficients", None)


def is_analytic(activation: Activation) -> Optional[bool]:
    """Real analyticity: known for the names (``ANALYTIC``) and for polynomials; None for other callables."""
    if isinstance(activation, str):
        return ANALYTIC.get(activation)
    return True if polynomial_coefficients(activation) is not None else None


def zero_at_origin(activation: Activation, dtype=jnp.float32) -> bool:
    """Whether ``σ(0) = 0`` (exactly, evaluated in ``dtype``)."""
    return float(get_activation(activation)(jnp.zeros((), dtype))) == 0.0


def derivatives_at_zero(activation: Activation, order: int = 8) -> np.ndarray:
    """``σ^(k)(0)`` for ``k = 0 … order`` by nested ``jax.grad`` (float64 when x64 is
    enabled, else float32). Cached per (activation, order, dtype).

    Returns:
      ``(order + 1,)`` float64 array.
    """
    dtype = jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32
    return np.array(_derivatives(activation, int(order), jnp.dtype(dtype).name))


@functools.lru_cache(maxsize=64)
def _derivatives(activation, order: int, dtype: str) -> tuple:
    f = get_activation(activation)
    out, g = [], (lambda z: f(z))
    for _ in range(order + 1):
        out.append(float(jax.jit(g)(jnp.zeros((), dtype))))
        g = jax.grad(g)
    return tuple(out)
