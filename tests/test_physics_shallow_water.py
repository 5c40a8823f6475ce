"""Shallow water: exact mass conservation, the wind forcing at rest, the balanced initial
state, and small-amplitude geostrophic adjustment against linear theory (second-order
convergence of the C-grid to the continuous solution)."""

import math

import numpy as np
import torch

from probdyn import physics


def test_mass_conserved_under_wind_and_eddies():
    ds = physics.simulate_shallow_water(2, grid_size=16, days=6.0, h_std=20.0, progress=False,
                                        store_dtype="float64")
    h = ds.state.sel(channel="h").values
    total = h.sum(axis=(-2, -1))
    assert np.abs(total - total[:, :1]).max() < 1e-10 * np.abs(h).sum(axis=(-2, -1)).min()
    assert np.abs(h[:, -1] - h[:, 0]).max() > 0.5  # the layer has moved
    assert ds.attrs["observed"] == "h" and ds.attrs["time_units"] == "s"
    assert ds.time.values[1] == 86400.0


def test_wind_forcing_at_rest():
    field = physics.ShallowWater(grid_size=8).double()
    out = field(torch.tensor(0.0), torch.zeros(3, 8, 8, dtype=torch.float64)).detach()
    L = 1.6e6
    y = (torch.arange(8, dtype=torch.float64) + 0.5) * L / 8
    expected = 0.15 * torch.sin(2 * math.pi * (y - L / 2) / L) / (1000.0 * 500.0)
    assert torch.allclose(out[0], expected[:, None].expand(8, 8), rtol=1e-12, atol=0)
    assert out[1:].abs().max() == 0


def test_balanced_initial_state_is_nondivergent():
    field = physics.ShallowWater(grid_size=(12, 16)).double()
    x0 = physics.balanced_initial_state(3, field, h_std=15.0, seed=2)
    u, v, h = x0[:, 0], x0[:, 1], x0[:, 2]
    dy, dx = field.dx
    div = (torch.roll(u, -1, -1) - u) / dx + (torch.roll(v, -1, -2) - v) / dy
    assert div.abs().max() < 1e-14 * (u.abs().max() / dx)
    assert torch.allclose(h.std(dim=(-2, -1)), torch.tensor(15.0, dtype=torch.float64))
    # geostrophic speed scale g |grad h| / f
    assert 1e-3 < u.abs().max() < 1.0


def _adjustment_error(nx):
    """Linear geostrophic adjustment of h = eps cos(k x) from rest over one period:
    h_k(t) = eps (r + (1 - r) cos(omega t)), r = f^2 / omega^2, omega^2 = f^2 + g H k^2."""
    g, H, f, L, eps = 0.02, 500.0, 1e-4, 1.6e6, 1e-3
    field = physics.ShallowWater(g, H, f, gamma=0.0, nu=0.0, tau0=0.0, grid_size=(4, nx),
                                 length=L).double()
    x = (torch.arange(nx, dtype=torch.float64) + 0.5) * L / nx
    k = 2 * math.pi / L
    x0 = torch.zeros(1, 3, 4, nx, dtype=torch.float64)
    x0[0, 2] = eps * torch.cos(k * x)
    omega = math.sqrt(f**2 + g * H * k**2)
    period = 2 * math.pi / omega
    ds = physics.simulate_shallow_water(
        1, g=g, H=H, f0=f, gamma=0.0, nu=0.0, tau0=0.0, grid_size=(4, nx), length=L,
        days=period / 86400.0, dt_data=period / 8, rtol=1e-10, atol=1e-14,
        initial_state=x0, progress=False, store_dtype="float64")
    h = ds.state.sel(channel="h").values[0]  # (time, y, x)
    amp = 2 * (h * np.cos(k * x.numpy())).mean(axis=(-2, -1))
    r = f**2 / omega**2
    exact = eps * (r + (1 - r) * np.cos(omega * ds.time.values))
    return np.abs(amp - exact).max() / eps, field


def test_geostrophic_adjustment_matches_linear_theory():
    e32, _ = _adjustment_error(32)
    e64, _ = _adjustment_error(64)
    assert e32 < 2e-3, e32  # measured 4.4e-4
    assert 3.0 < e32 / e64 < 5.0, (e32, e64)  # second-order C-grid
