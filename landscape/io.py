"""One save/load protocol for every result, run fingerprints and checkpoint files.

Every file ``landscape`` writes is one ``.npz``: the arrays, plus a JSON
``__meta__`` entry holding a ``tag`` (what the file is: ``"TrialsResult"``,
``"Grid"``, ...), the library and package ``versions``, the date, and whatever
the result needs to describe itself (config, seed, masks, data digest, ...).

* ``save(path, arrays, meta, tag=...)`` / ``load(path, tag=...)``: symmetric in
  the suffix (``save("run")`` writes ``run.npz`` and ``load("run")`` reads it);
  writes are atomic (a temporary file, then ``os.replace``), so an interrupted
  write never leaves a broken file.
* **Nothing saved is replaced silently.** ``save`` refuses an existing file
  unless ``overwrite=True`` or the file holds a result of the same tag and the
  same ``fingerprint`` (the same settings recomputed).
* ``load`` of something that is not a landscape file, of a truncated or corrupt
  file, or of a file holding another tag raises ``ValueError`` naming the file
  and what to do.
* ``Saveable``: the mixin every result type uses (``result.save(path)``,
  ``Type.load(path)``).
* ``open_progress`` / ``finish_progress``: the checkpoint protocol of long runs
  (trials, grids): resume a file written by the same settings, refuse one
  written by other settings (naming the settings that differ), or, with
  ``overwrite=True``, set the old file aside until the new run completes.
* ``write_json``: a JSON summary beside the results (atomic; an existing one is
  replaced only when it describes the same settings, or with ``overwrite``).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import platform
import threading
import zipfile
from typing import ClassVar, Iterable, Optional

import numpy as np

SUFFIX = ".npz"
META_KEY = "__meta__"
ASIDE_SUFFIX = ".replaced.npz"
"""An overwritten progress file is kept as ``<name>.replaced.npz`` until the new run completes."""

WRITE_LOCK = threading.RLock()
"""Held while a file is written: an interrupted command waits for it before the process ends
(``experiments._common.interrupted``), so no half-written temporary file is left behind."""


# ----------------------------------------------------------------------------- paths


def npz_path(path, *, name: str = "path") -> str:
    """The file name ``path`` refers to: ``.npz`` appended when missing.

    Raises:
      TypeError: ``path`` is not a string or ``os.PathLike``.
      ValueError: an empty name, or the name of an existing directory.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file name (str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    if not path or path.endswith(os.sep) or os.path.isdir(path):
        raise ValueError(f"{name}: {path!r} is a directory or an empty name; expected a file name such as 'run.npz'")
    if not path.endswith(SUFFIX):
        path += SUFFIX
    if os.path.isdir(path):
        raise ValueError(f"{name}: {path!r} is a directory; expected a file name")
    return path


# ----------------------------------------------------------------------------- metadata


def versions() -> dict:
    """Package versions written beside every saved result."""
    import jax
    import optax

    import landscape

    return {"landscape": landscape.__version__, "jax": jax.__version__, "optax": optax.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "backend": jax.default_backend()}


def json_default(o):
    """``json.dumps(default=...)`` for NumPy scalars and arrays."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


def to_json(obj, **kwargs) -> str:
    """``json.dumps`` that understands NumPy values (and writes NaN/Inf as JSON allows)."""
    return json.dumps(obj, default=json_default, **kwargs)


def fingerprint(meta: dict, arrays: Iterable = ()) -> str:
    """SHA-256 of a settings dict (canonical JSON) and arrays (shape, dtype, bytes).

    Two runs with the same fingerprint computed the same thing from the same inputs.
    """
    h = hashlib.sha256(to_json(meta, sort_keys=True).encode())
    for a in arrays:
        if a is None:
            h.update(b"None")
            continue
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def digest(a) -> dict:
    """``{"shape", "dtype", "sha256"}`` of an array: how a result names the data it was computed on."""
    a = np.ascontiguousarray(np.asarray(a))
    return {"shape": list(a.shape), "dtype": a.dtype.name, "sha256": hashlib.sha256(a.tobytes()).hexdigest()}


def describe_problem(net, X, Y=None, masks=None, *, loss: Optional[str] = None, dtype=None) -> dict:
    """What a result was computed on, JSON-able and small: the net, the loss convention, the
    dtype, and the digest (shape, dtype, SHA-256) of ``X``, ``Y`` and every mask leaf.

    Results that do not store their data and masks themselves carry this, so that a file says
    which problem it belongs to (``Solutions``, ``PathReport``, ``PathResult`` of a
    ``masked_objective``).
    """
    import jax

    out = {"net": net.to_dict(), "data": {"X": digest(X)}}
    if Y is not None:
        out["data"]["Y"] = digest(Y)
    out["masks"] = None if masks is None else [digest(m) for m in jax.tree.leaves(masks)]
    if loss is not None:
        out["loss"] = loss
    if dtype is not None:
        out["dtype"] = np.dtype(dtype).name
    return out


# ----------------------------------------------------------------------------- params pytrees in files


def tree_arrays(prefix: str, tree) -> tuple:
    """A params-like pytree (tuple of dicts) as flat arrays ``{prefix}_{i}`` plus its layout.

    Returns:
      ``(arrays, layout)``: ``layout`` is a list of each layer's sorted keys (JSON).
    """
    import jax

    if tree is None:
        return {}, None
    layout = [sorted(layer) for layer in tree]
    leaves = jax.tree.leaves(tuple(tree))
    return {f"{prefix}_{i}": np.asarray(a) for i, a in enumerate(leaves)}, layout


def tree_from_arrays(prefix: str, arrays: dict, layout) -> Optional[tuple]:
    """Inverse of ``tree_arrays`` (``None`` when ``layout`` is None)."""
    if layout is None:
        return None
    it = iter(arrays[f"{prefix}_{i}"] for i in range(sum(len(keys) for keys in layout)))
    return tuple({k: next(it) for k in keys} for keys in layout)


# ----------------------------------------------------------------------------- save / load


WHAT_TO_DO = "move or delete it (it cannot be read back), or use another file name"


def _read(path: str) -> tuple:
    """``(arrays, meta)`` of an existing file; ``ValueError`` naming it and what to do when unreadable."""
    expected = "expected a landscape result file (an .npz written by landscape's save)"
    try:
        with np.load(path, allow_pickle=False) as f:
            if META_KEY not in f.files:
                raise ValueError(f"{path}: not a landscape result file: {expected}, got an .npz without a {META_KEY} "
                                 f"entry (it holds {sorted(f.files)[:6]}); {WHAT_TO_DO}")
            arrays = {k: f[k] for k in f.files if k != META_KEY}
            meta = json.loads(str(f[META_KEY]))
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise ValueError(f"{path}: truncated, corrupt or not a landscape file: {expected}, got one that cannot be read "
                         f"({type(e).__name__}: {_first_line(e)}); {WHAT_TO_DO}") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, json.JSONDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise FileNotFoundError(f"{path}: no such file") from None
        if isinstance(e, (PermissionError, IsADirectoryError)):
            raise type(e)(f"{path}: cannot be read ({e.strerror})") from None
        raise ValueError(f"{path}: truncated, corrupt or not a landscape file: {expected}, got one that cannot be read "
                         f"({type(e).__name__}: {_first_line(e)}); {WHAT_TO_DO}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: not a landscape result file: {expected}, got metadata that is not a JSON object; {WHAT_TO_DO}")
    return arrays, meta


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:160] if text else type(e).__name__


def peek(path) -> Optional[dict]:
    """The metadata of an existing file (None if there is none); ``ValueError`` if unreadable."""
    path = npz_path(path)
    if not os.path.exists(path):
        return None
    return _read(path)[1]


def save(path, arrays: dict, meta: dict, *, tag: str, overwrite: bool = False) -> str:
    """Writes ``arrays`` and the JSON ``meta`` (plus ``tag``, versions, date) to one ``.npz``.

    Args:
      path: file name; ``.npz`` is appended when missing.
      arrays: name -> array (names must not start with ``__``).
      meta: JSON-able dict; a ``"fingerprint"`` entry identifies the settings.
      tag: what the file holds (the result type's name).
      overwrite: replace an existing file. Without it an existing file is
        replaced only when it holds the same ``tag`` and ``fingerprint``.

    Returns:
      The path written.

    Raises:
      FileExistsError: the file exists and holds something else (naming it).
    """
    path = npz_path(path)
    meta = dict(meta)
    meta["tag"] = tag
    meta.setdefault("versions", versions())
    meta.setdefault("saved", datetime.datetime.now().isoformat(timespec="seconds"))
    if os.path.exists(path) and not overwrite:
        try:
            old = _read(path)[1]
        except ValueError:
            old = {}
        same = (old.get("tag") == tag and meta.get("fingerprint") is not None
                and old.get("fingerprint") == meta.get("fingerprint"))
        if not same:
            raise FileExistsError(f"{path}: exists and holds {old.get('tag', 'another file')!r} from other settings; "
                                  "pass overwrite=True (CLI: --overwrite) to replace it, or choose another name")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:  # read-only, or a file where a folder should be
        raise type(e)(f"{path}: cannot be written ({e.strerror}: {folder}); choose a writable folder") from None
    tmp = path[: -len(SUFFIX)] + f".tmp{os.getpid()}{SUFFIX}"
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    with WRITE_LOCK:
        try:
            np.savez(tmp, **{META_KEY: np.array(to_json(meta))}, **arrays)
            os.replace(tmp, path)  # atomic: the old file (if any) stays whole until the new one is complete
        except PermissionError as e:
            raise PermissionError(f"{path}: cannot be written ({e.strerror}); choose a writable folder") from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return path


def load(path, *, tag=None) -> tuple:
    """Reads ``(arrays, meta)`` written by ``save``.

    Args:
      path: file name (``.npz`` appended when missing).
      tag: expected tag (or tuple of tags); ``None`` accepts any.

    Raises:
      FileNotFoundError: no such file.
      ValueError: not a landscape file, truncated or corrupt, or another tag;
        the message names the file.
    """
    path = npz_path(path)
    arrays, meta = _read(path)
    tags = (tag,) if isinstance(tag, str) else tag
    if tags is not None and meta.get("tag") not in tags:
        raise ValueError(f"{path}: holds a {meta.get('tag', 'file without a tag')!r}, expected {' or '.join(map(repr, tags))}")
    return arrays, meta


class Saveable:
    """The save/load protocol of a result type.

    A subclass implements ``_to_file(self) -> (arrays, meta)`` and the
    classmethod ``_from_file(cls, arrays, meta)`` (``meta`` as written, plus
    ``versions`` and ``saved``); the file's tag is the class name (``TAG``
    overrides it).
    """

    TAG: ClassVar[Optional[str]] = None

    @classmethod
    def _tag(cls) -> str:
        return cls.TAG or cls.__name__

    def _to_file(self) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def save(self, path, *, overwrite: bool = False) -> str:
        """Writes this result to one ``.npz`` (see ``landscape.io.save``); returns the path."""
        arrays, meta = self._to_file()
        return save(path, arrays, meta, tag=self._tag(), overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """Reads a result written by ``save`` (``ValueError`` naming the file otherwise)."""
        arrays, meta = load(path, tag=cls._tag())
        meta.pop("tag")
        return cls._from_file(arrays, meta)


def replace(obj, **changes):
    """``dataclasses.replace`` (results are frozen: derive a new one instead of editing)."""
    return dataclasses.replace(obj, **changes)


# ----------------------------------------------------------------------------- progress files (checkpoints)


def differences(old: dict, new: dict, prefix: str = "") -> list:
    """``["key: <old> in the file, <new> now", ...]`` for every setting that differs (nested keys dotted)."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<missing>"), new.get(k, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{k}.")
        elif to_json(a, sort_keys=True) != to_json(b, sort_keys=True):
            out.append(f"{prefix}{k}: {_short(a)} in the file, {_short(b)} now")
    return out


def _short(v) -> str:
    s = to_json(v, sort_keys=True)
    return s if len(s) <= 60 else s[:57] + "..."


def open_progress(path, fingerprint_: str, settings: dict, *, overwrite: bool = False, tag: Optional[str] = None,
                  what: str = "checkpoint", arg: Optional[str] = None) -> Optional[tuple]:
    """Opens a progress file (a checkpoint or a partial grid) for a run.

    Args:
      path: the file (``.npz`` appended when missing), or None (no file).
      fingerprint_: the run's fingerprint (settings and inputs).
      settings: the run's settings, JSON-able; stored in the file, and used to
        say what differs when the file belongs to another run.
      overwrite: when the file belongs to another run, set it aside as
        ``<name>.replaced.npz`` (kept until ``finish_progress``) and start afresh.
      tag: expected tag of the file.
      what: the word used in messages ("checkpoint", "grid file").
      arg: the caller's argument name for ``path`` (messages about the name itself; default ``what``).

    Returns:
      ``(arrays, meta)`` to resume from, or None to start afresh.

    Raises:
      ValueError: the file belongs to other settings (naming the file and the
        settings that differ), or is unreadable; unless ``overwrite``.
    """
    if path is None:
        return None
    path = npz_path(path, name=arg or what)
    if not os.path.exists(path):
        return None
    try:
        arrays, meta = load(path, tag=tag)
    except ValueError as e:
        if overwrite:
            _set_aside(path)
            return None
        raise ValueError(f"{e}. It cannot be resumed; pass overwrite=True (CLI: --overwrite) to set it aside and start afresh") from None
    if meta.get("fingerprint") == fingerprint_:
        return arrays, meta
    if overwrite:
        _set_aside(path)
        return None
    diffs = differences(meta.get("settings", {}), settings)
    why = "; ".join(diffs[:8]) if diffs else "the data, masks, initial params or trial ids differ (same settings, other arrays)"
    raise ValueError(f"{what} {path}: written by another run ({why}); refusing to replace it. Pass overwrite=True "
                     f"(CLI: --overwrite) to set it aside as {os.path.basename(path[:-len(SUFFIX)] + ASIDE_SUFFIX)} "
                     "and start afresh, or use another file")


def _set_aside(path: str) -> str:
    aside = path[: -len(SUFFIX)] + ASIDE_SUFFIX
    os.replace(path, aside)
    return aside


def finish_progress(path) -> None:
    """Deletes the copy ``open_progress(overwrite=True)`` set aside, now that the new run is complete."""
    if path is None:
        return
    aside = npz_path(path)[: -len(SUFFIX)] + ASIDE_SUFFIX
    if os.path.exists(aside):
        os.remove(aside)


def write_progress(path, arrays: dict, meta: dict, *, fingerprint_: str, settings: dict, tag: str) -> str:
    """Writes a progress file (always replaces: it is this run's own file)."""
    return save(path, arrays, {**meta, "fingerprint": fingerprint_, "settings": settings}, tag=tag, overwrite=True)


def write_json(path: str, obj: dict, *, settings_key: str = "config", overwrite: bool = False) -> str:
    """Writes ``obj`` as indented JSON (atomically).

    An existing file is replaced only when its ``obj[settings_key]`` is the same
    (the same settings recomputed) or with ``overwrite``: nothing saved is
    replaced silently.

    Raises:
      FileExistsError: the file holds a summary of other settings (naming it).
    """
    if os.path.exists(path) and not overwrite:
        try:
            with open(path) as f:
                old = json.load(f).get(settings_key)
        except (OSError, ValueError, AttributeError):
            old = None
        new = json.loads(to_json(obj.get(settings_key)))
        if old is None or to_json(old, sort_keys=True) != to_json(new, sort_keys=True):
            raise FileExistsError(f"{path}: exists and describes other settings; pass overwrite=True (CLI: --overwrite) "
                                  "to replace it, or choose another folder")
    tmp = f"{path}.tmp{os.getpid()}"
    with WRITE_LOCK:  # an interrupted process waits for a write in progress (see interrupted)
        try:
            with open(tmp, "w") as f:
                f.write(to_json(obj, indent=1))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return path
