"""Per-step Gaussian marginals (filter / smoother / forecast moments) to xarray."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ._arrays import check_no_nan, index_coord, to_numpy


def _leading_dims(batch_shape: tuple, dims: Sequence[str] | None, reserved: set) -> tuple:
    if dims is None:
        names = tuple(f"batch_{i}" for i in range(len(batch_shape)))
    else:
        names = tuple(dims)
        if len(names) != len(batch_shape):
            raise ValueError(
                f"dims names {len(names)} leading dimensions {names}, but loc has "
                f"{len(batch_shape)} leading dimensions (shape {batch_shape})"
            )
    clash = reserved.intersection(names)
    if clash or len(set(names)) != len(names):
        raise ValueError(f"dims {names} must be distinct and must not reuse {sorted(reserved)}")
    return names


def mvn_to_dataset(
    loc,
    cov=None,
    time=None,
    state_names=None,
    name: str = "state",
    dims: Sequence[str] | None = None,
    attrs: dict | None = None,
    symmetry_tol: float = 1e-8,
) -> xr.Dataset:
    """Per-step Gaussian marginals ``N(loc_t, cov_t)`` as an ``xarray.Dataset``.

    Parameters
    ----------
    loc : array_like or torch.Tensor, shape (..., T, d)
        Means. Alternatively a torch ``MultivariateNormal`` with batch shape (..., T) and event
        shape (d,), with ``cov`` left out.
    cov : array_like or torch.Tensor, shape (..., T, d, d)
        Covariances: symmetric (relative tolerance ``symmetry_tol``) with a non-negative
        diagonal, finite. The stored matrix is the symmetrised ``(cov + cov^T) / 2``.
    time : pandas.DatetimeIndex or sequence, length T, optional
        Time coordinate (default ``0..T-1``).
    state_names : sequence of str, length d, optional
        State coordinate (default ``0..d-1``).
    name : str
        Name of the state dimension; the second covariance axis is ``name + "_"``.
    dims : sequence of str, optional
        Names of the leading dimensions (default ``batch_0, batch_1, ...``).
    attrs : dict, optional
        Dataset attributes (units, provenance).
    symmetry_tol : float
        Allowed ``max|cov - cov^T| / max(1, max|cov|)``.

    Returns
    -------
    xarray.Dataset
        ``mean`` (..., time, name), ``variance`` (..., time, name) (the diagonal of ``cov``)
        and ``covariance`` (..., time, name, name_).
    """
    if cov is None:
        if not (hasattr(loc, "loc") and hasattr(loc, "covariance_matrix")):
            raise ValueError("cov is required unless loc is a MultivariateNormal distribution")
        loc, cov = loc.loc.expand(loc.batch_shape + loc.event_shape), loc.covariance_matrix
    mean = to_numpy(loc, "loc", float64=True)
    cov = to_numpy(cov, "cov", float64=True)
    if mean.ndim < 2:
        raise ValueError(f"loc must have shape (..., T, d), got {mean.shape}")
    n_time, d = mean.shape[-2:]
    if cov.shape != mean.shape + (d,):
        raise ValueError(f"cov must have shape {mean.shape + (d,)} to match loc, got {cov.shape}")
    check_no_nan(mean, "loc")
    check_no_nan(cov, "cov")
    asym = np.abs(cov - np.swapaxes(cov, -1, -2)).max(initial=0.0)
    if asym > symmetry_tol * max(1.0, np.abs(cov).max(initial=0.0)):
        raise ValueError(f"cov is not symmetric (max |cov - cov^T| = {asym:.3g})")
    cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    variance = np.diagonal(cov, axis1=-2, axis2=-1).copy()
    if (variance < 0).any():
        raise ValueError(f"cov has negative variances on its diagonal (min {variance.min():.3g})")
    state_dim, state_dim2 = name, f"{name}_"
    lead = _leading_dims(mean.shape[:-2], dims, {"time", state_dim, state_dim2})
    states = index_coord(state_names, d, "state_names")
    coords = {"time": index_coord(time, n_time, "time"), state_dim: states, state_dim2: states}
    return xr.Dataset(
        {
            "mean": (lead + ("time", state_dim), mean),
            "variance": (lead + ("time", state_dim), variance),
            "covariance": (lead + ("time", state_dim, state_dim2), cov),
        },
        coords=coords,
        attrs=dict(attrs or {}),
    )
