"""Point-forecast errors and interval coverage of an ensemble."""

from __future__ import annotations

import numpy as np

from ._arrays import nanmean_observed, samples_and_target


def _point_forecast(x: np.ndarray, point: str) -> np.ndarray:
    if point == "mean":
        return x.mean(axis=0)
    if point == "median":
        return np.median(x, axis=0)
    raise ValueError(f"point must be 'mean' or 'median', got {point!r}")


def mse(samples, y, axis: int = 0, point: str = "mean") -> float:
    """Mean squared error of the ensemble mean (or median).

    Parameters
    ----------
    samples : array_like, shape (M, ...)
        Ensemble (sample axis ``axis``); must be finite.
    y : array_like, shape (...)
        Targets; ``NaN`` (missing) entries are left out of the mean.
    axis : int
        Sample axis of ``samples``.
    point : {"mean", "median"}
        Point forecast: the ensemble mean (default; as GluonTS's ``MSE``) or ``np.median``.

    Returns
    -------
    float
        In squared units of ``y``.
    """
    x, y = samples_and_target(samples, y, axis)
    return nanmean_observed((_point_forecast(x, point) - y) ** 2)


def mae(samples, y, axis: int = 0, point: str = "median") -> float:
    """Mean absolute error of the ensemble median (or mean).

    Parameters
    ----------
    samples : array_like, shape (M, ...)
        Ensemble (sample axis ``axis``); must be finite.
    y : array_like, shape (...)
        Targets; ``NaN`` (missing) entries are left out of the mean.
    axis : int
        Sample axis of ``samples``.
    point : {"median", "mean"}
        Point forecast: ``np.median`` over members (default; the mean of the two middle members
        when M is even) or the ensemble mean.

    Returns
    -------
    float
        In units of ``y``.
    """
    x, y = samples_and_target(samples, y, axis)
    return nanmean_observed(np.abs(_point_forecast(x, point) - y))


def interval_coverage(
    samples, y, level: float = 0.9, axis: int = 0, method: str = "linear"
) -> float:
    """Fraction of targets inside the central ``level`` interval of the ensemble.

    The interval is ``[q_{(1-level)/2}, q_{(1+level)/2}]`` (closed), with quantiles from
    ``np.quantile(samples, ..., method=method)`` over the members (default: linear
    interpolation between order statistics). A calibrated forecast gives about ``level``.

    Parameters
    ----------
    samples : array_like, shape (M, ...)
        Ensemble (sample axis ``axis``); must be finite.
    y : array_like, shape (...)
        Targets; ``NaN`` (missing) entries are left out of the fraction.
    level : float in (0, 1)
        Nominal coverage of the central interval.
    axis : int
        Sample axis of ``samples``.
    method : str
        Quantile method passed to ``np.quantile``.

    Returns
    -------
    float in [0, 1]
    """
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    x, y = samples_and_target(samples, y, axis)
    tail = (1.0 - float(level)) / 2.0
    lower, upper = np.quantile(x, [tail, 1.0 - tail], axis=0, method=method)
    inside = ((y >= lower) & (y <= upper)).astype(np.float64)
    inside[np.isnan(y)] = np.nan
    return nanmean_observed(inside)
