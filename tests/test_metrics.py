"""Forecast metrics against independent oracles: scoringrules, Pyro, brute force, quadrature."""

import numpy as np
import pytest
import scoringrules as sr
import torch
import xarray as xr
from pyro.ops.stats import crps_empirical
from scipy.integrate import quad

from probdyn.metrics import (
    GLUONTS_QUANTILES,
    crps_ensemble,
    crps_sum,
    crps_sum_quantile_loss,
    energy_score,
    gluonts_quantile,
    interval_coverage,
    mae,
    mse,
)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _brute_crps(x, y):
    """O(M^2) energy form for one point."""
    return np.abs(x - y).mean() - 0.5 * np.abs(x[:, None] - x[None, :]).mean()


def _pinball(level, q, y):
    return (level - (y < q)) * (y - q)


# ----------------------------------------------------------------------------- CRPS


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_crps_matches_scoringrules(rng, estimator):
    x = rng.standard_t(df=4, size=(37, 6, 3)) * 2.0 + 1.0
    y = rng.normal(size=(6, 3))
    ours = crps_ensemble(x, y, estimator=estimator)
    ref = sr.crps_ensemble(y, x, m_axis=0, estimator=estimator, backend="numpy")
    assert ours.shape == y.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    # same numbers with the sample axis last
    ours_last = crps_ensemble(np.moveaxis(x, 0, -1), y, axis=-1, estimator=estimator)
    np.testing.assert_allclose(ours_last, ref, rtol=0, atol=1e-10)


def test_crps_matches_brute_force_and_pyro(rng):
    x = rng.gamma(2.0, size=(25, 10))
    y = rng.gamma(2.0, size=10)
    brute = np.array([_brute_crps(x[:, j], y[j]) for j in range(10)])
    np.testing.assert_allclose(crps_ensemble(x, y), brute, rtol=0, atol=1e-12)
    pyro_ref = crps_empirical(torch.as_tensor(x), torch.as_tensor(y)).numpy()
    np.testing.assert_allclose(crps_ensemble(x, y), pyro_ref, rtol=0, atol=1e-12)
    # ties and M = 1 (CRPS of a point mass is the absolute error)
    x_tied = np.array([[1.0], [1.0], [2.0], [2.0], [2.0]])
    assert crps_ensemble(x_tied, np.array([1.5]))[0] == pytest.approx(
        _brute_crps(x_tied[:, 0], 1.5), abs=1e-14
    )
    np.testing.assert_allclose(crps_ensemble(x[:1], y), np.abs(x[0] - y), atol=1e-14)


def test_crps_equals_quantile_integral_by_quadrature(rng):
    """CRPS = int_0^1 2 pinball_alpha(F^{-1}(alpha), y) d alpha for the empirical quantile fn."""
    m = 15
    for _ in range(4):
        x = rng.normal(size=m)
        y = rng.normal()
        xs = np.sort(x)

        def integrand(a, xs=xs, y=y):
            q = xs[min(int(np.ceil(a * m)) - 1, m - 1)] if a > 0 else xs[0]
            return 2.0 * _pinball(a, q, y)

        total = sum(
            quad(integrand, i / m, (i + 1) / m, epsabs=1e-14, epsrel=1e-13)[0] for i in range(m)
        )
        assert crps_ensemble(x[:, None], np.array([y]))[0] == pytest.approx(total, abs=1e-10)


def test_nkf_check5_quantile_integral_equals_energy_form():
    """nkf.md section 7 check 5: midpoint rule over 200000 levels vs the energy form."""
    rng = np.random.default_rng(0)
    m, y = 100, 0.3
    x = np.sort(rng.normal(size=m))
    alphas = (np.arange(200000) + 0.5) / 200000
    q = x[np.minimum((alphas * m).astype(int), m - 1)]
    crps_q = 2.0 * _pinball(alphas, q, y).mean()
    ours = crps_ensemble(x[:, None], np.array([y]))[0]
    assert ours == pytest.approx(crps_q, abs=1e-4)
    assert ours == pytest.approx(_brute_crps(x, y), abs=1e-12)


def test_crps_inputs_torch_xarray_and_missing_targets(rng):
    x = rng.normal(size=(20, 8))
    y = rng.normal(size=8)
    ref = crps_ensemble(x, y)
    np.testing.assert_allclose(crps_ensemble(torch.as_tensor(x, dtype=torch.float32),
                                             torch.as_tensor(y)), ref, atol=1e-6)
    xa = xr.DataArray(x, dims=("sample", "time"))
    np.testing.assert_array_equal(crps_ensemble(xa, xr.DataArray(y, dims="time")), ref)
    y_missing = y.copy()
    y_missing[[1, 5]] = np.nan
    per_point = crps_ensemble(x, y_missing)
    assert np.isnan(per_point[[1, 5]]).all()
    keep = np.ones(8, bool)
    keep[[1, 5]] = False
    assert crps_ensemble(x, y_missing, reduce=True) == pytest.approx(ref[keep].mean(), abs=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        lambda x, y: crps_ensemble(x, y, reduce=True),
        lambda x, y: crps_sum(x, y),
        lambda x, y: crps_sum_quantile_loss(x, y),
        lambda x, y: energy_score(x, y, reduce=True),
        lambda x, y: mse(x, y),
        lambda x, y: mae(x, y),
        lambda x, y: interval_coverage(x, y),
    ],
)
def test_bad_input_raises(rng, call):
    x = rng.normal(size=(10, 4, 3))
    y = rng.normal(size=(4, 3))
    bad = x.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match="samples contains NaN"):
        call(bad, y)
    with pytest.raises(ValueError, match="y's shape"):
        call(x, y[:3])
    with pytest.raises(ValueError, match="y contains infinite"):
        call(x, np.where(y > 0, np.inf, y))
    with pytest.raises(ValueError, match="no observed|every series"):
        call(x, np.full_like(y, np.nan))


def test_bad_options_raise(rng):
    x = rng.normal(size=(10, 4, 3))
    y = rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match="estimator"):
        crps_ensemble(x, y, estimator="pwm")
    with pytest.raises(ValueError, match="fair"):
        crps_ensemble(x[:1], y, estimator="fair")
    with pytest.raises(ValueError, match="axis=5"):
        crps_ensemble(x, y, axis=5)
    with pytest.raises(ValueError, match="quantiles"):
        crps_sum_quantile_loss(x, y, quantiles=(0.5, 1.5))
    with pytest.raises(ValueError, match="level"):
        interval_coverage(x, y, level=1.0)
    with pytest.raises(ValueError, match="point"):
        mse(x, y, point="mode")
    with pytest.raises(ValueError, match="scale"):
        crps_sum(x, y, scale=np.ones(4))
    with pytest.raises(ValueError, match="scale"):
        crps_sum(x, y, scale=np.array([1.0, -1.0, 1.0]))
    y_zero = y.copy()
    y_zero[:, 1] = 0.0
    with pytest.raises(ValueError, match=r"series \[1\]"):
        crps_sum(x, y_zero, normalize=True)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        crps_sum(x[:, 0], y[0])


# ----------------------------------------------------------------------------- CRPS-Sum


def test_crps_sum_matches_scoringrules_on_sums(rng):
    x = rng.normal(size=(50, 7, 4)) + np.arange(4)
    y = rng.normal(size=(7, 4)) + np.arange(4)
    ref = sr.crps_ensemble(y.sum(-1), x.sum(-1), m_axis=0, estimator="nrg", backend="numpy")
    assert crps_sum(x, y) == pytest.approx(ref.mean(), abs=1e-10)


def test_crps_sum_of_point_mass_is_absolute_error_of_sums(rng):
    path = rng.normal(size=(9, 5))
    y = rng.normal(size=(9, 5))
    x = np.repeat(path[None], 12, axis=0)
    expected = np.abs(path.sum(-1) - y.sum(-1)).mean()
    assert crps_sum(x, y) == pytest.approx(expected, abs=1e-12)
    assert crps_sum(x[:1], y) == pytest.approx(expected, abs=1e-12)


def test_crps_sum_normalized(rng):
    x = rng.normal(size=(30, 6, 3)) * [1.0, 10.0, 100.0] + [0.0, 50.0, 500.0]
    y = rng.normal(size=(6, 3)) * [1.0, 10.0, 100.0] + [0.0, 50.0, 500.0]
    s = np.abs(y).sum(axis=0)
    by_hand = sr.crps_ensemble((y / s).sum(-1), (x / s).sum(-1), m_axis=0, backend="numpy")
    assert crps_sum(x, y, normalize=True) == pytest.approx(by_hand.mean(), abs=1e-12)
    # the normaliser makes the metric invariant to a positive rescaling of each series
    c = np.array([0.01, 3.0, 70.0])
    assert crps_sum(x * c, y * c, normalize=True) == pytest.approx(
        crps_sum(x, y, normalize=True), abs=1e-12
    )
    # an explicit scale (e.g. from the whole series) is used as given
    scale = s * 2.0
    assert crps_sum(x, y, scale=scale) == pytest.approx(by_hand.mean() / 2.0, abs=1e-12)


def test_crps_sum_missing_steps_are_left_out(rng):
    x = rng.normal(size=(20, 8, 3))
    y = rng.normal(size=(8, 3))
    y_missing = y.copy()
    y_missing[2, 1] = np.nan
    keep = np.arange(8) != 2
    assert crps_sum(x, y_missing) == pytest.approx(crps_sum(x[:, keep], y[keep]), abs=1e-14)
    assert crps_sum_quantile_loss(x, y_missing) == pytest.approx(
        crps_sum_quantile_loss(x[:, keep], y[keep]), abs=1e-14
    )


# ----------------------------------------------------------------------------- quantile form


def test_gluonts_quantile_rule():
    xs = np.arange(100.0)
    # rank int(np.round(99 * q)): halves round to even, so the median is member 50, not 49
    assert gluonts_quantile(xs, 0.5) == 50.0
    assert gluonts_quantile(xs, 0.05) == 5.0  # 4.95 -> 5
    assert gluonts_quantile(xs, 0.95) == 94.0  # 94.05 -> 94
    assert gluonts_quantile(np.arange(3.0), 0.25) == 0.0  # 0.5 -> 0 (even)
    assert gluonts_quantile(np.arange(3.0), 0.75) == 2.0  # 1.5 -> 2
    assert GLUONTS_QUANTILES == tuple((np.arange(20) / 20.0)[1:])


def test_crps_sum_quantile_loss_hand_computed():
    """M = 3, T = 2, N = 2, levels (0.1, 0.5, 0.9), worked out on paper: 3.1 / 10.5."""
    sums = np.array([[1.0, 0.0], [3.0, 4.0], [2.0, -2.0]])  # (M, T): member sums
    x = np.stack([sums - 0.5, np.full_like(sums, 0.5)], axis=-1)  # (M, T, N)
    y = np.array([[1.0, 1.5], [2.0, -1.0]])  # sums 2.5 and 1
    got = crps_sum_quantile_loss(x, y, quantiles=(0.1, 0.5, 0.9))
    assert got == pytest.approx(3.1 / 10.5, abs=1e-14)


def test_crps_sum_quantile_loss_matches_direct_loop(rng):
    x = rng.lognormal(size=(100, 2, 12, 5))  # (M, window, T, N)
    y = rng.lognormal(size=(2, 12, 5))
    y[0, 3, 2] = np.nan
    total_loss = {q: 0.0 for q in GLUONTS_QUANTILES}
    total_abs = 0.0
    for w in range(2):  # one GluonTS item per rolling window
        for t in range(12):
            target = y[w, t].sum()
            if np.isnan(target):
                continue
            members = sorted(x[:, w, t].sum(-1))
            total_abs += abs(target)
            for q in GLUONTS_QUANTILES:
                pred = members[int(round((100 - 1) * q))]  # no exact ties at M = 100
                total_loss[q] += 2.0 * abs((pred - target) * ((target <= pred) - q))
    expected = np.mean([total_loss[q] / total_abs for q in GLUONTS_QUANTILES])
    assert crps_sum_quantile_loss(x, y) == pytest.approx(expected, rel=1e-12)
    # CRPS-Sum-N in quantile form: the same after dividing each series by its scale
    s = np.nansum(np.abs(y), axis=(0, 1))
    assert crps_sum_quantile_loss(x, y, normalize=True) == pytest.approx(
        crps_sum_quantile_loss(x / s, y / s), rel=1e-12
    )


def test_quantile_form_approximates_exact_crps_sum(rng):
    """With a fine grid and many members, mean_alpha 2*pinball -> exact CRPS (times the weights)."""
    x = rng.normal(size=(4000, 5, 2)) + 3.0
    y = rng.normal(size=(5, 2)) + 3.0
    levels = (np.arange(999) + 0.5) / 999
    weighted = crps_sum_quantile_loss(x, y, quantiles=levels)
    approx = weighted * np.abs(y.sum(-1)).sum() / 5
    assert approx == pytest.approx(crps_sum(x, y), rel=2e-3)


# ----------------------------------------------------------------------------- energy score


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_energy_score_matches_scoringrules_and_brute_force(rng, estimator):
    x = rng.normal(size=(30, 5, 4)) @ rng.normal(size=(4, 4))
    y = rng.normal(size=(5, 4))
    ours = energy_score(x, y, estimator=estimator)
    ref = sr.es_ensemble(y, x, m_axis=0, v_axis=-1, estimator=estimator, backend="numpy")
    assert ours.shape == (5,)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    m = x.shape[0]
    norm = np.linalg.norm
    for t in range(5):
        acc = np.mean([norm(x[i, t] - y[t]) for i in range(m)])
        pairs = sum(norm(x[i, t] - x[j, t]) for i in range(m) for j in range(m))
        spread = pairs / (2 * m * m) if estimator == "nrg" else pairs / (2 * m * (m - 1))
        assert ours[t] == pytest.approx(acc - spread, abs=1e-12)


def test_energy_score_one_dimension_is_crps_and_missing(rng):
    x = rng.normal(size=(25, 6, 1))
    y = rng.normal(size=(6, 1))
    np.testing.assert_allclose(energy_score(x, y), crps_ensemble(x, y)[:, 0], atol=1e-12)
    x = rng.normal(size=(25, 6, 3))
    y = rng.normal(size=(6, 3))
    full = energy_score(x, y)
    y[4, 2] = np.nan
    part = energy_score(x, y)
    assert np.isnan(part[4]) and np.allclose(np.delete(part, 4), np.delete(full, 4))
    assert energy_score(x, y, reduce=True) == pytest.approx(np.delete(full, 4).mean(), abs=1e-14)


# ----------------------------------------------------------------------------- point metrics


def test_mse_mae_coverage_against_numpy(rng):
    x = rng.normal(size=(41, 10, 2))
    y = rng.normal(size=(10, 2))
    y[3, 0] = np.nan
    ok = ~np.isnan(y)
    assert mse(x, y) == pytest.approx(np.mean((x.mean(0) - y)[ok] ** 2), abs=1e-14)
    assert mse(x, y, point="median") == pytest.approx(
        np.mean((np.median(x, 0) - y)[ok] ** 2), abs=1e-14
    )
    assert mae(x, y) == pytest.approx(np.mean(np.abs(np.median(x, 0) - y)[ok]), abs=1e-14)
    assert mae(x, y, point="mean") == pytest.approx(np.mean(np.abs(x.mean(0) - y)[ok]), abs=1e-14)
    lo, hi = np.percentile(x, [5, 95], axis=0)
    inside = (y >= lo) & (y <= hi)
    assert interval_coverage(x, y, level=0.9) == pytest.approx(inside[ok].mean(), abs=1e-14)


def test_interval_coverage_is_calibrated_for_the_true_distribution():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1000, 4000))
    y = rng.normal(size=4000)
    # binomial sd of the fraction: sqrt(0.09 / 4000) ~ 0.005
    assert interval_coverage(x, y, level=0.9) == pytest.approx(0.9, abs=0.02)
    assert interval_coverage(x, y, level=0.5) == pytest.approx(0.5, abs=0.03)


def test_crps_sum_quantile_loss_matches_recorded_gluonts_output():
    """GluonTS 0.17.0 on the same data gave m_sum_mean_wQuantileLoss = 0.26289043038322985.

    Recorded with ``MultivariateEvaluator(quantiles=(np.arange(20) / 20.0)[1:],
    target_agg_funcs={"sum": np.sum})`` on three rolling windows (items), each a
    ``SampleForecast(samples=x[:, w])`` against a DataFrame holding ``y[w]`` as its last 24 rows
    (GluonTS is not a test dependency, so the number is pinned here).
    """
    rng = np.random.default_rng(3)
    x = rng.lognormal(size=(100, 3, 24, 5))  # (M, window, T, N)
    y = rng.lognormal(size=(3, 24, 5))
    assert crps_sum_quantile_loss(x, y) == pytest.approx(0.26289043038322985, rel=1e-12)
    # and its m_sum_MSE (ensemble mean of the summed members): 16.189685414736047
    assert mse(x.sum(-1), y.sum(-1)) == pytest.approx(16.189685414736047, rel=1e-12)
