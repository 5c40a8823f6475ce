"""Advection-diffusion: the exact shifted heat kernel for a constant velocity (thesis S15),
mass conservation, and divergence-free random velocities."""

import math

import numpy as np
import pytest
import torch

from probdyn import ops, physics


def _heat_kernel(t, n, dx, D, w, s0, centre):
    """Periodised S15 solution for I_0 = exp(-|x - c|^2 / (2 s0^2)): a Gaussian moved by
    w t with variance s0^2 + 2 D t per axis and amplitude s0^2 / (s0^2 + 2 D t)."""
    L = n * dx
    coords = np.arange(n) * dx
    var = s0**2 + 2 * D * t
    out = np.zeros((n, n))
    for iy in range(-2, 3):
        for ix in range(-2, 3):
            X = coords[None, :] - centre[0] - w[0] * t - ix * L
            Y = coords[:, None] - centre[1] - w[1] * t - iy * L
            out += np.exp(-(X**2 + Y**2) / (2 * var))
    return s0**2 / var * out


def _run(n, scheme, D=0.5, w=(1.3, -0.6), s0=3.0, horizon=8.0):
    dx = 64.0 / n  # a fixed physical domain of 64 length units
    I0 = torch.from_numpy(_heat_kernel(0.0, n, dx, D, w, s0, (20.0, 30.0)))[None, None]
    ds = physics.simulate_advection_diffusion(
        1, diffusivity=D, velocity=torch.tensor(w), grid_size=n, dx=dx, horizon=horizon,
        dt_data=2.0, scheme=scheme, rtol=1e-10, atol=1e-12, initial_state=I0,
        progress=False, store_dtype="float64")
    exact = np.stack([_heat_kernel(t, n, dx, D, w, s0, (20.0, 30.0)) for t in ds.time.values])
    return ds, np.abs(ds.state.values[0, :, 0] - exact).max()


def test_spectral_matches_shifted_heat_kernel():
    ds, err = _run(64, "spectral")
    assert err < 1e-7, err


def test_finite_difference_converges_to_heat_kernel():
    errs = [_run(n, "finite_difference")[1] for n in (32, 64, 128)]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert errs[-1] < 1e-2 and np.all(np.abs(rates - 2) < 0.3), (errs, rates)


@pytest.mark.parametrize("scheme", ["spectral", "finite_difference"])
def test_mass_conserved(scheme):
    ds = physics.simulate_advection_diffusion(2, grid_size=32, horizon=6.0, dt_data=2.0,
                                              scheme=scheme, progress=False,
                                              store_dtype="float64")
    s = ds.state.values[:, :, 0]
    total = s.sum(axis=(-2, -1))
    assert np.abs(total - total[:, :1]).max() < 1e-10 * np.abs(s).sum(axis=(-2, -1)).min()
    assert np.abs(s[:, -1] - s[:, 0]).max() > 0.1  # the field has been transported
    # pure diffusion conserves mass as well (w = 0)
    diff = physics.simulate_advection_diffusion(1, velocity=torch.zeros(2), grid_size=32,
                                                horizon=4.0, dt_data=2.0, scheme=scheme,
                                                progress=False, store_dtype="float64")
    t = diff.state.values[0, :, 0].sum(axis=(-2, -1))
    assert np.abs(t - t[0]).max() < 1e-10 * np.abs(diff.state.values).sum() / 3
    # and decreases the variance
    assert diff.state.values[0, -1].var() < diff.state.values[0, 0].var()


def test_random_velocity_divergence_free():
    w = physics.divergence_free_velocity(3, 32, dx=0.5, speed=2.0, seed=4)
    assert w.shape == (3, 2, 32, 32)
    assert ops.spectral_divergence(w, 0.5).abs().max() < 1e-12
    speed = w.pow(2).sum(1).sqrt().amax((-2, -1))
    assert torch.allclose(speed, torch.tensor(2.0, dtype=torch.float64))
    ds = physics.simulate_advection_diffusion(3, grid_size=32, dx=0.5, speed=2.0, horizon=2.0,
                                              progress=False, seed=3)
    np.testing.assert_allclose(ds.velocity.values, physics.divergence_free_velocity(
        3, 32, dx=0.5, speed=2.0, seed=4).numpy(), rtol=1e-6)
    assert list(ds.component.values) == ["x", "y"]


def test_field_rhs_is_the_advection_diffusion_operator():
    """For constant w the flux form equals -(w . grad) I + D Lap I."""
    field = physics.AdvectionDiffusion(0.3, torch.tensor([0.5, 1.5]), (12, 10), dx=0.7,
                                       scheme="finite_difference").double()
    x = torch.randn(2, 1, 12, 10, dtype=torch.float64)
    g = ops.gradient(x[:, 0], 0.7)
    expected = -(0.5 * g[:, 0] + 1.5 * g[:, 1]) + 0.3 * ops.laplacian(x[:, 0], 0.7)
    assert torch.allclose(field(torch.tensor(0.0), x)[:, 0], expected, atol=1e-12)
    assert math.isclose(field.physical_parameters()["D"], 0.3)
