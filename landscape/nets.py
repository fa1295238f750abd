"""Masked MLPs as pure functions on pytrees, in the paper's notation.

Shapes follow the paper: data ``X`` is ``(d_x, n)`` and targets ``Y`` are
``(d_y, n)`` -- columns are samples. A network with ``sizes = (d_x, h_1, ...,
h_{L-1}, d_y)`` has ``L`` layers; layer ``l`` holds ``{"W": (h_l, h_{l-1})}``
and, when ``bias=True``, ``{"b": (h_l,)}``. Parameters are a tuple of such
dicts, and masks are a pytree of the same structure holding 0/1 values.

    h_0 = X,   h_l = σ(W_l h_{l-1} + b_l),   f(X) = W_L h_{L-1} + b_L

(no activation on the last layer). Every function here is written for one
network; batch over trials with ``jax.vmap``.

Example:
  >>> net = MLP((3, 2, 3), "tanh")
  >>> params = init(jax.random.key(0), net, masks)
  >>> loss(net, params, X, Y, masks)          # ½‖f(X) − Y‖_F²
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from landscape import validate
from landscape.activations import Activation, activation_name, get_activation

Params = tuple  # tuple of {"W": (out, in)[, "b": (out,)]} dicts
Masks = tuple  # same structure as Params, 0/1 entries

LOSSES = ("half_sum", "mean")
"""``"half_sum"``: ½‖f(X) − Y‖_F² (the paper's Eq. 1). ``"mean"``: the mean of
the squared entries, PyTorch's ``MSELoss()``; it equals ``half_sum · 2/(d_y n)``,
so the same learning rate takes smaller steps."""


@dataclasses.dataclass(frozen=True)
class MLP:
    """Static description of a fully connected network (hashable, jit-static).

    Attributes:
      sizes: ``(d_x, h_1, ..., h_{L-1}, d_y)``; at least two entries.
      activation: a name from ``landscape.ACTIVATIONS`` or a callable.
      bias: whether every layer has a (maskable) bias.
    """

    sizes: tuple
    activation: Activation = "relu"
    bias: bool = False

    def __post_init__(self):
        object.__setattr__(self, "sizes", validate.sizes(self.sizes))  # integers >= 1 (2.5, True, "3" refused)
        get_activation(self.activation)  # raises on an unknown name
        object.__setattr__(self, "bias", validate.boolean(self.bias, "bias"))

    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return len(self.sizes) - 1

    @property
    def sigma(self):
        return get_activation(self.activation)

    def to_dict(self) -> dict:
        return {"sizes": list(self.sizes), "activation": activation_name(self.activation), "bias": self.bias}


def shapes(net: MLP) -> tuple:
    """The params' shape tree: ``({"W": (h_1, d_x)[, "b": (h_1,)]}, ...)``."""
    out = []
    for fan_in, fan_out in zip(net.sizes[:-1], net.sizes[1:]):
        layer = {"W": (fan_out, fan_in)}
        if net.bias:
            layer["b"] = (fan_out,)
        out.append(layer)
    return tuple(out)


def n_params(net: MLP) -> int:
    """Number of entries of the params pytree (weights and biases, masked or not)."""
    return int(sum(np.prod(s) for s in jax.tree.leaves(shapes(net), is_leaf=_is_shape)))


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(i, int) for i in x)


def dense_masks(net: MLP, dtype=jnp.float32) -> Masks:
    """All-ones masks (the dense network)."""
    return jax.tree.map(lambda s: np.ones(s, dtype), shapes(net), is_leaf=_is_shape)


def masks_from_weights(weight_masks: Sequence[Any], bias_masks: Optional[Sequence[Any]] = None) -> Masks:
    """Builds the masks pytree from a list of ``(out, in)`` 0/1 matrices."""
    layers = []
    for l, m in enumerate(weight_masks):
        layer = {"W": jnp.asarray(m)}
        if bias_masks is not None:
            layer["b"] = jnp.asarray(bias_masks[l])
        layers.append(layer)
    return tuple(layers)


def apply_masks(params: Params, masks: Optional[Masks]) -> Params:
    """Zeros every masked entry exactly (``where``, so NaN or Inf cannot leak)."""
    if masks is None:
        return params
    return jax.tree.map(lambda p, m: jnp.where(m != 0, p, jnp.zeros_like(p)), params, masks)


FAN_INS = ("dense", "masked")
"""What ``init``'s bound ``1/√fan_in`` counts: every input of the layer (``nn.Linear``) or
only each neuron's unmasked inputs (the mask-aware init of Evci et al. 2022)."""


def init(key: jax.Array, net: MLP, masks: Optional[Masks] = None, *, scale: float = 1.0, dtype=jnp.float32,
         fan_in: str = "dense") -> Params:
    """PyTorch's default initialisation, masked.

    Each weight and bias of layer ``l`` is drawn from ``U(−k, k)``,
    ``k = 1/√fan_in`` (``nn.Linear``'s default), multiplied by ``scale`` (the
    paper uses ``scale=10`` for CIFAR-10), and zeroed where ``masks`` is 0.

    With ``fan_in="masked"`` the bound of neuron ``j`` counts only its unmasked
    inputs, ``k_j = 1/√(Σ_i M_ji)`` (1 for a neuron with none): a pruned layer then
    keeps the dense layer's output variance instead of shrinking it by about the
    density (the mask-aware init of Evci et al. 2022, "Gradient flow in sparse neural
    networks and how lottery tickets win"). Without masks both choices agree. The
    same uniform draw is used either way, so the two inits of one key differ only by a
    positive factor per neuron.

    Args:
      key: a PRNG key.
      net: the network.
      masks: optional 0/1 masks shaped like the params.
      scale: factor applied to every initial value.
      dtype: float dtype of the params.
      fan_in: ``"dense"`` (the layer's input count) or ``"masked"`` (each neuron's
        unmasked inputs).

    Returns:
      The params pytree.

    Raises:
      TypeError, ValueError: a bad key, net, masks (shape, not 0/1), scale (not a finite
        number > 0), dtype (not floating; float64 without x64) or fan_in, naming it.
    """
    key = validate.key(key)
    validate.net(net)
    if masks is not None:
        masks = validate.masks(net, masks)
    scale = validate.positive(scale, "scale")
    dtype = validate.float_dtype(dtype)
    validate.choice(fan_in, "fan_in", FAN_INS)
    # One uniform draw for the whole network (one PRNG call compiles much faster
    # than one per leaf), then cut into leaves.
    leaf_shapes = jax.tree.leaves(shapes(net), is_leaf=_is_shape)
    sizes = [int(np.prod(s)) for s in leaf_shapes]
    u = jax.random.uniform(key, (sum(sizes),), dtype, -1.0, 1.0)
    layers, offset = [], 0
    for l, layer_shapes in enumerate(shapes(net)):
        if fan_in == "masked" and masks is not None:  # (out, 1): one bound per neuron, from its unmasked inputs
            k = jnp.sum(jnp.asarray(masks[l]["W"], dtype), axis=1, keepdims=True)
            bound = scale / jnp.sqrt(jnp.maximum(k, 1))
        else:
            bound = float(scale / np.sqrt(layer_shapes["W"][1]))  # a Python float stays weakly typed
        layer = {}
        for name in ("W", "b"):
            if name in layer_shapes:
                n = int(np.prod(layer_shapes[name]))
                b = bound if name == "W" or isinstance(bound, float) else bound[:, 0]
                layer[name] = b * u[offset:offset + n].reshape(layer_shapes[name])
                offset += n
        layers.append(layer)
    return apply_masks(tuple(layers), masks)


_SMALL_MATMUL = 512  # out·in·n at or below this: broadcast-multiply-sum instead of a dot


def _matmul(W: jax.Array, h: jax.Array) -> jax.Array:
    """``W @ h``. For tiny layers (Table 3's 2×3 weights) a broadcast product
    and sum fuses with its neighbours into one loop under ``vmap``, where a
    batch of tiny dots costs a library call each (measured 5-10× faster on CPU,
    see benchmarks/RESULTS.md)."""
    if W.shape[0] * W.shape[1] * h.shape[1] <= _SMALL_MATMUL:
        return jnp.sum(W[:, :, None] * h[None, :, :], axis=1)
    return W @ h


def hidden_outputs(net: MLP, params: Params, X: jax.Array, masks: Optional[Masks] = None) -> list:
    """All layer outputs ``[h_1, ..., h_{L-1}, f(X)]``; ``h_l`` is ``(h_l, n)``.

    Arguments are validated as in ``apply``.
    """
    params, X, masks = _checked(net, params, X, masks)
    return _hidden_outputs(net, params, X, masks)


def _checked(net: MLP, params, X, masks) -> tuple:
    """``(params, X, masks)`` validated against ``net`` (shapes always; values when concrete)."""
    validate.net(net)
    params = validate.params(net, params)
    X, _ = validate.data(net, X)
    if not hasattr(X, "dtype") or isinstance(X, np.ndarray):
        X = jnp.asarray(X)
    if masks is not None:
        masks = validate.masks(net, masks)
    return params, X, masks


def _hidden_outputs(net: MLP, params: Params, X: jax.Array, masks: Optional[Masks]) -> list:
    sigma = net.sigma
    params = apply_masks(params, masks)
    h = X
    outs = []
    for l, layer in enumerate(params):
        z = _matmul(layer["W"], h)
        if "b" in layer:
            z = z + layer["b"][:, None]
        h = z if l == len(params) - 1 else sigma(z)
        outs.append(h)
    return outs


def apply(net: MLP, params: Params, X: jax.Array, masks: Optional[Masks] = None) -> jax.Array:
    """The network output ``f(X)``, shape ``(d_y, n)``.

    Args:
      net: the network.
      params: params pytree (see module docstring).
      X: ``(d_x, n)`` data, columns are samples.
      masks: optional 0/1 masks; masked entries count as exactly zero (their
        gradient is then exactly zero too).

    Raises:
      TypeError, ValueError: ``net`` not an MLP; ``params`` or ``masks`` of another
        structure or shape; ``X`` not ``(d_x, n)`` with ``n >= 1``; masks not exactly 0/1 or
        data not finite (these two on concrete arrays only: under ``jit``/``vmap``/``grad``
        shapes are checked when tracing, values cannot be).
    """
    return hidden_outputs(net, params, X, masks)[-1]


def loss_from_output(F: jax.Array, Y: jax.Array, loss: str = "half_sum") -> jax.Array:
    """``½‖F − Y‖_F²`` (``"half_sum"``) or ``mean((F − Y)²)`` (``"mean"``)."""
    r = F - Y
    if loss == "half_sum":
        return 0.5 * jnp.sum(r * r)
    if loss == "mean":
        return jnp.mean(r * r)
    raise ValueError(f"loss: unknown convention {loss!r}; expected one of {LOSSES}")


def loss(net: MLP, params: Params, X: jax.Array, Y: jax.Array, masks: Optional[Masks] = None, loss: str = "half_sum") -> jax.Array:
    """The training loss, a scalar: ``½‖f(X) − Y‖_F²`` (Eq. 1) for ``loss="half_sum"``,
    ``mean((f(X) − Y)²)`` (PyTorch's ``MSELoss``) for ``loss="mean"``.

    Arguments are validated as in ``apply``; ``Y`` must be exactly ``(d_y, n)`` (no
    broadcasting: a ``(d_y, 1)`` or ``(1, n)`` target is an error).
    """
    validate.choice(loss, "loss", LOSSES)
    params, X, masks = _checked(net, params, X, masks)
    _, Y = validate.data(net, X, Y)
    if not hasattr(Y, "dtype") or isinstance(Y, np.ndarray):
        Y = jnp.asarray(Y)
    return loss_from_output(_hidden_outputs(net, params, X, masks)[-1], Y, loss)


# ----------------------------------------------------------------------------- one array per entry

Entry = tuple
"""One parameter entry: ``(layer, "W", i, j)`` (row ``i``, column ``j`` of ``W_layer``) or ``(layer, "b", i)``."""


def entries(net: MLP, masks: Optional[Masks] = None) -> tuple:
    """The parameter entries, in the params' leaf order (row-major within a leaf).

    Args:
      net: the network.
      masks: concrete 0/1 masks shaped like the params (shared by all trials):
        only the unmasked entries are listed. ``None``: every entry.

    Returns:
      A tuple of ``Entry`` (hashable: usable as a static argument of ``jit``).
    """
    out = []
    for l, layer in enumerate(shapes(net)):
        for name in ("W", "b"):
            if name not in layer:
                continue
            m = None if masks is None else np.asarray(masks[l][name])
            for idx in np.ndindex(*layer[name]):
                if m is None or m[idx] != 0:
                    out.append((l, name, *(int(i) for i in idx)))
    return tuple(out)


def loss_per_entry(net: MLP, entries_: tuple, values, X: jax.Array, Y: jax.Array, loss: str = "half_sum") -> jax.Array:
    """The loss with every parameter entry and every sample written out (entries not listed are zero).

    The same function as ``loss(net, params, X, Y, masks)``, written entry by
    entry and sample by sample: for sample ``s``, neuron ``i`` of layer ``l`` is
    ``Σ_j W[i, j] · h_j[s] (+ b_i)`` over the listed entries only, in increasing
    ``j``; the loss adds up ``Σ_i (f_i[s] − Y[i, s])²`` (``i`` in order) over the samples in order.
    Every array has the shape of one value (``batch``), so every operation is
    elementwise over the trailing ``batch`` axes and there is no reduction at all:

    * many trials batch as a trailing axis without ``vmap`` (``vmap`` would put
      the trial axis first, next to tiny matrix axes, where XLA:CPU ran these
      shapes ~10× slower);
    * masked entries are never computed;
    * a trial's numbers do not depend on how many trials are batched with it:
      XLA:CPU fuses reductions differently above 16 KiB, which changed the last
      bits of a ``(n, T)`` layout between ``T = 1024`` and ``2048``; this form
      was bit-identical from 16 to 16384 trials (benchmarks/RESULTS.md, issue 12).

    The program grows with ``len(entries_) · n``: meant for small nets and few
    samples (``trials.choose_program``). Summation order differs from ``loss``
    (which multiplies whole matrices), so the two agree to rounding, not bit for bit.

    Args:
      net: the network (any depth, width, activation, bias).
      entries_: from ``entries(net, masks)`` (static).
      values: a sequence of arrays, one per entry, all of one shape ``batch``
        (``()`` for one network, ``(T,)`` for ``T`` trials).
      X: ``(d_x, n)`` data; Y: ``(d_y, n)`` targets.
      loss: ``"half_sum"`` or ``"mean"`` (see ``LOSSES``).

    Returns:
      The loss, shape ``batch``.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: unknown convention {loss!r}; expected one of {LOSSES}")
    if len(values) != len(entries_) or not len(values):
        raise ValueError(f"values: expected {len(entries_)} arrays (one per entry, at least one), got {len(values)}")
    sigma = net.sigma
    batch = jnp.shape(values[0])
    by_layer = [dict() for _ in range(net.depth)]
    for e, v in zip(entries_, values):
        by_layer[e[0]][e[1:]] = v
    total = None
    for s in range(X.shape[1]):
        h = [X[j, s] for j in range(net.sizes[0])]
        for l in range(net.depth):
            w, z = by_layer[l], []
            for i in range(net.sizes[l + 1]):
                acc = None
                for j in range(net.sizes[l]):
                    if ("W", i, j) in w:
                        t = w[("W", i, j)] * h[j]
                        acc = t if acc is None else acc + t
                if ("b", i) in w:
                    acc = w[("b", i)] if acc is None else acc + w[("b", i)]
                z.append(jnp.zeros((), X.dtype) if acc is None else acc)  # a neuron with no input: 0
            h = z if l == net.depth - 1 else [sigma(a) for a in z]
        sample = None
        for i, out in enumerate(h):
            r = out - Y[i, s]
            sample = r * r if sample is None else sample + r * r
        total = sample if total is None else total + sample
    total = jnp.broadcast_to(total, batch)
    if loss == "half_sum":
        return 0.5 * total
    return total / (Y.shape[0] * Y.shape[1])


def num_free(masks: Masks) -> int:
    """Number of unmasked (trainable) entries."""
    return int(sum(np.count_nonzero(np.asarray(m)) for m in jax.tree.leaves(masks)))


# ----------------------------------------------------------------------------- validation


# The checks themselves live in landscape.validate (one home for argument validation);
# these are the forms the analysis modules call: NumPy out, finite params, no all-zero layer.


def check_masks(net: MLP, masks: Masks, *, batched: bool = False) -> Masks:
    """Checks structure, shapes and 0/1 values (``validate.masks``); returns NumPy masks.

    Args:
      batched: masks carry a leading trial axis (one mask per trial).

    Raises:
      TypeError, ValueError: naming ``masks`` (the leaf) and what was expected; also a layer
        whose weights are all masked.
    """
    return validate.masks(net, masks, batched=batched, nonzero_layers=True, as_numpy=True)


def check_params(net: MLP, params: Params, *, batched: bool = False, name: str = "params") -> Params:
    """Checks that ``params`` match ``net``'s structure and shapes and are finite (``validate.params``)."""
    return validate.params(net, params, batched=batched, finite=True, name=name)


def check_data(net: MLP, X, Y) -> tuple:
    """Checks ``X`` is ``(d_x, n)``, ``Y`` is ``(d_y, n)`` (``n >= 1``), both real and finite
    (``validate.data``); returns NumPy arrays (integers become float32).

    Raises:
      TypeError, ValueError: naming ``X`` or ``Y``; a transposed ``(n, d_x)`` input is
        recognised and reported as such.
    """
    X, Y = validate.data(net, X, Y)
    out = []
    for A in (X, Y):
        A = np.asarray(A)
        out.append(A if np.issubdtype(A.dtype, np.floating) else A.astype(np.float32))
    return tuple(out)
