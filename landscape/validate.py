"""Argument validation: one function per kind of argument, called at every public entry point.

Every check raises ``TypeError`` (the wrong kind of object) or ``ValueError`` (the right kind,
a wrong value) whose message names the argument, says what was expected and what came::

    seed: expected an integer in [0, 2**32), got -1
    Y: expected shape (d_y, n) = (3, 3) (columns are samples), got (3, 1)
    masks[0]['W']: expected entries exactly 0 or 1, got values [0.5]

What is checked (the README's "Bad input" section lists the same):

* **data** (``data``): ``X`` is ``(d_x, n)`` and ``Y`` is ``(d_y, n)`` for the net, exactly (no
  broadcasting: a ``(3, 1)`` or ``(1, 3)`` ``Y`` for ``n = 3`` is an error), ``n >= 1``, real
  numbers (not complex, strings or bool), finite; a transposed input is recognised and said so.
* **masks** (``masks``): the params' structure (a tuple of ``{"W"[, "b"]}`` dicts), exact shapes
  (with a leading trial axis where a function takes one mask per trial), entries exactly 0 or 1
  (bool allowed), finite.
* **params** (``params``): the structure and shapes of the net; real floats; finite where a
  function needs it (``params0`` of ``train``).
* **dtypes** (``float_dtype``): a floating dtype; ``float64`` only when
  ``jax_enable_x64`` is on (JAX would otherwise silently compute in float32).
* **integers** (``integer``): Python or NumPy integers only -- ``2.7``, ``2.0``, ``"2"`` and
  ``True`` are refused -- within their range.
* **seeds and trial ids** (``seed``, ``trial_ids``): integers in ``[0, 2**32)`` (a trial key is
  ``fold_in(key(seed), id)`` on uint32); trial ids unique.
* **scalars** (``real``): real numbers (Python, NumPy or 0-d arrays; ``np.float32(0.01)`` is
  fine; ``True``, ``"0.01"``, complex are refused), NaN refused, bounds (``> 0``, ``>= 0``,
  finite) per argument.
* **names** (``choice``), **flags** (``boolean``), **callables** (``function``), **PRNG keys**
  (``key``), **networks** (``net``), **vectors** (``vector``).
* **paths**: ``landscape.io.npz_path`` (file names), ``output_folder`` (the CLI's ``--out``:
  not a file, writable, creatable).

Under ``jax.jit`` / ``vmap`` / ``grad`` the arrays are tracers: structure, shape and dtype
checks still run (once, when the function is traced, so they cost nothing at run time); value
checks (masks exactly 0/1, finite data) only run on concrete arrays -- traced values cannot be
inspected without a host round trip.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Iterable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

SEED_BOUND = 2**32
"""Seeds and trial ids are folded into keys as uint32: ``0 <= value < 2**32``."""


# ----------------------------------------------------------------------------- helpers


def got(value) -> str:
    """How a message shows what came: the value, and its type where the value alone misleads."""
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (a bool)"
    if isinstance(value, str):
        return f"{value!r} (a str)"
    if value is None:
        return "None"
    if isinstance(value, (int, float, complex, np.number)):
        text = repr(value.item()) if isinstance(value, np.number) else repr(value)
        return text if isinstance(value, numbers.Real) and not isinstance(value, float) else f"{text} (a {type(value).__name__})"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of shape {tuple(np.shape(value))} and dtype {value.dtype}"
    text = repr(value)
    return f"{text[:80]}{'...' if len(text) > 80 else ''} (a {type(value).__name__})"


def is_concrete(x) -> bool:
    """False for a JAX tracer (inside ``jit``/``vmap``/``grad``), whose values cannot be inspected."""
    return not isinstance(x, jax.core.Tracer)


def _np_dtype(x) -> Optional[np.dtype]:
    """The NumPy dtype of an array (None for PRNG key arrays and non-arrays)."""
    dt = getattr(x, "dtype", None)
    if dt is None or jax.dtypes.issubdtype(dt, jax.dtypes.prng_key):
        return None
    try:
        return np.dtype(dt)
    except TypeError:
        return None


def _is_real_dtype(dt: Optional[np.dtype]) -> bool:
    return dt is not None and dt != bool and (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer))


def _is_int(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    if hasattr(value, "shape") and np.shape(value) == () and is_concrete(value):
        dt = _np_dtype(value)
        return dt is not None and dt != bool and np.issubdtype(dt, np.integer)
    return False


# ----------------------------------------------------------------------------- integers, seeds, scalars


def integer(value, name: str, *, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """An integer ``low <= value <= high`` (either bound optional) as a Python ``int``.

    Python and NumPy integers (and 0-d integer arrays) are accepted; ``bool``, floats (also
    ``2.0``), strings are refused.

    Raises:
      TypeError: not an integer. ValueError: out of range.
    """
    rng = _range_text(low, high)
    if not _is_int(value):
        raise TypeError(f"{name}: expected an integer{rng}, got {got(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name}: expected an integer{rng}, got {v}")
    return int(v)


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def optional_integer(value, name: str, *, low: Optional[int] = None, high: Optional[int] = None) -> Optional[int]:
    """``None`` or ``integer(value, name, low=..., high=...)``."""
    return None if value is None else integer(value, name, low=low, high=high)


def seed(value, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**32)`` (what ``jax.random.key`` folds as uint32)."""
    if not _is_int(value):
        raise TypeError(f"{name}: expected an integer in [0, 2**32), got {got(value)}")
    v = int(value)
    if not 0 <= v < SEED_BOUND:
        raise ValueError(f"{name}: expected an integer in [0, 2**32), got {v}")
    return v


def trial_ids(value, n: int, name: str = "trial_ids") -> np.ndarray:
    """``n`` distinct integer ids in ``[0, 2**32)`` as an int64 array of shape ``(n,)``.

    Raises:
      TypeError: not integers (floats such as ``1.0`` included). ValueError: wrong shape,
      out of range (ids ``>= 2**32`` would alias to lower ones), or repeated (two trials with
      one id are the same trial).
    """
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"{name}: expected a 1-D array of {n} integers, got {got(value)}")
    try:
        a = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged lists and the like
        raise TypeError(f"{name}: expected a 1-D array of {n} integers, got {got(value)}") from None
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or a.dtype == object):
        raise TypeError(f"{name}: expected integers, got dtype {a.dtype}")
    if a.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) (one id per trial), got {a.shape}")
    if a.dtype == object:
        bad = [v for v in a if not _is_int(v)]
        if bad:
            raise TypeError(f"{name}: expected integers, got {got(bad[0])}")
    ints = [int(v) for v in a]
    if ints and (min(ints) < 0 or max(ints) >= SEED_BOUND):
        bad = min(ints) if min(ints) < 0 else max(ints)
        raise ValueError(f"{name}: expected integers in [0, 2**32) (ids are folded into keys as uint32), got {bad}")
    a = np.asarray(ints, dtype=np.int64).reshape(n)
    uniq, counts = np.unique(a, return_counts=True)
    if uniq.size != a.size:
        raise ValueError(f"{name}: expected distinct ids (equal ids give identical trials), got {uniq[counts > 1][:5].tolist()} repeated")
    return a


def real(value, name: str, *, low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False,
         high_open: bool = False, finite: bool = True) -> float:
    """A real number within bounds, as a Python ``float``.

    Accepted: Python ints/floats, NumPy scalars, 0-d real arrays. Refused: ``bool``, strings,
    complex numbers, ``None``, NaN; infinities unless ``finite=False``.

    Args:
      low, high: bounds; ``low_open`` / ``high_open`` make them strict.
      finite: refuse ``±inf``.
    """
    what = _real_text(low, high, low_open, high_open, finite)
    ok_type = (isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)))
    if not ok_type and hasattr(value, "shape") and np.shape(value) == () and is_concrete(value):
        ok_type = _is_real_dtype(_np_dtype(value))
    if not ok_type:
        raise TypeError(f"{name}: expected {what}, got {got(value)}")
    v = float(value)
    bad = (np.isnan(v) or (finite and np.isinf(v)) or (low is not None and (v <= low if low_open else v < low))
           or (high is not None and (v >= high if high_open else v > high)))
    if bad:
        raise ValueError(f"{name}: expected {what}, got {v!r}")
    return v


def _real_text(low, high, low_open, high_open, finite) -> str:
    kind = "a finite number" if finite else "a number"
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return kind + (" " + " and ".join(parts) if parts else "")


def positive(value, name: str, *, finite: bool = True) -> float:
    """A real number ``> 0`` (finite unless ``finite=False``)."""
    return real(value, name, low=0.0, low_open=True, finite=finite)


def nonnegative(value, name: str, *, finite: bool = True) -> float:
    """A real number ``>= 0`` (finite unless ``finite=False``)."""
    return real(value, name, low=0.0, finite=finite)


def optional_real(value, name: str, **bounds) -> Optional[float]:
    """``None`` or ``real(value, name, **bounds)``."""
    return None if value is None else real(value, name, **bounds)


def boolean(value, name: str) -> bool:
    """``True``/``False`` (NumPy bools too); ``"yes"``, ``1``, ``None`` are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {got(value)}")
    return bool(value)


def choice(value, name: str, options: Iterable) -> Any:
    """One of ``options`` (compared with ``==``; strings are not stripped or case-folded)."""
    options = tuple(options)
    if options and all(isinstance(o, str) for o in options) and not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {options}, got {got(value)}")
    if not any(value is o or (type(value) is type(o) and value == o) for o in options):
        raise ValueError(f"{name}: expected one of {options}, got {value!r}")
    return value


def function(value, name: str, *, optional: bool = False):
    """A callable (``None`` too when ``optional``)."""
    if value is None and optional:
        return None
    if not callable(value):
        raise TypeError(f"{name}: expected a callable{' or None' if optional else ''}, got {got(value)}")
    return value


def key(value, name: str = "key") -> jax.Array:
    """A JAX PRNG key: ``jax.random.key(seed)`` (typed) or a raw ``uint32[2]`` ``PRNGKey``.

    Works on traced keys (inside ``vmap``/``jit``). An int is refused with a hint (this
    argument is a key, not a seed).
    """
    if _is_int(value) or isinstance(value, (float, str, type(None))):
        raise TypeError(f"{name}: expected a PRNG key such as jax.random.key(0), got {got(value)}")
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        raise TypeError(f"{name}: expected a PRNG key such as jax.random.key(0), got {got(value)}")
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if np.shape(value) != ():
            raise ValueError(f"{name}: expected one PRNG key (shape ()), got shape {tuple(np.shape(value))}")
        return value
    if _np_dtype(value) == np.uint32 and tuple(np.shape(value)) == (2,):
        return value
    raise TypeError(f"{name}: expected a PRNG key such as jax.random.key(0), got {got(value)}")


# ----------------------------------------------------------------------------- dtypes


FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def float_dtype(value, name: str = "dtype", *, jax_array: bool = True) -> np.dtype:
    """A floating dtype; for JAX arrays (``jax_array``) ``float64`` only when ``jax_enable_x64`` is on.

    Without x64 JAX silently computes in float32 what was asked in float64; here that is an
    error naming the setting to change. (NumPy data, ``jax_array=False``, may be float64.)
    """
    try:
        dt = jnp.dtype(value)
    except Exception:  # noqa: BLE001 - NumPy raises TypeError, JAX sometimes ValueError
        raise TypeError(f"{name}: expected a floating dtype ({', '.join(FLOAT_DTYPES)}), got {got(value)}") from None
    if dt.name not in FLOAT_DTYPES:
        raise ValueError(f"{name}: expected a floating dtype ({', '.join(FLOAT_DTYPES)}), got {dt.name}")
    if jax_array and dt.name == "float64" and not jax.config.read("jax_enable_x64"):
        raise ValueError(f"{name}: expected float32 unless x64 is enabled, got float64; call "
                         "jax.config.update('jax_enable_x64', True) first (JAX would silently compute in float32)")
    return dt


# ----------------------------------------------------------------------------- networks, params, masks, data


def net(value, name: str = "net"):
    """A ``landscape.MLP``."""
    from landscape.nets import MLP  # nets imports this module

    if not isinstance(value, MLP):
        hint = " (build one with landscape.MLP(sizes, activation))" if isinstance(value, (tuple, list, str, dict)) else ""
        raise TypeError(f"{name}: expected a landscape.MLP{hint}, got {got(value)}")
    return value


def sizes(value, name: str = "sizes") -> tuple:
    """An MLP's widths ``(d_x, h_1, ..., d_y)``: at least two integers >= 1."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(value, dict):
        raise TypeError(f"{name}: expected a sequence of at least two integer widths (d_x, ..., d_y), got {got(value)}")
    value = tuple(value)
    if len(value) < 2:
        raise ValueError(f"{name}: expected at least two widths (d_x, ..., d_y), got {value}")
    return tuple(integer(s, f"{name}[{i}]", low=1) for i, s in enumerate(value))


def _tree(net_, tree, name: str, *, lead: Optional[str]) -> tuple:
    """Structure and shapes of a params-like tree; returns it as a tuple of dicts (leaves untouched).

    ``lead``: None (no leading axis), ``"any"`` (one leading axis of any length) or a
    description ``"n_trials=5"`` whose number must match.
    """
    from landscape.nets import shapes  # nets imports this module

    expected = shapes(net_)
    exp_text = "(" + ", ".join("{" + ", ".join(f"'{k}': {s}" for k, s in layer.items()) + "}" for layer in expected) + ",)"
    if lead is not None:
        exp_text += f" with a leading axis ({lead})"
    if isinstance(tree, dict) or not isinstance(tree, (tuple, list)):
        raise TypeError(f"{name}: expected a tuple of {len(expected)} dicts like {exp_text}, got {got(tree)}")
    if len(tree) != len(expected):
        raise ValueError(f"{name}: expected {len(expected)} layers like {exp_text}, got {len(tree)}")
    n_lead = int(lead.split("=")[1]) if lead is not None and "=" in lead else None
    out = []
    for l, (layer, shapes_l) in enumerate(zip(tree, expected)):
        if not isinstance(layer, dict):
            raise TypeError(f"{name}[{l}]: expected a dict with keys {sorted(shapes_l)}, got {got(layer)}")
        if set(layer) != set(shapes_l):
            why = " (a bias, but the net has bias=False)" if "b" in layer and "b" not in shapes_l else \
                  " (the net has bias=True)" if "b" in shapes_l and "b" not in layer else ""
            raise ValueError(f"{name}[{l}]: expected the keys {sorted(shapes_l)}{why}, got {sorted(map(str, layer))}")
        new = {}
        for k, shape in shapes_l.items():
            leaf = layer[k]
            where = f"{name}[{l}]['{k}']"
            if isinstance(leaf, (list, tuple)) or np.isscalar(leaf):
                try:
                    leaf = np.asarray(leaf)
                except Exception:  # noqa: BLE001
                    raise TypeError(f"{where}: expected an array of shape {shape}, got {got(leaf)}") from None
            if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
                raise TypeError(f"{where}: expected an array of shape {shape}, got {got(leaf)}")
            s = tuple(np.shape(leaf))
            want = shape if lead is None else ((n_lead,) + shape if n_lead is not None else ("n",) + shape)
            ok = s == shape if lead is None else (len(s) == len(shape) + 1 and s[1:] == shape
                                                  and (n_lead is None or s[0] == n_lead))
            if not ok:
                hint = " (transposed? W is (out, in))" if lead is None and len(shape) == 2 and s == shape[::-1] else ""
                raise ValueError(f"{where}: expected shape {want}{hint}, got {s}")
            new[k] = leaf
        out.append(new)
    return tuple(out)


def params(net_, tree, *, name: str = "params", batched: bool = False, n: Optional[int] = None,
           finite: bool = False) -> tuple:
    """Checks a params pytree against the net; returns it as a tuple of dicts.

    Args:
      batched: every leaf carries a leading axis (a batch of points, one per trial).
      n: the required length of that axis (``batched`` implied).
      finite: refuse NaN/Inf (checked on concrete arrays only).

    Raises:
      TypeError: not a tuple of dicts of arrays, or not real numbers.
      ValueError: wrong number of layers, keys, shapes, or NaN/Inf when ``finite``.
    """
    lead = None if not (batched or n is not None) else ("any" if n is None else f"n={n}")
    tree = _tree(net_, tree, name, lead=lead)
    for l, layer in enumerate(tree):
        for k, leaf in layer.items():
            if not _is_real_dtype(_np_dtype(leaf)):
                raise TypeError(f"{name}[{l}]['{k}']: expected real numbers, got dtype {leaf.dtype}")
            if finite and is_concrete(leaf) and not np.all(np.isfinite(np.asarray(leaf))):
                raise ValueError(f"{name}[{l}]['{k}']: expected finite values, got NaN or Inf")
    return tree


def masks(net_, tree, *, name: str = "masks", batched: bool = False, n: Optional[int] = None,
          nonzero_layers: bool = False, as_numpy: bool = False) -> tuple:
    """Checks 0/1 masks against the net; returns them as a tuple of dicts.

    Args:
      batched: one mask per trial (a leading axis on every leaf).
      n: the required length of that axis (``batched`` implied).
      nonzero_layers: refuse a layer whose weights are all masked (the output is then constant).
      as_numpy: return NumPy leaves (only for concrete masks).

    Values (exactly 0 or 1, finite) are checked on concrete arrays only (see the module
    docstring).

    Raises:
      TypeError: not a tuple of dicts of arrays, or strings/complex/object entries.
      ValueError: wrong layers, keys or shapes; entries other than 0 and 1 (NaN included).
    """
    lead = None if not (batched or n is not None) else ("any" if n is None else f"n_trials={n}")
    tree = _tree(net_, tree, name, lead=lead)
    out = []
    for l, layer in enumerate(tree):
        new = {}
        for k, leaf in layer.items():
            where = f"{name}[{l}]['{k}']"
            dt = _np_dtype(leaf)
            if not (dt == bool or _is_real_dtype(dt)):
                raise TypeError(f"{where}: expected 0/1 entries (bool or real numbers), got dtype {leaf.dtype}")
            if is_concrete(leaf):
                a = np.asarray(leaf)
                bad = ~((a == 0) | (a == 1))
                if bad.any():
                    raise ValueError(f"{where}: expected entries exactly 0 or 1, got values {np.unique(a[bad])[:5].tolist()}")
                if nonzero_layers and k == "W" and not np.any(a.reshape((a.shape[0], -1) if lead else (-1,)), axis=-1).all():
                    raise ValueError(f"{where}: expected at least one unmasked weight per layer, got all zeros "
                                     "(the network output would be constant)")
                leaf = a if as_numpy else leaf
            new[k] = leaf
        out.append(new)
    return tuple(out)


def _matrix(A, name: str, rows: int, rows_name: str, *, concrete_checks: bool = True):
    """A 2-D real array with ``rows`` rows (columns are samples), n >= 1, finite."""
    if A is None or isinstance(A, (str, bytes, dict)):
        raise TypeError(f"{name}: expected an array of shape ({rows_name}={rows}, n), got {got(A)}")
    if not hasattr(A, "shape") or not hasattr(A, "dtype"):
        try:
            A = np.asarray(A)
        except Exception:  # noqa: BLE001 - ragged lists
            raise TypeError(f"{name}: expected an array of shape ({rows_name}={rows}, n), got {got(A)}") from None
    if not _is_real_dtype(_np_dtype(A)):
        raise TypeError(f"{name}: expected real numbers (a float or integer array), got dtype {A.dtype}")
    s = tuple(np.shape(A))
    if len(s) != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape ({rows_name}={rows}, n) (columns are samples), got shape {s}")
    if s[0] != rows:
        hint = " (it looks transposed: columns are samples)" if s[1] == rows else ""
        raise ValueError(f"{name}: expected shape ({rows_name}={rows}, n) (columns are samples), got {s}{hint}")
    if s[1] < 1:
        raise ValueError(f"{name}: expected at least one sample (column), got shape {s}")
    if concrete_checks and is_concrete(A) and not np.all(np.isfinite(np.asarray(A))):
        raise ValueError(f"{name}: expected finite values, got NaN or Inf")
    return A


def data(net_, X, Y=None, *, x_name: str = "X", y_name: str = "Y") -> tuple:
    """Checks ``X`` ``(d_x, n)`` and ``Y`` ``(d_y, n)`` against the net (exact shapes, no
    broadcasting), ``n >= 1``, real and finite (finiteness on concrete arrays only).

    Returns:
      ``(X, Y)`` as given (lists become NumPy arrays); ``Y`` may be None (then it is not checked).

    Raises:
      TypeError: not real numbers. ValueError: shapes (a transposed input is named as such),
      no samples, NaN/Inf.
    """
    X = _matrix(X, x_name, net_.sizes[0], "d_x")
    if Y is None:
        return X, None
    Y = _matrix(Y, y_name, net_.sizes[-1], "d_y")
    if np.shape(Y)[1] != np.shape(X)[1]:
        raise ValueError(f"{y_name}: expected shape ({net_.sizes[-1]}, n={np.shape(X)[1]}) (as many samples as {x_name}), "
                         f"got {tuple(np.shape(Y))}")
    return X, Y


def samples(X, name: str = "X", *, rows: Optional[int] = None) -> np.ndarray:
    """Data without a net: a finite real ``(d, n)`` NumPy array with ``n >= 1`` (``rows``: the required ``d``)."""
    if rows is None:
        try:
            rows = np.shape(X)[0] if np.ndim(X) == 2 else 1  # any d; the other checks still apply
        except Exception:  # noqa: BLE001 - ragged lists: _matrix names them
            rows = 1
    return np.asarray(_matrix(X, name, rows, "d"))


def vector(z, name: str, *, size: Optional[int] = None, finite: bool = True):
    """A 1-D real array (``size`` entries when given), finite on concrete arrays."""
    if not hasattr(z, "shape") or not hasattr(z, "dtype"):
        try:
            z = np.asarray(z)
        except Exception:  # noqa: BLE001
            raise TypeError(f"{name}: expected a 1-D array{'' if size is None else f' of {size} numbers'}, got {got(z)}") from None
    if not _is_real_dtype(_np_dtype(z)):
        raise TypeError(f"{name}: expected real numbers, got dtype {z.dtype}")
    s = tuple(np.shape(z))
    if len(s) != 1 or (size is not None and s[0] != size):
        raise ValueError(f"{name}: expected shape ({'k' if size is None else size},), got {s}")
    if finite and is_concrete(z) and not np.all(np.isfinite(np.asarray(z))):
        raise ValueError(f"{name}: expected finite values, got NaN or Inf")
    return z


def same_tree(a, b, name: str, ref: str) -> None:
    """``b`` has the structure and leaf shapes of ``a`` (``ref`` names ``a`` in the message;
    a list of layers counts as the tuple it stands for)."""
    a = tuple(a) if isinstance(a, list) else a
    b = tuple(b) if isinstance(b, list) else b
    ta, tb = jax.tree.structure(a), jax.tree.structure(b)
    if ta != tb:
        raise ValueError(f"{name}: expected the structure of {ref} ({ta}), got {tb}")
    sa = [tuple(np.shape(x)) for x in jax.tree.leaves(a)]
    sb = [tuple(np.shape(x)) for x in jax.tree.leaves(b)]
    if sa != sb:
        raise ValueError(f"{name}: expected the leaf shapes of {ref} {sa}, got {sb}")


# ----------------------------------------------------------------------------- paths


def output_folder(path, name: str = "--out", *, create: bool = False) -> str:
    """A folder results can be written into: not a file, not under a file, writable.

    Checked before any computation (the CLI's ``--out``). With ``create`` the folder (and its
    parents) is made.

    Raises:
      TypeError: not a path. ValueError: empty, an existing file, under a file, not writable.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a folder name, got {got(path)}")
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{name}: expected a folder name, got an empty string")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name}: expected a folder, got the existing file {path!r}")
    probe = os.path.abspath(path)
    while not os.path.exists(probe):  # the nearest existing ancestor must be a writable folder
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ValueError(f"{name}: expected a folder, got {path!r} under the file {probe!r}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: expected a writable folder, got {path!r} ({probe!r} is read-only)")
    if create:
        os.makedirs(path, exist_ok=True)
    return path


def one_of_each(values: Sequence, name: str) -> tuple:
    """A non-empty sequence without repeats (e.g. activation names)."""
    values = tuple(values)
    if not values:
        raise ValueError(f"{name}: expected at least one entry, got none")
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"{name}: expected distinct entries, got {seen[0]!r} twice")
    return values


def mask_values(tree, name: str = "masks"):
    """Every leaf of ``tree`` holds exactly 0 or 1 (bool or real; concrete arrays only); returns ``tree``.

    For functions that take masks without a net (``keep_masked_zero``, ``network_class``);
    ``masks_like`` adds the structure of a params tree.
    """
    if tree is None or isinstance(tree, (str, bytes, int, float)):
        raise TypeError(f"{name}: expected a masks pytree (a tuple of {{'W'[, 'b']}} dicts of 0/1 arrays), got {got(tree)}")
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        where = name + jax.tree_util.keystr(path)
        dt = _np_dtype(leaf) if hasattr(leaf, "dtype") else _np_dtype(np.asarray(leaf))
        if not (dt == bool or _is_real_dtype(dt)):
            raise TypeError(f"{where}: expected 0/1 entries (bool or real numbers), got {got(leaf)}")
        if is_concrete(leaf):
            a = np.asarray(leaf)
            bad = ~((a == 0) | (a == 1))
            if bad.any():
                raise ValueError(f"{where}: expected entries exactly 0 or 1, got values {np.unique(a[bad])[:5].tolist()}")
    return tree


def masks_like(tree, ref, name: str = "masks", ref_name: str = "params"):
    """Masks with the structure and leaf shapes of the params tree ``ref``, entries exactly 0/1."""
    same_tree(ref, tree, name, ref_name)
    return mask_values(tree, name)


def layers(tree, name: str = "params") -> tuple:
    """A params-like tree without a net: a tuple (or list) of dicts each holding a 2-D ``"W"``."""
    if isinstance(tree, dict) or not isinstance(tree, (tuple, list)) or not tree:
        raise TypeError(f"{name}: expected a tuple of {{'W': (out, in)[, 'b': (out,)]}} dicts, got {got(tree)}")
    for l, layer in enumerate(tree):
        if not isinstance(layer, dict) or "W" not in layer:
            raise TypeError(f"{name}[{l}]: expected a dict with a 'W' entry (out, in), got {got(layer)}")
        if np.ndim(layer["W"]) != 2:
            raise ValueError(f"{name}[{l}]['W']: expected a 2-D (out, in) array, got shape {tuple(np.shape(layer['W']))}")
    return tuple(tree)


def point(f, z, name: str = "z", *, f_name: str = "f", size: Optional[int] = None):
    """A finite ``(k,)`` vector at which ``f`` (a scalar function of ``(k,)`` vectors) can be evaluated.

    ``f`` is traced once with ``jax.eval_shape`` (no computation) so that a ``z`` of the wrong
    length is named here instead of deep inside JAX.

    Returns:
      ``z`` as a JAX array.
    """
    function(f, f_name)
    z = vector(z, name, size=size)
    try:
        out = jax.eval_shape(f, jnp.asarray(z))
    except Exception as e:  # noqa: BLE001 - whatever f raised, say where it came from
        text = str(e).strip().splitlines()
        raise ValueError(f"{name}: expected a point {f_name} accepts (e.g. space.flatten(params) of the same masks), got "
                         f"shape {tuple(np.shape(z))}; {f_name} raised {type(e).__name__}: {text[0][:160] if text else ''}") from None
    if tuple(getattr(out, "shape", (None,))) != ():
        raise ValueError(f"{f_name}: expected a function returning a scalar loss, got output shape "
                         f"{tuple(getattr(out, 'shape', ()))}")
    return jnp.asarray(z)


def key_or_seed(value, name: str = "key") -> jax.Array:
    """A PRNG key, or an integer seed in ``[0, 2**32)`` made into ``jax.random.key(seed)``."""
    if _is_int(value):
        return jax.random.key(seed(value, name))
    if isinstance(value, (float, str, type(None), bool, np.bool_)):
        raise TypeError(f"{name}: expected a PRNG key such as jax.random.key(0) or an integer seed in [0, 2**32), "
                        f"got {got(value)}")
    return key(value, name)
