"""Small helpers shared by the loaders: reading CSVs and building xarray objects."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr


def read_csv(path: Path, columns: Sequence[str], **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` that checks the expected columns are present."""
    frame = pd.read_csv(path, **kwargs)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: expected columns {list(columns)}, missing {missing} "
            f"(found {list(frame.columns)}); is this the registered file?"
        )
    return frame


def year_coord(years) -> xr.DataArray:
    """Integer calendar-year ``time`` coordinate, checked to be consecutive."""
    years = np.asarray(years)
    as_int = np.round(years).astype(np.int64)
    if not np.allclose(years, as_int) or np.any(np.diff(as_int) != 1):
        raise ValueError("years must be consecutive integers")
    return xr.DataArray(as_int, dims="time", attrs={"long_name": "calendar year"})


def month_starts(first: str, n: int) -> pd.DatetimeIndex:
    """``n`` consecutive month starts from ``first`` (``"YYYY-MM"``)."""
    return pd.date_range(pd.Timestamp(first), periods=n, freq="MS")


def series_dataset(
    name: str,
    values: np.ndarray,
    time,
    *,
    units: str,
    long_name: str,
    series: Sequence[str] | None = None,
) -> xr.Dataset:
    """Wrap ``values`` (time,) or (time, series) as a one-variable dataset.

    Parameters
    ----------
    name : str
        Data variable name.
    values : ndarray
        float64 values, ``NaN`` for missing.
    time : array-like or DataArray
        ``time`` coordinate, length ``values.shape[0]``.
    units, long_name : str
        Attributes of the data variable.
    series : sequence of str, optional
        Names for the ``series`` coordinate (required when ``values`` is 2-D).
    """
    values = np.asarray(values, dtype=np.float64)
    dims = ("time",) if values.ndim == 1 else ("time", "series")
    if not isinstance(time, xr.DataArray):
        time = np.asarray(time)
        if time.dtype.kind == "M":  # one resolution whatever the pandas version
            time = time.astype("datetime64[ns]")
        time = xr.DataArray(time, dims="time")
    coords = {"time": time}
    if values.ndim == 2:
        if series is None or len(series) != values.shape[1]:
            raise ValueError(f"series must name the {values.shape[1]} columns, got {series!r}")
        coords["series"] = list(series)
    var = xr.DataArray(values, dims=dims, attrs={"units": units, "long_name": long_name})
    return xr.Dataset({name: var}, coords=coords)
