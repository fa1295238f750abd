"""Activations by name (the paper's list) or any callable.

Every activation is an element-wise ``jnp`` function. Names are the static,
hashable way to pick one (they go into saved configs); a callable is accepted
anywhere a name is and is used as it is.
"""

from __future__ import annotations

from typing import Callable, Union

import jax
import jax.numpy as jnp

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
