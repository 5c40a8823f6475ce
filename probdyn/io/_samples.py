"""Forecast ensembles (sample paths) to xarray, and their summaries."""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from ._arrays import check_no_nan, index_coord, to_numpy


def samples_to_dataset(
    samples,
    time=None,
    series=None,
    name: str = "y",
    attrs: dict | None = None,
) -> xr.Dataset:
    """A forecast ensemble as an ``xarray.Dataset`` with dims ``sample``, ``time``, ``series``.

    Parameters
    ----------
    samples : array_like or torch.Tensor, shape (M, T, N) or (M, T)
        Sample paths: M members, T steps, N series (a 2-d input has no ``series`` dim).
        Must be finite.
    time : pandas.DatetimeIndex or sequence, length T, optional
        Time coordinate (default ``0..T-1``).
    series : sequence, length N, optional
        Series coordinate, e.g. names (default ``0..N-1``).
    name : str
        Name of the data variable.
    attrs : dict, optional
        Attributes of the variable (units, provenance).

    Returns
    -------
    xarray.Dataset
        One variable ``name`` with dims (sample, time[, series]) and coordinates.
    """
    values = to_numpy(samples, "samples", float64=False)
    if values.ndim not in (2, 3):
        raise ValueError(f"samples must have shape (M, T, N) or (M, T), got {values.shape}")
    check_no_nan(values, "samples")
    dims = ("sample", "time", "series")[: values.ndim]
    coords = {"sample": index_coord(None, values.shape[0], "sample"),
              "time": index_coord(time, values.shape[1], "time")}
    if values.ndim == 3:
        coords["series"] = index_coord(series, values.shape[2], "series")
    elif series is not None:
        raise ValueError("series was given but samples has no series axis (shape (M, T))")
    var = xr.DataArray(values, dims=dims, coords=coords, attrs=dict(attrs or {}))
    return xr.Dataset({name: var})


def add_summaries(
    ds: xr.Dataset,
    var: str = "y",
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
    dim: str = "sample",
) -> xr.Dataset:
    """Add the ensemble mean and quantiles of ``ds[var]`` over ``dim``.

    Adds ``{var}_mean`` (the other dims) and ``{var}_quantiles`` (``quantile``, other dims);
    quantiles are ``xarray.DataArray.quantile`` (linear interpolation between order
    statistics, numpy's default). Returns a new Dataset; ``ds`` is not modified.
    """
    if var not in ds:
        raise ValueError(f"var {var!r} is not a variable of ds (has {list(ds.data_vars)})")
    if dim not in ds[var].dims:
        raise ValueError(f"dim {dim!r} is not a dimension of ds[{var!r}] {ds[var].dims}")
    levels = [float(q) for q in quantiles]
    if not levels or not all(0.0 <= q <= 1.0 for q in levels):
        raise ValueError(f"quantiles must be a non-empty sequence in [0, 1], got {quantiles!r}")
    data = ds[var]
    return ds.assign(
        {f"{var}_mean": data.mean(dim), f"{var}_quantiles": data.quantile(levels, dim=dim)}
    )
