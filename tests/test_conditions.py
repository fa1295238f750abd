"""landscape.conditions: one home for the paper's conditions; structure and property_p agree on them."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import conditions as C
from landscape import io, masks as M, nets, paths, ranks
from landscape import property_p as pp
from landscape import structure as S


def _by_theorem(checks):
    return {c.theorem: c for c in checks}


# ----------------------------------------------------------------------------- Z_i Z_jᵀ = 0: one tolerance


def _borderline(eps):
    """A two-layer linear SD net where only Theorem 1 condition 2 can hold: disjoint patterns
    (p_i = 2 < d_i = 3), d_y = 4, orthonormal data rows except one cross pair at cosine ``eps``."""
    d, n = 6, 10
    mask = np.zeros((4, d))
    mask[:2, :3] = 1
    mask[2:, 3:] = 1
    net = nets.MLP((d, 4, 4), "linear")
    masks = ({"W": mask}, {"W": np.ones((4, 4))})
    rng = np.random.default_rng(2)
    X = np.linalg.qr(rng.normal(size=(n, d)))[0].T
    X[3] += eps * X[0]  # features 0 (pattern 1) and 3 (pattern 2): cos = eps / sqrt(1 + eps²)
    return net, masks, X, rng.normal(size=(4, n))


@pytest.mark.parametrize("eps,holds", [(1e-11, True), (1e-9, False)])
def test_structure_report_and_property_p_agree_on_orthogonality(eps, holds):
    # Before the conditions had one home, structure used max|entry| / max‖x‖² ≤ 1e-10 (holds at 1e-11)
    # and property_p ‖Z_i Z_jᵀ‖_F ≤ 1e-12 ‖Z_i‖‖Z_j‖ (3.3e-12 here: failed): the two disagreed at 1e-11.
    net, masks, X, Y = _borderline(eps)
    rep = S.structure_report(net, X, masks)
    t1 = _by_theorem(rep.checks)["Theorem 1"]
    orth = t1.any_of[1]
    assert orth.name == "Z_i Z_jᵀ = 0 for i ≠ j" and orth.holds is holds
    assert orth.value == pytest.approx(eps, rel=1e-6)  # the cosine it measured
    assert t1.applies is holds
    assert C.orthogonal_patterns(net, X, masks) == orth  # the report shows the function's own result
    params = nets.init(jax.random.key(0), net, masks, dtype=jnp.float64)
    if holds:
        path = pp.theorem1_path(net, params, X, Y, masks)
        assert path.theorem == "Theorem 1 case 2" and paths.verify(path).passed
    else:
        with pytest.raises(ValueError, match=r"no condition of Theorem 1 holds.*2\) Z_i Z_j\^T = 0 fails"):
            pp.theorem1_path(net, params, X, Y, masks)
        with pytest.raises(ValueError, match=r"case: Theorem 1 case 2 needs Z_i Z_jᵀ = 0"):
            pp.theorem1_path(net, params, X, Y, masks, case=2)


def test_orthogonality_is_invariant_to_feature_scale():
    net, masks, X, _ = _borderline(1e-11)
    scaled = X * np.array([1e-6, 1, 1, 1e6, 1, 1])[:, None]
    assert C.orthogonal_patterns(net, scaled, masks).value == pytest.approx(1e-11, rel=1e-6)


# ----------------------------------------------------------------------------- the network class comes first


def test_dense_net_is_never_a_theorem6_case():
    # A dense tanh net with p = 5 < n = 30: every output has 5 < n connections. The old report
    # fired "Theorem 6 applies" here; Theorem 6 is about SS nets.
    X = np.random.default_rng(0).standard_normal((8, 30))
    net = nets.MLP((8, 5, 3), "tanh")
    rep = S.structure_report(net, X)
    assert rep.kind == "dense"
    t6 = _by_theorem(rep.checks)["Theorem 6"]
    assert t6.applies is False and [c.name for c in t6.failing()] == ["SS network (sparse first and final layers)"]
    assert "Theorem 6" not in rep.applicable()
    text = str(rep)
    assert text.splitlines()[0].startswith("network: dense")
    assert "Theorem 6: does not apply" in text and "Theorem 6: APPLIES" not in text
    # the same for a DS net (dense first layer, sparse final layer), and for the function on its own
    ds_masks = ({"W": np.ones((5, 8))}, {"W": np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 1.0]])})
    assert S.structure_report(net, X, ds_masks).kind == "DS"
    assert C.theorem6_conditions(net, X, ds_masks).applies is False
    assert C.theorem6_conditions(net, X).applies is False


def test_ss_net_is_a_theorem6_case_and_remark2_is_reported():
    X = np.random.default_rng(5).standard_normal((4, 10))
    net = nets.MLP((4, 16, 12, 3), "tanh")
    m = M.random_masks(0, net, [0.3, 0.3, 0.5])
    conn = np.asarray(S.effective_masks(net, m).masks[-1]["W"]).astype(int).sum(axis=1)  # per output, after clean-up
    assert conn.min() < 10  # fewer than n connections
    rep = S.structure_report(net, X, m)
    checks = _by_theorem(rep.checks)
    r2 = [c for c in checks["Theorem 5"].required if "Remark 2" in c.name]
    assert len(r2) == 1 and r2[0].holds is False and r2[0].value == conn.min()
    assert checks["Theorem 6"].applies is True and rep.kind == "SS"
    assert f"every output connected to ≥ n last-hidden neurons (Remark 2): connections per output: min {conn.min()}" in str(rep)
    assert "a final-layer row with < n connections (Remark 2 fails)" in str(rep)
    # Remark 2 on its own, and undecided without data
    assert C.remark2(net, X, m).holds is False and C.remark2(net, X, M.random_masks(0, net, [0.3, 0.3, 0.0])).holds
    assert C.remark2(net, None, m).holds is None and C.remark2(net, None, m).data == C.NO_DATA


# ----------------------------------------------------------------------------- one function, one result


def test_check_theorems_assembles_the_condition_functions():
    # On an effective compact network, structure's report is exactly the six functions' results.
    X = np.random.default_rng(1).standard_normal((5, 12))
    net = nets.MLP((5, 14, 2), "softplus")
    first = np.ones((14, 5))
    first[np.arange(14), np.arange(14) % 5] = 0
    masks = ({"W": first}, {"W": np.ones((2, 14))})
    got = S.check_theorems(net, X, masks)
    want = (C.theorem1_conditions(net, X, None, masks), C.theorem2_conditions(net, X, None, masks),
            C.theorem3_conditions(net, X, masks), C.theorem4_conditions(net, X, masks),
            C.theorem5_conditions(net, X, masks), C.theorem6_conditions(net, X, masks))
    assert got == want
    assert _by_theorem(got)["Theorem 4"].applies is True  # p = 14 ≥ n = 12, softplus: Assumption 2 (even orders)


def test_condition_is_frozen_and_names_its_data():
    X = np.random.default_rng(2).standard_normal((3, 7))
    c = C.assumption1(X)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.holds = False
    d = io.digest(X)
    assert c.data == f"X (3, 7) float64 sha256:{d['sha256'][:16]}"
    assert C.assumption1(None).holds is None and C.assumption1(None).data == "no data"
    assert C.two_layer(nets.MLP((3, 4, 1))).data == "none needed"
    assert c.to_dict()["value"] == []


def test_require_names_argument_theorem_and_condition():
    net = nets.MLP((3, 4, 4, 1), "linear")
    assert C.require(C.linear_activation(net), "net", "Theorem 2").holds
    with pytest.raises(ValueError, match=r"^net: Theorem 1 needs two-layer net \(one hidden layer\); depth L = 3$"):
        C.require(C.two_layer(net), "net", "Theorem 1")
    with pytest.raises(ValueError, match=r"activation: Theorem 4 needs Assumption 2 .* \(undecided\); cannot check"):
        C.require(C.assumption2(lambda z: jnp.sin(z), 3), "activation", "Theorem 4")


# ----------------------------------------------------------------------------- numerical rank: one rule, two backends


def test_numerical_rank_one_rule_numpy_and_jax():
    assert ranks.numerical_rank is C.numerical_rank
    rng = np.random.default_rng(0)
    Hs = np.stack([rng.standard_normal((9, r)) @ rng.standard_normal((r, 12)) for r in (0, 1, 3, 7, 9)])
    want = [0, 1, 3, 7, 9]
    got_np = [C.numerical_rank(H) for H in Hs]  # NumPy path: Python ints, float64
    assert got_np == want and all(type(r) is int for r in got_np)
    with jax.enable_x64(True):
        jitted = jax.jit(jax.vmap(C.numerical_rank))(jnp.asarray(Hs))  # traceable path
        mapped = jax.lax.map(C.numerical_rank, jnp.asarray(Hs))
    assert jitted.dtype == jnp.int32 and jitted.tolist() == want and mapped.tolist() == want
    # the same rtol rule: a singular value 1e-6·s_max counts at rtol 1e-8, not at 1e-4
    U, _ = np.linalg.qr(rng.standard_normal((6, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((5, 3)))
    H = U @ np.diag([1.0, 1.0, 1e-6]) @ V.T
    for A in (H, jnp.asarray(H, jnp.float64)):  # float64 on both paths (float32 round-off is ~1e-7)
        assert int(C.numerical_rank(A, 1e-8)) == 3 and int(C.numerical_rank(A, 1e-4)) == 2
    assert C.numerical_rank(np.zeros((0, 3))) == 0 and C.numerical_rank(np.zeros((3, 3))) == 0
