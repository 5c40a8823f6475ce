import math

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.nn import PyroSample
from scipy.integrate import solve_ivp

from probdyn.dynamics import solve
from probdyn.physics import (
    LV_NOVEL_ENVIRONMENTS,
    LV_TRAIN_ENVIRONMENTS,
    DampedPendulum,
    LotkaVolterra,
    Pendulum,
    pendulum_initial_state,
    simulate_lotka_volterra,
    simulate_pendulum,
)
from probdyn.physics._physical import float64_default


def pendulum_rhs(t, x, w2, a):
    return [x[1], -w2 * math.sin(x[0]) - a * x[1]]


def lv_rhs(t, x, a, b, g, d):
    return [(a - b * x[1]) * x[0], (d * x[0] - g) * x[1]]


def test_simulate_pendulum_matches_scipy_and_the_spec_settings():
    ds = simulate_pendulum(num_trajectories=6, progress=False)
    assert ds["state"].dims == ("trajectory", "time", "channel")
    assert ds.sizes == {"trajectory": 6, "time": 40, "channel": 2}
    t = ds["time"].values
    assert np.allclose(t, np.arange(0, 20, 0.5))
    w2 = (2 * math.pi / 6.0) ** 2
    for i in range(6):
        # initial-condition law of the official generator (APHYNITY datasets/pendulum.py)
        rng = np.random.RandomState(i)
        y = rng.rand(2) * 2.0 - 1
        r = rng.rand() + 1.3
        x0 = y / np.sqrt((y**2).sum()) * r
        assert np.allclose(ds["state"].values[i, 0], x0, atol=1e-15)
        assert 1.3 <= np.linalg.norm(x0) < 2.3
        ref = solve_ivp(pendulum_rhs, (0, t[-1]), x0, args=(w2, 0.2), method="DOP853",
                        rtol=1e-12, atol=1e-12, t_eval=t)
        assert np.abs(ds["state"].values[i] - ref.y.T).max() < 1e-8
    noise = (ds["observation"] - ds["state"]).values
    assert 0.005 < noise.std() < 0.02  # sd 0.01 by default
    test = simulate_pendulum(num_trajectories=2, split="test", noise=0.0, progress=False)
    assert np.allclose(test["state"].values[0, 0], pendulum_initial_state(2**31 - 1))
    assert np.array_equal(test["state"].values, test["observation"].values)


def test_frictionless_pendulum_conserves_energy_and_has_period_t0():
    with float64_default():
        field = Pendulum(period=6.0)
    x0 = torch.tensor([[1.2, 0.3], [-0.5, 1.0]], dtype=torch.float64)
    sol = solve(field, x0, torch.linspace(0, 30, 61, dtype=torch.float64), method="dopri8",
                rtol=1e-11, atol=1e-12)
    energy = field.energy(sol)
    assert (energy - energy[:, :1]).abs().max() < 1e-9
    # small oscillations: period T0 (theta = eps cos(2 pi t / T0))
    small = solve(field, torch.tensor([1e-4, 0.0], dtype=torch.float64),
                  torch.tensor([0.0, 6.0], dtype=torch.float64), rtol=1e-12, atol=1e-16)
    assert abs(float(small[-1, 0]) / 1e-4 - 1) < 1e-6
    # damping dissipates energy monotonically
    damped = solve(DampedPendulum(6.0, 0.2).double(), x0,
                   torch.linspace(0, 10, 21, dtype=torch.float64), rtol=1e-10, atol=1e-12)
    e = field.energy(damped)
    assert (e[:, 1:] < e[:, :-1]).all()


def test_simulate_lotka_volterra_environments_scipy_and_invariant():
    ds = simulate_lotka_volterra("train", trajectories_per_environment=2, progress=False)
    assert ds.sizes["trajectory"] == 20 and ds.sizes["time"] == 20
    assert len(LV_TRAIN_ENVIRONMENTS) == 10 and len(LV_NOVEL_ENVIRONMENTS) == 4
    t = ds["time"].values
    assert np.allclose(t, np.arange(20) * 0.5)
    x0 = ds["state"].values[:, 0]
    assert ((x0 >= 1) & (x0 <= 2)).all()
    # the j-th initial state is the same in every environment (LEADS [T:3429-3432])
    per_env = x0.reshape(10, 2, 2)
    assert np.array_equal(per_env, np.broadcast_to(per_env[:1], per_env.shape))
    assert not np.allclose(per_env[0, 0], per_env[0, 1])
    for i in (0, 5, 19):
        env = int(ds["env"].values[i])
        params = tuple(float(ds[n].values[env]) for n in ("alpha", "beta", "gamma", "delta"))
        assert params == LV_TRAIN_ENVIRONMENTS[i // 2]
        ref = solve_ivp(lv_rhs, (0, t[-1]), x0[i], args=params, method="DOP853", rtol=1e-12,
                        atol=1e-12, t_eval=t)
        assert np.abs(ds["state"].values[i] - ref.y.T).max() < 1e-8
        with float64_default():
            field = LotkaVolterra(*params)
        v = field.invariant(torch.tensor(ds["state"].values[i]))
        assert (v - v[0]).abs().max() < 1e-9
    test = simulate_lotka_volterra("novel", 1, split="test", progress=False)
    assert not np.allclose(test["state"].values[:, 0], x0[:4])


@pytest.mark.parametrize("make,bad", [
    (lambda v: DampedPendulum(period=v), -1.0),
    (lambda v: DampedPendulum(damping=v), float("nan")),
    (lambda v: Pendulum(period=v), 0.0),
    (lambda v: LotkaVolterra(beta=v), -0.5),
])
def test_negative_physical_parameters_raise(make, bad):
    with pytest.raises(ValueError, match="positive"):
        make(bad)


def test_parameters_positive_by_transform_and_priors_by_pyrosample():
    field = LotkaVolterra(0.5, 0.5, 0.5, 0.5)
    # stored unconstrained: a large negative step on the raw value keeps alpha positive
    raw = field.alpha_unconstrained
    with torch.no_grad():
        raw.sub_(50.0)
    assert 0 < float(field.alpha) < 1e-20
    field.gamma = PyroSample(dist.LogNormal(0.0, 0.1))
    x0 = torch.tensor([1.0, 1.5])
    trace = pyro.poutine.trace(lambda: solve(field, x0, torch.linspace(0, 1, 3))).get_trace()
    assert "gamma" in trace.nodes and trace.nodes["gamma"]["type"] == "sample"
    # one draw per solve: replaying the trace with the same gamma reproduces the solution
    gamma = trace.nodes["gamma"]["value"]
    fixed = LotkaVolterra(float(field.alpha), 0.5, float(gamma), 0.5)
    sol = pyro.poutine.replay(lambda: solve(field, x0, torch.linspace(0, 1, 3)), trace)()
    assert torch.allclose(sol, solve(fixed, x0, torch.linspace(0, 1, 3)), atol=1e-6)


def test_simulator_bad_input():
    with pytest.raises(ValueError, match="split"):
        simulate_pendulum(2, split="val", progress=False)
    with pytest.raises(ValueError, match="dt"):
        simulate_pendulum(2, dt=-0.5, progress=False)
    with pytest.raises(ValueError, match="environments"):
        simulate_lotka_volterra([(1.0, 0.5, -1.0, 0.5)], progress=False)
