"""One save/load protocol: suffix symmetry, clear errors naming the file, nothing replaced silently."""

import os

import numpy as np
import pytest

import landscape as ls
from landscape import io, slices

NET = ls.MLP((3, 4, 2), "tanh")


def _data(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, n)), rng.normal(size=(2, n))


def test_save_load_symmetric_in_the_suffix(tmp_path):
    p = io.save(str(tmp_path / "res"), {"a": np.arange(3)}, {"x": 1}, tag="Thing")
    assert p.endswith("res.npz") and os.path.exists(p)
    for name in ("res", "res.npz"):
        arrays, meta = io.load(str(tmp_path / name), tag="Thing")
        np.testing.assert_array_equal(arrays["a"], np.arange(3))
        assert meta["x"] == 1 and meta["tag"] == "Thing" and "versions" in meta


def test_result_save_load_without_suffix(tmp_path):
    X, Y = _data()
    res = ls.train(NET, X, Y, n_trials=2, max_steps=10, chunk_steps=10, history_stride=5)
    res.save(str(tmp_path / "res"))
    back = ls.TrialsResult.load(str(tmp_path / "res"))  # 0.1 wrote res.npz but could not load "res"
    np.testing.assert_array_equal(back.loss, res.loss)
    # self-describing: the masks and the data digests travel with the result
    assert back.masks is not None and back.config["data"]["X"]["shape"] == [3, 5]
    assert back.config["data"]["X"]["sha256"] == io.digest(X.astype(np.float32))["sha256"]


def test_load_of_foreign_or_broken_files_names_the_file(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(2))
    with pytest.raises(ValueError, match="plain.npz: not a landscape result"):
        ls.TrialsResult.load(str(plain))
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="text.npz: truncated, corrupt"):
        io.load(str(text))
    good = io.save(str(tmp_path / "good"), {"a": np.ones(1000)}, {}, tag="Thing")
    data = open(good, "rb").read()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.npz: truncated, corrupt"):
        io.load(str(trunc))
    with pytest.raises(ValueError, match="good.npz: holds a 'Thing', expected 'TrialsResult'"):
        ls.TrialsResult.load(good)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        io.load(str(tmp_path / "missing"))


def test_paths_are_validated(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        io.save(str(tmp_path), {}, {}, tag="Thing")  # 0.1 wrote '<dir>.npz' next to it
    with pytest.raises(TypeError, match="path: expected a file name"):
        io.save(3, {}, {}, tag="Thing")
    with pytest.raises(ValueError, match="empty name"):
        io.npz_path("")


def test_save_never_replaces_another_result_silently(tmp_path):
    p = io.save(str(tmp_path / "r"), {"a": np.zeros(1)}, {"fingerprint": "A"}, tag="Thing")
    with pytest.raises(FileExistsError, match="r.npz: exists"):
        io.save(p, {"a": np.ones(1)}, {"fingerprint": "B"}, tag="Thing")
    with pytest.raises(FileExistsError):
        io.save(p, {"a": np.ones(1)}, {}, tag="Thing")  # no fingerprint: nothing says it is the same run
    np.testing.assert_array_equal(io.load(p)[0]["a"], np.zeros(1))
    io.save(p, {"a": np.full(1, 2.0)}, {"fingerprint": "A"}, tag="Thing")  # the same settings recomputed
    io.save(p, {"a": np.full(1, 3.0)}, {"fingerprint": "B"}, tag="Thing", overwrite=True)
    assert io.load(p)[0]["a"][0] == 3.0


def test_progress_files_refuse_other_settings_and_keep_the_old_one_aside(tmp_path):
    p = str(tmp_path / "ck.npz")
    io.write_progress(p, {"v": np.arange(4)}, {}, fingerprint_="one", settings={"lr": 0.1, "n": 4}, tag="Ck")
    assert io.open_progress(p, "one", {"lr": 0.1, "n": 4}, tag="Ck")[0]["v"].size == 4  # same run: resume
    with pytest.raises(ValueError, match=r"ck.npz: written by another run \(lr: 0.1 in the file, 0.2 now\)"):
        io.open_progress(p, "two", {"lr": 0.2, "n": 4}, tag="Ck")
    with pytest.raises(ValueError, match="other arrays"):
        io.open_progress(p, "three", {"lr": 0.1, "n": 4}, tag="Ck")
    assert io.open_progress(p, "two", {"lr": 0.2, "n": 4}, tag="Ck", overwrite=True) is None
    aside = str(tmp_path / "ck.replaced.npz")
    assert os.path.exists(aside) and not os.path.exists(p)
    io.finish_progress(p)
    assert not os.path.exists(aside)


def test_train_checkpoint_of_other_settings_is_refused(tmp_path):
    X, Y = _data()
    ck = str(tmp_path / "ck.npz")
    kw = dict(n_trials=3, max_steps=20, chunk_steps=10, history_stride=10, gtol=0.0, checkpoint=ck)
    first = ls.train(NET, X, Y, learning_rate=0.1, **kw)
    before = open(ck, "rb").read()
    with pytest.raises(ValueError, match=r"ck.npz: written by another run \(.*learning_rate: 0.1 in the file, 0.05 now"):
        ls.train(NET, X, Y, learning_rate=0.05, **kw)
    assert open(ck, "rb").read() == before  # untouched
    again = ls.train(NET, X, Y, learning_rate=0.1, **kw)  # the same settings: read back
    np.testing.assert_array_equal(again.loss, first.loss)
    other = ls.train(NET, X, Y, learning_rate=0.05, overwrite=True, **kw)
    assert not np.array_equal(other.loss, first.loss)
    assert not os.path.exists(str(tmp_path / "ck.replaced.npz"))  # removed once the new run completed


def test_grid_file_of_other_axes_is_refused(tmp_path):
    X, Y = _data()
    params = ls.init(__import__("jax").random.key(0), NET)
    plane = slices.random_plane(__import__("jax").random.key(1), params)
    p = str(tmp_path / "g.npz")
    full = slices.evaluate(plane, NET, X, Y, axes=[(-1, 1, 9), (-1, 1, 9)], path=p)
    before = open(p, "rb").read()
    with pytest.raises(ValueError, match="g.npz: written by another run"):
        slices.evaluate(plane, NET, X, Y, axes=[(-2, 2, 9), (-1, 1, 9)], path=p)
    assert open(p, "rb").read() == before
    same = slices.evaluate(plane, NET, X, Y, axes=[(-1, 1, 9), (-1, 1, 9)], path=p)
    np.testing.assert_array_equal(same.values, full.values)
    slices.evaluate(plane, NET, X, Y, axes=[(-2, 2, 9), (-1, 1, 9)], path=p, overwrite=True)
    assert not os.path.exists(str(tmp_path / "g.replaced.npz"))
