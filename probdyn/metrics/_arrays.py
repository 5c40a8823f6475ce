"""Input conversion and validation shared by the metrics."""

from __future__ import annotations

import numpy as np
import xarray as xr


def as_float_array(value, name: str) -> np.ndarray:
    """Convert a numpy array, torch tensor, xarray DataArray or nested list to float64 numpy.

    Raises ``ValueError`` naming ``name`` when the input cannot be read as real numbers.
    """
    if isinstance(value, xr.Dataset):
        raise ValueError(f"{name} must be an array or DataArray, got an xarray.Dataset")
    if isinstance(value, xr.DataArray):
        value = value.values
    elif hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor, without importing it
        if getattr(value, "is_complex", lambda: False)():
            raise ValueError(f"{name} must be real-valued, got a complex tensor")
        value = value.detach().cpu().double().numpy()
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    try:
        return arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must contain numbers, got dtype {arr.dtype}") from err


def samples_and_target(samples, y, axis: int = 0, min_target_ndim: int = 0):
    """Validate an ensemble and its target; return ``(x, y)`` with the sample axis first.

    Parameters
    ----------
    samples : array_like
        Ensemble with a sample axis ``axis``; the other axes must equal ``y``'s shape.
    y : array_like
        Target; ``NaN`` marks a missing observation.
    axis : int
        Sample axis of ``samples``.
    min_target_ndim : int
        Smallest allowed ``y.ndim`` (e.g. 2 for ``(T, N)`` metrics).

    Returns
    -------
    x : ndarray, shape (M, *y.shape)
    y : ndarray
    """
    x = as_float_array(samples, "samples")
    y = as_float_array(y, "y")
    if x.ndim == 0:
        raise ValueError("samples must have a sample axis, got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis} is out of range for samples with shape {x.shape}")
    x = np.moveaxis(x, axis, 0)
    if x.shape[0] < 1:
        raise ValueError("samples has an empty sample axis (M = 0)")
    if x.shape[1:] != y.shape:
        raise ValueError(
            f"samples without its sample axis (axis={axis}) has shape {x.shape[1:]}, "
            f"which does not match y's shape {y.shape}"
        )
    if y.ndim < min_target_ndim:
        raise ValueError(f"y must have at least {min_target_ndim} dimensions, got shape {y.shape}")
    if np.isnan(x).any():
        raise ValueError("samples contains NaN; ensemble members must be finite")
    if not np.isfinite(x).all():
        raise ValueError("samples contains infinite values")
    if np.isinf(y).any():
        raise ValueError("y contains infinite values (use NaN for missing observations)")
    return x, y


def nanmean_observed(values: np.ndarray, name: str = "y") -> float:
    """Mean over the finite entries; ``ValueError`` if there are none (all targets missing)."""
    observed = ~np.isnan(values)
    if not observed.any():
        raise ValueError(f"{name} has no observed (non-NaN) values to average over")
    return float(values[observed].mean())


def reduce_or_return(values: np.ndarray, reduce: bool):
    """Return per-point values, or their mean over observed points when ``reduce``."""
    if reduce:
        return nanmean_observed(values)
    return values


def check_estimator(estimator: str, m: int) -> None:
    if estimator not in ("nrg", "fair"):
        raise ValueError(f"estimator must be 'nrg' or 'fair', got {estimator!r}")
    if estimator == "fair" and m < 2:
        raise ValueError(f"estimator='fair' needs at least 2 samples, got M = {m}")
