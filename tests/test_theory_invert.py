"""theory.invert_activation: the one inverse of σ (traceable bisection) against closed forms (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from landscape import theory as th

V = np.linspace(-0.45, 0.45, 37)


@pytest.mark.parametrize("act,inverse,values", [
    ("tanh", np.arctanh, 2 * V),
    ("shifted_sigmoid", lambda v: special.logit(v + 0.5), V),            # σ(z) = 1/(1+e^{-z}) − ½
    ("elu", lambda v: np.where(v < 0, np.log1p(v), v), 2 * V),
    ("leaky_relu", lambda v: np.where(v < 0, v / 0.01, v), V / 50),
    ("linear", lambda v: v, 10 * V),
])
def test_invert_matches_closed_form(act, inverse, values):
    z = np.asarray(th.invert_activation(act, values))
    assert z.shape == values.shape and z.dtype == np.float64
    # bisection to float64 resolution: |Δz| ≤ 1e-12 (σ's own rounding, ~1e-16/σ'(z), is far below)
    np.testing.assert_allclose(z, inverse(values), rtol=1e-12, atol=1e-12)
    for v, zi in zip(values[::9], z[::9]):  # scalar calls give the same numbers
        assert float(th.invert_activation(act, float(v))) == zi


@pytest.mark.parametrize("act,inverse", [("tanh", np.arctanh), ("shifted_sigmoid", lambda v: special.logit(v + 0.5))])
def test_invert_is_traceable_and_vmappable(act, inverse):
    # the one implementation serves Figure 5's slice (inside jit/vmap) and the eager Theorem 6 points
    values = np.concatenate([0.9 * V, [0.0, 0.4999, -0.4999]]) * (2.0 if act == "tanh" else 1.0)
    direct = np.asarray(th.invert_activation(act, values))
    mapped = np.asarray(jax.vmap(lambda v: th.invert_activation(act, v))(jnp.asarray(values)))
    jitted = np.asarray(jax.jit(lambda v: th.invert_activation(act, v))(jnp.asarray(values)))
    np.testing.assert_array_equal(mapped, direct)
    np.testing.assert_array_equal(jitted, direct)
    np.testing.assert_allclose(direct, inverse(values), rtol=1e-12, atol=1e-13)
    assert direct[len(V)] == 0.0  # σ(0) = 0 is found exactly


def test_invert_refuses_values_outside_the_range():
    with pytest.raises(ValueError, match="value: 1.5 is not in the range"):
        th.invert_activation("tanh", np.array([0.2, 1.5]))
    assert float(th.invert_activation("tanh", 0.0)) == 0.0
    # traced, an unreachable value is NaN (Figure 5 draws it as a hole), not an error
    out = jax.jit(lambda v: th.invert_activation("tanh", v))(jnp.array([0.2, 1.5]))
    assert np.isfinite(out[0]) and np.isnan(out[1])
