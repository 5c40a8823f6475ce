"""Damped wave: discrete energy (conserved without damping, dissipated at the exact rate with
it), the exact modal integrator against dopri5, the Neumann stencils against numpy."""

import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from probdyn import physics


def _numpy_lap(w, stencil):
    """Independent Neumann Laplacian: numpy's 'symmetric' padding is the half-sample
    reflection; dx = 1."""
    if stencil == "five_point":
        p = np.pad(w, 1, mode="symmetric")
        return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * w
    p = np.pad(w, 2, mode="symmetric")
    c = p[2:-2, 2:-2]
    out = -30 * c * 2
    for s, wgt in ((1, 16), (2, -1)):
        out = out + wgt * (p[2 - s:p.shape[0] - 2 - s, 2:-2] + p[2 + s:p.shape[0] - 2 + s, 2:-2]
                           + p[2:-2, 2 - s:p.shape[1] - 2 - s] + p[2:-2, 2 + s:p.shape[1] - 2 + s])
    return out / 12


@pytest.mark.parametrize("stencil", ["five_point", "fourth_order"])
def test_forward_matches_numpy(stencil):
    field = physics.DampedWave(c=2.5, k=0.7, grid_size=(9, 7), stencil=stencil).double()
    x = torch.randn(2, 9, 7, dtype=torch.float64)
    out = field(torch.tensor(0.0), x).detach().numpy()
    w, wt = x.numpy()
    np.testing.assert_allclose(out[0], wt, atol=1e-14)
    np.testing.assert_allclose(out[1], 2.5**2 * _numpy_lap(w, stencil) - 0.7 * wt, atol=1e-12)


def _run(k, method, **kw):
    return physics.simulate_damped_wave(
        2, c=4.0, k=k, grid_size=16, horizon=6.0, dt_data=0.5, sigma_range=(2.0, 4.0),
        method=method, progress=False, store_dtype="float64", **kw)


@pytest.mark.parametrize("method,tol", [("exact", 1e-12), ("dopri5", 1e-8)])
def test_energy_conserved_without_damping(method, tol):
    ds = _run(0.0, method, stencil="five_point", rtol=1e-10, atol=1e-12)
    field = physics.DampedWave(c=4.0, k=0.0, grid_size=16).double()
    E = field.energy(torch.from_numpy(ds.state.values))  # (trajectory, time)
    assert (E > 0).all()
    drift = ((E - E[:, :1]).abs().max() / E[:, 0].min()).item()
    assert drift < tol, drift
    # the wave has moved: the state at the end differs from the start
    assert np.abs(ds.state.values[:, -1] - ds.state.values[:, 0]).max() > 0.1


def test_energy_dissipation_rate():
    field = physics.DampedWave(c=3.0, k=0.8, grid_size=12, stencil="fourth_order").double()
    x = torch.randn(3, 2, 12, 12, dtype=torch.float64)
    with torch.no_grad():
        f = field(torch.tensor(0.0), x)
    _, dE = torch.autograd.functional.jvp(field.energy, x, f)  # dE/dt along the flow
    expected = -0.8 * x[:, 1].pow(2).sum((-2, -1))
    assert torch.allclose(dE, expected, rtol=1e-10)
    ds = _run(0.8, "exact")
    E = field.__class__(c=4.0, k=0.8, grid_size=16).double().energy(
        torch.from_numpy(ds.state.values))
    assert (torch.diff(E, dim=1) < 0).all()


@pytest.mark.parametrize("stencil", ["five_point", "fourth_order"])
def test_exact_integrator_matches_dopri5(stencil):
    exact = _run(0.3, "exact", stencil=stencil).state.values
    ref = _run(0.3, "dopri5", stencil=stencil, rtol=1e-11, atol=1e-13).state.values
    assert np.abs(exact - ref).max() / np.abs(ref).max() < 1e-8


def test_default_generator_is_fourth_order_with_thesis_bump():
    ds = physics.simulate_damped_wave(2, grid_size=16, horizon=0.005, progress=False)
    assert ds.attrs["laplacian"] == "fourth_order" and ds.attrs["c"] == pytest.approx(330)
    w0 = ds.state.sel(channel="w").isel(time=0).values
    assert np.allclose(ds.state.sel(channel="w_t").isel(time=0).values, 0)
    # the thesis bump is centred on the domain centre and peaks at about 1
    assert np.allclose(w0, w0[:, ::-1, :], atol=1e-6) and 0.9 < w0.max() <= 1.0
    code = physics.wave_initial_state(3, 64, variant="code", seed=0)
    peak = [np.unravel_index(np.argmax(c[0].numpy()), c[0].shape) for c in code]
    assert all(19 <= p[0] <= 40 and 19 <= p[1] <= 40 for p in peak)


def test_gradient_through_simulation_parameters():
    """The field is differentiable in (c, k) through a torchdiffeq solve."""
    field = physics.DampedWave(c=2.0, k=0.5, grid_size=8).double()
    x0 = physics.wave_initial_state(1, 8, sigma_range=(2.0, 2.0)).double()
    y = odeint(field, x0, torch.tensor([0.0, 0.5], dtype=torch.float64), method="rk4",
               options={"step_size": 0.05})[-1]
    y.pow(2).sum().backward()
    assert field.c_unconstrained.grad.abs() > 0 and field.k_unconstrained.grad.abs() > 0
