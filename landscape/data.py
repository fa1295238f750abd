"""Data sets of Section 6: synthetic regression, bundled digits, CIFAR-10 from a local copy.

All return a ``Dataset`` in the paper's layout: ``X`` is ``(d_x, n)`` and ``Y``
is ``(d_y, n)`` (columns are samples). Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import tarfile
from typing import Optional

import numpy as np

from landscape import validate

CIFAR10_ENV = "LANDSCAPE_CIFAR10"
"""Environment variable naming a local CIFAR-10 copy (folder or tarball)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Data in the paper's layout.

    Attributes:
      X: ``(d_x, n)`` inputs; Y: ``(d_y, n)`` targets.
      name: ``"synthetic"``, ``"digits"`` or ``"cifar10"``.
      meta: how it was made (seed, sizes, scaling, source path, ...).
      A: the synthetic ``(d_y, d_x)`` map (None for image data).
    """

    X: np.ndarray
    Y: np.ndarray
    name: str
    meta: dict
    A: Optional[np.ndarray] = None

    @property
    def n(self) -> int:
        return int(self.X.shape[1])

    def to_dict(self) -> dict:
        return {"name": self.name, "d_x": int(self.X.shape[0]), "d_y": int(self.Y.shape[0]), "n": self.n, **self.meta}


def synthetic(seed: int = 0, *, n: int = 400, d_x: int = 100, d_y: int = 10, a_norm: float = 5.0,
              noise: float = 1.0, dtype=np.float32) -> Dataset:
    """Section 6: ``x_i ~ N(0, I_dx)``, ``y_i = A x_i + ε_i``, ``ε_i ~ N(0, noise²·I)``,
    ``A_kl ~ N(0, 1)`` rescaled to ``‖A‖_F = a_norm``.

    Args:
      seed: numpy ``default_rng`` seed (same numbers on every backend).
      n, d_x, d_y: sizes (paper: 400, 100, 1 or 10).
      a_norm: Frobenius norm of ``A`` (paper: 5).
      noise: standard deviation of ``ε`` (paper: 1).
    """
    seed = validate.seed(seed)
    n, d_x, d_y = (validate.integer(v, name, low=1) for name, v in (("n", n), ("d_x", d_x), ("d_y", d_y)))
    a_norm = validate.positive(a_norm, "a_norm")
    noise = validate.nonnegative(noise, "noise")
    dtype = validate.float_dtype(dtype, jax_array=False)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d_x, n))
    A = rng.standard_normal((d_y, d_x))
    A *= a_norm / np.linalg.norm(A)
    Y = A @ X + noise * rng.standard_normal((d_y, n))
    return Dataset(X.astype(dtype), Y.astype(dtype), "synthetic",
                   {"seed": seed, "a_norm": a_norm, "noise": noise}, A.astype(dtype))


def one_hot(labels, n_classes: int = 10, dtype=np.float32) -> np.ndarray:
    """``(n_classes, n)`` one-hot columns."""
    labels = np.asarray(labels, dtype=np.int64)
    out = np.zeros((n_classes, labels.size), dtype)
    out[labels, np.arange(labels.size)] = 1
    return out


def _subsample(images, labels, n, seed, name, meta, scale, dtype):
    n = validate.integer(n, "n", low=1, high=len(labels))
    seed = validate.seed(seed)
    dtype = validate.float_dtype(dtype, jax_array=False)
    idx = np.sort(np.random.default_rng(seed).choice(len(labels), size=n, replace=False))
    X = images[idx].reshape(n, -1).T.astype(np.float64) / scale
    return Dataset(X.astype(dtype), one_hot(np.asarray(labels)[idx], 10, dtype), name,
                   {"seed": seed, "indices": idx.tolist(), "pixel_scale": f"1/{scale:g}", **meta})


def digits(n: int = 400, seed: int = 0, *, dtype=np.float32) -> Dataset:
    """scikit-learn's bundled 8×8 digits (offline): ``d_x = 64``, one-hot ``d_y = 10``.

    ``n`` images drawn without replacement (``default_rng(seed)``); pixels
    scaled from 0..16 to [0, 1] (no other pre-processing, like the paper).
    """
    from sklearn.datasets import load_digits

    validate.integer(n, "n", low=1)
    validate.seed(seed)
    d = load_digits()
    return _subsample(d.images, d.target, n, seed, "digits", {"source": "sklearn.datasets.load_digits"}, 16.0, dtype)


def _unpickle(f, where: str) -> dict:
    try:
        d = pickle.load(f, encoding="bytes")
    except Exception as e:  # noqa: BLE001 - any failure means "not a CIFAR batch"
        raise ValueError(f"path: {where} is not a CIFAR-10 python batch ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"path: {where} is not a CIFAR-10 python batch (holds a {type(d).__name__})")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if data is None or labels is None or np.ndim(data) != 2 or np.shape(data)[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"path: {where} is not a CIFAR-10 python batch (expected 'data' (N, 3072) and 'labels' (N,))")
    return {"data": np.asarray(data, np.uint8), "labels": np.asarray(labels, np.int64)}


def _batch_names(split: str) -> list:
    if split == "train":
        return [f"data_batch_{i}" for i in range(1, 6)]
    if split == "test":
        return ["test_batch"]
    raise ValueError(f"split: expected 'train' or 'test', got {split!r}")


def load_cifar10_batches(path: Optional[str] = None, split: str = "train") -> tuple:
    """Reads CIFAR-10 from a local copy: the ``cifar-10-batches-py`` folder, its
    parent, or the ``cifar-10-python.tar.gz`` tarball.

    Args:
      path: the copy; default ``$LANDSCAPE_CIFAR10``.
      split: ``"train"`` (data_batch_1..5) or ``"test"`` (test_batch).

    Returns:
      ``(images (N, 3, 32, 32) uint8, labels (N,) int64)``; the batches present
      are used (a copy with only some training batches works).

    Raises:
      ValueError: no path given, a path that does not exist, or one that holds
        something other than CIFAR-10 python batches.
    """
    path = path if path is not None else os.environ.get(CIFAR10_ENV)
    if not path:
        raise ValueError(f"path: give the CIFAR-10 location (folder or tarball) or set ${CIFAR10_ENV}")
    if not os.path.exists(path):
        raise ValueError(f"path: {path!r} does not exist (expected the cifar-10-batches-py folder or cifar-10-python.tar.gz)")
    names = _batch_names(split)
    batches = []
    if os.path.isdir(path):
        folder = path if any(os.path.exists(os.path.join(path, n)) for n in names) else os.path.join(path, "cifar-10-batches-py")
        for n in names:
            f = os.path.join(folder, n)
            if os.path.exists(f):
                with open(f, "rb") as fh:
                    batches.append(_unpickle(fh, f))
    else:
        try:
            tar = tarfile.open(path, "r:*")
        except tarfile.TarError:
            raise ValueError(f"path: {path!r} is neither a folder nor a tarball of CIFAR-10 python batches") from None
        with tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
            for n in names:
                if n in members:
                    batches.append(_unpickle(io.BytesIO(tar.extractfile(members[n]).read()), f"{path}:{members[n].name}"))
    if not batches:
        raise ValueError(f"path: {path!r} holds no CIFAR-10 {split} batches ({', '.join(names)})")
    data = np.concatenate([b["data"] for b in batches])
    labels = np.concatenate([b["labels"] for b in batches])
    return data.reshape(-1, 3, 32, 32), labels


def cifar10(path: Optional[str] = None, n: int = 400, seed: int = 0, *, split: str = "train", dtype=np.float32) -> Dataset:
    """``n`` CIFAR-10 images (``d_x = 3072``, pixels /255) with one-hot labels (``d_y = 10``).

    Args:
      path: local copy (folder or tarball); default ``$LANDSCAPE_CIFAR10``.
      n: samples drawn without replacement with ``default_rng(seed)``.
    """
    images, labels = load_cifar10_batches(path, split)
    return _subsample(images, labels, n, seed, "cifar10",
                      {"source": os.path.abspath(path or os.environ.get(CIFAR10_ENV)), "split": split}, 255.0, dtype)


DATASETS = ("synthetic", "digits", "cifar10")


def load(name: str, *, n: int = 400, seed: int = 0, d_y: int = 10, d_x: int = 100, path: Optional[str] = None,
         dtype=np.float32) -> Dataset:
    """By name: ``"synthetic"`` (``d_x``, ``d_y``), ``"digits"`` or ``"cifar10"`` (``path``)."""
    if name == "synthetic":
        return synthetic(seed, n=n, d_x=d_x, d_y=d_y, dtype=dtype)
    if name == "digits":
        return digits(n, seed, dtype=dtype)
    if name == "cifar10":
        return cifar10(path, n, seed, dtype=dtype)
    raise ValueError(f"name: expected one of {DATASETS}, got {name!r}")


def least_squares_loss(X, Y, loss: str = "half_sum", inputs=None) -> float:
    """``L* = min_W L(WX)``: the linear-regression optimum (float64 ``lstsq``).

    Args:
      X: ``(d_x, n)``; Y: ``(d_y, n)``.
      loss: ``"half_sum"`` (½‖·‖_F²) or ``"mean"`` (mean of squares).
      inputs: optional indices of the inputs the network can use (those with a
        path to an output); default all.
    """
    validate.choice(loss, "loss", ("half_sum", "mean"))
    X = validate.samples(X, "X").astype(np.float64)
    Y = validate.samples(Y, "Y").astype(np.float64)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y: expected shape (d_y, n={X.shape[1]}) (as many samples as X), got {Y.shape}")
    if inputs is not None:
        X = X[np.asarray(inputs)]
    W, *_ = np.linalg.lstsq(X.T, Y.T, rcond=None)
    r = X.T @ W - Y.T
    if loss == "half_sum":
        return float(0.5 * np.sum(r * r))
    if loss == "mean":
        return float(np.mean(r * r))
    raise ValueError(f"loss: expected 'half_sum' or 'mean', got {loss!r}")
