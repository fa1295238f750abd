"""Synthetic Section-6 data, bundled digits, the CIFAR-10 loader, least squares."""

import os
import pickle
import tarfile

import numpy as np
import pytest

from landscape import data


def test_synthetic():
    ds = data.synthetic(0, n=400, d_x=100, d_y=10, dtype=np.float64)
    assert ds.X.shape == (100, 400) and ds.Y.shape == (10, 400)
    np.testing.assert_allclose(np.linalg.norm(ds.A), 5.0, rtol=1e-12)  # ‖A‖_F = 5
    eps = ds.Y - ds.A @ ds.X
    assert abs(eps.std() - 1.0) < 0.05   # 4000 N(0, 1) draws: std error ≈ 0.011
    assert abs(ds.X.std() - 1.0) < 0.02  # 40000 draws: ≈ 0.0035
    np.testing.assert_array_equal(data.synthetic(0, n=400, d_x=100, d_y=1).X, data.synthetic(0, n=400, d_x=100, d_y=10).X)
    with pytest.raises(ValueError, match="n"):
        data.synthetic(0, n=0)


def test_digits():
    ds = data.digits(100, seed=1)
    assert ds.X.shape == (64, 100) and ds.Y.shape == (10, 100)
    np.testing.assert_array_equal(ds.Y.sum(0), 1)
    assert ds.X.min() >= 0 and ds.X.max() <= 1 and ds.X.max() > 0.9
    with pytest.raises(ValueError, match="n"):
        data.digits(5000)


def test_least_squares_loss_matches_normal_equations():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 40)), rng.standard_normal((2, 40))
    W = Y @ X.T @ np.linalg.inv(X @ X.T)  # normal equations
    r = W @ X - Y
    np.testing.assert_allclose(data.least_squares_loss(X, Y), 0.5 * np.sum(r * r), rtol=1e-10)
    np.testing.assert_allclose(data.least_squares_loss(X, Y, "mean"), np.mean(r * r), rtol=1e-10)
    assert data.least_squares_loss(X, W @ X) < 1e-20  # exactly representable target
    Xs = X[[0, 2]]
    Ws = Y @ Xs.T @ np.linalg.inv(Xs @ Xs.T)
    np.testing.assert_allclose(data.least_squares_loss(X, Y, inputs=[0, 2]), 0.5 * np.sum((Ws @ Xs - Y) ** 2), rtol=1e-10)


def _write_batches(folder, n_per=7):
    """A miniature CIFAR-10 copy in the real format (pickled dicts with byte keys)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    all_data, all_labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = rng.integers(0, 256, (n_per, 3072), dtype=np.uint8)
        lab = rng.integers(0, 10, n_per).tolist()
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": lab, b"data": d,
                         b"filenames": [b"x.png"] * n_per}, f)
        if name != "test_batch":
            all_data.append(d)
            all_labels += lab
    return np.concatenate(all_data), np.array(all_labels)


def test_cifar10_folder_parent_and_tarball(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    raw, labels = _write_batches(str(folder))
    imgs, labs = data.load_cifar10_batches(str(folder))
    np.testing.assert_array_equal(imgs.reshape(len(imgs), -1), raw)
    np.testing.assert_array_equal(labs, labels)
    imgs2, _ = data.load_cifar10_batches(str(tmp_path))  # the parent folder works too
    np.testing.assert_array_equal(imgs2, imgs)
    tar = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(folder, arcname="cifar-10-batches-py")
    imgs3, labs3 = data.load_cifar10_batches(str(tar))
    np.testing.assert_array_equal(imgs3, imgs)
    np.testing.assert_array_equal(labs3, labs)
    assert data.load_cifar10_batches(str(folder), "test")[0].shape == (7, 3, 32, 32)
    monkeypatch.setenv(data.CIFAR10_ENV, str(tar))
    ds = data.cifar10(n=12, seed=3)
    assert ds.X.shape == (3072, 12) and ds.Y.shape == (10, 12)
    idx = np.array(ds.meta["indices"])
    np.testing.assert_allclose(ds.X, raw[idx].T / 255.0, rtol=1e-6)  # float32 of k/255
    np.testing.assert_array_equal(ds.Y.argmax(0), labels[idx])


def test_cifar10_bad_paths(tmp_path, monkeypatch):
    monkeypatch.delenv(data.CIFAR10_ENV, raising=False)
    with pytest.raises(ValueError, match="LANDSCAPE_CIFAR10"):
        data.cifar10()
    with pytest.raises(ValueError, match="does not exist"):
        data.cifar10(str(tmp_path / "nowhere"))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(ValueError, match="neither a folder nor a tarball"):
        data.cifar10(str(junk))
    with pytest.raises(ValueError, match="holds no CIFAR-10"):
        data.cifar10(str(tmp_path))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data_batch_1").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a CIFAR-10 python batch"):
        data.cifar10(str(bad))
    with open(bad / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 10), np.uint8), b"labels": [0, 1, 2]}, f)
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        data.cifar10(str(bad))
    with pytest.raises(ValueError, match="name"):
        data.load("mnist")
