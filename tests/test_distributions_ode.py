import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import scipy.stats
import torch
from pyro.infer import Predictive
from scipy.integrate import solve_ivp

from probdyn.distributions import LowerTruncatedNormal, ODETrajectory
from probdyn.physics import LotkaVolterra
from probdyn.physics._physical import float64_default

PARAMS = (0.55, 0.028, 0.80, 0.024)
TIMES = np.arange(0.0, 8.0)


def scipy_lv(x0, times=TIMES, params=PARAMS):
    a, b, g, d = params
    sol = solve_ivp(lambda t, x: [(a - b * x[1]) * x[0], (d * x[0] - g) * x[1]],
                    (times[0], times[-1]), x0, method="DOP853", rtol=1e-12, atol=1e-12,
                    t_eval=times)
    return sol.y.T


@pytest.fixture
def field():
    with float64_default():
        return LotkaVolterra(*PARAMS)


X0 = np.array([[33.9, 5.9], [20.0, 10.0], [40.0, 3.0]])
SCALE = np.array([0.3, 0.5])


def _data(rng, states, observation):
    if observation == "lognormal":
        return states * np.exp(SCALE * rng.standard_normal(states.shape))
    return states + SCALE * rng.standard_normal(states.shape)


@pytest.mark.parametrize("observation,ref", [
    ("normal", lambda y, m: scipy.stats.norm.logpdf(y, m, SCALE)),
    ("studentt", lambda y, m: scipy.stats.t.logpdf(y, 4.0, m, SCALE)),
    ("lognormal", lambda y, m: scipy.stats.lognorm.logpdf(y, SCALE, scale=m)),
])
def test_log_prob_matches_scipy_solution_and_densities(field, observation, ref):
    rng = np.random.default_rng(0)
    states = np.stack([scipy_lv(x) for x in X0])  # (3, T, 2)
    y = _data(rng, states, observation)
    y[0, 2, 1] = np.nan  # missing entries are dropped
    y[2, 5] = np.nan
    kw = {"df": 4.0} if observation == "studentt" else {}
    d = ODETrajectory(field, torch.tensor(X0), torch.tensor(TIMES), torch.tensor(SCALE),
                      observation, rtol=1e-10, atol=1e-10, **kw)
    assert d.batch_shape == (3,) and d.event_shape == (len(TIMES), 2)
    assert np.abs(d.states.detach().numpy() - states).max() < 1e-6
    expected = np.nansum(ref(y, states), axis=(1, 2))
    got = d.log_prob(torch.tensor(y)).detach().numpy()
    assert np.allclose(got, expected, rtol=1e-7, atol=1e-6)


def test_measurement_operator_matrix_and_callable(field):
    rng = np.random.default_rng(1)
    states = scipy_lv(X0[0])
    H = np.array([[0.0, 1.0]])  # observe the predator only
    y = states @ H.T + 0.4 * rng.standard_normal((len(TIMES), 1))
    expected = scipy.stats.norm.logpdf(y, states @ H.T, 0.4).sum()
    for h in (torch.tensor(H), lambda s: s[..., 1:]):
        d = ODETrajectory(field, torch.tensor(X0[0]), torch.tensor(TIMES), 0.4, measurement=h,
                          rtol=1e-10, atol=1e-10)
        assert d.event_shape == (len(TIMES), 1)
        assert abs(float(d.log_prob(torch.tensor(y))) - expected) < 1e-6
    with pytest.raises(ValueError, match="measurement"):
        ODETrajectory(field, torch.tensor(X0[0]), torch.tensor(TIMES), 0.4,
                      measurement=torch.ones(1, 3))


def test_t0_before_first_observation(field):
    d = ODETrajectory(field, torch.tensor(X0[0]), torch.tensor(TIMES[2:]), 0.4, t0=0.0,
                      rtol=1e-10, atol=1e-10)
    assert np.abs(d.loc.detach().numpy() - scipy_lv(X0[0])[2:]).max() < 1e-6


def test_pyro_plate_sampling_predictive_and_gradients(field):
    times = torch.tensor(TIMES)
    x0 = torch.tensor(X0)

    def model(y=None):
        sigma = pyro.sample("sigma", dist.LogNormal(-1.0, 0.5))
        with pyro.plate("trajectories", 3):
            return pyro.sample("y", ODETrajectory(field, x0, times, sigma, "lognormal",
                                                  method="rk4", step_size=0.1), obs=y)

    y = Predictive(model, num_samples=5)()["y"]
    assert y.shape == (5, 3, len(TIMES), 2) and (y > 0).all()
    obs = y[0].clone()
    obs[1, 3, 0] = float("nan")
    trace = pyro.poutine.trace(model).get_trace(obs)
    trace.compute_log_prob()
    assert trace.nodes["y"]["log_prob"].shape == (3,)
    assert torch.isfinite(trace.log_prob_sum())
    # gradients reach the physical parameters through the ODE solve
    trace.log_prob_sum().backward()
    assert field.alpha_unconstrained.grad is not None
    assert torch.isfinite(field.alpha_unconstrained.grad)
    d = ODETrajectory(field, x0, times, 0.3)
    e = d.expand((4, 3))
    assert e.batch_shape == (4, 3) and e.sample((2,)).shape == (2, 4, 3, len(TIMES), 2)


def test_bad_input_and_rejections(field):
    x0, times = torch.tensor(X0[0]), torch.tensor(TIMES)
    with pytest.raises(ValueError, match="scale"):
        ODETrajectory(field, x0, times, -1.0)
    with pytest.raises(ValueError, match="df"):
        ODETrajectory(field, x0, times, 1.0, "studentt")
    with pytest.raises(ValueError, match="observation"):
        ODETrajectory(field, x0, times, 1.0, "poisson")
    with pytest.raises(ValueError, match="monotone"):
        ODETrajectory(field, x0, times.flip(0)[[0, 2, 1]], 1.0)
    with pytest.raises(ValueError, match="x0"):
        ODETrajectory(field, torch.tensor([float("nan"), 1.0]), times, 1.0)
    d = ODETrajectory(field, x0, times, 1.0, "lognormal")
    with pytest.raises(ValueError, match="shape"):
        d.log_prob(torch.ones(len(TIMES), 3))
    with pytest.raises(ValueError, match="positive"):
        d.log_prob(-torch.ones(len(TIMES), 2))
    # a state that leaves the positive orthant has zero likelihood under LogNormal
    with float64_default():
        shrink = LotkaVolterra(1.0, 1.0, 1.0, 1.0)
    neg = ODETrajectory(shrink, torch.tensor([-1.0, 1.0]), times[:3], 0.5, "lognormal",
                        method="rk4")
    assert float(neg.log_prob(torch.ones(3, 2))) == -math.inf


def test_lower_truncated_normal_matches_scipy():
    loc, scale = torch.tensor([1.0, 0.05]).double(), torch.tensor([0.5, 0.05]).double()
    d = LowerTruncatedNormal(loc.double(), scale.double())
    x = torch.tensor([[0.3, 0.01], [2.0, 0.2]], dtype=torch.float64)
    a = (0 - loc.numpy()) / scale.numpy()
    ref = scipy.stats.truncnorm.logpdf(x.numpy(), a, np.inf, loc.numpy(), scale.numpy())
    assert np.allclose(d.log_prob(x).numpy(), ref, rtol=1e-10)
    assert np.allclose(d.mean.numpy(),
                       scipy.stats.truncnorm.mean(a, np.inf, loc.numpy(), scale.numpy()))
    torch.manual_seed(0)
    draws = d.sample((20000,))
    assert (draws > 0).all()
    sd = scipy.stats.truncnorm.std(a, np.inf, loc.numpy(), scale.numpy())
    assert np.all(np.abs(draws.mean(0).numpy() - d.mean.numpy()) < 4 * sd / math.sqrt(20000))
    assert d.support.check(torch.tensor([0.1, 0.1])).all()
    assert d.support.check(torch.tensor([-0.1, 0.1])).tolist() == [False, True]


@pytest.mark.parametrize("observation", ["normal", "lognormal", "studentt"])
def test_blown_up_solution_gives_minus_inf(observation):
    # dx/dt = x^2 from x0 = 1 blows up at t = 1: the solution is inf/NaN after that. Under
    # Pyro's validation the masked noise model must not see the NaN (a ValueError before).
    import pyro

    class Square(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rate = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

        def forward(self, t, x):
            return self.rate * x**2

    field = Square()
    times = torch.tensor([0.0, 0.5, 1.5, 2.0], dtype=torch.float64)
    df = 3.0 if observation == "studentt" else None
    with pyro.validation_enabled(True):
        d = ODETrajectory(field, torch.ones(1, dtype=torch.float64), times, 0.1, observation,
                          df=df, method="rk4", step_size=0.25)
        assert not torch.isfinite(d.loc).all()
        lp = d.log_prob(torch.ones(len(times), 1, dtype=torch.float64))
    assert float(lp) == -math.inf
