"""Scores of a partially observed latent-state model (thesis 3.1, spec eq. S10 and S11)."""

from __future__ import annotations

import numpy as np

from ._arrays import as_float_array

NORMALISATIONS = ("frame", "pixel")


def _pair(a, b, names, channel_axis):
    a, b = as_float_array(a, names[0]), as_float_array(b, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has {b.shape}")
    if a.ndim < 3:
        raise ValueError(f"{names[0]} must have at least (channel, y, x) dims, got shape "
                         f"{a.shape}")
    if not -a.ndim <= channel_axis < a.ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for shape {a.shape}")
    for arr, name in ((a, names[0]), (b, names[1])):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return np.moveaxis(a, channel_axis, -3), np.moveaxis(b, channel_axis, -3)


def relative_mse(prediction, target, *, channel_axis: int = -3,
                 normalisation: str = "frame") -> float:
    """Relative MSE of observations (spec eq. S10), averaged over frames.

    ``prediction`` (``H(X_k)``) and ``target`` (``Y_k``) have the shape ``(..., C, y, x)``:
    the leading dims (trajectory, time) index frames, ``C`` is the channel axis.

    - ``"frame"`` (default): per frame, ``sum_x ||H(X)(x) - Y(x)||^2 / sum_x ||Y(x)||^2``
      (a ratio of sums over the grid), then the mean over frames.
    - ``"pixel"``: S10 as written, ``||H(X)(x) - Y(x)||^2 / ||Y(x)||^2`` per pixel, then the
      mean over pixels and frames. It blows up where ``Y(x)`` is near 0 (anomaly fields cross
      zero), so ``"frame"`` is the one to compare models with.

    Parameters
    ----------
    prediction, target : array_like, shape (..., C, y, x)
        Finite; numpy, torch or xarray.
    channel_axis : int
        Axis of the observation channels (the norm ``||.||`` is over it).
    normalisation : {"frame", "pixel"}

    Returns
    -------
    float
        Dimensionless; 0 for a perfect prediction, 1 for predicting 0.

    Raises
    ------
    ValueError
        Shape mismatch, non-finite input, or a zero denominator (a frame, or a pixel with
        ``"pixel"``, where the target is exactly 0).
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got "
                         f"{normalisation!r}")
    p, y = _pair(prediction, target, ("prediction", "target"), channel_axis)
    err = ((p - y) ** 2).sum(-3)  # (..., y, x)
    norm = (y**2).sum(-3)
    if normalisation == "frame":
        err, norm = err.sum((-2, -1)), norm.sum((-2, -1))
    if (norm == 0).any():
        where = "frame" if normalisation == "frame" else "pixel"
        raise ValueError(f"target is exactly 0 on some {where}: the relative MSE is undefined "
                         "there")
    return float((err / norm).mean())


def cosine_similarity(hidden, true_hidden, *, channel_axis: int = -3) -> float:
    """Mean per-pixel cosine similarity of hidden vector fields (spec eq. S11).

    ``<u(x), v(x)> / (||u(x)|| ||v(x)||)`` with the inner product over the channel axis (e.g.
    the two velocity components), averaged over pixels and the leading (trajectory, time)
    dims.

    Parameters
    ----------
    hidden : array_like, shape (..., C, y, x)
        The model's hidden state ``u``.
    true_hidden : array_like, shape (..., C, y, x)
        The true hidden state ``v``.
    channel_axis : int
        Axis of the vector components.

    Returns
    -------
    float
        In ``[-1, 1]``; invariant to positive rescaling of either field.

    Raises
    ------
    ValueError
        Shape mismatch, non-finite input, or a pixel where either vector is exactly 0 (the
        cosine is undefined there).
    """
    u, v = _pair(hidden, true_hidden, ("hidden", "true_hidden"), channel_axis)
    nu, nv = np.sqrt((u**2).sum(-3)), np.sqrt((v**2).sum(-3))
    for n, name in ((nu, "hidden"), (nv, "true_hidden")):
        if (n == 0).any():
            raise ValueError(f"{name} is the zero vector at some pixel: the cosine similarity "
                             "is undefined there")
    return float(((u * v).sum(-3) / (nu * nv)).mean())
