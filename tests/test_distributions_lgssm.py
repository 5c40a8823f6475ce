"""LinearGaussianSSM as a Pyro distribution: oracles (Pyro's GaussianHMM, brute-force Gaussian
conditioning) and the Pyro protocol (plate, SVI, NUTS, Predictive)."""

import numpy as np
import pyro
import pyro.distributions as pdist
import pytest
import torch
from _models import joint_gaussian, random_model

from probdyn.distributions import LinearGaussianSSM


def _ssm(T=8, batch=(), time_varying=False, **kw):
    m0, P0, F, Q, H, R = random_model(d=3, N=2, T=T, batch=batch, time_varying=time_varying)
    return LinearGaussianSSM(m0, P0, F, Q, H, R, duration=T, **kw)


def test_shapes_and_sampling():
    d = _ssm(T=8, batch=(4,))
    assert d.batch_shape == (4,) and d.event_shape == (8, 2)
    y = d.sample((5,))
    assert y.shape == (5, 4, 8, 2)
    assert d.log_prob(y).shape == (5, 4)
    assert d.expand((3, 4)).log_prob(y[:3]).shape == (3, 4)
    assert d.filter(y).batch_shape == (5, 4, 8)
    assert d.smooth(y).event_shape == (3,)
    assert d.sample_posterior(y[0], (7,)).shape == (7, 4, 8, 3)


@pytest.mark.parametrize("time_varying", [False, True])
def test_equals_pyro_gaussian_hmm(time_varying):
    d = _ssm(T=7, time_varying=time_varying)
    y = d.sample((6,))
    hmm = d.to_gaussian_hmm()
    torch.testing.assert_close(hmm.log_prob(y), d.log_prob(y))
    back = LinearGaussianSSM.from_gaussian_hmm(hmm)
    torch.testing.assert_close(back.log_prob(y), d.log_prob(y))


def test_from_native_gaussian_hmm():
    g = torch.Generator().manual_seed(0)
    dim, N, T = 2, 3, 6
    A = 0.5 * torch.randn(dim, dim, generator=g, dtype=torch.float64)
    C = torch.randn(dim, N, generator=g, dtype=torch.float64)
    init = pdist.MultivariateNormal(torch.ones(dim, dtype=torch.float64),
                                    torch.eye(dim, dtype=torch.float64))
    trans = pdist.MultivariateNormal(torch.zeros(dim, dtype=torch.float64),
                                     0.3 * torch.eye(dim, dtype=torch.float64))
    obs = pdist.MultivariateNormal(torch.zeros(N, dtype=torch.float64),
                                   0.5 * torch.eye(N, dtype=torch.float64))
    hmm = pdist.GaussianHMM(init, A, trans, C, obs, duration=T)
    y = hmm.sample((4,))
    ssm = LinearGaussianSSM.from_gaussian_hmm(hmm)
    torch.testing.assert_close(ssm.log_prob(y), hmm.log_prob(y))
    # the off-by-one: x_1 = z_0 A + noise, so initial_loc = 1 @ A
    torch.testing.assert_close(ssm.initial_loc, torch.ones(dim, dtype=torch.float64) @ A)


def test_moments_match_monte_carlo_and_joint_gaussian():
    d = _ssm(T=5, time_varying=True)
    _, _, my, Cyy, _ = joint_gaussian(d.initial_loc, d.initial_cov, d.transition_matrix,
                                      d.transition_cov, d.observation_matrix,
                                      d.observation_cov, 5)
    torch.testing.assert_close(d.mean.reshape(-1), my)
    torch.testing.assert_close(d.variance.reshape(-1), torch.diagonal(Cyy))
    y = d.sample((50000,))
    assert (y.mean(0).reshape(-1) - my).abs().max() < 5 * (Cyy.diagonal().max() / 50000) ** 0.5
    emp = torch.cov(y.reshape(50000, -1).T)
    assert (emp - Cyy).abs().max() < 0.05 * Cyy.abs().max()


def test_forecast_is_conditional_gaussian():
    T, h = 6, 3
    d = _ssm(T=T + h)
    y_full = d.sample()
    past = y_full[:T].clone()
    past[2, 1] = float("nan")
    _, _, my, Cyy, _ = joint_gaussian(d.initial_loc, d.initial_cov, d.transition_matrix,
                                      d.transition_cov, d.observation_matrix,
                                      d.observation_cov, T + h)
    o = torch.cat([~torch.isnan(past).reshape(-1), torch.zeros(2 * h, dtype=torch.bool)])
    f = ~o
    f[: 2 * T] = False
    K = Cyy[f][:, o] @ torch.linalg.inv(Cyy[o][:, o])
    mean = my[f] + K @ (past.reshape(-1)[~torch.isnan(past.reshape(-1))] - my[o])
    cov = Cyy[f][:, f] - K @ Cyy[o][:, f]
    past_model = LinearGaussianSSM(d.initial_loc, d.initial_cov, d.transition_matrix,
                                   d.transition_cov, d.observation_matrix, d.observation_cov,
                                   duration=T)
    fc = past_model.forecast(past, h)
    assert fc.event_shape == (h, 2)
    torch.testing.assert_close(fc.mean.reshape(-1), mean)
    torch.testing.assert_close(fc.variance.reshape(-1), torch.diagonal(cov))
    # the joint density of a candidate future path is the conditional Gaussian density
    cand = y_full[T:]
    ref = pdist.MultivariateNormal(mean, cov).log_prob(cand.reshape(-1))
    torch.testing.assert_close(fc.log_prob(cand), ref)


def test_time_varying_forecast_needs_future_parameters():
    d = _ssm(T=6, time_varying=True)
    y = d.sample()
    with pytest.raises(ValueError, match="time-varying"):
        d.forecast(y, 2)
    H = d.observation_matrix[:2]
    F, Q, R = d.transition_matrix[:2], d.transition_cov[:2], d.observation_cov[:2]
    fc = d.forecast(y, 2, transition_matrix=F, transition_cov=Q, observation_matrix=H,
                    observation_cov=R)
    assert fc.mean.shape == (2, 2)
    with pytest.raises(ValueError, match="horizon"):
        d.forecast(y, 0)


def test_bad_input_errors():
    m0, P0, F, Q, H, R = (x[0] if x.dim() > 2 else x for x in random_model(T=4,
                                                                           time_varying=False))
    with pytest.raises(ValueError, match="initial_cov"):
        LinearGaussianSSM(m0, P0[:2, :2], F, Q, H, R, duration=4)
    with pytest.raises(ValueError, match="observation_cov"):
        LinearGaussianSSM(m0, P0, F, Q, H, R[:1, :1], duration=4)
    with pytest.raises(ValueError, match="transition_matrix has a time axis of length 5"):
        LinearGaussianSSM(m0, P0, F.expand(5, 3, 3), Q, H, R, duration=4)
    with pytest.raises(ValueError, match="duration"):
        LinearGaussianSSM(m0, P0, F, Q, H, R, duration=0)
    with pytest.raises(ValueError, match="transition_cov"):
        LinearGaussianSSM(m0, P0, F, Q * float("nan"), H, R, duration=4)
    with pytest.raises(ValueError, match="initial_cov"):
        LinearGaussianSSM(m0, -P0, F, Q, H, R, duration=4, validate_args=True)
    with pytest.raises(ValueError, match="transition_cov"):
        LinearGaussianSSM(m0, P0, F, -Q, H, R, duration=4, validate_args=True)
    d = LinearGaussianSSM(m0, P0, F, Q, H, R, duration=4)
    with pytest.raises(ValueError, match="event shape"):
        d.log_prob(torch.zeros(5, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="no observed entry"):
        d.log_prob(torch.full((3, 4, 2), float("nan"), dtype=torch.float64))


def test_pyro_plate_svi_nuts_predictive():
    pyro.clear_param_store()
    torch.manual_seed(0)
    m0, P0, F, Q, H, R = (x[0] if x.dim() > 2 else x for x in random_model(T=6,
                                                                           time_varying=False))
    true = LinearGaussianSSM(m0, P0, F, 2.0 * Q, H, R, duration=30)
    y = true.sample((8,))
    y[0, 3] = float("nan")

    def model(y=None):
        scale = pyro.sample("q_scale", pdist.LogNormal(0.0, 1.0).to_event(0))
        with pyro.plate("series", 8):
            return pyro.sample("y", LinearGaussianSSM(m0, P0, F, scale * Q, H, R,
                                                      duration=30), obs=y)

    guide = pyro.infer.autoguide.AutoNormal(model)
    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), pyro.infer.Trace_ELBO())
    losses = [svi.step(y) for _ in range(150)]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    mcmc = pyro.infer.MCMC(pyro.infer.NUTS(model), num_samples=60, warmup_steps=60,
                           disable_progbar=True)
    mcmc.run(y)
    q = mcmc.get_samples()["q_scale"]
    assert torch.isfinite(q).all() and 1.0 < q.mean() < 4.0  # truth 2.0
    pred = pyro.infer.Predictive(model, mcmc.get_samples())()
    assert pred["y"].shape == (60, 8, 30, 2)


def test_degenerate_proposal_is_a_divergence_for_hmc_not_a_crash():
    """In float32, an observation variance of 1e-9 next to diffuse states (variance 1e6) leaves
    no precision for the innovation covariance: the error names the step for a user, and
    Pyro's HMC/NUTS rejects such a proposal instead of stopping the chain."""
    from pyro.infer.mcmc.util import initialize_model
    from pyro.nn import PyroSample
    from pyro.ops.integrator import potential_grad

    from probdyn.ops import NotPositiveDefiniteError
    from probdyn.ssm import LocalLinearTrend, Seasonal, StructuralTimeSeries

    t = torch.arange(40.0)
    y = 300 + 0.1 * t + 3 * torch.sin(2 * np.pi * t / 12) + 0.1 * torch.randn(40)
    model = StructuralTimeSeries([LocalLinearTrend(0.1, 1e-4),
                                  Seasonal(12, seasonal_variance=1e-3)],
                                 observation_variance=float(np.exp(-20.0)))
    with pytest.raises(NotPositiveDefiniteError, match="time step"):
        model.ssm(40).log_prob(y.unsqueeze(-1))
    model.observation_variance = PyroSample(pdist.LogNormal(-3.0, 2.0))
    _, potential_fn, _, _ = initialize_model(model, model_args=(y,))
    site = "observation_variance"
    grads, energy = potential_grad(potential_fn, {site: torch.tensor(-20.0)})
    assert torch.isnan(energy) and grads[site] == 0  # rejected, not raised
    grads, energy = potential_grad(potential_fn, {site: torch.tensor(0.0)})
    assert torch.isfinite(energy) and torch.isfinite(grads[site])
    with pytest.raises(ValueError, match="mask"):  # other errors still reach the user
        model.ssm(40).log_prob(y.unsqueeze(-1), mask=torch.ones(40, 1))


def test_parallel_filter_falls_back_instead_of_returning_nan():
    """A tiny observation variance overflows the information-form scan (weights 1/r ~ 1e174):
    the result must be the sequential filter's, never NaN."""
    y = torch.cumsum(torch.randn(20, 1, dtype=torch.float64), 0)
    F = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    H = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    r = torch.full((1, 1), np.exp(-400.0), dtype=torch.float64)
    par, seq = (LinearGaussianSSM(torch.zeros(2).double(), 1e6 * eye, F, 1e-2 * eye, H, r,
                                  duration=20, parallel=p) for p in (True, False))
    assert torch.isfinite(par.log_prob(y))
    torch.testing.assert_close(par.log_prob(y), seq.log_prob(y), rtol=1e-10, atol=0)
    torch.testing.assert_close(par.smooth(y).mean, seq.smooth(y).mean, rtol=1e-8, atol=1e-8)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("parallel", [True, False])
def test_runs_on_the_device_of_its_parameters(device, parallel):
    """Every method keeps tensors on the parameters' device and matches the float64 CPU run
    (on a GPU machine this is the CUDA path; elsewhere the CPU one)."""
    params = random_model(d=3, N=2, T=300, batch=(4,), time_varying=False)
    cpu = LinearGaussianSSM(*params, duration=300, parallel=parallel)
    y = cpu.sample((2,))
    y[0, 1, 5, 0] = float("nan")
    y[1, :, 7] = float("nan")
    dev = LinearGaussianSSM(*(p.to(device) for p in params), duration=300, parallel=parallel)
    yd = y.to(device)
    ll = dev.log_prob(yd)
    sm = dev.smooth(yd)
    draws = dev.sample_posterior(yd, (3,))
    fc = dev.forecast(yd, 5)
    for x in (ll, sm.mean, draws, fc.mean, fc.sample()):
        assert x.device.type == device and torch.isfinite(x).all()
    torch.testing.assert_close(ll.cpu(), cpu.log_prob(y), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(sm.mean.cpu(), cpu.smooth(y).mean, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(fc.variance.cpu(), cpu.forecast(y, 5).variance, rtol=1e-8,
                               atol=1e-10)
