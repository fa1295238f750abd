"""Figures 3 and 4: the quick presets end to end through the command line."""

import dataclasses

import numpy as np
import pytest

from landscape import cli, data, structure
from landscape.experiments import deep_linear, deep_nonlinear


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    monkeypatch.setenv("LANDSCAPE_CACHE", "off")


def test_fig3_quick_reaches_global_minimum(tmp_path, capsys):
    assert cli.main(["fig3", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "fig3.png").stat().st_size > 0
    r = deep_linear.Fig3Result.load(str(tmp_path / "fig3.npz"))
    cfg = deep_linear.PRESETS["quick"]
    for p in (r.a, r.b):
        gap0, gap = p.gap[:, 0], p.gap[:, -1]
        # Sparse linear nets reach L − L* ≈ 0 (Theorem 2): from a gap of 3-21 at init down to
        # float32 round-off (|L − L*| ≤ 1e-4, measured ≈ 1e-7; the loss itself is O(1)).
        assert np.all(gap0 > 1.0) and np.all(np.abs(gap) < 1e-4), gap
        assert all("Theorem 2" in t for t in p.theorems)
    assert r.a.d_y == 10 and r.b.d_y == 1
    assert np.all(r.b.effective_density[1:] < 1.0)
    # L* is the least-squares optimum of the same data (float64 lstsq, independent call).
    ds = data.synthetic(cfg.seed, n=cfg.n, d_x=cfg.d_x, d_y=1)
    np.testing.assert_allclose(r.b.loss_star[0], data.least_squares_loss(ds.X, ds.Y, "mean"), rtol=1e-12)
    assert "L - L*" in capsys.readouterr().out
    assert r.config["loss"] == "mean" and r.config["learning_rate"] == cfg.learning_rate


def test_fig4_quick_stops_each_density_at_the_target(tmp_path):
    assert cli.main(["fig4", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "fig4.png").stat().st_size > 0
    r = deep_nonlinear.Fig4Result.load(str(tmp_path / "fig4.npz"))
    cfg = deep_nonlinear.PRESETS["quick"]
    assert [x.activation for x in r.runs] == ["tanh", "relu"]
    for run in r.runs:
        k = len(cfg.densities)
        # the stopping rule: every density reached the target, at its first check below it
        assert list(run.status) == ["target"] * k and np.all(run.final_loss <= cfg.target_loss)
        assert np.all(run.total_steps % cfg.check_every == 0) and np.all(run.total_steps < cfg.max_steps)
        for i, total in enumerate(run.total_steps):
            at_checks = run.history[i, : total // cfg.history_stride + 1: cfg.check_every // cfg.history_stride]
            assert np.all(at_checks[1:-1] > cfg.target_loss)            # not below the target at an earlier check
            assert np.all(np.isnan(run.history[i, total // cfg.history_stride + 1:]))   # padded after the stop
        # measured on this preset: sparser nets need at least as many steps (the paper's "longer trajectory")
        assert np.all(np.diff(run.total_steps) >= 0) and run.total_steps[-1] > run.total_steps[0]
        S = int(run.total_steps.max()) // cfg.check_every + 1
        assert run.rank.shape == (k, S, cfg.depth - 1)                   # every hidden layer, every check
        ok = np.isfinite(run.rank)
        assert np.all(run.rank[ok] <= min(cfg.width, cfg.n)) and np.all(run.rank[ok] >= 1)
        assert np.all(run.stable_rank[ok] <= run.rank[ok] + 1e-4)        # stable rank ≤ rank
        assert np.all(run.min_output_connections >= cfg.n)                # Theorem 5's condition holds
    # tanh nets satisfy Theorem 5's structural conditions; the report says so.
    assert all("Theorem 5" in t for t in r.runs[0].theorems)
    assert all("Theorem 5" not in t for t in r.runs[1].theorems)  # ReLU: Assumption 2 fails


def test_fig4_pieces_continue_one_trajectory_and_resume(tmp_path):
    # train_until trains in pieces of check_every steps; plain GD is stateless, so the loss after the
    # pieces equals one uninterrupted trials.train run of the same total (float32: rtol 1e-5, the pieces
    # compile a shorter scan). A rerun with the checkpoint reads the finished run back unchanged; other
    # settings are refused.
    from landscape import nets, trials

    cfg = dataclasses.replace(deep_nonlinear.PRESETS["quick"], activations=("tanh",), densities=(0.5,))
    ds = deep_nonlinear.load_data(cfg)
    net = nets.MLP((cfg.d_x,) + (cfg.width,) * (cfg.depth - 1) + (cfg.d_y,), "tanh")
    m = deep_nonlinear.make_masks(cfg, net)[0]
    ck = str(tmp_path / "ck.npz")
    out = deep_nonlinear.train_until(net, ds.X, ds.Y, m, cfg, 0, checkpoint=ck)
    one = trials.train(net, ds.X, ds.Y, masks=m, n_trials=1, seed=cfg.seed, trial_ids=[0], max_steps=out["total_steps"],
                       learning_rate=cfg.learning_rate, loss=cfg.loss, gtol=0.0, history_stride=cfg.history_stride)
    np.testing.assert_allclose(out["final_loss"], float(one.loss[0]), rtol=1e-5)
    np.testing.assert_allclose(out["history"][:-1], np.asarray(one.history[0]), rtol=1e-5)
    again = deep_nonlinear.train_until(net, ds.X, ds.Y, m, cfg, 0, checkpoint=ck)
    for key in ("history", "rank", "stable_rank"):
        np.testing.assert_array_equal(again[key], out[key])
    assert (again["total_steps"], again["status"]) == (out["total_steps"], out["status"])
    with pytest.raises(ValueError, match="written by another run"):
        deep_nonlinear.train_until(net, ds.X, ds.Y, m, dataclasses.replace(cfg, learning_rate=0.1), 0, checkpoint=ck)


def test_fig4_capped_run_continues_under_a_larger_cap(tmp_path):
    # A density stopped at the cap goes on from its checkpoint under a larger cap, along the same
    # trajectory as a run that had the larger cap from the start (the same pieces, params restored
    # exactly: equal arrays); a cap below the steps done, or any other setting, is refused.
    from landscape import nets

    cfg = dataclasses.replace(deep_nonlinear.PRESETS["quick"], activations=("tanh",), densities=(0.3,), target_loss=None,
                              max_steps=500, check_every=250)
    ds = deep_nonlinear.load_data(cfg)
    net = nets.MLP((cfg.d_x,) + (cfg.width,) * (cfg.depth - 1) + (cfg.d_y,), "tanh")
    m = deep_nonlinear.make_masks(cfg, net)[0]
    ck = str(tmp_path / "ck.npz")
    short = deep_nonlinear.train_until(net, ds.X, ds.Y, m, cfg, 0, checkpoint=ck)
    assert (short["status"], short["total_steps"]) == ("cap", 500)
    longer = dataclasses.replace(cfg, max_steps=1000)
    resumed = deep_nonlinear.train_until(net, ds.X, ds.Y, m, longer, 0, checkpoint=ck)
    fresh = deep_nonlinear.train_until(net, ds.X, ds.Y, m, longer, 0)
    assert (resumed["status"], resumed["total_steps"]) == ("cap", 1000)
    for key in ("history", "rank", "stable_rank"):
        np.testing.assert_array_equal(resumed[key], fresh[key])
    with pytest.raises(ValueError, match="max_steps: the checkpoint .* 1000 steps"):
        deep_nonlinear.train_until(net, ds.X, ds.Y, m, cfg, 0, checkpoint=ck)
    with pytest.raises(ValueError, match="written by another run"):
        deep_nonlinear.train_until(net, ds.X, ds.Y, m, dataclasses.replace(longer, max_steps=2000, learning_rate=0.4), 0,
                                   checkpoint=ck)
    other = deep_nonlinear.make_masks(dataclasses.replace(cfg, seed=1), net)[0]
    with pytest.raises(ValueError, match="written by another run"):
        deep_nonlinear.train_until(net, ds.X, ds.Y, other, dataclasses.replace(longer, max_steps=2000), 0, checkpoint=ck)


def test_fig4_config_validates_the_rule():
    with pytest.raises(ValueError, match="check_every"):
        deep_nonlinear.Fig4Config(max_steps=1000, check_every=300)
    with pytest.raises(ValueError, match="target_loss"):
        deep_nonlinear.Fig4Config(target_loss=0.0)


def test_fig4_masked_fan_in_init_shortens_the_sparse_plateau(tmp_path, capsys):
    # Why the paper-sized sparse runs stall: the dense fan-in bound shrinks every pruned layer's
    # output. On the quick preset's net at density 0.1 (tanh, lr 0.5, target 1e-2) the mask-aware
    # init reaches the target in 2750 steps against 7000 (measured; the test asks for at least 2x).
    base = dataclasses.replace(deep_nonlinear.PRESETS["quick"], activations=("tanh",), densities=(0.1,), max_steps=8000)
    steps = {}
    for fan_in in ("dense", "masked"):
        run = deep_nonlinear.run(dataclasses.replace(base, init_fan_in=fan_in)).runs[0]
        assert run.status[0] == "target", (fan_in, run.final_loss)
        steps[fan_in] = int(run.total_steps[0])
    assert 2 * steps["masked"] <= steps["dense"], steps
    # The command line: the option reaches the config and is recorded; a bad value is refused.
    assert cli.main(["fig4", "--quick", "--activations", "tanh", "--densities", "0.5", "--init-fan-in", "masked",
                     "--out", str(tmp_path), "--no-progress"]) == 0
    assert deep_nonlinear.Fig4Result.load(str(tmp_path / "fig4.npz")).config["init_fan_in"] == "masked"
    with pytest.raises(SystemExit):
        cli.main(["fig4", "--quick", "--init-fan-in", "sparse", "--out", str(tmp_path), "--no-progress"])
    assert "--init-fan-in" in capsys.readouterr().err
    with pytest.raises(ValueError, match="init_fan_in"):
        deep_nonlinear.Fig4Config(init_fan_in="neuron")


def _recorded_fig4(name):
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    return root / "docs" / "recorded" / name, (root / "README.md").read_text()


def _check_paper_setting(r, init_fan_in):
    c = r.config
    assert (c["width"], c["depth"], c["n"], c["d_x"], c["d_y"], c["dataset"]) == (400, 5, 400, 100, 10, "synthetic")
    assert (c["learning_rate"], c["loss"], c["dtype"], c["init_scale_used"], c["init_fan_in"]) == (0.01, "mean", "float32", 1.0, init_fan_in)
    assert c["target_loss"] == 1e-3 and c["check_every"] == 1000
    for run in r.runs:
        assert np.all(run.status == "target") and np.all(run.final_loss <= 1e-3), run.final_loss
        assert np.all(run.history[:, 0] > 3.0)                      # from the untrained start (loss ≈ 3.5)
        assert np.all(np.diff(run.total_steps) > 0)                  # sparser nets need more steps
        assert np.all(run.min_output_connections >= 400)


def _quoted(runs_by_act, act):
    return f"{act.replace('relu', 'ReLU')} after " + " / ".join(f"{int(t) // 1000}k" for t in runs_by_act[act])


def test_recorded_fig4_run_reproduces_the_papers_claim():
    # The full run recorded in docs/recorded/fig4/ (too long for CI: 25.8 min on 2 cores) holds what the
    # README says of it: the paper's sizes and optimiser with the mask-aware init, every density of both
    # activations stopped at the target from the untrained start, sparser nets later; the step counts and
    # the command quoted in the README are the file's.
    import json

    folder, readme = _recorded_fig4("fig4")
    r = deep_nonlinear.Fig4Result.load(str(folder / "fig4.npz"))
    _check_paper_setting(r, "masked")
    assert list(r.densities) == [1.0, 0.5, 0.2, 0.1]
    steps = {run.activation: run.total_steps for run in r.runs}
    for act in steps:
        assert _quoted(steps, act) in " ".join(readme.split()), _quoted(steps, act)
    tanh, relu = r.runs
    assert min(tanh.final_rank(i).min() for i in range(4)) >= 397          # nearly full rank
    assert all(337 <= relu.final_rank(i)[3] <= 350 for i in range(4))
    record = json.loads((folder / "fig4.run.json").read_text())
    assert record["status"] == "complete"
    assert "landscape fig4 --full --init-fan-in masked --steps 200000 --checkpoint" in record["argv"]
    assert "landscape fig4 --full --init-fan-in masked --steps 200000 --checkpoint" in readme


def test_recorded_fig4_pytorch_init_runs_reproduce_the_papers_claim():
    # The paper's own init, recorded in docs/recorded/fig4_pytorch_init/ in two results (densities 1, 0.5
    # and 0.2, 0.1; 69 min on 2 cores): every density reaches the target, none at the cap, and the README
    # quotes the file's steps and rank range.
    import json

    folder, readme = _recorded_fig4("fig4_pytorch_init")
    dense = deep_nonlinear.Fig4Result.load(str(folder / "fig4_densities_1_0.5.npz"))
    sparse = deep_nonlinear.Fig4Result.load(str(folder / "fig4_densities_0.2_0.1.npz"))
    assert list(dense.densities) == [1.0, 0.5] and list(sparse.densities) == [0.2, 0.1]
    steps = {}
    for r in (dense, sparse):
        _check_paper_setting(r, "dense")
        for run in r.runs:
            steps.setdefault(run.activation, []).extend(run.total_steps.tolist())
            assert np.all(run.total_steps < 200_000)                  # not one at the cap
    for act in steps:
        assert np.all(np.diff(steps[act]) > 0)
        assert _quoted(steps, act) in " ".join(readme.split()), _quoted(steps, act)
    final = [(run.activation, run.final_rank(i)) for r in (dense, sparse) for run in r.runs for i in range(2)]
    tanh = [x for act, x in final if act == "tanh"]
    relu = [x for act, x in final if act == "relu"]
    assert min(x.min() for x in tanh) == 392 and "392-400 of 400" in readme     # README's tanh range (both inits)
    assert min(x[3] for x in relu) == 235 and "layer 4: 235-350" in readme
    for name in ("fig4_densities_1_0.5", "fig4_densities_0.2_0.1"):
        assert json.loads((folder / f"{name}.run.json").read_text())["status"] == "complete"


def test_fig4_masks_keep_final_layer_dense():
    cfg = deep_nonlinear.PRESETS["quick"]
    from landscape import nets

    net = nets.MLP((cfg.d_x,) + (cfg.width,) * (cfg.depth - 1) + (cfg.d_y,), "tanh")
    for m, d in zip(deep_nonlinear.make_masks(cfg, net), cfg.densities):
        assert m[-1]["W"].all()
        assert structure.is_effective(m) or d < 1.0


def test_fig4_rule_errors_use_the_option_names(tmp_path, capsys):
    rc = cli.main(["fig4", "--quick", "--steps", "1000", "--check-every", "300", "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "--check-every: expected a divisor of --steps=1000" in err and "max-steps" not in err, err
    assert not (tmp_path / "fig4.npz").exists()


def test_fig4_cifar_path_errors(tmp_path, capsys):
    # The CLI turns the loader's ValueError into one line on stderr and exit code 2.
    rc = cli.main(["fig4", "--quick", "--cifar10", str(tmp_path / "none"), "--out", str(tmp_path), "--no-progress"])
    assert rc == 2 and "--cifar10: expected a local CIFAR-10 copy" in capsys.readouterr().err
    with pytest.raises(ValueError, match="does not exist"):
        deep_nonlinear.load_data(deep_nonlinear.Fig4Config(dataset="cifar10", cifar10_path=str(tmp_path / "none")))
