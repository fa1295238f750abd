"""Several processes (``landscape.distributed``): the split, the manifest, the CLI options, and two
real processes on localhost (jax.distributed, gloo) against one process, compared bit for bit.

The two-process tests launch subprocesses (tests/tools/dist_worker.py, and the CLI) on a free
port, with 2 forced CPU devices per process (2 processes x 2 devices = a 4-device global mesh;
the one-process reference runs on 2 devices), each bounded by ``TIMEOUT`` seconds and every
process killed when one fails. Equality is exact (``np.array_equal``): a trial's key depends
only on (seed, trial id), and each process runs the same engine, so nothing may differ.
"""

import contextlib
import io as _io
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from landscape import cli, distributed, io, trials

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "tools" / "dist_worker.py"
TIMEOUT = 240
"""Seconds one launch (all its processes) may take; a loaded 2-core machine took about 60."""


# ----------------------------------------------------------------------------- in one process


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 100, 101])
@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_blocks_cover_every_position_once_in_order(n, count):
    blocks = [distributed.block(n, i, count) for i in range(count)]
    np.testing.assert_array_equal(np.concatenate(blocks), np.arange(n))  # every position once, in order
    sizes = [b.size for b in blocks]
    assert max(sizes) - min(sizes) <= 1
    for b in blocks:
        assert b.size == 0 or np.array_equal(b, np.arange(b[0], b[-1] + 1))  # contiguous


def test_one_process_changes_nothing():
    assert not distributed.is_initialized()
    assert distributed.process_count() == 1 and distributed.process_index() == 0 and distributed.is_main()
    assert not distributed.splits_work()
    assert distributed.exchange({"a": 1}, "t") == [{"a": 1}]
    np.testing.assert_array_equal(distributed.block(5), np.arange(5))
    with pytest.raises(ValueError, match="boom"):
        distributed.collect(lambda: (_ for _ in ()).throw(ValueError("boom")))
    assert distributed.map_blocks(4, lambda rows: rows * 10) == [pytest.approx([0, 10, 20, 30])]


def test_shard_and_manifest_names():
    assert distributed.shard_path("out/ckpt_relu.npz", 1, 4) == "out/ckpt_relu.p1of4.npz"
    assert distributed.shard_path("out/ckpt_relu", 0, 2) == "out/ckpt_relu.p0of2.npz"
    assert distributed.manifest_path("out/ckpt_relu.npz") == "out/ckpt_relu.manifest.npz"


def test_manifest_refuses_another_process_count_or_run(tmp_path):
    ck = str(tmp_path / "ckpt.npz")
    settings = {"seed": 0, "n_trials": 10}
    path = distributed.check_manifest(ck, "fp-A", settings, n=10, count=2)
    arrays, meta = io.load(path, tag=distributed.MANIFEST_TAG)
    assert meta["process_count"] == 2 and meta["shards"] == ["ckpt.p0of2.npz", "ckpt.p1of2.npz"]
    np.testing.assert_array_equal(arrays["blocks"], [[0, 5], [5, 10]])
    distributed.check_manifest(ck, "fp-A", settings, n=10, count=2)  # the same run again: fine (a resume)
    with pytest.raises(ValueError, match=r"process_count: 2 in the file, 3 now"):
        distributed.check_manifest(ck, "fp-A", settings, n=10, count=3)
    with pytest.raises(ValueError, match=r"run.seed: 0 in the file, 1 now"):
        distributed.check_manifest(ck, "fp-B", {"seed": 1, "n_trials": 10}, n=10, count=2)
    distributed.check_manifest(ck, "fp-A", settings, n=10, count=3, overwrite=True)  # sets the old one aside
    assert os.path.exists(str(tmp_path / "ckpt.manifest.replaced.npz"))
    assert io.load(path, tag=distributed.MANIFEST_TAG)[1]["process_count"] == 3


def test_initialize_checks_its_arguments_before_joining():
    with pytest.raises(ValueError, match="num_processes, process_id: expected coordinator_address, num_processes and"):
        distributed.initialize("127.0.0.1:1234")
    with pytest.raises(ValueError, match="coordinator_address: expected 'host:port'"):
        distributed.initialize("localhost", 2, 0)
    with pytest.raises(ValueError, match=r"process_id: expected an integer in \[0, 1\]"):
        distributed.initialize("127.0.0.1:1234", 2, 2)
    with pytest.raises(ValueError, match="cpu_collectives"):
        distributed.initialize("127.0.0.1:1234", 2, 0, cpu_collectives="nccl")
    assert not distributed.is_initialized()


@pytest.mark.parametrize("argv, message", [
    (["--coordinator", "127.0.0.1:1", "table3"], "argument --num-processes, --process-id: expected --coordinator, "
                                                 "--num-processes and --process-id together"),
    (["--coordinator", "127.0.0.1", "--num-processes", "2", "--process-id", "0", "table3"],
     "argument --coordinator: expected 'host:port'"),
    (["--coordinator", "h:70000", "--num-processes", "2", "--process-id", "0", "table3"], "a port in 1..65535"),
    (["--coordinator", "h:7", "--num-processes", "0", "--process-id", "0", "table3"],
     "argument --num-processes: expected an integer >= 1, got 0"),
    (["--coordinator", "h:7", "--num-processes", "2", "--process-id", "2", "table3"],
     "argument --process-id: expected 0..1 (--num-processes 2), got 2"),
    (["--coordinator", "h:7", "--num-processes", "2", "--process-id", "x", "table3"],
     "argument --process-id: expected an integer >= 0, got 'x'"),
])
def test_cli_distributed_options_are_checked_in_one_line(argv, message):
    err = _io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        cli.main(argv)
    lines = err.getvalue().strip().splitlines()
    assert e.value.code == 2 and len(lines) == 1 and message in lines[0], err.getvalue()
    assert not distributed.is_initialized()


def test_distribution_options_are_not_settings():
    from landscape.experiments import _common

    args = cli.build_parser().parse_args(["--coordinator", "h:7", "--num-processes", "2", "--process-id", "1", "table3"])
    assert not set(cli.DISTRIBUTED_OPTIONS) & set(_common.command_settings(args))


# ----------------------------------------------------------------------------- two real processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int = 2) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu",
               LANDSCAPE_CACHE="off")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _launch(commands: list, timeout: float = TIMEOUT, *, fail: bool = False) -> list:
    """Runs the commands at once; waits at most ``timeout`` s for all; kills all when one fails or
    time runs out (unless ``fail``: every process is then expected to end with an error by itself).
    Returns their ``(returncode, stdout, stderr)``."""
    procs = [subprocess.Popen(c, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if (failed and not fail) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    outs = [(p.wait(),) + p.communicate() for p in procs]
    if fail:
        assert time.monotonic() <= deadline, "a failing launch did not end by itself"
        return outs
    if any(rc != 0 for rc, _, _ in outs):
        why = "timed out" if time.monotonic() > deadline else "failed"
        report = "\n".join(f"--- process {i}: exit {rc}\n{err[-3000:]}" for i, (rc, _, err) in enumerate(outs))
        pytest.fail(f"a launch {why}:\n{report}")
    return outs


def _pair(command: list) -> list:
    """The two processes of a 2-process run of ``command`` (the CLI: global options before the command;
    the worker: three more arguments)."""
    port = _free_port()
    return [_with_options(command, port, i) for i in range(2)]


def _with_options(command: list, port: int, i: int) -> list:
    if command[1:3] == ["-m", "landscape.cli"]:
        return command[:3] + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)] + command[3:]
    return command + [f"127.0.0.1:{port}", "2", str(i)]


def _assert_same_trials(a: trials.TrialsResult, b: trials.TrialsResult):
    for name in ("loss", "grad_norm", "steps", "status", "history", "history_steps", "trial_ids"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), name
    for tree in ("params", "masks"):
        for x, y in zip(jax.tree.leaves(getattr(a, tree)), jax.tree.leaves(getattr(b, tree)), strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y), tree


def test_two_processes_equal_one_python_api(tmp_path):
    """Python API: Table 3 net (checkpointed), a float32 net with per-trial masks and adam, a grid
    on a plane in several rounds, and evaluate_points with gradients: all exactly equal."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    base = [sys.executable, str(WORKER)]
    _launch([base + [str(one)], *_pair(base + [str(two)])])
    a, b = np.load(one / "results.npz"), np.load(two / "results.npz")
    assert sorted(a.files) == sorted(b.files) and len(a.files) >= 20
    for k in a.files:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k], equal_nan=True), k
    assert len(np.unique(a["t3_loss"])) > 2 and len(np.unique(a["small_loss"])) == 7  # the trials do differ
    who = [(two / f"who{i}.txt").read_text().splitlines() for i in range(2)]
    assert [w[0] for w in who] == [f"{i} of 2, 2 local devices, 4 in all, global mesh 4" for i in range(2)]
    # the points (grid, evaluate_points, solution grouping, barrier paths) were split, not repeated:
    # each process evaluated some, and together as many as the one process did
    ref = int((one / "who0.txt").read_text().splitlines()[1])
    counts = [int(w[1]) for w in who]
    assert min(counts) > 0 and sum(counts) == ref, (counts, ref)
    assert sorted(p.name for p in two.glob("ckpt_t3*")) == ["ckpt_t3.manifest.npz", "ckpt_t3.p0of2.npz",
                                                          "ckpt_t3.p1of2.npz"]
    t3 = trials.TrialsResult.load(two / "trials_t3.npz")
    assert t3.config["distributed"]["process_count"] == 2 and t3.config["distributed"]["blocks"] == [[0, 5], [5, 10]]
    _assert_same_trials(trials.TrialsResult.load(one / "trials_t3.npz"), t3)


def _without(obj, keys=("seconds", "versions")):
    if isinstance(obj, dict):
        return {k: _without(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [_without(v, keys) for v in obj]
    return obj


def test_two_processes_equal_one_cli_and_resume_a_shard(tmp_path):
    """``landscape --coordinator ... table3`` launched twice writes, from process 0 only, the same
    table3.json (less timings and versions) and trials_*.npz as one process; after process 1's
    shard is deleted, the rerun resumes process 0's shard (untouched) and retrains process 1's; an
    unreadable shard of process 1 ends both processes with a one-line error (exit 2)."""
    cmd = [sys.executable, "-m", "landscape.cli", "table3", "--trials", "6", "--steps", "1500",
           "--activations", "relu,tanh", "--no-progress", "--checkpoint", "--out"]
    one, two = tmp_path / "one", tmp_path / "two"
    outs = _launch([cmd + [str(one)], *_pair(cmd + [str(two)])])
    table = outs[1][1]
    assert "Table 3 -- 6 trials per activation" in table and "wrote" in table
    # process 1 prints nothing of its own (gloo's C++ prints its "[Gloo] Rank 1 is connected" lines)
    assert [line for line in outs[2][1].splitlines() if not line.startswith("[Gloo]")] == []
    assert "error" not in outs[2][2].lower()

    def same(folder):
        ja, jb = (json.loads((f / "table3.json").read_text()) for f in (one, folder))
        assert _without(ja) == _without(jb)
        for act in ("relu", "tanh"):
            _assert_same_trials(trials.TrialsResult.load(one / f"trials_{act}.npz"),
                                trials.TrialsResult.load(folder / f"trials_{act}.npz"))

    same(two)
    assert json.loads((two / "table3.run.json").read_text())["status"] == "complete"
    kept = (two / "ckpt_relu.p0of2.npz").stat().st_mtime_ns
    (two / "ckpt_relu.p1of2.npz").unlink()
    (two / "table3.json").unlink()
    _launch(_pair(cmd + [str(two)]))
    assert (two / "ckpt_relu.p0of2.npz").stat().st_mtime_ns == kept  # resumed complete, not rewritten
    assert (two / "ckpt_relu.p1of2.npz").exists()
    same(two)
    # an error in one process's block (its shard is unreadable) stops every process with one line
    (two / "ckpt_relu.p1of2.npz").write_bytes(b"not a checkpoint")
    outs = _launch(_pair(cmd + [str(two)]), fail=True)
    assert [rc for rc, _, _ in outs] == [2, 2]
    errs = [[line for line in err.splitlines() if "error" in line] for _, _, err in outs]
    assert len(errs[0]) == 1 and errs[0][0].startswith("landscape table3: error: process 1: ") and "p1of2" in errs[0][0], errs
    assert len(errs[1]) == 1 and errs[1][0].startswith("landscape table3: error: ") and "p1of2" in errs[1][0], errs
