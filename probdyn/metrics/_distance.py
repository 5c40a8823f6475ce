"""Distances between two samples (point clouds): 1-D Wasserstein-1 and sliced Wasserstein."""

from __future__ import annotations

import numpy as np

from ._arrays import as_float_array


def _cloud(value, name: str, ndim: int) -> np.ndarray:
    x = as_float_array(value, name)
    if ndim == 2 and x.ndim == 1:
        x = x[:, None]
    if x.ndim != ndim or x.shape[0] < 1:
        shape = "(n,)" if ndim == 1 else "(n, D)"
        raise ValueError(f"{name} must be a non-empty array of shape {shape}, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def wasserstein_1d(u, v) -> float:
    r"""Wasserstein-1 distance between the empirical distributions of two 1-D samples.

    .. math:: W_1(\hat F_u, \hat F_v) = \int_{-\infty}^{\infty} |\hat F_u(x) - \hat F_v(x)|\,dx,

    with equal weights on the points of each sample (the sizes may differ). Computed exactly
    from the sorted union of the points in O((n + m) log(n + m)). Units of the data.

    Parameters
    ----------
    u : array_like, shape (n,)
    v : array_like, shape (m,)
        Finite values.

    Returns
    -------
    float
    """
    u, v = np.sort(_cloud(u, "u", 1)), np.sort(_cloud(v, "v", 1))
    return float(_w1_sorted(u[None], v[None])[0])


def _w1_sorted(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """W1 between rows of sorted samples ``u (P, n)`` and ``v (P, m)``: (P,)."""
    grid = np.sort(np.concatenate([u, v], axis=1), axis=1)  # (P, n + m)
    widths = np.diff(grid, axis=1)
    left = grid[:, :-1]
    cdf_u = np.stack([np.searchsorted(r, g, side="right") for r, g in zip(u, left)]) / u.shape[1]
    cdf_v = np.stack([np.searchsorted(r, g, side="right") for r, g in zip(v, left)]) / v.shape[1]
    return np.sum(np.abs(cdf_u - cdf_v) * widths, axis=1)


def sliced_wasserstein(x, y, num_projections: int = 200, seed: int = 0) -> float:
    r"""Sliced Wasserstein-1 distance between two samples in :math:`\mathbb R^D`.

    .. math:: SW_1(\hat P_x, \hat P_y) = \mathbb E_{\theta \sim U(S^{D-1})}
              W_1(\theta^\top \hat P_x, \theta^\top \hat P_y),

    estimated with ``num_projections`` directions drawn uniformly on the unit sphere (seeded),
    each 1-D distance exact (:func:`wasserstein_1d`). For D = 1 the directions are +-1 and the
    result is the exact 1-D distance. Zero iff the samples have the same empirical law (in the
    limit of many directions); lower is better; units of the data.

    Parameters
    ----------
    x : array_like, shape (n, D)
    y : array_like, shape (m, D)
        Finite points (a 1-D array is read as D = 1).
    num_projections : int
        Number of random directions.
    seed : int
        Seed of the directions (numpy generator).

    Returns
    -------
    float
    """
    x, y = _cloud(x, "x", 2), _cloud(y, "y", 2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and "
                         f"{y.shape[1]}")
    if isinstance(num_projections, bool) or int(num_projections) != num_projections \
            or num_projections < 1:
        raise ValueError(f"num_projections must be a positive integer, got {num_projections!r}")
    theta = np.random.default_rng(seed).standard_normal((int(num_projections), x.shape[1]))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    px, py = np.sort(theta @ x.T, axis=1), np.sort(theta @ y.T, axis=1)
    return float(np.mean(_w1_sorted(px, py)))
