import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Predictive

from probdyn.distributions import ODETrajectory
from probdyn.dynamics import MLPField
from probdyn.infer import fit_svi, run_nuts, train_vector_field
from probdyn.io import to_inference_data
from probdyn.physics import (
    DampedPendulum,
    LotkaVolterra,
    simulate_lotka_volterra,
    simulate_pendulum,
)
from probdyn.physics._physical import float64_default

PRIOR_SD = 3.0


def conjugate_model(y, subsample_size=None):
    """mu_k ~ N(0, 3^2), y_ik ~ N(mu_k, 1): posterior N(sum y / (n + 1/9), 1 / (n + 1/9))."""
    with pyro.plate("dims", 2):
        mu = pyro.sample("mu", dist.Normal(torch.zeros((), dtype=y.dtype), PRIOR_SD))
    with pyro.plate("data", y.shape[0], subsample_size=subsample_size) as idx:
        pyro.sample("y", dist.Normal(mu, 1.0).to_event(1), obs=y[idx])


def conjugate_posterior(y):
    precision = y.shape[0] + 1 / PRIOR_SD**2
    return y.sum(0) / precision, torch.full((2,), 1 / math.sqrt(precision))


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(20, 2, generator=g) + torch.tensor([1.0, -2.0])


@pytest.mark.parametrize("guide", ["normal", "lowrank", "delta", "laplace"])  # "mvn": below
def test_fit_svi_recovers_conjugate_posterior(data, guide):
    pyro.clear_param_store()
    mean, sd = conjugate_posterior(data)
    fit = fit_svi(conjugate_model, data, guide=guide, steps=600, lr=0.03, seed=0,
                  progress=False)
    assert fit.num_steps == 600 and len(fit.losses) == 600
    assert torch.allclose(fit.median["mu"], mean, atol=0.25 * float(sd[0]))
    if guide != "delta":
        draws = Predictive(conjugate_model, guide=fit.guide, num_samples=4000,
                           return_sites=["mu"])(data)["mu"]
        assert torch.allclose(draws.std(0).reshape(-1), sd, rtol=0.2)


def test_laplace_guide_is_the_exact_gaussian_posterior_of_a_linear_regression():
    # y_i ~ N(a + b x_i, 1), (a, b) ~ N(0, 3^2 I): posterior N(P^-1 X'y, P^-1), P = X'X + I/9,
    # strongly correlated because every x_i > 0
    g = torch.Generator().manual_seed(1)
    x = 1.0 + torch.rand(30, generator=g, dtype=torch.float64)
    y = 0.5 + 2.0 * x + torch.randn(30, generator=g, dtype=torch.float64)

    def model(x, y):
        coef = pyro.sample("coef", dist.Normal(torch.zeros(2, dtype=x.dtype), PRIOR_SD)
                           .to_event(1))
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.Normal(coef[0] + coef[1] * x, 1.0), obs=y)

    X = torch.stack([torch.ones_like(x), x], -1)
    precision = X.T @ X + torch.eye(2, dtype=x.dtype) / PRIOR_SD**2
    cov = torch.linalg.inv(precision)
    mean = cov @ X.T @ y
    # 100 Adam steps stop well short of the MAP on this ridge; the L-BFGS polish reaches it
    pyro.clear_param_store()
    unpolished = fit_svi(model, x, y, guide="laplace", steps=100, lr=0.05, seed=0,
                         progress=False, polish_steps=0).guide.get_posterior().mean
    assert ((unpolished - mean).abs() > 0.1 * cov.diag().sqrt()).any()
    pyro.clear_param_store()
    fit = fit_svi(model, x, y, guide="laplace", steps=100, lr=0.05, seed=0, progress=False)
    posterior = fit.guide.get_posterior()
    assert torch.allclose(posterior.mean, mean, rtol=1e-6, atol=1e-8)
    assert torch.allclose(posterior.covariance_matrix, cov, rtol=1e-6)
    assert cov[0, 1] / cov.diag().prod().sqrt() < -0.9  # the correlation it must capture


def test_fit_svi_minibatches_through_the_plate(data):
    pyro.clear_param_store()
    mean, sd = conjugate_posterior(data)
    fit = fit_svi(conjugate_model, data, subsample_size=5, guide="normal", steps=1500,
                  lr=0.01, seed=1, progress=False)
    assert torch.allclose(fit.median["mu"], mean, atol=0.5 * float(sd[0]))


def test_fit_svi_early_stopping_restores_the_best_check(data):
    pyro.clear_param_store()
    # validation data on the other side of the prior median: the validation loss rises as
    # the fit moves towards the training data, so the first check is the best
    far = -data
    fit = fit_svi(conjugate_model, data, guide="delta", steps=500, lr=0.05, seed=0,
                  validation_args=(far,), validate_every=10, patience=3, progress=False)
    assert fit.stopped_early and fit.num_steps == 40
    assert fit.validation_losses[0] == min(fit.validation_losses)
    assert np.argmin(fit.validation_losses) == 0
    # restored: the estimate is the one of step 10, still far from the training posterior
    mean, _ = conjugate_posterior(data)
    assert (fit.median["mu"] - mean).abs().max() > 0.3


def test_run_nuts_conjugate_posterior_and_arviz(data):
    mean, sd = conjugate_posterior(data)
    mcmc = run_nuts(conjugate_model, data, num_samples=400, warmup=200, num_chains=2, seed=0,
                    progress=False)
    draws = mcmc.get_samples(group_by_chain=True)["mu"]
    assert draws.shape == (2, 400, 2)
    flat = draws.reshape(-1, 2)
    assert ((flat.mean(0) - mean).abs() < 5 * sd / math.sqrt(200)).all()
    assert torch.allclose(flat.std(0), sd, rtol=0.2)
    idata = to_inference_data(mcmc, dims={"mu": ["dim"]})
    assert idata["posterior"]["mu"].shape == (2, 400, 2)


def test_svi_recovers_lotka_volterra_parameters():
    """Simulated data, SVI with a full-covariance guide: 90 % intervals cover the truth."""
    truth = (0.6, 0.4, 0.8, 0.3)
    ds = simulate_lotka_volterra([truth], trajectories_per_environment=3, num_steps=20,
                                 dt=0.5, seed=3, progress=False)
    rng = np.random.default_rng(0)
    y = torch.tensor(ds["state"].values * np.exp(0.1 * rng.standard_normal((3, 20, 2))))
    x0 = torch.tensor(ds["state"].values[:, 0])
    times = torch.tensor(ds["time"].values)

    def model(y):
        with float64_default():
            field = LotkaVolterra()
        for name in ("alpha", "beta", "gamma", "delta"):
            setattr(field, name, pyro.nn.PyroSample(dist.LogNormal(math.log(0.5), 0.5)))
        # draw the shared parameters outside the plate (inside it they would be drawn
        # once per trajectory)
        with field.frozen_parameters(), pyro.plate("trajectories", 3):
            pyro.sample("y", ODETrajectory(field, x0, times, 0.1, "lognormal", method="rk4"),
                        obs=y)

    pyro.clear_param_store()
    fit = fit_svi(model, y, guide="mvn", steps=300, lr=0.05, seed=0, progress=False)
    # exact marginal quantiles of the guide (Gaussian in the unconstrained space, mapped
    # through the monotone bijections), no sampling
    quantiles = fit.guide.quantiles([0.05, 0.95], y)
    for name, value in zip(("alpha", "beta", "gamma", "delta"), truth):
        lo, hi = quantiles[name].detach().tolist()
        assert lo < value < hi, (name, lo, hi)
        # informative: narrower than half the prior's 90 % interval
        prior_width = 0.5 * (math.exp(0.5 * 1.645) - math.exp(-0.5 * 1.645))
        assert hi - lo < 0.5 * prior_width, (name, lo, hi)


def test_train_vector_field_recovers_pendulum_parameters():
    ds = simulate_pendulum(4, num_steps=20, noise=0.0, progress=False)
    y = torch.tensor(ds["state"].values)
    t = torch.tensor(ds["time"].values)
    with float64_default():
        field = DampedPendulum(period=5.0, damping=0.4)
    result = train_vector_field(field, y, t, epochs=120, batch_size=2, lr=0.03,
                                step_size=0.125, seed=0, progress=False)
    assert result.losses[-1] < 1e-3 * result.losses[0]
    assert abs(float(field.period) - 6.0) < 0.01 * 6.0
    assert abs(float(field.damping) - 0.2) < 0.05 * 0.2


def test_train_neural_field_with_validation_early_stopping():
    ds = simulate_pendulum(12, num_steps=10, noise=0.0, progress=False)
    y = torch.tensor(ds["state"].values, dtype=torch.float32)
    t = torch.tensor(ds["time"].values, dtype=torch.float32)
    torch.manual_seed(0)
    field = MLPField(2, hidden=32, layers=2)
    result = train_vector_field(field, y[:8], t, y_val=y[8:], epochs=60, batch_size=4,
                                lr=0.01, seed=0, patience=60, progress=False)
    assert len(result.validation_losses) == len(result.losses)
    assert result.validation_losses[result.best_epoch] == min(result.validation_losses)
    assert min(result.validation_losses) < 0.2 * result.validation_losses[0]
    with torch.no_grad():  # the field holds the best epoch's parameters
        from probdyn.infer import trajectory_mse
        val = float(trajectory_mse(field, y[8:], t, method="rk4"))
    assert abs(val - min(result.validation_losses)) < 1e-6 * max(1.0, val)
    with pytest.raises(ValueError, match="NaN"):
        train_vector_field(field, torch.full((2, 10, 2), float("nan")), t, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"), ({"guide": "bogus"}, "guide"),
    ({"lr_decay": 0.0}, "lr_decay"), ({"polish_steps": -1}, "polish_steps"),
    ({"polish_steps": 1.5}, "polish_steps"),
])
def test_fit_svi_rejects_bad_arguments(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_svi(conjugate_model, data, progress=False, **kwargs)
