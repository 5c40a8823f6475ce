"""CRPS-Sum: the CRPS of the sum over series, exact or in GluonTS's quantile-loss form."""

from __future__ import annotations

import numpy as np

from ._arrays import as_float_array, check_estimator, nanmean_observed, samples_and_target
from ._crps import crps_from_sorted

#: GluonTS's grid in the common CRPS-Sum code, ``(np.arange(20) / 20.0)[1:]``: 0.05, ..., 0.95.
GLUONTS_QUANTILES = tuple(float(q) for q in (np.arange(20) / 20.0)[1:])


def _series_scale(y: np.ndarray, normalize: bool, scale) -> np.ndarray | None:
    """The per-series normaliser, broadcastable to ``y`` (shape (..., T, N)), or None."""
    if scale is not None:
        s = as_float_array(scale, "scale")
        try:
            shape = np.broadcast_shapes(s.shape, y.shape)
        except ValueError:
            shape = None
        if shape != y.shape:
            raise ValueError(
                f"scale with shape {s.shape} does not broadcast to y's shape {y.shape}; "
                "pass one positive number per series, shape (N,)"
            )
        if not (np.isfinite(s).all() and (s > 0).all()):
            raise ValueError("scale must be finite and strictly positive")
        return s
    if not normalize:
        return None
    s = np.nansum(np.abs(y), axis=tuple(range(y.ndim - 1)))
    zero = np.flatnonzero(s == 0)
    if zero.size:
        raise ValueError(
            f"y: series {zero.tolist()} have zero absolute sum (all zero or all missing), so "
            "CRPS-Sum-N cannot normalise them; pass scale= explicitly"
        )
    return s


def _summed(samples, y, axis, normalize, scale):
    """Validate, normalise and sum over the series axis.

    Returns the summed ensemble ``(M, K)`` and target ``(K,)`` over the observed steps only.
    """
    x, y = samples_and_target(samples, y, axis, min_target_ndim=2)
    s = _series_scale(y, normalize, scale)
    if s is not None:
        x = x / s
        y = y / s
    y_sum = y.sum(axis=-1).reshape(-1)  # NaN if any series is missing at that step
    x_sum = x.sum(axis=-1).reshape(x.shape[0], -1)
    observed = ~np.isnan(y_sum)
    if not observed.any():
        raise ValueError("y has no time step at which every series is observed")
    return x_sum[:, observed], y_sum[observed]


def crps_sum(
    samples,
    y,
    axis: int = 0,
    normalize: bool = False,
    scale=None,
    estimator: str = "nrg",
) -> float:
    r"""CRPS-Sum (Salinas et al. 2019): exact CRPS of the sum over series, averaged over time.

    .. math:: \mathrm{CRPS\text{-}Sum} = \operatorname{mean}_t\,
              \mathrm{CRPS}\big(\hat F_t, \textstyle\sum_i y_{i,t}\big),

    where :math:`\hat F_t` is the empirical distribution of the summed members
    :math:`\sum_i x^{(m)}_{i,t}` and the CRPS is exact (see :func:`crps_ensemble`, the
    quantile-integral form of the NKF thesis, eq. S140, with M sorted samples). This is *not*
    GluonTS's ``m_sum_mean_wQuantileLoss``; that is :func:`crps_sum_quantile_loss`.

    ``normalize=True`` gives CRPS-Sum-N of the NKF thesis: each series ``i`` (target and
    members) is first divided by :math:`s_i = \sum |y_{i,\cdot}|`, the sum of its absolute
    target values over *all* the time steps (and leading axes) of ``y`` passed here. Which time
    range the thesis used for :math:`s_i` is unspecified; to use another one (e.g. the full
    series) pass ``scale`` explicitly.

    Parameters
    ----------
    samples : array_like, shape (M, ..., T, N)
        Ensemble of sample paths: M members (axis ``axis``), T time steps, N series (last
        axis). Leading axes between the sample and time axes (e.g. rolling windows) are treated
        like extra time steps. Must be finite.
    y : array_like, shape (..., T, N)
        Targets. A time step where any series is ``NaN`` (missing) is left out of the mean
        (its sum is undefined).
    axis : int
        Sample axis of ``samples``.
    normalize : bool
        Divide each series by the sum of its absolute target values first (CRPS-Sum-N).
    scale : array_like, optional
        Explicit normaliser, broadcastable to ``y`` (typically shape (N,), strictly positive);
        when given it is used instead of (and regardless of) ``normalize``.
    estimator : {"nrg", "fair"}
        CRPS estimator, as in :func:`crps_ensemble`.

    Returns
    -------
    float
        In units of ``y`` (dimensionless when normalised). Lower is better.
    """
    x_sum, y_sum = _summed(samples, y, axis, normalize, scale)
    check_estimator(estimator, x_sum.shape[0])
    return nanmean_observed(crps_from_sorted(np.sort(x_sum, axis=0), y_sum, estimator))


def gluonts_quantile(sorted_samples: np.ndarray, level: float) -> np.ndarray:
    """Empirical quantile as GluonTS's ``SampleForecast.quantile`` computes it.

    The member of rank ``int(np.round((M - 1) * level))`` (0-based) of the sorted ensemble:
    no interpolation, and ``np.round`` rounds halves to even (so with M = 100 the 0.5-quantile
    is the member of rank 50, not 49).
    """
    m = sorted_samples.shape[0]
    return sorted_samples[int(np.round((m - 1) * level))]


def crps_sum_quantile_loss(
    samples,
    y,
    quantiles=GLUONTS_QUANTILES,
    axis: int = 0,
    normalize: bool = False,
    scale=None,
) -> float:
    r"""CRPS-Sum as reported in the literature: GluonTS's ``m_sum_mean_wQuantileLoss``.

    A quantile-grid approximation of the CRPS of the sum over series, normalised by the total
    absolute summed target:

    .. math:: \frac{1}{|A|}\sum_{\alpha\in A}
              \frac{2\sum_t \big|(q_{\alpha,t} - Y_t)(\mathbf 1\{Y_t \le q_{\alpha,t}\}
              - \alpha)\big|}{\sum_t |Y_t|},
              \qquad Y_t = \sum_i y_{i,t},

    with :math:`A = \{0.05, 0.10, \dots, 0.95\}` by default and :math:`q_{\alpha,t}` the
    empirical quantile of the summed members by GluonTS's rule (:func:`gluonts_quantile`): the
    sorted member of rank ``int(np.round((M - 1) * alpha))``, no interpolation. This matches
    ``MultivariateEvaluator(quantiles=(np.arange(20)/20.0)[1:], target_agg_funcs={'sum':
    np.sum})``: there each rolling window is one item and the quantile losses and the
    absolute target sums are each summed over items before dividing, which is what pooling
    all leading axes and time steps here does.

    Parameters
    ----------
    samples : array_like, shape (M, ..., T, N)
        Ensemble (sample axis ``axis``), T steps, N series (last axis); leading axes (e.g.
        rolling windows) are pooled with time. Must be finite.
    y : array_like, shape (..., T, N)
        Targets. A step where any series is ``NaN`` is left out of numerator and denominator
        (GluonTS's pandas sum would instead skip the NaN series in the target only).
    quantiles : sequence of float in [0, 1]
        Quantile levels (default GluonTS's 0.05, ..., 0.95).
    axis : int
        Sample axis of ``samples``.
    normalize, scale
        As in :func:`crps_sum` (per-series normalisation before summing, CRPS-Sum-N style).

    Returns
    -------
    float
        Dimensionless. Lower is better.
    """
    levels = np.asarray(quantiles, dtype=np.float64)
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(f"quantiles must be a non-empty 1-d sequence, got {quantiles!r}")
    if not ((levels >= 0) & (levels <= 1)).all():
        raise ValueError(f"quantiles must lie in [0, 1], got {levels.tolist()}")
    x_sum, y_sum = _summed(samples, y, axis, normalize, scale)
    denom = np.abs(y_sum).sum()
    if denom == 0:
        raise ValueError("y: the summed target is zero at every observed step; the weighted "
                         "quantile loss divides by sum_t |sum_i y_it| and is undefined")
    xs = np.sort(x_sum, axis=0)
    losses = []
    for level in levels:
        q = gluonts_quantile(xs, float(level))
        losses.append(2.0 * np.abs((q - y_sum) * ((y_sum <= q) - level)).sum())
    return float(np.mean(losses) / denom)
