"""Bad input: every mistake gets a clear error naming the argument (issue 11).

Two layers:

* one test per class of mistake, with the examples of the issue written out (data against
  the net, masks, params, dtypes and x64, integers, seeds and trial ids, positive finite
  scalars, names, paths and saved data, the command line);
* the whole sweep of ``tests/tools/bad_input_sweep.py`` (about 300 bad inputs across the
  public API and the CLI), table-driven: every case must be *clear* -- a ``ValueError`` /
  ``TypeError`` (or a file error) raised by ``landscape`` itself whose message names the
  argument and says what was expected -- and every valid edge input must be accepted.
"""

from __future__ import annotations

import contextlib
import io as _io
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
from landscape import io
from landscape.experiments import _common, table3

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "tools"))
import bad_input_sweep as sweep  # noqa: E402

NET = ls.MLP((3, 2, 3), "tanh")
THM = ls.Theorem6()
MASKS = tuple({"W": np.asarray(m["W"], np.float32)} for m in THM.masks())
X = np.eye(3, dtype=np.float32)
Y = np.asarray(THM.Y, np.float32)
TINY = dict(n_trials=2, max_steps=4, chunk_steps=2, history_stride=2)


@pytest.fixture(scope="module")
def F(tmp_path_factory):
    return sweep.Fixtures(str(tmp_path_factory.mktemp("sweep")))


def params():
    return ls.init(jax.random.key(0), NET, MASKS)


def masks_entry(v):
    W = np.array(MASKS[0]["W"], np.float64)
    W[0, 0] = v
    return ({"W": W}, MASKS[1])


# ----------------------------------------------------------------------------- the classes of the issue


def test_targets_and_data_must_match_the_net_exactly():
    p = params()
    for bad in (np.ones((3, 1)), np.ones((1, 3)), np.ones(3)):  # 0.2 broadcast these and returned a number
        with pytest.raises(ValueError, match=r"Y: expected .*\(d_y=3, n\)|Y: expected shape \(3, n=3\)|Y: expected a 2-D"):
            ls.loss(NET, p, X, bad, MASKS)
    with pytest.raises(ValueError, match=r"X: expected at least one sample \(column\), got shape \(3, 0\)"):
        ls.loss(NET, p, np.zeros((3, 0)), np.zeros((3, 0)))
    with pytest.raises(ValueError, match="X: expected at least one sample"):  # 0.2: "converged" with loss 0
        ls.train(NET, np.zeros((3, 0)), np.zeros((3, 0)), **TINY)
    with pytest.raises(ValueError, match="X: expected finite values, got NaN or Inf"):
        ls.loss(NET, p, np.full((3, 3), np.nan), Y)
    with pytest.raises(ValueError, match="it looks transposed"):
        ls.apply(NET, p, np.ones((5, 3)))
    with pytest.raises(TypeError, match="X: expected real numbers"):
        ls.loss(NET, p, X.astype(np.complex64), Y)
    # the exact value of a good call is unchanged: ½‖f(X) − Y‖² against a NumPy forward pass
    W1, W2 = (np.asarray(layer["W"], np.float64) * m["W"] for layer, m in zip(p, MASKS))
    expect = 0.5 * np.sum((W2 @ np.tanh(W1 @ X) - Y) ** 2)
    np.testing.assert_allclose(float(ls.loss(NET, p, X.tolist(), Y.tolist(), MASKS)), expect, rtol=1e-6)  # lists work


def test_masks_must_be_exactly_zero_or_one_with_the_params_shapes():
    for v in (2.0, 0.5, np.nan, -1.0):  # 0.2: passed init and loss (2 and NaN acted as 1)
        with pytest.raises(ValueError, match=r"masks\[0\]\['W'\]: expected entries exactly 0 or 1"):
            ls.init(jax.random.key(0), NET, masks_entry(v))
        with pytest.raises(ValueError, match=r"masks\[0\]\['W'\]: expected entries exactly 0 or 1"):
            ls.loss(NET, params(), X, Y, masks_entry(v))
    with pytest.raises(ValueError, match=r"masks\[0\]\['W'\]: expected shape \(2, 3\), got \(1, 3\)"):
        ls.loss(NET, params(), X, Y, ({"W": np.ones((1, 3))}, MASKS[1]))  # 0.2 broadcast it
    with pytest.raises(ValueError, match=r"masks: expected 2 layers"):
        ls.loss(NET, params(), X, Y, MASKS[:1])
    with pytest.raises(ValueError, match=r"masks\[0\]: expected the keys \['W'\] \(a bias, but the net has bias=False\)"):
        ls.loss(NET, params(), X, Y, tuple(dict(m, b=np.ones(m["W"].shape[0])) for m in MASKS))
    with pytest.raises(ValueError, match=r"masks\[0\]\['W'\]: expected entries exactly 0 or 1"):
        ls.keep_masked_zero(masks_entry(0.5))
    ls.loss(NET, params(), X, Y, jax.tree.map(lambda m: m.astype(bool), MASKS))  # bool masks are 0/1


def test_shape_checks_work_under_jit_and_vmap_value_checks_need_concrete_arrays():
    p = params()
    f = jax.jit(ls.loss, static_argnums=0)
    with pytest.raises(ValueError, match=r"Y: expected shape \(3, n=3\)"):  # traced: shapes are still checked
        f(NET, p, X, np.ones((3, 1), np.float32), MASKS)
    # traced masks cannot be inspected: a 0.5 passes (documented); the eager call refuses it
    assert np.isfinite(float(f(NET, p, X, Y, masks_entry(0.5))))
    batched = jax.vmap(ls.loss, in_axes=(None, 0, None, None, None))(NET, jax.tree.map(lambda a: jnp.stack([a, a]), p), X, Y,
                                                                      MASKS)
    np.testing.assert_allclose(batched, float(ls.loss(NET, p, X, Y, MASKS)), rtol=1e-6)


def test_params_structure_and_shapes():
    p = params()
    with pytest.raises(ValueError, match=r"params\[0\]\['W'\]: expected shape \(2, 3\) \(transposed\? W is \(out, in\)\), got \(3, 2\)"):
        ls.loss(NET, ({"W": p[0]["W"].T}, p[1]), X, Y)
    with pytest.raises(ValueError, match=r"params\[0\]\['W'\]: expected shape \(2, 3\), got \(1, 3\)"):
        ls.loss(NET, ({"W": jnp.ones((1, 3))}, p[1]), X, Y)  # 0.2 returned a number
    with pytest.raises(ValueError, match=r"params\[0\]: expected the keys \['W', 'b'\] \(the net has bias=True\)"):
        ls.apply(ls.MLP((3, 2, 3), "tanh", bias=True), p, X)
    with pytest.raises(ValueError, match=r"params0\[0\]\['W'\]: expected shape \(2, 2, 3\)"):
        ls.train(NET, X, Y, params0=p, **TINY)


def test_float64_without_x64_is_an_error_not_float32():
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match="dtype: expected float32 unless x64 is enabled, got float64"):
            ls.init(jax.random.key(0), NET, MASKS, dtype=jnp.float64)  # 0.2: quietly float32
        with pytest.raises(ValueError, match="dtype: expected float32 unless x64"):
            ls.masked_objective(NET, X, Y, MASKS, dtype=np.float64)
        sol = ls.group_solutions(NET, jax.tree.map(lambda a: a[None], params()), X, Y, MASKS)  # default dtype: float32 here
        assert sol.counts.tolist() == [1]
        with pytest.raises(ValueError, match="dtype: expected float32 unless x64"):
            ls.group_solutions(NET, jax.tree.map(lambda a: a[None], params()), X, Y, MASKS, dtype=jnp.float64)
    assert ls.init(jax.random.key(0), NET, MASKS, dtype=jnp.float64)[0]["W"].dtype == jnp.float64  # x64 on: fine
    with pytest.raises(ValueError, match="dtype: expected a floating dtype"):
        ls.init(jax.random.key(0), NET, dtype=jnp.int32)


def test_integers_must_be_integers():
    X5, Y5 = np.ones((3, 5)), np.ones((3, 5))
    for kw, msg in ((dict(max_steps=2.7), "max_steps: expected an integer >= 1, got 2.7"),  # 0.2: ran 2 steps
                    (dict(max_steps=True), "max_steps: expected an integer >= 1, got True"),
                    (dict(history_stride=1.5), "history_stride: expected an integer"),
                    (dict(n_trials=2.5), "n_trials: expected an integer >= 1, got 2.5"),
                    (dict(batch_size=-1), "batch_size: expected an integer >= 0, got -1")):
        with pytest.raises((TypeError, ValueError), match=msg):
            ls.train(NET, X5, Y5, **{**TINY, **kw})
    with pytest.raises(TypeError, match=r"sizes\[1\]: expected an integer >= 1, got 2.5"):
        ls.MLP((3, 2.5, 3))  # 0.2: width 2
    with pytest.raises(TypeError, match="bias: expected True or False"):
        ls.MLP((3, 2, 3), bias="yes")
    assert ls.MLP(tuple(np.array([3, 2, 3]))).sizes == (3, 2, 3)  # NumPy integers are integers
    assert ls.TrainConfig(max_steps=np.int64(10)).max_steps == 10


def test_seeds_and_trial_ids_in_their_range():
    for seed, err in ((1.5, TypeError), ("0", TypeError), (True, TypeError), (-1, ValueError), (2**32, ValueError)):
        with pytest.raises(err, match=r"seed: expected an integer in \[0, 2\*\*32\)"):
            ls.train(NET, X, Y, seed=seed, **TINY)  # 0.2: 1.5 ran as 1, "0" ran, -1 and 2**32 overflowed in JAX
    for ids, msg in (([0, 2**32], r"trial_ids: expected integers in \[0, 2\*\*32\)"),  # 0.2: aliased to id 0
                     ([3, 3], r"trial_ids: expected distinct ids .* \[3\] repeated"),
                     ([-1, 0], r"trial_ids: expected integers in \[0, 2\*\*32\)"),
                     ([0.0, 1.5], "trial_ids: expected integers, got dtype float64")):
        with pytest.raises((TypeError, ValueError), match=msg):
            ls.train(NET, X, Y, trial_ids=ids, **TINY)
    res = ls.train(NET, X, Y, seed=np.uint32(7), trial_ids=np.array([5, 2**32 - 1]), masks=MASKS, **TINY)
    assert res.trial_ids.tolist() == [5, 2**32 - 1]
    with pytest.raises(ValueError, match=r"key: expected an integer in \[0, 2\*\*32\)"):
        ls.random_masks(-1, NET, 0.5)
    with pytest.raises(TypeError, match=r"key: expected a PRNG key such as jax.random.key\(0\), got 0"):
        ls.init(0, NET)


def test_positive_finite_scalars():
    assert ls.TrainConfig(learning_rate=np.float32(0.01)).learning_rate == pytest.approx(0.01)  # 0.2 refused it
    for kw, msg in ((dict(learning_rate=True), "learning_rate: expected a finite number > 0, got True"),  # 0.2 ran
                    (dict(gtol=float("nan")), "gtol: expected a finite number >= 0, got nan"),  # 0.2: never converged
                    (dict(diverge_loss=-1.0), "diverge_loss: expected a number > 0, got -1.0"),  # 0.2: all diverged
                    (dict(init_scale=float("inf")), "init_scale: expected a finite number > 0")):
        with pytest.raises((TypeError, ValueError), match=msg):
            ls.TrainConfig(**kw)
    f, space = ls.masked_objective(NET, X, Y, MASKS)
    z0, z1 = space.flatten(params()), space.flatten(ls.init(jax.random.key(1), NET, MASKS))
    with pytest.raises(TypeError, match="learning_rate: expected a finite number > 0, got True"):
        ls.connect(f, z0, z1, methods=("bezier",), learning_rate=True)
    with pytest.raises(ValueError, match="learning_rate: expected a finite number > 0, got -1.0"):
        ls.connect(f, z0, z1, methods=("bezier",), learning_rate=-1.0)  # gradient ascent in 0.1
    with pytest.raises(TypeError, match="steps: expected an integer >= 1, got 2.5"):
        ls.connect(f, z0, z1, methods=("bezier",), steps=2.5)
    with pytest.raises(ValueError, match=r"z1: expected shape \(8,\), got \(3,\)"):
        ls.connect(f, z0, z1[:3])
    with pytest.raises(ValueError, match="chunk_size: expected an integer >= 1, got 0"):  # 0.2 clamped it
        ls.evaluate_grid(ls.random_plane(jax.random.key(0), params(), MASKS), NET, X, Y, masks=MASKS,
                         axes=[(-1, 1, 3), (-1, 1, 3)], chunk_size=0)


def test_files_paths_and_corrupt_files(tmp_path):
    res = ls.train(NET, X, Y, masks=MASKS, **TINY)
    p = res.save(str(tmp_path / "res"))
    assert p.endswith("res.npz")
    np.testing.assert_array_equal(ls.TrialsResult.load(str(tmp_path / "res")).loss, res.loss)  # symmetric suffix
    plane = ls.random_plane(jax.random.key(0), params(), MASKS)
    with pytest.raises(ValueError, match=r"path: '.*' is a directory"):
        ls.evaluate_grid(plane, NET, X, Y, masks=MASKS, axes=[(-1, 1, 3)] * 2, path=str(tmp_path))  # 0.2: wrote <dir>.npz
    bad = tmp_path / "ck.npz"
    bad.write_bytes(open(p, "rb").read()[:200])
    with pytest.raises(ValueError, match=r"ck.npz: truncated, corrupt or not a landscape file: expected .*; move or delete it"):
        ls.train(NET, X, Y, masks=MASKS, checkpoint=str(bad), **TINY)
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="plain.npz: not a landscape result file: expected"):
        ls.TrialsResult.load(str(tmp_path / "plain.npz"))  # 0.1: KeyError '__meta__'


def test_output_folder_checks(tmp_path, monkeypatch):
    from landscape import validate

    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(ValueError, match="--out: expected a folder, got the existing file"):
        validate.output_folder(str(f))
    with pytest.raises(ValueError, match="--out: expected a folder, got .* under the file"):
        validate.output_folder(str(f / "sub"))
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if os.path.abspath(path) == str(ro) else real_access(path, mode))
    with pytest.raises(ValueError, match="--out: expected a writable folder, got .* is read-only"):
        validate.output_folder(str(ro / "new"))  # (as root a chmod'ed folder stays writable, hence the patch)


# ----------------------------------------------------------------------------- the command line


def run_cli(argv):
    from landscape import cli

    err, out = _io.StringIO(), _io.StringIO()
    x64 = jax.config.read("jax_enable_x64")
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = cli.main(argv)
    except SystemExit as e:
        status = e.code
    finally:
        jax.config.update("jax_enable_x64", x64)
    return status, out.getvalue(), err.getvalue()


QUICK = ["--trials", "2", "--steps", "10", "--activations", "tanh", "--no-progress"]


@pytest.mark.parametrize("argv,option", [
    (["table3", "--seed", "-1"], "--seed"),  # 0.2: a JAX OverflowError traceback
    (["table3", "--seed", "1.5"], "--seed"),
    (["table3", "--trials", "0"], "--trials"),
    (["table3", "--lr", "nan"], "--lr"),
    (["table3", "--activations", "tanh,tanhh"], "--activations"),
    (["table3", "--activations", "tanh,tanh"], "--activations"),  # 0.2 ran tanh twice
    (["table3", "--loss", "mse"], "--loss"),
    (["fig3", "--quick", "--steps", "0"], "--steps"),  # 0.2 ignored it and ran the preset
    (["fig5", "--t-range", "1", "-1"], "--t-range"),
    (["fig5", "--formats", "jpg"], "--formats"),
    (["property-p", "--refine", "-1"], "--refine"),
])
def test_cli_bad_arguments_are_one_line_exit_2_before_any_work(tmp_path, argv, option):
    out = tmp_path / "out"
    status, _, err = run_cli([*argv, "--out", str(out)])
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and option in lines[0] and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())  # nothing computed, nothing written


def test_cli_output_folder_checked_before_computation(tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    calls = []
    monkeypatch.setattr(table3, "run_table3", lambda *a, **k: calls.append(1))  # must not be reached
    status, _, err = run_cli(["table3", *QUICK, "--out", str(a_file)])
    assert status == 2 and "--out: expected a folder, got the existing file" in err and not calls
    status, _, err = run_cli(["table3", *QUICK, "--out", str(a_file / "sub")])
    assert status == 2 and "under the file" in err and not calls


def test_cli_refuses_a_folder_of_other_settings_before_computing(tmp_path, monkeypatch):
    out = str(tmp_path / "t3")
    status, stdout, err = run_cli(["table3", *QUICK, "--out", out])
    assert status == 0, err
    before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}
    real = table3.run_table3
    calls = []
    monkeypatch.setattr(table3, "run_table3", lambda *a, **k: calls.append(1) or real(*a, **k))
    status, _, err = run_cli(["table3", *QUICK, "--seed", "1", "--out", out])
    assert status == 2 and not calls, err  # 0.2: computed everything, then refused (or replaced) the files
    assert f"--out: {out} holds" in err and "seed: 0 there, 1 now" in err and "--overwrite" in err
    assert {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)} == before
    status, _, err = run_cli(["table3", *QUICK, "--denominator", "non-diverged", "--out", out])  # same settings: may rerun
    assert status == 0 and calls == [1], err
    status, _, err = run_cli(["table3", *QUICK, "--seed", "1", "--overwrite", "--out", out])
    assert status == 0, err
    assert io.load(os.path.join(out, "trials_tanh.npz"))[1]["seed"] == 1
    record = _common.json.load(open(os.path.join(out, "table3.run.json")))
    assert record["status"] == "complete" and record["settings"]["seed"] == 1 and "trials_tanh.npz" in record["files"]


# ----------------------------------------------------------------------------- statistics and progress


def _synthetic_table(n: int, counts: dict) -> table3.Table3Result:
    """A Table3Result with ``counts`` (label -> count, summing to ``n``) per activation, no training."""
    labels = np.concatenate([np.full(k, lab, dtype=object) for lab, k in counts.items()])
    status = np.where(labels == "diverged", 3, 1).astype(np.int8)
    tr = ls.TrialsResult(params=None, loss=np.zeros(n), grad_norm=np.zeros(n), steps=np.zeros(n, np.int32), status=status,
                         history=np.zeros((n, 1)), history_steps=np.zeros(1), trial_ids=np.arange(n), config={})
    cfg = table3.Table3Config(activations=("tanh", "relu"), n_trials=n)
    sols = [{"count": 1, "loss": 0.259, "label": "global"}, {"count": 1, "loss": 2.0, "label": "valley"}]
    rows = {a: table3.ActivationResult(a, tr, labels, np.zeros(n), sols, 123.456) for a in cfg.activations}
    return table3.Table3Result(cfg, 0.259, rows)


def test_table3_fractions_say_their_denominator():
    res = _synthetic_table(100, {"global": 30, "valley": 50, "other": 0, "unconverged": 0, "diverged": 20})
    d = res.to_dict()["activations"]["tanh"]
    assert d["fractions"]["global"] == pytest.approx(0.30) and d["fractions_denominator"].startswith("all 100 trials")
    assert d["fractions_non_diverged"]["global"] == pytest.approx(30 / 80) and d["n_non_diverged"] == 80
    assert "diverged" not in d["fractions_non_diverged"]
    lo, hi = d["wilson95_non_diverged"]["global"]
    assert lo < 30 / 80 < hi
    text = res.format_table()
    assert "fractions: % of all trials of the activation, diverged ones included" in text and "20 trials diverged" not in text
    assert "40 trials diverged; fractions of the non-diverged trials" in text  # 20 per activation, two activations
    assert "37.5  [" in res.format_table("non-diverged") and "% of the trials that did not diverge" in res.format_table("non-diverged")
    with pytest.raises(ValueError, match="denominator: expected one of"):
        res.format_table("some")


def test_table3_columns_stay_aligned_at_a_million_trials():
    n = 10**6
    res = _synthetic_table(n, {"global": 123_457, "valley": 654_321, "other": 2, "unconverged": 222_210, "diverged": 10})
    lines = res.format_table().splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("activation"))
    table = lines[head:head + 3]
    assert len({len(ln) for ln in table}) == 1, "\n".join(table)  # every row as long as the header
    ends = lambda ln: [i for i in range(1, len(ln)) if ln[i] == " " and ln[i - 1] != " "]  # noqa: E731
    # every column ends where the header's does (right-aligned), at a million trials too
    for col_end in [i + len(w) for i, w in _words(table[0])][1:]:
        for ln in table[1:]:
            assert ln[col_end - 1] != " ", (col_end, "\n".join(table))
    assert ends  # silence the helper linter
    assert "1000000" in table[1] and "12.3  [12.3, 12.4]" in table[1]


def _words(line: str) -> list:
    """``(start, text)`` of the header's columns (separated by two spaces or more)."""
    import re

    return [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", line)]


def test_progress_is_plain_lines_when_not_on_a_terminal():
    stream = _io.StringIO()  # not a terminal
    with _common.progress_bars(["tanh", "relu"], 100, label="table3", stream=stream, interval=3600) as update:
        update("tanh", 10, stopped="1/4")   # printed (first)
        update("tanh", 20)                  # within the interval: not printed
        update("tanh", 100)                 # completion: printed
        update("tanh", 100)                 # not twice
        update("relu", 50)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("table3 tanh:  10/100 steps (10%), stopped=1/4 [")
    assert len(lines) == 3 and "100/100 steps (100%)" in lines[1] and lines[2].startswith("table3 relu:  50/100")
    assert "\r" not in stream.getvalue()

    class Terminal(_io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    with _common.progress_bars(["tanh"], 10, stream=term) as update:
        update("tanh", 5)
    assert "\r" in term.getvalue()  # tqdm draws its bar


# ----------------------------------------------------------------------------- the sweep, table-driven


@pytest.mark.parametrize("case", sweep.CASES, ids=[c.name for c in sweep.CASES])
def test_sweep_every_bad_input_gets_a_clear_error(case, F):
    outcome, detail = sweep.classify(case, F)
    assert outcome == "clear", f"{case.cls}: {case.name} -> {outcome}: {detail}"


@pytest.mark.parametrize("name,call", sweep.VALID, ids=[v[0] for v in sweep.VALID])
def test_sweep_valid_edge_inputs_are_accepted(name, call, F):
    call(F)


def test_sweep_covers_enough_of_the_api():
    classes = {c.cls for c in sweep.CASES}
    assert len(sweep.CASES) >= 175 and classes >= {"data", "masks", "params", "dtype", "integer", "seed", "trial_ids",
                                                   "scalar", "choice", "type", "path", "saved"}


def test_result_files_name_the_problem_they_were_computed_on(tmp_path):
    """Every result file says what it was computed on: masks and data (or their digests with shapes)."""
    p = params()
    sol = ls.group_solutions(NET, jax.tree.map(lambda a: a[None], p), X, Y, MASKS)
    back = ls.Solutions.load(sol.save(str(tmp_path / "sol")))
    assert back.problem["data"]["X"] == io.digest(np.asarray(X, back.problem["dtype"]))  # the data, as analysed
    assert back.problem["data"]["X"]["shape"] == [3, 3] and len(back.problem["masks"]) == 2 and back.problem["loss"] == "half_sum"
    f, space = ls.masked_objective(NET, X, Y, MASKS)
    z0, z1 = space.flatten(p), space.flatten(ls.init(jax.random.key(1), NET, MASKS))
    r = ls.PathResult.load(ls.connect(f, z0, z1, methods=("linear",), n_eval=5).save(str(tmp_path / "path")))
    assert r.objective["objective"] == "masked_objective" and r.objective["n_free"] == 8
    assert r.objective["masks"][0]["sha256"] == io.digest(np.asarray(MASKS[0]["W"], np.float32))["sha256"]
    res = ls.TrialsResult.load(ls.train(NET, X, Y, masks=MASKS, **TINY).save(str(tmp_path / "res")))
    assert res.masks is not None and res.config["data"]["Y"]["shape"] == [3, 3]
