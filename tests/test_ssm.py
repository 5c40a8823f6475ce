"""Structural components against statsmodels' UnobservedComponents/SARIMAX (system matrices,
log-likelihoods with known and exact diffuse initialisation, smoothed components, forecasts),
a brute-force joint Gaussian for the one-hot seasonal, and the kappa -> infinity limit of the
diffuse likelihood."""

import math

import numpy as np
import pytest
import torch

from probdyn.ssm import (
    Autoregressive,
    Level,
    LocalLinearTrend,
    Regression,
    Seasonal,
    StructuralTimeSeries,
    coefficients_to_pacf,
    diffuse_log_likelihood,
    pacf_to_coefficients,
    stationary_covariance,
)

sm = pytest.importorskip("statsmodels.api")
D64 = torch.float64


def _np(x):
    return x.detach().numpy()


@pytest.fixture(autouse=True)
def _float64():
    """Build the modules in float64 so that their initial values are exact."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _load(name, var):
    data = pytest.importorskip("probdyn.data")
    try:
        return data.load(name)[var].values.astype(float)
    except (FileNotFoundError, OSError) as e:  # data directory absent
        pytest.skip(f"dataset {name!r} not available: {e}")


@pytest.fixture(scope="module")
def nile():
    return _load("nile", "volume")


@pytest.fixture(scope="module")
def co2():
    return _load("co2", "co2")


# ------------------------------------------------------------------ model catalogue
# name -> (statsmodels UnobservedComponents kwargs, probdyn components, statsmodels params)
# statsmodels orders states level, trend, seasonal, freq_seasonal, autoregressive, exog;
# the probdyn lists follow that order so that the state vectors coincide.
CASES = {
    "level": (dict(level="llevel"), lambda: [Level(0.3)], [0.5, 0.3]),
    "trend": (dict(level="lltrend"), lambda: [LocalLinearTrend(0.3, 0.02)], [0.5, 0.3, 0.02]),
    "smooth_trend": (
        dict(level="smooth trend"),
        lambda: [LocalLinearTrend(slope_variance=0.02, stochastic_level=False)],
        [0.5, 0.02],
    ),
    "dummy_seasonal": (
        dict(level="llevel", seasonal=5),
        lambda: [Level(0.3), Seasonal(5, seasonal_variance=0.1)],
        [0.5, 0.3, 0.1],
    ),
    "trig_seasonal": (
        dict(level="llevel", freq_seasonal=[{"period": 7, "harmonics": 2}]),
        lambda: [Level(0.3), Seasonal(7, "trigonometric", harmonics=2, seasonal_variance=0.1)],
        [0.5, 0.3, 0.1],
    ),
    "trig_fractional": (
        dict(level="llevel", freq_seasonal=[{"period": 5.5, "harmonics": 2}]),
        lambda: [Level(0.3), Seasonal(5.5, "trigonometric", harmonics=2, seasonal_variance=0.1)],
        [0.5, 0.3, 0.1],
    ),
    "ar2": (
        dict(level="llevel", autoregressive=2),
        lambda: [Level(0.3), Autoregressive(2, [0.5, -0.3], ar_variance=0.7)],
        [0.5, 0.3, 0.7, 0.5, -0.3],
    ),
    "everything": (
        dict(level="lltrend", seasonal=4, freq_seasonal=[{"period": 6, "harmonics": 2}],
             autoregressive=1),
        lambda: [LocalLinearTrend(0.3, 0.02), Seasonal(4, seasonal_variance=0.1),
                 Seasonal(6, "trigonometric", harmonics=2, seasonal_variance=0.2),
                 Autoregressive(1, [0.6], ar_variance=0.4)],
        [0.5, 0.3, 0.02, 0.1, 0.2, 0.4, 0.6],
    ),
}


def _models(case, y, exact_diffuse=False):
    kwargs, components, params = CASES[case]
    mod = sm.tsa.UnobservedComponents(y, use_exact_diffuse=exact_diffuse, **kwargs)
    mod.update(np.asarray(params, dtype=float))
    ours = StructuralTimeSeries(components(), observation_variance=params[0]).to(D64)
    return mod, ours, params


@pytest.mark.parametrize("case", sorted(CASES))
def test_system_matrices_match_statsmodels(case):
    y = np.random.default_rng(0).normal(size=30)
    mod, ours, _ = _models(case, y)
    s = ours.system(30)
    Z = mod.ssm["design"]
    Rsel, Qs = mod.ssm["selection"], mod.ssm["state_cov"]
    np.testing.assert_allclose(_np(s.transition_matrix[0]), mod.ssm["transition"], atol=1e-14)
    np.testing.assert_allclose(_np(s.observation_matrix[0]), Z, atol=1e-14)
    np.testing.assert_allclose(_np(s.transition_cov[0]), Rsel @ Qs @ Rsel.T, atol=1e-14)
    np.testing.assert_allclose(_np(s.observation_cov[0]), mod.ssm["obs_cov"], atol=1e-14)
    # initial state: statsmodels' approximate diffuse variance on the diffuse block and the
    # stationary covariance (its own Lyapunov solver) on the AR block
    mean, _, expected = mod.ssm.initialization(model=mod.ssm)  # includes the 1e6 block
    P0 = _np(ours.ssm(30).initial_cov)
    np.testing.assert_allclose(P0, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(s.diffuse.numpy(), np.diag(expected) == 1e6)
    np.testing.assert_allclose(_np(s.initial_loc), mean, atol=0)


def test_trigonometric_full_harmonics_drops_unobservable_state():
    """Even period, harmonics = period / 2: statsmodels keeps the never-observed sine state of
    the last harmonic; probdyn drops it. All other entries coincide."""
    y = np.random.default_rng(1).normal(size=20)
    mod = sm.tsa.UnobservedComponents(y, level="llevel", freq_seasonal=[{"period": 4}])
    mod.update([0.5, 0.3, 0.1])
    ours = StructuralTimeSeries([Level(0.3), Seasonal(4, "trigonometric", seasonal_variance=0.1)],
                                observation_variance=0.5).to(D64)
    s = ours.system(20)
    keep = [0, 1, 2, 3]  # level, cos1, sin1, cos2 (statsmodels' state 4 is sin2)
    assert ours.state_dim == 4 and mod.k_states == 5
    T = mod.ssm["transition"][np.ix_(keep, keep)]
    np.testing.assert_allclose(_np(s.transition_matrix[0]), T, atol=1e-14)
    np.testing.assert_allclose(_np(s.observation_matrix[0]), mod.ssm["design"][:, keep])
    assert mod.ssm["design"][0, 4] == 0.0  # the dropped state is never observed
    Rsel, Qs = mod.ssm["selection"], mod.ssm["state_cov"]
    np.testing.assert_allclose(_np(s.transition_cov[0]), (Rsel @ Qs @ Rsel.T)[np.ix_(keep, keep)])


def test_regression_matrices_match_statsmodels():
    rng = np.random.default_rng(2)
    y, X = rng.normal(size=25), rng.normal(size=(25, 2))
    mod = sm.tsa.UnobservedComponents(y, level="llevel", exog=X, mle_regression=False)
    mod.update([0.5, 0.3])
    ours = StructuralTimeSeries([Level(0.3), Regression(X)], observation_variance=0.5).to(D64)
    s = ours.system(25)
    np.testing.assert_allclose(_np(s.observation_matrix[:, 0, :]), mod.ssm["design"][0].T)
    np.testing.assert_allclose(_np(s.transition_matrix[0]), mod.ssm["transition"])
    Rsel, Qs = mod.ssm["selection"], mod.ssm["state_cov"]
    np.testing.assert_allclose(_np(s.transition_cov[0]), Rsel @ Qs @ Rsel.T)


def test_ar_log_likelihood_matches_sarimax():
    """SARIMAX uses another (similar) companion form: only the likelihood is comparable."""
    rng = np.random.default_rng(3)
    y = np.zeros(80)
    for t in range(2, 80):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.normal()
    y += 0.5 * rng.normal(size=80)
    mod = sm.tsa.SARIMAX(y, order=(2, 0, 0), measurement_error=True)
    ours = StructuralTimeSeries([Autoregressive(2, [0.6, -0.3], ar_variance=1.1)],
                                observation_variance=0.25).to(D64)
    expected = mod.loglike([0.6, -0.3, 0.25, 1.1])
    got = ours.log_likelihood(torch.tensor(y)).item()  # no diffuse state: plain likelihood
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("case", ["dummy_seasonal", "trig_seasonal", "ar2", "everything"])
def test_log_likelihood_known_initialisation_matches_statsmodels_co2(co2, case):
    """Proper (known) initial state on every component, real data, 1e-8 relative."""
    mod, _, params = _models(case, co2)
    _, components, _ = CASES[case]
    comps = components()
    for c in comps:  # a proper prior centred on the data for the level, near zero elsewhere
        loc = torch.zeros(c.state_dim, dtype=D64)
        if isinstance(c, (Level, LocalLinearTrend)):
            loc[0] = float(co2[0])
        c.initial_loc = loc
        c.initial_scale = torch.full((c.state_dim,), 3.0, dtype=D64)
    ours = StructuralTimeSeries(comps, observation_variance=params[0]).to(D64)
    ssm = ours.ssm(len(co2))
    mod.ssm.initialize_known(_np(ssm.initial_loc), _np(ssm.initial_cov))
    mod.ssm.loglikelihood_burn = 0
    expected = mod.loglike(np.asarray(params, dtype=float))
    y = torch.tensor(co2).unsqueeze(-1)
    assert ssm.log_prob(y).item() == pytest.approx(expected, rel=1e-8)
    assert ours.log_likelihood(y).item() == pytest.approx(expected, rel=1e-8)  # nothing diffuse


@pytest.mark.parametrize("case", ["dummy_seasonal", "trig_seasonal", "everything"])
def test_exact_diffuse_log_likelihood_matches_statsmodels_co2(co2, case):
    kwargs, components, params = CASES[case]
    params = [0.1, 0.05, 1e-4, 0.01, 0.01, 0.05, 0.5][: len(params)]
    mod = sm.tsa.UnobservedComponents(co2, use_exact_diffuse=True, **kwargs)
    comps = components()
    ours = StructuralTimeSeries(comps, observation_variance=params[0]).to(D64)
    # set the same parameter values in probdyn (order of statsmodels' param_names)
    values = iter(params[1:])
    for c in comps:
        for name in ("level_variance", "slope_variance", "seasonal_variance"):
            if name in c._pyro_params:
                setattr(c, name, torch.tensor(next(values), dtype=D64))
        if isinstance(c, Autoregressive):
            c.ar_variance = torch.tensor(next(values), dtype=D64)
            c.partial_autocorrelations = coefficients_to_pacf([next(values)])
    expected = mod.loglike(np.asarray(params))
    assert ours.log_likelihood(torch.tensor(co2)).item() == pytest.approx(expected, rel=1e-8)


def test_exact_diffuse_nile_matches_statsmodels_with_missing(nile):
    y = nile.copy()
    y[[0, 1, 40, 41, 77]] = np.nan  # missing values inside and after the diffuse period
    mod = sm.tsa.UnobservedComponents(y, "lltrend", use_exact_diffuse=True)
    ours = StructuralTimeSeries([LocalLinearTrend(1000.0, 10.0)], observation_variance=15000.0)
    ours.to(D64)
    got = ours.log_likelihood(torch.tensor(y)).item()
    assert got == pytest.approx(mod.loglike([15000.0, 1000.0, 10.0]), rel=1e-10)


def test_exact_diffuse_is_the_kappa_limit_weekly_co2():
    """log p_kappa(y) + q/2 log kappa -> exact diffuse log-likelihood as kappa -> infinity, with
    an O(1/kappa) error: Richardson extrapolation from kappa = 1e5, 1e6 recovers it. Real weekly
    data with missing weeks and a fractional trigonometric period (365.25 / 7). The
    kappa-likelihoods use the ordinary (sequential) Kalman filter of LinearGaussianSSM."""
    from probdyn.distributions import LinearGaussianSSM

    y = torch.tensor(_load("co2_weekly", "co2")[:800]).unsqueeze(-1)
    assert torch.isnan(y).sum() > 10
    model = StructuralTimeSeries([
        LocalLinearTrend(0.05, 1e-5),
        Seasonal(365.25 / 7, "trigonometric", harmonics=2, seasonal_variance=1e-4),
    ], observation_variance=0.1)
    q = model.state_dim
    exact = model.log_likelihood(y).item()
    s = model.system(800)

    def corrected(kappa):
        P0 = s.initial_cov + kappa * torch.diag_embed(s.diffuse.double())
        ssm = LinearGaussianSSM(s.initial_loc, P0, s.transition_matrix, s.transition_cov,
                                s.observation_matrix, s.observation_cov, duration=800,
                                parallel=False)
        return ssm.log_prob(y).item() + 0.5 * q * math.log(kappa)

    f5, f6 = corrected(1e5), corrected(1e6)
    richardson = (10 * f6 - f5) / 9
    assert abs(f6 - exact) > 1e-2  # kappa = 1e6 alone is visibly off
    assert richardson == pytest.approx(exact, abs=1e-6)


def test_diffuse_log_likelihood_regression_nile_intervention(nile):
    """Level plus a level-shift dummy from 1899 (the Aswan dam), static coefficient
    (diffuse), against statsmodels' exact diffuse UnobservedComponents with exog."""
    X = (np.arange(100) >= 28).astype(float)[:, None]
    mod = sm.tsa.UnobservedComponents(nile, "llevel", exog=X, mle_regression=False,
                                      use_exact_diffuse=True)
    ours = StructuralTimeSeries([Level(500.0), Regression(X)], observation_variance=14000.0)
    ours.to(D64)
    got = ours.log_likelihood(torch.tensor(nile)).item()
    assert got == pytest.approx(mod.loglike([14000.0, 500.0]), rel=1e-10)
    # covariates passed at call time override the stored ones
    got2 = ours.log_likelihood(torch.tensor(nile), covariates=torch.tensor(X)).item()
    assert got2 == pytest.approx(got, rel=1e-14)


def test_one_hot_seasonal_matches_brute_force_joint_gaussian():
    """Level + one-hot seasonal (DeepState / NKF form) with a proper prior: the covariance of
    y built from the definition (each season a random walk that moves only when active)."""
    from scipy.stats import multivariate_normal

    period, sps, T = 3, 2, 17
    s_lv, s_seas, s_obs, p_level, p_seas = 0.4, 0.3, 0.5, 2.0, 1.5
    model = StructuralTimeSeries([
        Level(s_lv, initial_loc=1.0, initial_scale=math.sqrt(p_level)),
        Seasonal(period, "one_hot", seasonal_variance=s_seas, steps_per_season=sps,
                 initial_loc=[0.5, -0.2, 0.1], initial_scale=math.sqrt(p_seas)),
    ], observation_variance=s_obs).to(D64)
    start = 5  # phase: the first step is absolute step 5
    t = np.arange(T)
    season = ((t + start) // sps) % period
    mean = 1.0 + np.array([0.5, -0.2, 0.1])[season]
    cov = p_level + s_lv * np.minimum.outer(t, t)
    for i in range(T):
        for j in range(T):
            if season[i] == season[j]:
                k = min(i, j)
                moves = np.sum(season[1 : k + 1] == season[i])  # noise only when active, t>=1
                cov[i, j] += p_seas + s_seas * moves
    cov += s_obs * np.eye(T)
    y = np.random.default_rng(4).normal(size=T) + mean
    expected = multivariate_normal(mean, cov).logpdf(y)
    got = model.ssm(T, start=start).log_prob(torch.tensor(y).unsqueeze(-1)).item()
    assert got == pytest.approx(expected, rel=1e-10)
    # the observation row selects the active season
    H = model.system(T, start=start).observation_matrix[:, 0, 1:]
    np.testing.assert_array_equal(_np(H.argmax(-1)), season)


def test_dummy_seasonal_steps_per_season_holds_within_season():
    s = Seasonal(4, seasonal_variance=0.2, steps_per_season=3).to(D64).system(9, start=0)
    F, Q = s.transition_matrix, s.transition_cov
    eye = torch.eye(3, dtype=D64)
    for t in range(1, 9):
        if t % 3 == 0:
            assert F[t, 0].tolist() == [-1.0, -1.0, -1.0] and Q[t, 0, 0] == 0.2
        else:
            assert torch.equal(F[t], eye) and Q[t].abs().sum() == 0


def test_batch_of_series_with_per_series_parameters_equals_separate_models():
    """Several series as a batch: y (B, T, 1) and variances of shape (B,)."""
    g = torch.Generator().manual_seed(0)
    y = torch.randn(3, 40, 1, generator=g).cumsum(-2)
    y[1, 5] = float("nan")
    level_vars, obs_vars = [0.3, 0.5, 0.7], [1.0, 2.0, 3.0]

    def make(lv, ov):
        return StructuralTimeSeries([LocalLinearTrend(lv, 0.1), Seasonal(4, seasonal_variance=0.2),
                                     Autoregressive(1, [0.4])], observation_variance=ov)

    batched = make(torch.tensor(level_vars), torch.tensor(obs_vars))
    assert batched.ssm(40).batch_shape == (3,)
    for diffuse in ("exact", "approximate"):
        ll = batched.log_likelihood(y, diffuse=diffuse)
        separate = [make(lv, ov).log_likelihood(y[b], diffuse=diffuse).item()
                    for b, (lv, ov) in enumerate(zip(level_vars, obs_vars))]
        np.testing.assert_allclose(_np(ll), separate, rtol=1e-12)


def test_one_hot_level_without_prior_is_not_identified():
    model = StructuralTimeSeries([Level(), Seasonal(4, "one_hot")]).to(D64)
    with pytest.raises(ValueError, match="not identified"):
        model.log_likelihood(torch.randn(30, dtype=D64))
    model = StructuralTimeSeries([Level(), Seasonal(4, "one_hot", initial_scale=1.0)]).to(D64)
    assert torch.isfinite(model.log_likelihood(torch.randn(30, dtype=D64)))


def test_smoothed_components_and_forecast_match_statsmodels(co2):
    """Approximate diffuse initialisation on both sides: smoothed level / seasonal
    contributions and the forecast mean and variance."""
    y = co2[:240]
    params = [0.1, 0.05, 1e-4, 0.01]
    mod = sm.tsa.UnobservedComponents(y, "lltrend", seasonal=12)
    res = mod.smooth(params)
    components = [LocalLinearTrend(0.05, 1e-4), Seasonal(12, seasonal_variance=0.01)]
    ours = StructuralTimeSeries(components, observation_variance=0.1).to(D64)
    yt = torch.tensor(y)
    posterior = ours.ssm(240).smooth(yt.unsqueeze(-1))
    parts = ours.decompose(posterior.mean, posterior.covariance_matrix)
    assert set(parts) == {"trend", "seasonal"}
    np.testing.assert_allclose(_np(parts["trend"].mean[:, 0]), res.level.smoothed, rtol=1e-6)
    np.testing.assert_allclose(_np(parts["seasonal"].mean[:, 0]), res.seasonal.smoothed,
                               atol=1e-5)
    np.testing.assert_allclose(_np(parts["seasonal"].variance[20:, 0]),
                               res.seasonal.smoothed_cov[20:], rtol=1e-5)
    fc = ours.forecast(yt, 24)
    expected = res.get_forecast(24)
    np.testing.assert_allclose(_np(fc.mean[:, 0]), expected.predicted_mean, rtol=1e-8)
    np.testing.assert_allclose(_np(fc.variance[:, 0]), expected.var_pred_mean, rtol=1e-6)


def test_forecast_time_varying_one_hot_continues_the_season():
    model = StructuralTimeSeries([Seasonal(3, "one_hot", seasonal_variance=1e-8,
                                           initial_scale=10.0)],
                                 observation_variance=1e-6).to(D64)
    y = torch.tensor([1.0, 2.0, 3.0] * 4, dtype=D64)
    fc = model.forecast(y, 5)
    np.testing.assert_allclose(_np(fc.mean[:, 0]), [1.0, 2.0, 3.0, 1.0, 2.0], atol=1e-4)


def test_ar_pacf_transform_is_stationary_and_invertible():
    from scipy.linalg import solve_discrete_lyapunov

    g = torch.Generator().manual_seed(5)
    pacf = 2 * torch.rand(50, 4, generator=g, dtype=D64) - 1
    phi = pacf_to_coefficients(pacf)
    for row in _np(phi):
        roots = np.roots(np.r_[1.0, -row][::-1])  # 1 - phi_1 z - ... - phi_p z^p
        assert np.all(np.abs(roots) > 1.0)
    torch.testing.assert_close(coefficients_to_pacf(phi), pacf)
    with pytest.raises(ValueError, match="stationary"):
        coefficients_to_pacf(torch.tensor([1.2, 0.0]))
    F = Autoregressive(4, phi[0].tolist()).to(D64).system(1).transition_matrix[0]
    Q = torch.zeros(4, 4, dtype=D64)
    Q[0, 0] = 0.7
    np.testing.assert_allclose(_np(stationary_covariance(F, Q)),
                               solve_discrete_lyapunov(_np(F), _np(Q)), rtol=1e-10)


def test_component_slices_state_names_and_parameter_names():
    model = StructuralTimeSeries([LocalLinearTrend(), Seasonal(4), Seasonal(3, "one_hot"),
                                  Autoregressive(2)])
    assert model.component_names == ["trend", "seasonal", "seasonal_2", "ar"]
    assert model.component_slices == {"trend": slice(0, 2), "seasonal": slice(2, 5),
                                      "seasonal_2": slice(5, 8), "ar": slice(8, 10)}
    assert len(model.state_names) == model.state_dim == 10
    names = {n for n, _ in model.named_parameters()}
    assert "trend.level_variance_unconstrained" in names
    assert "ar.partial_autocorrelations_unconstrained" in names
    named = StructuralTimeSeries({"lvl": Level(), "week": Seasonal(7)})
    assert named.component_names == ["lvl", "week"] and named.week.period == 7
    # deterministic components have no free parameter
    fixed = Level(stochastic=False)
    assert list(fixed.parameters()) == [] and float(fixed.level_variance) == 0.0


def test_priors_with_autonormal_svi_decrease_the_elbo(nile):
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal
    from pyro.nn import PyroSample

    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    model = StructuralTimeSeries([Level()], observation_variance=1e4).to(D64)
    model.level.level_variance = PyroSample(dist.LogNormal(torch.tensor(7.0, dtype=D64), 1.0))
    y = torch.tensor(nile)
    guide = AutoNormal(model)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), Trace_ELBO())
    losses = [svi.step(y) for _ in range(30)]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert "AutoNormal.locs.level.level_variance" in pyro.get_param_store()
    # one draw of the prior per call: the trace has exactly one site for the variance
    trace = pyro.poutine.trace(model).get_trace(y)
    assert trace.nodes["level.level_variance"]["type"] == "sample"
    # posterior predictive draws of new series
    draws = pyro.infer.Predictive(model, guide=guide, num_samples=4)(duration=20)
    assert draws["y"].shape == (4, 20, 1) and draws["level.level_variance"].shape == (4,)
    assert torch.isfinite(draws["y"]).all()
    pyro.clear_param_store()


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: Level(-1.0), "level_variance"),
        (lambda: Level(0.0), "level_variance"),
        (lambda: LocalLinearTrend(slope_variance=-2.0), "slope_variance"),
        (lambda: Seasonal(1), "period"),
        (lambda: Seasonal(1.5, "trigonometric"), "period"),
        (lambda: Seasonal(12, "trigonometric", harmonics=7), "harmonics"),
        (lambda: Seasonal(12, form="fourier"), "form"),
        (lambda: Seasonal(12, seasonal_variance=float("nan")), "seasonal_variance"),
        (lambda: Regression(torch.ones(10)), "covariates"),
        (lambda: Regression(torch.full((10, 2), float("nan"))), "covariates"),
        (lambda: Regression(), "covariates"),
        (lambda: Autoregressive(0), "order"),
        (lambda: Autoregressive(2, [0.1]), "coefficients"),
        (lambda: Autoregressive(1, [1.5]), "stationary"),
        (lambda: Level(initial_scale=-1.0), "initial_scale"),
        (lambda: Level(initial_loc=[0.0, 1.0]), "initial_loc"),
        (lambda: StructuralTimeSeries([Level()], observation_variance=-3.0),
         "observation_variance"),
        (lambda: StructuralTimeSeries([]), "components"),
        (lambda: StructuralTimeSeries([torch.nn.Linear(1, 1)]), "components"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_bad_call_arguments():
    model = StructuralTimeSeries([Level(), Regression(torch.ones(10, 2))]).to(D64)
    with pytest.raises(ValueError, match="covariates"):
        model.ssm(10, covariates=torch.ones(9, 2))  # wrong T
    with pytest.raises(ValueError, match="covariates"):
        model.ssm(10, covariates=torch.ones(10, 3))  # wrong k
    with pytest.raises(ValueError, match="covariates"):
        model.ssm(12)  # stored covariates cover 10 steps only
    with pytest.raises(ValueError, match="duration"):
        model.ssm(0)
    with pytest.raises(ValueError, match="y must have shape"):
        model.log_likelihood(torch.ones(10, 2))
    with pytest.raises(ValueError, match="diffuse"):
        model.log_likelihood(torch.ones(10), diffuse="kappa")
    with pytest.raises(ValueError, match="smoothed_mean"):
        model.decompose(torch.ones(10, 2), torch.ones(10, 3, 3))
    with pytest.raises(ValueError, match="diffuse"):
        diffuse_log_likelihood(torch.ones(5, 1), torch.zeros(1), torch.eye(1), torch.eye(1),
                               torch.eye(1), torch.eye(1), torch.eye(1), [True, False])
