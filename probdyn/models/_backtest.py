"""Rolling-origin evaluation as in the GluonTS ``*_nips`` benchmarks (spec §5.3-5.4)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ..metrics import crps_sum, crps_sum_quantile_loss


def rolling_windows(train_length: int, prediction_length: int, num_windows: int):
    """Forecast ranges ``[(start, stop), ...]``: window k covers steps
    ``train_length + k * prediction_length`` to ``+ prediction_length`` (GluonTS's rolling
    test set: each test entry is the training range extended by k + 1 windows)."""
    for name, v in (("train_length", train_length), ("prediction_length", prediction_length),
                    ("num_windows", num_windows)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return [(train_length + k * prediction_length, train_length + (k + 1) * prediction_length)
            for k in range(int(num_windows))]


def backtest(model, y, train_length=None, prediction_length=None, num_windows=None,
             num_samples=100, seed=0, progress=True, y_input=None) -> xr.Dataset:
    """Forecast each rolling test window from all data before it and score the ensemble.

    Parameters
    ----------
    model : LocalGlobalNKF
        A trained model (not retrained between windows).
    y : xarray.DataArray (time, series)
        The whole panel, training range then test range. For a ``*_nips`` dataset the
        defaults of the next three arguments come from its attrs (``y.attrs`` or the
        Dataset's, e.g. ``load('exchange_rate_nips')['rate']``).
    train_length, prediction_length, num_windows : int, optional
    num_samples : int
        Sample paths per window (100 in the paper).
    seed : int
        Window k uses seed ``seed + k``.
    y_input : xarray.DataArray (time, series), optional
        The panel the forecasts condition on, aligned with ``y`` (default ``y``): e.g. ``y``
        with observations removed (NaN) in a missing-data experiment. Targets always come
        from ``y``, which must be observed on the forecast ranges.

    Returns
    -------
    xarray.Dataset
        ``samples`` (window, sample, step, series), ``target`` (window, step, series) and the
        coordinate ``date`` (window, step). attrs: ``crps_sum_n_gluonts`` (GluonTS's
        ``m_sum_mean_wQuantileLoss`` after per-series normalisation), ``crps_sum_n_exact``
        (exact CRPS of the normalised sum, :func:`probdyn.metrics.crps_sum`),
        ``crps_sum_gluonts`` (no normalisation: GluonTS's number as it computes it); the
        normaliser is each series' sum of |target| over all test windows. Windows are pooled.
    """
    if not isinstance(y, xr.DataArray):
        raise ValueError("y must be an xarray.DataArray with dims (time, series)")
    attrs = y.attrs
    train_length = attrs.get("train_length") if train_length is None else train_length
    prediction_length = (attrs.get("prediction_length") if prediction_length is None
                         else prediction_length)
    num_windows = attrs.get("num_test_windows") if num_windows is None else num_windows
    if None in (train_length, prediction_length, num_windows):
        raise ValueError("train_length, prediction_length and num_windows must be given (or "
                         "be in y.attrs)")
    windows = rolling_windows(train_length, prediction_length, num_windows)
    y = y.transpose("time", "series")
    if windows[-1][1] > y.sizes["time"]:
        raise ValueError(f"y has {y.sizes['time']} steps but the last window ends at step "
                         f"{windows[-1][1]}")
    if y_input is None:
        y_input = y
    elif not isinstance(y_input, xr.DataArray) or y_input.transpose(
            "time", "series").shape != y.shape:
        raise ValueError(f"y_input must be a DataArray (time, series) of the shape of y "
                         f"{y.shape}")
    y_input = y_input.transpose("time", "series")
    samples, targets, dates = [], [], []
    for k, (start, stop) in enumerate(tqdm(windows, disable=not progress, desc="backtest")):
        fc = model.forecast(y_input.isel(time=slice(0, start)), stop - start,
                            future_time=y["time"].values[start:stop],
                            num_samples=num_samples, seed=seed + k)
        samples.append(fc["y"].values)
        targets.append(y.values[start:stop])
        dates.append(y["time"].values[start:stop])
    x = np.stack(samples, axis=1)  # (S, W, H, N)
    target = np.stack(targets)
    metrics = {
        "crps_sum_n_gluonts": crps_sum_quantile_loss(x, target, normalize=True),
        "crps_sum_n_exact": crps_sum(x, target, normalize=True),
        "crps_sum_gluonts": crps_sum_quantile_loss(x, target),
    }
    series = y["series"].values
    return xr.Dataset(
        {"samples": (("window", "sample", "step", "series"), x.transpose(1, 0, 2, 3)),
         "target": (("window", "step", "series"), target)},
        coords={"window": np.arange(len(windows)), "step": np.arange(windows[0][1]
                                                                       - windows[0][0]),
                "series": series, "date": (("window", "step"), np.stack(dates))},
        attrs={**metrics, "seed": int(seed), "num_samples": int(num_samples),
               "train_length": int(train_length), "prediction_length": int(prediction_length)},
    )
