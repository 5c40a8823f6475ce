"""Forecast-evaluation metrics for probabilistic forecasts given as ensembles (sample paths).

Inputs are numpy arrays, torch tensors or xarray DataArrays (converted to float64 numpy).
``samples`` has a sample axis (``axis``, default 0) and otherwise the shape of ``y``; for the
multivariate metrics the series axis is last: ``samples`` (M, T, N), ``y`` (T, N). ``NaN`` in
``y`` marks a missing observation and is left out of every average; ``NaN`` in ``samples``
raises ``ValueError``.

- :func:`crps_ensemble`: exact ensemble CRPS per point (O(M log M)).
- :func:`crps_sum`: exact CRPS-Sum (and CRPS-Sum-N with ``normalize=True``).
- :func:`crps_sum_quantile_loss`: GluonTS's ``m_sum_mean_wQuantileLoss`` (the published
  CRPS-Sum numbers).
- :func:`energy_score`: multivariate energy score over the series axis.
- :func:`mse`, :func:`mae`, :func:`interval_coverage`.
- :func:`relative_mse` (spec eq. S10, per frame or per pixel) and :func:`cosine_similarity`
  (eq. S11, per-pixel cosine of hidden vector fields): scores of a partially observed latent
  state (thesis 3.1).
- :func:`wasserstein_1d`, :func:`sliced_wasserstein`: distances between two samples (e.g.
  forecast draws and fresh draws of the true process), not scores against one target.
"""

from ._crps import crps_ensemble
from ._distance import sliced_wasserstein, wasserstein_1d
from ._energy import energy_score
from ._partial import cosine_similarity, relative_mse
from ._point import interval_coverage, mae, mse
from ._sum import GLUONTS_QUANTILES, crps_sum, crps_sum_quantile_loss, gluonts_quantile

__all__ = [
    "GLUONTS_QUANTILES",
    "cosine_similarity",
    "crps_ensemble",
    "crps_sum",
    "crps_sum_quantile_loss",
    "energy_score",
    "gluonts_quantile",
    "interval_coverage",
    "mae",
    "mse",
    "relative_mse",
    "sliced_wasserstein",
    "wasserstein_1d",
]
