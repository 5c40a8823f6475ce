"""Bayesian APHYNITY (probdyn.models.HybridODEModel, augmentation_prior)."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer.autoguide import init_to_median, init_to_value
from pyro.nn import PyroSample
from scipy.integrate import solve_ivp
from scipy.stats import lognorm, norm

from probdyn.dynamics import HybridField, MLPField
from probdyn.infer import fit_svi
from probdyn.models import HybridODEModel, augmentation_prior
from probdyn.physics import DampedPendulum, Pendulum, simulate_pendulum


@pytest.fixture
def f64():
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(prev)


def _augmentation(seed=0, gain=0.1):
    torch.manual_seed(seed)
    net = MLPField(2, hidden=16, layers=2, activation="tanh")
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(gain)
    return net


def test_log_joint_equals_a_hand_computation_with_scipy(f64):
    # the model's log joint at fixed values, against scipy densities and a scipy ODE solution
    physical = Pendulum(period=6.0)
    physical.period = PyroSample(dist.LogNormal(math.log(5.0), 0.5))
    aug = _augmentation()
    model = HybridODEModel(HybridField(physical, aug), augmentation_scale=0.3,
                           initial_state_scale=2.0, method="dopri5", rtol=1e-10, atol=1e-10)
    t = torch.linspace(0.0, 3.0, 7)
    y = torch.randn(2, 7, 2, generator=torch.Generator().manual_seed(0))
    values = {"period": torch.tensor(5.5), "sigma": torch.tensor([0.2, 0.3]),
              "x0": torch.tensor([[0.5, -0.2], [1.0, 0.3]])}
    pyro.clear_param_store()
    trace = pyro.poutine.trace(pyro.poutine.condition(model, data=values)).get_trace(t, y)
    got = float(trace.log_prob_sum().detach())

    def rhs(_, x):
        with torch.no_grad():
            xt = torch.tensor(x)
            friction_free = torch.stack([xt[1], -(2 * math.pi / 5.5) ** 2 * torch.sin(xt[0])])
            return (friction_free + aug(torch.tensor(0.0), xt)).numpy()

    want = lognorm.logpdf(5.5, 0.5, scale=5.0)
    want += lognorm.logpdf(0.2, 1.0, scale=0.1) + lognorm.logpdf(0.3, 1.0, scale=0.1)
    penalty = 0.0
    for b in range(2):
        x0 = values["x0"][b].numpy()
        want += norm.logpdf(x0, 0.0, 2.0).sum()
        sol = solve_ivp(rhs, (0.0, 3.0), x0, t_eval=t.numpy(), rtol=1e-11, atol=1e-11).y.T
        want += norm.logpdf(y[b].numpy(), sol, [0.2, 0.3]).sum()
        with torch.no_grad():
            fa = aug(torch.tensor(0.0), torch.tensor(sol))
        penalty += float((fa ** 2).sum())
    want -= penalty / (2 * 0.3 ** 2)
    assert got == pytest.approx(want, rel=1e-7)
    assert float(trace.nodes["augmentation_prior"]["log_prob_sum"]) == \
        pytest.approx(-penalty / (2 * 0.3 ** 2), rel=1e-6)


def test_augmentation_prior_is_the_scaled_penalty(f64):
    field = HybridField(Pendulum(), _augmentation())
    states = torch.randn(3, 5, 2)
    with pyro.poutine.trace() as tr:
        value = augmentation_prior(field, states, 0.5, name="pen")
    assert float(value) == pytest.approx(-0.5 * 15 * float(field.augmentation_norm(states))
                                         / 0.25)
    assert tr.trace.nodes["pen"]["type"] == "sample"  # a factor site
    with pyro.poutine.trace():
        assert float(augmentation_prior(HybridField(Pendulum()), states, 0.5)) == 0.0


def test_complete_physics_leaves_the_augmentation_near_zero_and_recovers_the_period(f64):
    ds = simulate_pendulum(4, 16, 0.5, period=6.0, damping=0.2, noise=0.02, seed=1,
                           progress=False)
    t = torch.tensor(ds["time"].values)
    y = torch.tensor(ds["observation"].values)
    physical = DampedPendulum(period=5.0, damping=0.1)
    physical.period = PyroSample(dist.LogNormal(math.log(5.0), 0.5))
    physical.damping = PyroSample(dist.LogNormal(math.log(0.1), 1.0))
    field = HybridField(physical, _augmentation())
    model = HybridODEModel(field, augmentation_scale=0.05, step_size=0.25)
    pyro.clear_param_store()
    fit = fit_svi(model, t, y, guide="laplace", steps=250, lr=0.02, seed=0, progress=False,
                  init_loc_fn=init_to_value(values={"x0": y[:, 0]}, fallback=init_to_median))
    draws = [fit.guide(t, y) for _ in range(400)]
    for name, true in (("period", 6.0), ("damping", 0.2)):
        d = torch.stack([s[name] for s in draws])
        assert abs(float(fit.median[name]) - true) < 0.05 * true, name
        assert abs(float(d.mean()) - true) < 4 * float(d.std()), name
    friction = 0.2 * y[..., 1]  # size of the physics the augmentation could have absorbed
    assert float(field.augmentation_norm(y)) < 0.02 * float((friction ** 2).mean())


@pytest.mark.parametrize("kwargs, match", [
    ({"augmentation_scale": 0.0}, "augmentation_scale"),
    ({"augmentation_scale": 1.0, "initial_state_scale": -1.0}, "initial_state_scale"),
    ({"augmentation_scale": 1.0, "norm": "l1"}, "norm"),
    ({"augmentation_scale": 1.0, "noise_prior": 0.1}, "noise_prior"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HybridODEModel(HybridField(Pendulum()), **kwargs)
    with pytest.raises(ValueError, match="field"):
        HybridODEModel(Pendulum(), augmentation_scale=1.0)


def test_observations_of_the_wrong_shape_are_rejected(f64):
    model = HybridODEModel(HybridField(Pendulum()), augmentation_scale=1.0)
    with pytest.raises(ValueError, match="y must have shape"):
        model(torch.linspace(0, 1, 5), torch.zeros(2, 4, 2))
    with pytest.raises(ValueError, match="num_trajectories"):
        model(torch.linspace(0, 1, 5))
