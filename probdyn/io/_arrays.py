"""Conversion of torch tensors / numpy arrays / xarray objects to numpy, and coordinate checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def to_numpy(value, name: str, float64: bool = False) -> np.ndarray:
    """Return ``value`` as a numpy array (torch tensors are detached and moved to CPU).

    Integer and boolean dtypes are kept unless ``float64``; torch half precision types become
    float32 (numpy has no bfloat16). ``ValueError`` naming ``name`` for non-numeric input.
    """
    if isinstance(value, xr.DataArray):
        value = value.values
    elif hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        value = value.detach().cpu()
        if value.is_floating_point() and value.element_size() < 4:
            value = value.float()
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if float64:
        arr = arr.astype(np.float64, copy=False)
    return arr


def check_no_nan(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def index_coord(values, size: int, name: str):
    """A coordinate of length ``size``: ``arange(size)`` if ``values`` is None.

    A ``pandas.DatetimeIndex`` (or any pandas Index) is kept as is; other sequences become
    numpy arrays. ``ValueError`` naming ``name`` on a length mismatch or duplicates.
    """
    if values is None:
        return np.arange(size)
    if isinstance(values, xr.DataArray):
        values = values.values
    if not isinstance(values, pd.Index):
        if hasattr(values, "detach"):
            values = values.detach().cpu().numpy()
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    if len(values) != size:
        raise ValueError(f"{name} has length {len(values)}, but the data have {size} entries")
    if len(pd.Index(values).unique()) != size:
        raise ValueError(f"{name} contains duplicate entries")
    return values
