"""theory.invert: vectorised bisection against closed-form inverses (float64)."""

import numpy as np
import pytest

from landscape import theory as th

V = np.linspace(-0.45, 0.45, 37)


@pytest.mark.parametrize("act,inverse,values", [
    ("tanh", np.arctanh, 2 * V),
    ("shifted_sigmoid", lambda v: 2 * np.arctanh(2 * v), V),           # σ(z) = ½ tanh(z/2)
    ("elu", lambda v: np.where(v < 0, np.log1p(v), v), 2 * V),
    ("leaky_relu", lambda v: np.where(v < 0, v / 0.01, v), V / 50),
    ("linear", lambda v: v, 10 * V),
])
def test_invert_matches_closed_form(act, inverse, values):
    z = th.invert(act, values)
    assert z.shape == values.shape
    # bisection to float64 resolution: |Δz| ≤ 1e-12 (the old per-value brentq agreed to 7e-15)
    np.testing.assert_allclose(z, inverse(values), rtol=1e-12, atol=1e-12)
    for v, zi in zip(values[::9], z[::9]):  # scalar calls give the same numbers, as floats
        s = th.invert(act, float(v))
        assert isinstance(s, float) and s == zi


def test_invert_refuses_values_outside_the_range():
    with pytest.raises(ValueError, match="value: 1.5 is not in the range"):
        th.invert("tanh", np.array([0.2, 1.5]))
    assert th.invert("tanh", 0.0) == 0.0
