"""Navier-Stokes vorticity: divergence-free velocity from the stream function, the nonlinear
term against a hand-derived two-mode Jacobian, exact Taylor-Green-type decay, LEADS
forcings and environments, the passive tracer's mass."""

import math

import numpy as np
import torch
from torchdiffeq import odeint

from probdyn import ops, physics


def _grid(n):
    s = torch.arange(n, dtype=torch.float64) / n
    return s[None, :], s[:, None]  # x, y on [0, 1)


def test_velocity_divergence_free_and_curl_is_vorticity():
    field = physics.NavierStokesVorticity(grid_size=32).double()
    w = physics.navier_stokes_initial_vorticity(3, 32, seed=1)
    vel = field.velocity(w)
    dx = 1 / 32
    assert ops.spectral_divergence(vel, dx).abs().max() < 1e-12
    grad_v = ops.spectral_gradient(vel[:, 1], dx)
    grad_u = ops.spectral_gradient(vel[:, 0], dx)
    curl = grad_v[:, 0] - grad_u[:, 1]
    # curl u = w, up to the mean and the Nyquist modes (dropped by spectral derivatives)
    w_hat = torch.fft.fft2(w[:, 0])
    w_hat[:, 0, 0] = 0
    w_hat[:, 16, :] = 0
    w_hat[:, :, 16] = 0
    assert (curl - torch.fft.ifft2(w_hat).real).abs().max() < 1e-12
    # and Lap psi = -w
    lap_psi = ops.spectral_laplacian(field.stream_function(w), dx)
    assert (lap_psi + w[:, 0] - w[:, 0].mean((-2, -1), keepdim=True)).abs().max() < 1e-12


def test_nonlinear_term_two_modes():
    """w = A cos(2 pi x) + B cos(4 pi y): u . grad w = -1.5 A B sin(2 pi x) sin(4 pi y)
    (derived by hand from psi = A cos(2 pi x)/(4 pi^2) + B cos(4 pi y)/(16 pi^2))."""
    n, A, B, nu = 16, 0.7, -1.3, 2e-3
    x, y = _grid(n)
    w = A * torch.cos(2 * math.pi * x) + B * torch.cos(4 * math.pi * y)
    field = physics.NavierStokesVorticity(nu, grid_size=n).double()
    out = field(torch.tensor(0.0), w[None]).detach()[0]
    lap = -(4 * math.pi**2) * A * torch.cos(2 * math.pi * x) \
        - (16 * math.pi**2) * B * torch.cos(4 * math.pi * y)
    expected = 1.5 * A * B * torch.sin(2 * math.pi * x) * torch.sin(4 * math.pi * y) + nu * lap
    assert (out - expected).abs().max() < 1e-11


def test_same_shell_modes_decay_exactly():
    """Vorticity on one wavenumber shell is proportional to its stream function, so the
    advection vanishes and w(t) = w(0) exp(-nu |k|^2 t) (Taylor-Green type)."""
    n, nu = 16, 1e-2
    x, y = _grid(n)
    two_pi = 2 * math.pi
    w0 = (torch.sin(two_pi * x) * torch.sin(two_pi * y)
          + 0.5 * torch.cos(two_pi * (x - y)) + 0.3 * torch.sin(two_pi * (x + y)))
    field = physics.NavierStokesVorticity(nu, grid_size=n).double()
    times = torch.linspace(0, 3, 7, dtype=torch.float64)
    with torch.no_grad():
        sol = odeint(field, w0[None, None], times, rtol=1e-10, atol=1e-12)
    exact = w0 * torch.exp(-nu * 2 * two_pi**2 * times)[:, None, None]
    assert (sol[:, 0, 0] - exact).abs().max() < 1e-8


def test_forced_steady_state():
    """Forcing xi = nu |k|^2 w_s on a single shell keeps w_s steady."""
    n, nu = 16, 1e-3
    x, y = _grid(n)
    ws = torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y))
    forcing = nu * 2 * (2 * math.pi) ** 2 * ws
    field = physics.NavierStokesVorticity(nu, forcing, grid_size=n).double()
    assert field(torch.tensor(0.0), ws[None]).abs().max() < 1e-12


def test_leads_forcings():
    f = [physics.navier_stokes_forcing(e, 32) for e in range(4)]
    x, y = _grid(32)
    two_pi = 2 * math.pi
    expected0 = 0.1 * (torch.sin(two_pi * (x + y)) + torch.cos(two_pi * (x + y)))
    expected3 = 0.1 * (torch.sin(two_pi * (x + 2 * y)) + torch.cos(two_pi * (2 * x + y)))
    assert torch.allclose(f[0], expected0) and torch.allclose(f[3], expected3)
    for i in range(4):
        for j in range(i):
            assert (f[i] - f[j]).abs().max() > 0.05  # four distinct environments


def test_environments_share_initial_state_and_differ_later():
    ds = physics.simulate_navier_stokes(2, grid_size=16, horizon=4.0, warmup=2.0,
                                        progress=False)
    s = ds.state.values
    assert s.shape == (4, 2, 5, 1, 16, 16)
    for e in range(1, 4):
        assert np.array_equal(s[0, :, 0], s[e, :, 0])
        assert np.abs(s[0, :, -1] - s[e, :, -1]).max() > 1e-3
    # the warm-up moved the state away from the raw random field
    raw = physics.navier_stokes_initial_vorticity(2, 16, seed=0).numpy()
    assert np.abs(s[0, :, 0] - raw).max() > 1e-3
    # the mean vorticity (circulation) stays zero: the forcings have zero mean
    assert np.abs(s.mean(axis=(-2, -1))).max() < 1e-6


def test_tracer_mass_conserved():
    ds = physics.simulate_navier_stokes(2, environments=[0], grid_size=16, horizon=3.0,
                                        warmup=0.0, tracer_diffusivity=1e-3, progress=False,
                                        store_dtype="float64")
    assert list(ds.channel.values) == ["w", "rho"]
    rho = ds.state.sel(channel="rho").values[0]
    total = rho.sum(axis=(-2, -1))
    assert np.abs(total - total[:, :1]).max() < 1e-10 * np.abs(rho).sum()
    assert np.abs(rho[:, -1] - rho[:, 0]).max() > 1e-2  # advected
