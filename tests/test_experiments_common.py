"""The experiments' shared glue (``landscape.experiments._common``) and the CLI's one error handler."""

import argparse
import ast
import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from landscape import cli, io, nets, structure
from landscape import masks as masks_lib
from landscape.experiments import _common, deep_linear, deep_nonlinear

ROOT = pathlib.Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- stack_masks


def test_stack_masks_puts_case_i_at_index_i():
    net = nets.MLP((5, 4, 3), "tanh", bias=True)
    ms = [masks_lib.random_masks(s, net, 0.5) for s in range(3)]
    st = _common.stack_masks(ms)
    assert jax.tree.structure(st) == jax.tree.structure(ms[0])
    for i, m in enumerate(ms):
        for a, b in zip(jax.tree.leaves(st), jax.tree.leaves(m)):
            assert a.shape == (3,) + np.shape(b)
            np.testing.assert_array_equal(a[i], b)


def test_stack_masks_refuses_mismatches():
    net = nets.MLP((5, 4, 3), "tanh")
    m = masks_lib.random_masks(0, net, 0.5)
    with pytest.raises(ValueError, match="masks_list: expected at least one mask"):
        _common.stack_masks([])
    other = masks_lib.random_masks(0, nets.MLP((5, 6, 3), "tanh"), 0.5)
    with pytest.raises(ValueError, match=r"masks_list\[1\]: leaf shapes"):
        _common.stack_masks([m, other])
    with pytest.raises(ValueError, match=r"masks_list\[2\]: structure"):
        _common.stack_masks([m, m, m[:1]])


# ----------------------------------------------------------------------------- case_seed


def test_case_seed_is_injective_and_the_01_rule():
    seen = {_common.case_seed(s, i) for s in range(-3, 4) for i in range(1000)}
    assert len(seen) == 7 * 1000  # brute force: no two (seed, case) pairs share a seed
    assert _common.case_seed(7, 3) == 7003  # landscape 0.1's seed*1000 + i: earlier figures reproduce
    for bad in (-1, 1000):
        with pytest.raises(ValueError, match="i: expected 0 <= i < 1000"):
            _common.case_seed(0, bad)
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="i: expected an integer"):
            _common.case_seed(0, bad)
    with pytest.raises(TypeError, match="seed: expected an integer"):
        _common.case_seed("0", 1)


def test_experiment_masks_follow_the_case_seed_rule():
    # Independent rebuild of the masks with the written-out rule seed*1000 + i.
    cfg = deep_linear.PRESETS["quick"]
    net, ms, _ = deep_linear.panel_masks(cfg, "b")
    for i, d in enumerate(cfg.densities_b):
        ref = structure.effective_masks(net, masks_lib.random_masks(cfg.seed * 1000 + i, net, 1.0 - d)).masks
        for a, b in zip(jax.tree.leaves(ms[i]), jax.tree.leaves(ref)):
            np.testing.assert_array_equal(a, b)
    cfg4 = deep_nonlinear.PRESETS["quick"]
    net4 = nets.MLP((cfg4.d_x,) + (cfg4.width,) * (cfg4.depth - 1) + (cfg4.d_y,), "tanh")
    m4 = deep_nonlinear.make_masks(cfg4, net4)
    raw = masks_lib.random_masks(cfg4.seed * 1000 + 1, net4, [1.0 - cfg4.densities[1]] * (cfg4.depth - 1) + [0.0])
    ref = structure.effective_masks(net4, raw).masks
    for a, b in zip(jax.tree.leaves(m4[1]), jax.tree.leaves(ref)):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- output files


def test_output_folder(tmp_path):
    deep = tmp_path / "a" / "b"
    assert _common.output_folder(str(deep)) == str(deep) and deep.is_dir()
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="--out: expected a folder, got the existing file"):
        _common.output_folder(str(f))
    with pytest.raises(ValueError, match="--out: expected a folder name"):
        _common.output_folder("")


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_write_json_replaces_only_the_same_settings(tmp_path):
    p = str(tmp_path / "s.json")
    io.write_json(p, {"config": {"lr": 0.1}, "value": 1})
    io.write_json(p, {"config": {"lr": 0.1}, "value": 2})  # same settings recomputed: replaced
    assert _read(p)["value"] == 2
    with pytest.raises(FileExistsError, match="other settings"):
        io.write_json(p, {"config": {"lr": 0.2}, "value": 3})
    assert _read(p)["value"] == 2  # untouched
    io.write_json(p, {"config": {"lr": 0.2}, "value": 3}, overwrite=True)
    assert _read(p) == {"config": {"lr": 0.2}, "value": 3}
    assert os.listdir(tmp_path) == ["s.json"]  # no temporary file left behind


# ----------------------------------------------------------------------------- progress and the runner


def test_progress_bars_set_absolute_positions(capsys):
    # stderr is not a terminal under capsys: plain lines; interval=0 prints every update
    with _common.progress_bars(["a", "bb"], 10, unit="step", interval=0) as update:
        update("a", 4, stopped="1/2")
        update("a", 7)
        update("bb", 12)  # clipped to the total
    err = capsys.readouterr().err
    assert "7/10" in err and "10/10" in err and "stopped=1/2" in err
    with _common.progress_bars(["a"], 10, enabled=False) as update:
        update("a", 5)
    assert capsys.readouterr().err == ""


def test_run_command_creates_the_folder_first_and_passes_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    args = argparse.Namespace(out=str(out), overwrite=True, no_progress=True)
    seen = {}

    def compute(update):
        seen["folder_exists_during_run"] = out.is_dir()
        update("x", 3)  # a no-op without bars
        return {"value": 42}

    def write(result, folder, overwrite):
        seen["overwrite"] = overwrite
        p = os.path.join(folder, "r.json")
        io.write_json(p, {"config": {}, **result})
        return [p]

    res = _common.run_command(args, "demo", compute=compute, write=write, summary=lambda r: f"value {r['value']}",
                              parts=("x",), total=5)
    assert res == {"value": 42} and seen == {"folder_exists_during_run": True, "overwrite": True}
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "value 42" and lines[1].startswith("demo: ") and lines[1].endswith(f"wrote {out / 'r.json'}")


# ----------------------------------------------------------------------------- the CLI's error handler


@pytest.mark.parametrize("exc", [ValueError("lr: expected > 0, got 0"), TypeError("n: expected an int, got 'x'"),
                                 FileExistsError("out/r.npz: exists; pass overwrite=True (CLI: --overwrite)")])
def test_cli_turns_bad_input_into_one_line_and_exit_2(exc, monkeypatch, capsys):
    from landscape.experiments import property_p_demo

    def boom(args):
        raise exc

    monkeypatch.setattr(property_p_demo, "main", boom)
    assert cli.main(["property-p"]) == 2
    err = capsys.readouterr().err
    assert err == f"landscape property-p: error: {exc}\n"


def test_cli_does_not_hide_other_errors(monkeypatch):
    from landscape.experiments import property_p_demo

    def boom(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(property_p_demo, "main", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["property-p"])


# ----------------------------------------------------------------------------- matplotlib only in plot.py


def _backend_calls(path: pathlib.Path) -> list:
    """``matplotlib.use`` calls anywhere, and pyplot imports at module level, in one source file."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "use":
            base = node.func.value
            if isinstance(base, ast.Name) and base.id in ("matplotlib", "mpl"):
                found.append(f"{path.name}:{node.lineno} matplotlib.use")
    for node in tree.body:  # module level only
        if isinstance(node, ast.Import) and any(a.name.startswith("matplotlib.pyplot") for a in node.names):
            found.append(f"{path.name}:{node.lineno} import matplotlib.pyplot")
        if isinstance(node, ast.ImportFrom) and node.module == "matplotlib" and any(a.name == "pyplot" for a in node.names):
            found.append(f"{path.name}:{node.lineno} from matplotlib import pyplot")
    return found


def test_only_plot_touches_the_matplotlib_backend():
    files = sorted((ROOT / "landscape").rglob("*.py"))
    assert len(files) > 10
    offenders = [hit for f in files if f.name != "plot.py" for hit in _backend_calls(f)]
    assert offenders == []
    # the check itself finds what it looks for
    assert _backend_calls(ROOT / "landscape" / "plot.py")
    # and importing the CLI with every experiment loads neither pyplot nor flax
    code = ("import sys, landscape.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('matplotlib.pyplot', 'flax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]"
