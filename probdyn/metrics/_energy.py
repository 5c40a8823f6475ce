"""Energy score of a multivariate ensemble."""

from __future__ import annotations

import numpy as np

from ._arrays import check_estimator, reduce_or_return, samples_and_target


def energy_score(samples, y, axis: int = 0, estimator: str = "nrg", reduce: bool = False):
    r"""Energy score of an ensemble forecast of vectors (multivariate over the last axis).

    .. math:: \mathrm{ES}(F, \mathbf y) = \frac1M\sum_m \|\mathbf x_m - \mathbf y\|
              - \frac{1}{2M^2}\sum_{m,k}\|\mathbf x_m - \mathbf x_k\|,

    with the Euclidean norm over the series axis: scoringrules' ``es_ensemble`` with
    ``estimator="nrg"`` (the exact energy score of the empirical distribution; for N = 1 it is
    the CRPS). ``estimator="fair"`` divides the second term by ``2 M (M - 1)`` instead, the
    unbiased estimator (scoringrules' ``"fair"``). The pairwise term is computed exactly in
    O(M^2 N) per point, looping over members so memory stays O(M N) per point. Lower is
    better; units of ``y``.

    Parameters
    ----------
    samples : array_like, shape (M, ..., N)
        Ensemble, e.g. (M, T, N): M members (axis ``axis``), T time steps, N series (last
        axis, the vector the score is taken over). Must be finite.
    y : array_like, shape (..., N)
        Observed vectors, e.g. (T, N). A vector with any ``NaN`` entry (missing) scores
        ``NaN`` and is left out of the mean when ``reduce=True``.
    axis : int
        Sample axis of ``samples``.
    estimator : {"nrg", "fair"}
    reduce : bool
        If True, return the mean over observed vectors as a float.

    Returns
    -------
    ndarray of shape ``y.shape[:-1]`` (NaN where ``y`` has a NaN), or float if ``reduce``.
    """
    x, y = samples_and_target(samples, y, axis, min_target_ndim=1)
    m = x.shape[0]
    check_estimator(estimator, m)
    accuracy = np.mean(np.linalg.norm(x - y, axis=-1), axis=0)
    pair_sum = np.zeros(y.shape[:-1])
    for i in range(m - 1):  # sum over unordered pairs i < k, doubled below
        pair_sum += np.linalg.norm(x[i + 1 :] - x[i], axis=-1).sum(axis=0)
    denom = float(m) * m if estimator == "nrg" else float(m) * (m - 1)
    scores = accuracy - pair_sum / denom  # 1/2 * (2 * pair_sum) / denom
    return reduce_or_return(scores, reduce)
