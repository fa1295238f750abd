"""The atlas (issue 15): symmetry reduction against brute force and Burnside, Eq. (3)'s proved valley,
a structure where a theorem applies, a planted contradiction, resumability, bad input, the CLI."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import landscape as ls
from landscape import atlas, structure, theory, trials

THM = theory.Theorem6()


# ----------------------------------------------------------------------------- symmetries and counts


def _all_pairs(p, dx, dy):
    n_bits = p * dx + dy * p
    bits = (np.arange(2**n_bits)[:, None] >> np.arange(n_bits)) & 1
    return bits[:, :p * dx].reshape(-1, p, dx).astype(bool), bits[:, p * dx:].reshape(-1, dy, p).astype(bool)


def _orbits_by_closure(M1, M2, group):
    """Brute force, independent of canonical codes: union-find over 'g maps pair i to pair j'."""
    index = {(a.tobytes(), b.tobytes()): i for i, (a, b) in enumerate(zip(M1, M2))}
    parent = list(range(len(M1)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (a, b) in enumerate(zip(M1, M2)):
        for g in group:
            ga, gb = atlas.act(g, a, b)
            j = index[(np.ascontiguousarray(ga).tobytes(), np.ascontiguousarray(gb).tobytes())]
            parent[find(i)] = find(j)
    return len({find(i) for i in range(len(M1))})


@pytest.mark.parametrize("X, Y, n_data_syms", [
    (np.eye(2), np.eye(2), 2),                                  # swapping both inputs and outputs (with the samples)
    (np.eye(2), np.array([[1.0, 0.0], [0.0, 2.0]]), 1),          # targets break the symmetry
    (np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([[3.0, 4.0]]), 2),  # equal input rows: swap the inputs alone
])
def test_orbit_counts_against_brute_force_and_burnside(X, Y, n_data_syms):
    dx, dy, p = X.shape[0], Y.shape[0], 2
    group = atlas.symmetry_group(p, X, Y)
    assert len(atlas.data_symmetries(X, Y)) == n_data_syms and len(group) == 2 * n_data_syms
    M1, M2 = _all_pairs(p, dx, dy)
    canon = atlas.canonical_codes(M1, M2, group)
    n_canon = np.unique(canon).size
    assert n_canon == atlas.burnside_count(M1, M2, group) == _orbits_by_closure(M1, M2, group)
    # and the enumeration of structures: the cleaned, effective pairs (a set closed under the group)
    enum = atlas.enumerate_structures((dx, p, dy), X, Y, "tanh", reports=False)
    net = ls.MLP((dx, p, dy), "tanh")
    keep = []
    for a, b in zip(M1, M2):
        try:
            c = structure.effective_masks(net, [a.astype(np.int8), b.astype(np.int8)])
        except ValueError:
            continue
        c1, c2 = (np.asarray(m) != 0 for m in c.masks)
        if structure.is_effective([c1, c2]) and np.array_equal(c1, a) and np.array_equal(c2, b):
            keep.append((a, b))  # already clean and effective: one member of some structure's orbit
    K1, K2 = np.array([k[0] for k in keep]), np.array([k[1] for k in keep])
    assert len(enum.structures) == atlas.burnside_count(K1, K2, group) == _orbits_by_closure(K1, K2, group)
    assert sum(s.n_masks for s in enum.structures) + sum(enum.excluded.values()) == 2 ** (p * (dx + dy))


def test_table3_counts_closed_form():
    # Table 3's data have no input/output symmetry, so only the hidden swap acts: (2^12 + 2^6) / 2 orbits.
    X, Y = atlas.table3_data()
    assert len(atlas.data_symmetries(X, Y)) == 1
    enum = atlas.enumerate_structures((3, 2, 3), X, Y, "tanh", reports=False)
    assert enum.n_raw == 4096 and enum.n_orbits_raw == (4096 + 64) // 2 and enum.group_size == 2
    eq3 = [s for s in enum.structures if s.eq3]
    assert len(eq3) == 1 and eq3[0].kind == "SS"
    assert np.array_equal(eq3[0].masks[0], theory.FIRST_MASK) and np.array_equal(eq3[0].masks[1], theory.FINAL_MASK)
    assert {s.kind for s in enum.structures} == {"dense", "SD", "SS", "DS"}


def test_symmetries_leave_the_loss_unchanged():
    # The claim behind the reduction: for every group element g, the loss of g·params under g·masks is the
    # loss of params under masks (random params, float64), on data with a non-trivial data symmetry.
    X = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 3.0], [0.5, 0.5, 0.7]])
    Y = np.array([[1.0, 5.0, 2.0], [5.0, 1.0, 2.0]])
    group = atlas.symmetry_group(3, X, Y)
    assert len(group) == 6 * 2
    net = ls.MLP((3, 3, 2), "tanh")
    rng = np.random.default_rng(0)
    M1, M2 = rng.integers(0, 2, (3, 3)), rng.integers(0, 2, (2, 3))
    W1, W2 = rng.normal(size=(3, 3)), rng.normal(size=(2, 3))
    base = float(ls.loss(net, ({"W": W1}, {"W": W2}), X, Y, ({"W": M1}, {"W": M2})))
    for g in group:
        gM1, gM2 = atlas.act(g, M1, M2)
        gW1, gW2 = atlas.act(g, W1, W2)
        got = float(ls.loss(net, ({"W": gW1}, {"W": gW2}), X, Y, ({"W": gM1}, {"W": gM2})))
        assert abs(got - base) <= 1e-12 * max(1.0, base)


# ----------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def enum_tanh():
    X, Y = atlas.table3_data()
    return atlas.enumerate_structures((3, 2, 3), X, Y, "tanh", reports=False)


@pytest.fixture(scope="module")
def eq3_run(enum_tanh):
    i = next(s.index for s in enum_tanh.structures if s.eq3)
    cfg = atlas.AtlasConfig(n_trials=32, max_steps=10_000, structures=(i,))
    return atlas.run_atlas(cfg, enumerations={"tanh": enum_tanh})


def test_eq3_structure_has_its_spurious_valley_proved(eq3_run):
    (r,) = eq3_run.results
    assert r.structure.eq3 and r.global_evidence == "proved"
    np.testing.assert_allclose(r.global_value, theory.theorem6_global_min(THM)[0], rtol=1e-12)
    valleys = [p for p in r.spurious if p["type"] == "valley"]
    assert valleys and valleys[0]["evidence"] == "proved" and valleys[0]["verdict"] == "in a spurious valley (Theorem 6)"
    assert valleys[0]["count"] >= 16  # Table 3: most tanh trials end in the valley (99 of 100 in the paper)
    np.testing.assert_allclose(valleys[0]["loss"], THM.valley_loss, atol=0.05)
    assert r.verdict == "has a spurious valley (Theorem 6)" and r.evidence == "proved"
    assert r.n_global + sum(p["count"] for p in r.spurious) + sum(p["count"] for p in r.removed) == r.n_trials
    lo, hi = r.ci
    assert lo <= r.p_global <= hi
    assert r.contradiction is None  # Eq. (3) is covered by no benign theorem (Theorem 6: WARNING)
    text = eq3_run.format_table()  # every verdict passes the wording check while formatting
    assert "has a spurious valley (Theorem 6) [proved]" in text


def test_planted_contradiction_is_reported_loudly_and_reproducible(eq3_run):
    (r,) = eq3_run.results
    fake = dataclasses.replace(r.structure, benign_theorem="Theorem 4", benign_evidence="proved")  # planted
    part = {"params": eq3_run.trials["tanh"].params, "loss": eq3_run.trials["tanh"].loss,
            "grad_norm": eq3_run.trials["tanh"].grad_norm, "status": eq3_run.trials["tanh"].status,
            "trial_ids": eq3_run.trials["tanh"].trial_ids}
    X, Y = atlas.table3_data()
    planted = atlas.classify(fake, "tanh", X, Y, part, eq3_run.config, thm=THM)
    c = planted.contradiction
    assert c is not None and c.theorem == "Theorem 4" and c.point["type"] == "valley" and c.point["evidence"] == "proved"
    assert planted.verdict.startswith("CONTRADICTION with Theorem 4")
    result = dataclasses.replace(eq3_run, results=(planted,))
    text = result.format_table()
    assert "CONTRADICTION: structure" in text and "!!!!" in text and "1 contradictions" in text
    d = json.loads(ls.io.to_json(result.to_dict()))
    assert d["contradictions"][0]["theorem"] == "Theorem 4"
    # Everything needed to reproduce it: re-train that one trial from the record and land on its weights.
    rep = c.reproduce
    net = ls.MLP(tuple(rep["net"]["sizes"]), rep["activation"], bias=rep["net"]["bias"])
    masks = tuple({"W": np.asarray(m, np.float32)} for m in rep["masks"])
    again = trials.train(net, X, Y, masks=masks, n_trials=1, seed=rep["seed"], trial_ids=[rep["trial_id"]],
                         config=trials.TrainConfig(**{**rep["train"], "optimizer_kwargs": ()}))
    w = [np.asarray(leaf[0], np.float64) for leaf in jax.tree.leaves(again.params)]
    for a, b in zip(w, rep["w"]):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-5)  # float32 training; batch shape may differ


def test_a_structure_where_a_theorem_applies_agrees():
    # Linear σ, Table 3 data: an SD structure whose two patterns use disjoint inputs has Z_1 Z_2ᵀ = 0
    # (X = I₃), so Theorem 1's conditions hold (Z_i Z_jᵀ = 0 is checked to a cosine tolerance: evidence
    # sampled); the atlas must find no spurious strict minimum there.
    X, Y = atlas.table3_data()
    enum = atlas.enumerate_structures((3, 2, 3), X, Y, "linear", reports=False)
    net = ls.MLP((3, 2, 3), "linear")
    target = [s for s in enum.structures if s.kind == "SD" and s.masks[0].sum() == 3 and s.masks[0].all(axis=0).sum() == 0
              and (s.masks[0].sum(axis=1) > 0).all()]
    assert target, "an SD structure with disjoint patterns"
    s = target[0]
    rep = structure.structure_report(net, X, [*s.masks])
    thm_name, ev = atlas._benign(rep)
    assert thm_name == "Theorem 1" and ev == "sampled"
    s = dataclasses.replace(s, report=rep, benign_theorem=thm_name, benign_evidence=ev)
    enum = dataclasses.replace(enum, structures=tuple(s if t.index == s.index else t for t in enum.structures))
    res = atlas.run_atlas(atlas.AtlasConfig(activations=("linear",), n_trials=16, max_steps=4000, structures=(s.index,)),
                          enumerations={"linear": enum})
    (r,) = res.results
    assert r.contradiction is None and not [p for p in r.spurious if p["type"] == "strict_minimum"]
    assert r.p_global >= 0.9
    assert r.verdict == "no spurious valleys (Theorem 1 conditions hold numerically)" and r.evidence == "sampled"


def test_resume_after_interrupt_gives_the_same_atlas(tmp_path, enum_tanh):
    cfg = atlas.AtlasConfig(n_trials=6, max_steps=4000, structures=(0, 20), chunk_size=6)
    plain = atlas.run_atlas(cfg, enumerations={"tanh": enum_tanh})
    calls = []

    def stop_after_first(act, info):
        calls.append(info)
        if len(calls) == 1:
            trials.STOP.set()

    try:
        with pytest.raises(KeyboardInterrupt):
            atlas.run_atlas(cfg, progress=stop_after_first, checkpoint_dir=str(tmp_path), enumerations={"tanh": enum_tanh})
    finally:
        trials.STOP.clear()
    assert os.path.exists(tmp_path / "ckpt_tanh.npz")
    resumed = atlas.run_atlas(cfg, progress=lambda a, i: calls.append(i), checkpoint_dir=str(tmp_path),
                              enumerations={"tanh": enum_tanh})
    np.testing.assert_array_equal(resumed.trials["tanh"].loss, plain.trials["tanh"].loss)
    assert [r.to_dict() for r in resumed.results] == [r.to_dict() for r in plain.results]


# ----------------------------------------------------------------------------- bad input and the CLI


def test_bad_input_names_the_argument(enum_tanh):
    X, Y = atlas.table3_data()
    with pytest.raises(ValueError, match="sizes"):
        atlas.AtlasConfig(sizes=(3, 2))
    with pytest.raises(TypeError, match="activations"):
        atlas.AtlasConfig(activations="tanh")
    with pytest.raises(ValueError, match="n_trials"):
        atlas.AtlasConfig(n_trials=0)
    with pytest.raises(ValueError, match="connect_methods"):
        atlas.AtlasConfig(connect_methods=("teleport",))
    with pytest.raises(ValueError, match="structures"):
        atlas.run_atlas(atlas.AtlasConfig(n_trials=2, structures=(10_000,)), enumerations={"tanh": enum_tanh})
    with pytest.raises(ValueError, match="sample"):
        atlas.enumerate_structures((4, 4, 4), np.eye(4), np.eye(4), "tanh")
    with pytest.raises(ValueError, match="X"):
        atlas.enumerate_structures((3, 2, 3), np.eye(4), Y, "tanh")
    with pytest.raises(ValueError, match="X, Y"):
        atlas.run_atlas(atlas.AtlasConfig(n_trials=2), X=X)
    with pytest.raises(TypeError, match="cfg"):
        atlas.run_atlas({"n_trials": 2})


def test_sampled_enumeration_of_a_larger_net_is_seeded():
    X, Y = atlas.random_data((4, 3, 2), 5, seed=1)
    a = atlas.enumerate_structures((4, 3, 2), X, Y, "tanh", sample=300, seed=3, reports=False, max_exhaustive=2**10)
    b = atlas.enumerate_structures((4, 3, 2), X, Y, "tanh", sample=300, seed=3, reports=False, max_exhaustive=2**10)
    assert a.sampled and [s.code for s in a.structures] == [s.code for s in b.structures]
    assert sum(s.n_masks for s in a.structures) + sum(a.excluded.values()) == 300


def test_cli_quick_writes_the_issue_shape(tmp_path):
    out = tmp_path / "atlas"
    r = subprocess.run([sys.executable, "-m", "landscape.cli", "atlas", "--quick", "--trials", "8", "--steps", "1000",
                        "--no-progress", "--out", str(out)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "LANDSCAPE_CACHE": "off"})
    assert r.returncode == 0, r.stderr
    assert "Eq.(3)" in r.stdout and "agreement with the theory" in r.stdout
    d = json.loads((out / "atlas.json").read_text())
    assert set(d) >= {"config", "structures"}
    for s in d["structures"]:
        assert set(s) >= {"masks", "kind", "benign_theorem", "activation", "n_trials", "p_global", "ci", "spurious",
                          "verdict", "evidence"}
        assert np.shape(s["masks"][0]) == (2, 3) and np.shape(s["masks"][1]) == (3, 2)
        assert s["kind"] in ("dense", "SD", "SS", "DS") and s["evidence"] in ("proved", "certified", "sampled", "none")
        for p in s["spurious"]:
            assert set(p) >= {"loss", "count", "type", "verdict", "evidence"}
            assert p["type"] in atlas.SPURIOUS_TYPES
    assert any(s["eq3"] for s in d["structures"])
    for f in ("atlas_p_global.png", "atlas_spurious.png", "trials_tanh.npz", "atlas.run.json"):
        assert (out / f).exists(), f
    bad = subprocess.run([sys.executable, "-m", "landscape.cli", "atlas", "--dx", "4", "--no-progress", "--out",
                          str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--data" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    bad = subprocess.run([sys.executable, "-m", "landscape.cli", "atlas", "--trials", "0"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--trials" in bad.stderr


def test_batched_prefilter_agrees_with_classify_critical_point(eq3_run):
    # The atlas labels saddles and non-critical points in one batched program; wherever it gives a label it
    # must be classify_critical_point's (same tolerances), and it must pass flat points on (None).
    net = THM.net("tanh")
    X, Y = THM.X, THM.Y
    zero = jax.tree.map(lambda m: np.zeros(np.shape(m)), THM.masks())
    with jax.enable_x64(True):
        pts = [theory.valley_point(THM, "tanh", b=10.0), zero]
        pts = [jax.tree.map(lambda p: np.asarray(p, np.float64), tuple(p)) for p in pts]
        trained = jax.tree.map(lambda p: np.asarray(p[:2], np.float64), tuple(eq3_run.trials["tanh"].params))
        pts += [jax.tree.map(lambda p, i=i: p[i], trained) for i in range(2)]
        batch = jax.tree.map(lambda *a: np.stack(a), *pts)
        masks = jax.tree.map(lambda m: np.repeat(np.asarray(m, np.float64)[None], len(pts), 0), THM.masks())
        pre = atlas._prefilter(net, batch, X, Y, masks, 1e-3, 1e-4)
        f = ls.curvature.masked_objective(net, X, Y, THM.masks(), dtype=np.float64)
        labels = [ls.curvature.classify_critical_point(f, f.space.flatten(p), gtol=1e-3, eig_atol=1e-4).label for p in pts]
    assert pre[0][0] is None and labels[0] in ("flat_minimum", "degenerate")  # the valley: flat directions
    assert pre[1][0] == labels[1] == "saddle"  # the origin: σ(0) = 0 makes it critical, W1-W2 cross terms a saddle
    assert any(p[0] == "not_critical" for p in pre[2:])
    for (lab, _), ref in zip(pre, labels):
        assert lab is None or lab == ref


def test_every_structure_verdict_passes_the_wording_check(enum_tanh):
    # Each branch of StructureResult's verdict, built by hand, goes through verdicts.summary_line.
    s = enum_tanh.structures[20]

    def point(typ, ev, verdict="x"):
        return {"loss": 1.0, "count": 3, "type": typ, "verdict": verdict, "evidence": ev, "how": "Theorem 6: ..."}

    cases = [((), None, None), ((point("strict_minimum", "sampled"),), None, None),
             ((point("valley", "sampled", atlas.CANDIDATE),), None, None), ((point("valley", "proved"),), None, None),
             ((), "Theorem 1", "proved"), ((), "Theorem 3", "sampled")]
    for spurious, thm, ev in cases:
        st = dataclasses.replace(s, benign_theorem=thm, benign_evidence=ev)
        r = atlas.StructureResult(st, "tanh", 10, 0.1, "sampled", "", 7, 0.7, (0.4, 0.9), spurious, (), {})
        ls.verdicts.summary_line(r.verdict, r.evidence)
        if spurious and spurious[0]["type"] == "strict_minimum":
            assert r.verdict.startswith("1 spurious candidates") and r.evidence == "sampled"
    c = atlas.Contradiction(20, "Theorem 1", "proved", point("strict_minimum", "sampled"), {"global_value": 0.1})
    r = atlas.StructureResult(dataclasses.replace(s, benign_theorem="Theorem 1", benign_evidence="proved"), "tanh", 10,
                              0.1, "sampled", "", 7, 0.7, (0.4, 0.9), (point("strict_minimum", "sampled"),), (), {}, c)
    ls.verdicts.summary_line(r.verdict, r.evidence)
    assert r.verdict.startswith("CONTRADICTION") and "CONTRADICTION" in str(c)


def test_save_load_round_trip(tmp_path, eq3_run):
    paths = eq3_run.save(str(tmp_path))
    assert os.path.exists(paths["json"]) and os.path.exists(paths["tanh"])
    back = atlas.AtlasResult.load(str(tmp_path))
    a, b = eq3_run.to_dict(), back.to_dict()
    for k in ("config", "structures", "contradictions"):
        assert json.loads(ls.io.to_json(a[k])) == json.loads(ls.io.to_json(b[k])), k
    np.testing.assert_array_equal(back.trials["tanh"].loss, eq3_run.trials["tanh"].loss)
    assert back.format_table() == eq3_run.format_table()
    with pytest.raises(FileExistsError):  # nothing saved is replaced silently
        dataclasses.replace(eq3_run, config=dataclasses.replace(eq3_run.config, seed=1)).save(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="folder"):
        atlas.AtlasResult.load(str(tmp_path / "nothing"))
