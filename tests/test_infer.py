"""Maximum-likelihood and MAP fits against statsmodels' fits, scipy optimisation of
statsmodels' likelihood, the published Nile estimates and an analytic optimum."""

import math

import numpy as np
import pytest
import torch

from probdyn.infer import FitResult, fit_map, fit_mle, minimize, parameter_values
from probdyn.ssm import Autoregressive, Level, Regression, StructuralTimeSeries

sm = pytest.importorskip("statsmodels.api")


@pytest.fixture(scope="module")
def nile():
    data = pytest.importorskip("probdyn.data")
    try:
        return data.load("nile")["volume"].values.astype(float)
    except (FileNotFoundError, OSError) as e:
        pytest.skip(f"Nile data not available: {e}")


def _sm_fit(mod):
    """statsmodels MLE with tight tolerances (its defaults stop ~1e-3 short on Nile)."""
    return mod.fit(method="lbfgs", pgtol=1e-10, factr=10.0, maxiter=2000, disp=0)


def test_nile_local_level_mle_matches_statsmodels_and_durbin_koopman(nile):
    model = StructuralTimeSeries([Level()])  # start at sigma^2 = 1, far from the optimum
    fit = fit_mle(model, nile, progress=False, seed=1)
    assert isinstance(fit, FitResult) and fit.converged and fit.method == "mle"
    assert fit.seed == 1 and fit.num_iterations >= 2
    eps, eta = fit.params["observation_variance"], fit.params["level.level_variance"]
    ref = _sm_fit(sm.tsa.UnobservedComponents(nile, "llevel", use_exact_diffuse=True))
    assert eps == pytest.approx(ref.params[0], rel=1e-4)
    assert eta == pytest.approx(ref.params[1], rel=1e-4)
    assert fit.log_likelihood == pytest.approx(ref.llf, abs=1e-6)
    # Durbin & Koopman (2012, section 2.10): 15099 and 1469.1, to their printed digits
    assert eps == pytest.approx(15099.0, abs=1.0)
    assert eta == pytest.approx(1469.1, abs=0.1)
    # the module holds the estimate, in float64
    assert model.observation_variance.dtype == torch.float64
    assert float(model.level.level_variance.detach()) == pytest.approx(eta, rel=1e-12)
    assert fit.losses[-1] == pytest.approx(-fit.log_likelihood)


def test_mle_with_intervention_regression_matches_statsmodels(nile):
    """Level plus a level shift from 1899 (static, diffuse regression coefficient)."""
    X = (np.arange(100) >= 28).astype(float)[:, None]
    model = StructuralTimeSeries([Level(1000.0), Regression(X)], observation_variance=1e4)
    fit = fit_mle(model, nile, progress=False)
    mod = sm.tsa.UnobservedComponents(nile, "llevel", exog=X, mle_regression=False,
                                      use_exact_diffuse=True)
    ref = _sm_fit(mod)
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(ref.llf, abs=1e-5)
    assert fit.params["observation_variance"] == pytest.approx(ref.params[0], rel=1e-3)
    # with the break modelled the level is (nearly) constant: the estimate sits at the boundary
    assert ref.params[1] < 1.0 and fit.params["level.level_variance"] < 1.0


def test_ar_mle_matches_sarimax_and_reports_coefficients():
    rng = np.random.default_rng(0)
    a = np.zeros(300)
    for t in range(2, 300):
        a[t] = 0.7 * a[t - 1] - 0.2 * a[t - 2] + rng.normal()
    y = a + 0.5 * rng.normal(size=300)
    model = StructuralTimeSeries([Autoregressive(2, ar_variance=1.0)], observation_variance=1.0)
    fit = fit_mle(model, y, progress=False)
    ref = _sm_fit(sm.tsa.SARIMAX(y, order=(2, 0, 0), measurement_error=True))
    phi1, phi2, s2_obs, s2_ar = ref.params
    assert fit.log_likelihood == pytest.approx(ref.llf, abs=1e-5)
    assert fit.params["ar.coefficients[0]"] == pytest.approx(phi1, abs=1e-3)
    assert fit.params["ar.coefficients[1]"] == pytest.approx(phi2, abs=1e-3)
    assert fit.params["ar.ar_variance"] == pytest.approx(s2_ar, rel=1e-3)
    assert fit.params["observation_variance"] == pytest.approx(s2_obs, rel=1e-2)
    assert -1 < fit.params["ar.partial_autocorrelations[1]"] < 1


def test_map_matches_scipy_on_statsmodels_likelihood(nile):
    """MAP with a LogNormal prior on the level variance: the same optimum as scipy's
    minimisation of -(statsmodels loglike + scipy log prior), in the constrained space."""
    import pyro.distributions as dist
    from pyro.nn import PyroSample
    from scipy.optimize import minimize as sp_minimize
    from scipy.stats import lognorm

    model = StructuralTimeSeries([Level()], observation_variance=1e4)
    model.level.level_variance = PyroSample(dist.LogNormal(6.0, 0.5))
    fit = fit_map(model, nile, progress=False, seed=0)
    assert fit.method == "map" and fit.converged
    mod = sm.tsa.UnobservedComponents(nile, "llevel", use_exact_diffuse=True)
    prior = lognorm(s=0.5, scale=math.exp(6.0))

    def objective(z):
        eps, eta = np.exp(z)
        return -(mod.loglike([eps, eta]) + prior.logpdf(eta))

    ref = sp_minimize(objective, np.log([1e4, 1e3]), method="Nelder-Mead",
                      options=dict(xatol=1e-10, fatol=1e-12, maxiter=4000))
    eps, eta = np.exp(ref.x)
    assert fit.params["observation_variance"] == pytest.approx(eps, rel=1e-4)
    assert fit.params["level.level_variance"] == pytest.approx(eta, rel=1e-4)
    assert fit.log_prior == pytest.approx(prior.logpdf(eta), abs=1e-5)
    assert fit.log_likelihood == pytest.approx(mod.loglike([eps, eta]), abs=1e-5)
    # the prior pulls the level variance below its maximum-likelihood value (1469)
    assert eta < 1400


def test_fit_mle_through_ssm_only_module(nile):
    """A module exposing only ssm(duration) is fitted through LinearGaussianSSM.log_prob; with
    a proper prior it equals statsmodels' MLE under the same known initialisation."""
    from pyro.distributions import constraints
    from pyro.nn import PyroModule, PyroParam

    from probdyn.distributions import LinearGaussianSSM

    class LocalLevel(PyroModule):
        def __init__(self):
            super().__init__()
            self.obs = PyroParam(torch.tensor(1e4), constraints.positive)
            self.level = PyroParam(torch.tensor(1e3), constraints.positive)

        def ssm(self, duration):
            one = torch.ones(1, 1, dtype=self.obs.dtype)
            return LinearGaussianSSM(one[0] * 1000.0, one * 1e4, one, self.level * one, one,
                                     self.obs * one, duration=duration)

    module = LocalLevel()
    fit = fit_mle(module, nile, progress=False)
    mod = sm.tsa.UnobservedComponents(nile, "llevel")
    mod.ssm.initialize_known(np.array([1000.0]), np.array([[1e4]]))
    mod.ssm.loglikelihood_burn = 0
    ref = _sm_fit(mod)
    assert fit.params["obs"] == pytest.approx(ref.params[0], rel=1e-3)
    assert fit.params["level"] == pytest.approx(ref.params[1], rel=1e-3)


def test_minimize_reaches_the_rosenbrock_minimum():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)

    def rosenbrock():
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    trace = minimize(rosenbrock, [x], steps=200, progress=False)
    assert trace.converged
    torch.testing.assert_close(x.detach(), torch.ones(2, dtype=torch.float64), atol=1e-5,
                               rtol=0)
    assert trace.losses[-1] < 1e-10


def test_adam_path_decreases_the_loss_and_shows_progress(nile, capsys):
    model = StructuralTimeSeries([Level(1000.0)], observation_variance=1e4)
    fit = fit_mle(model, nile, optimizer="adam", lr=0.05, steps=15, progress=True)
    assert fit.num_iterations == 15 and not fit.converged
    assert fit.losses[-1] < fit.losses[0]


def test_parameter_values_flattens_vectors():
    module = StructuralTimeSeries([Level(2.0), Regression(torch.ones(5, 2), random_walk=True,
                                                          coefficient_variance=[0.5, 0.25])])
    values = parameter_values(module)
    assert values["level.level_variance"] == pytest.approx(2.0)
    assert values["regression.coefficient_variance[0]"] == pytest.approx(0.5)
    assert values["regression.coefficient_variance[1]"] == pytest.approx(0.25)


def test_bad_fit_arguments(nile):
    import pyro.distributions as dist
    from pyro.nn import PyroSample

    with_prior = StructuralTimeSeries([Level()])
    with_prior.level.level_variance = PyroSample(dist.LogNormal(0.0, 1.0))
    with pytest.raises(ValueError, match="priors"):
        fit_mle(with_prior, nile, progress=False)
    model = StructuralTimeSeries([Level()])
    with pytest.raises(ValueError, match="optimizer"):
        fit_mle(model, nile, optimizer="sgd", progress=False)
    with pytest.raises(ValueError, match="steps"):
        fit_mle(model, nile, steps=0, progress=False)
    with pytest.raises(ValueError, match="lr"):
        fit_mle(model, nile, lr=-1.0, progress=False)
    with pytest.raises(ValueError, match="no observed"):
        fit_mle(model, np.full(10, np.nan), progress=False)
    with pytest.raises(ValueError, match="module"):
        fit_mle("not a module", nile, progress=False)
    frozen = StructuralTimeSeries([Level(stochastic=False)])
    frozen.observation_variance_unconstrained.requires_grad_(False)
    with pytest.raises(ValueError, match="no free parameters"):
        fit_mle(frozen, nile, progress=False)


def test_co2_trend_seasonal_mle_matches_statsmodels():
    """The tutorial's model: local linear trend + 12-month dummy seasonal on real CO2 data."""
    from probdyn import data
    from probdyn.ssm import LocalLinearTrend, Seasonal

    if not data.describe("co2").available():
        pytest.skip("co2 data file not available (set PROBDYN_DATA_DIR)")
    y = data.load("co2")["co2"].values.astype(float)[:-24]
    model = StructuralTimeSeries({"trend": LocalLinearTrend(0.1, 1e-4),
                                  "seasonal": Seasonal(12, seasonal_variance=1e-3)},
                                 observation_variance=0.05)
    fit = fit_mle(model, y, progress=False)
    mod = sm.tsa.UnobservedComponents(y, "local linear trend", seasonal=12,
                                      use_exact_diffuse=True)
    ref = _sm_fit(mod)
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(ref.llf, abs=1e-4)
    ours = np.array([fit.params[k] for k in ("observation_variance", "trend.level_variance",
                                             "trend.slope_variance",
                                             "seasonal.seasonal_variance")])
    # the same likelihood function: statsmodels' value at our estimate equals ours
    assert mod.loglike(ours) == pytest.approx(fit.log_likelihood, abs=1e-6)
    # the well-identified variances agree; slope and seasonal (~1e-6) sit on a flat ridge
    np.testing.assert_allclose(ours[:2], ref.params[:2], rtol=1e-3)
