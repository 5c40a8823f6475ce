"""Writing results to netCDF with attributes made storable."""

from __future__ import annotations

import datetime
import json
import numbers
import os
from pathlib import Path

import numpy as np
import xarray as xr


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def netcdf_attr(value):
    """Convert one attribute value to something netCDF can store.

    - ``str``, ints, floats (python or numpy) and 1-d numeric arrays/lists are kept;
    - ``bool`` (python or numpy) becomes the int ``1`` / ``0``;
    - ``None`` becomes the string ``"None"``;
    - dates and times become ISO 8601 strings;
    - a list/tuple of strings is kept as a list of strings;
    - anything else (dicts, nested or mixed lists, objects) becomes a JSON string
      (objects JSON cannot encode are written with ``str``).
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Real):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (datetime.date, datetime.datetime, np.datetime64)):
        return str(np.datetime64(value)) if isinstance(value, np.datetime64) else value.isoformat()
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value, dtype=object if isinstance(value, (list, tuple)) else None)
        if arr.size == 0:
            return "[]"
        if arr.ndim == 1 and all(isinstance(v, str) for v in arr.tolist()):
            return [str(v) for v in arr.tolist()]
        if arr.ndim == 1 and all(
            isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_))
            for v in arr.tolist()
        ):
            return np.asarray(arr.tolist())
        if arr.dtype.kind == "b" and arr.ndim == 1:
            return arr.astype(np.int8)
    if isinstance(value, Path):
        return str(value)
    return json.dumps(value, default=_json_default, sort_keys=True)


def _clean_attrs(attrs: dict) -> dict:
    return {str(k): netcdf_attr(v) for k, v in attrs.items()}


def _clean_dataset(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy(deep=False)
    ds.attrs = _clean_attrs(ds.attrs)
    for name in list(ds.variables):
        ds[name].attrs = _clean_attrs(ds[name].attrs)
    return ds


def write_netcdf(obj, path, **kwargs) -> Path:
    """Write a Dataset, DataArray, DataTree or ArviZ InferenceData to a netCDF file.

    Parent directories are created. Attributes netCDF cannot hold are converted (see
    :func:`netcdf_attr`: dicts become JSON strings, ``None`` the string ``"None"``, booleans
    ``1``/``0``) on a shallow copy; ``obj`` is not modified.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataArray, xarray.DataTree or arviz.InferenceData
    path : str or path-like
        Target file (overwritten if it exists).
    **kwargs
        Passed to ``to_netcdf`` (e.g. ``encoding``); the engine defaults to ``netcdf4``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(os.fspath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, xr.DataArray):
        obj = obj.to_dataset(name=obj.name if obj.name is not None else "data")
    if isinstance(obj, xr.Dataset):
        kwargs.setdefault("engine", "netcdf4")
        _clean_dataset(obj).to_netcdf(path, **kwargs)
        return path
    if isinstance(obj, xr.DataTree):
        kwargs.setdefault("engine", "netcdf4")
        tree = obj.copy()
        for node in tree.subtree:
            node.dataset = _clean_dataset(node.to_dataset(inherit=False))
        tree.to_netcdf(path, **kwargs)
        return path
    if hasattr(obj, "groups") and hasattr(obj, "to_netcdf"):  # arviz.InferenceData (0.x)
        import arviz

        groups = {g: _clean_dataset(getattr(obj, g)) for g in obj.groups()}
        arviz.InferenceData(**groups).to_netcdf(str(path), **kwargs)
        return path
    raise ValueError(
        f"obj must be an xarray Dataset/DataArray/DataTree or arviz InferenceData, got {type(obj)}"
    )
