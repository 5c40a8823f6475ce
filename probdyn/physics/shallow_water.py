"""Wind-forced rotating shallow water (reduced gravity) on a doubly periodic f-plane,
Arakawa C-grid finite differences (thesis A.2, Ayed et al. 2020)."""

from __future__ import annotations

import math

import torch

from .. import ops
from ._base import GridField, check_number, grid_shape
from ._random import gaussian_random_field
from ._simulate import initial_or, integrate, solver_attrs, time_grid, to_dataset
from .reaction_diffusion import _check_count, _generator

DAY = 86400.0


def _back(a, dim):  # a[j - 1]
    return torch.roll(a, 1, dim)


def _fwd(a, dim):  # a[j + 1]
    return torch.roll(a, -1, dim)


class ShallowWater(GridField):
    """Rotating reduced-gravity shallow water, vector-invariant form (thesis A.2, S1):

    ``du/dt = (f + zeta) v - d_x(K + g h) + tau_x / (rho0 (H + h)) - gamma u + nu Lap u``,
    ``dv/dt = -(f + zeta) u - d_y(K + g h) - gamma v + nu Lap v``,
    ``dh/dt = -d_x(u (H + h)) - d_y(v (H + h))``,

    with ``zeta = d_x v - d_y u``, ``K = (u^2 + v^2) / 2`` and the zonal wind stress
    ``tau_x(y) = tau0 sin(2 pi (y - y_c) / L_y)`` (``tau_y = 0``). SI units throughout
    (m, s). The thesis leaves the Coriolis parameter and the domain's boundaries unstated;
    here ``f = f0`` is constant and the domain is doubly periodic (``L_y`` = the domain's
    y length, so the wind profile is periodic too).

    Arakawa C-grid: ``h`` at cell centres, ``u`` at west faces, ``v`` at south faces (stored
    in the same ``(ny, nx)`` arrays: ``u[i, j]`` sits half a cell west of ``h[i, j]``,
    ``v[i, j]`` half a cell south). Mass ``sum h`` is conserved exactly.

    Parameters
    ----------
    g : float
        Reduced gravity (m s^-2), positive (spec 0.02).
    H : float
        Mean layer depth (m), positive (spec 500).
    f0 : float
        Coriolis parameter (s^-1), non-negative (not in the thesis; default 1e-4, 45 deg N).
    rho0 : float
        Reference density (kg m^-3), positive (spec 1000).
    gamma : float
        Linear drag (s^-1), non-negative (spec 2e-7).
    nu : float
        Viscosity (m^2 s^-1), non-negative (spec 0.72).
    tau0 : float
        Wind-stress amplitude (N m^-2), non-negative (spec 0.15).
    grid_size : int or (int, int)
        Grid points (spec 80 x 80; default reduced to 40 x 40).
    length : float
        Domain side (m; spec L_y = 1600 km).

    Attributes
    ----------
    state_shape : (3, ny, nx)
        Channels ``("u", "v", "h")``; ``h`` (the layer-thickness anomaly, m) is what the
        thesis observes.
    """

    channels = ("u", "v", "h")

    def __init__(self, g: float = 0.02, H: float = 500.0, f0: float = 1e-4,
                 rho0: float = 1000.0, gamma: float = 2e-7, nu: float = 0.72,
                 tau0: float = 0.15, grid_size=40, length: float = 1.6e6):
        ny, nx = grid_shape(grid_size)
        length = check_number("length", length)
        super().__init__((ny, nx), (length / ny, length / nx))
        for name, value in (("g", g), ("H", H), ("rho0", rho0)):
            self._register_positive(name, value)
        for name, value in (("f0", f0), ("gamma", gamma), ("nu", nu), ("tau0", tau0)):
            self._register_positive(name, value, allow_zero=True)
        # y of the u points (cell-centre rows), relative to the domain centre
        y_u = (torch.arange(ny, dtype=torch.float64) + 0.5) * self.dx[0] - length / 2
        self.register_buffer("wind_profile", torch.sin(2 * math.pi * y_u / length)[:, None])

    def forward(self, t, x):
        self._check_shape(x)
        u, v, h = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
        dy, dx = self.dx
        X, Y = -1, -2
        p = {name: self._param(name, x) for name in self.parameter_names}
        depth_u = p["H"] + 0.5 * (h + _back(h, X))
        depth_v = p["H"] + 0.5 * (h + _back(h, Y))
        # mass: flux divergence at the centres
        U, V = u * depth_u, v * depth_v
        dh = -(_fwd(U, X) - U) / dx - (_fwd(V, Y) - V) / dy
        # absolute vorticity at the south-west corners
        q = p["f0"] + (v - _back(v, X)) / dx - (u - _back(u, Y)) / dy
        bernoulli = 0.25 * (u**2 + _fwd(u, X) ** 2 + v**2 + _fwd(v, Y) ** 2) + p["g"] * h
        v_at_u = 0.5 * (v + _back(v, X))  # on the corners (i - 1/2, j - 1/2)
        u_at_v = 0.5 * (u + _back(u, Y))
        du = (0.5 * (q * v_at_u + _fwd(q * v_at_u, Y))
              - (bernoulli - _back(bernoulli, X)) / dx
              + p["tau0"] * self.wind_profile.to(x.dtype) / (p["rho0"] * depth_u)
              - p["gamma"] * u + p["nu"] * ops.laplacian(u, self.dx))
        dv = (-0.5 * (q * u_at_v + _fwd(q * u_at_v, X))
              - (bernoulli - _back(bernoulli, Y)) / dy
              - p["gamma"] * v + p["nu"] * ops.laplacian(v, self.dx))
        return torch.stack([du, dv, dh], dim=-3)

    def mass(self, x: torch.Tensor) -> torch.Tensor:
        """Total layer-thickness anomaly ``sum h dx dy`` (m^3), shape ``x.shape[:-3]``."""
        self._check_shape(x)
        return x[..., 2, :, :].sum((-2, -1)) * self.dx[0] * self.dx[1]


def balanced_initial_state(n: int, field: ShallowWater, *, h_std: float = 10.0,
                           alpha: float = 3.0, seed: int = 0) -> torch.Tensor:
    """Random geostrophically balanced eddies, shape ``(n, 3, ny, nx)`` (float64).

    ``h`` is a Gaussian random field (correlation length about a quarter of the domain) with
    standard deviation ``h_std`` (m); the velocity is its geostrophic flow
    ``(u, v) = (-d_y psi, d_x psi)``, ``psi = g h / f0``, differenced on the C-grid from
    ``psi`` at the corners, so it is exactly non-divergent. With ``f0 = 0`` the velocity is 0.
    """
    n = _check_count("n", n)
    h_std = check_number("h_std", h_std, allow_zero=True)
    dy, dx = field.dx
    length = field.grid[1] * dx
    h = gaussian_random_field(n, field.grid, field.dx, alpha=check_number("alpha", alpha),
                              tau=8 * math.pi / length, generator=_generator(seed))
    h = h * (h_std / h.std(dim=(-2, -1), keepdim=True))
    f0, g = float(field.f0.detach()), float(field.g.detach())
    if f0 == 0:
        return torch.stack([torch.zeros_like(h), torch.zeros_like(h), h], 1)
    psi = g * h / f0
    corner = 0.25 * (psi + _back(psi, -1) + _back(psi, -2) + _back(_back(psi, -1), -2))
    u = -(_fwd(corner, -2) - corner) / dy
    v = (_fwd(corner, -1) - corner) / dx
    return torch.stack([u, v, h], 1)


def simulate_shallow_water(n_trajectories: int = 16, *, g: float = 0.02, H: float = 500.0,
                           f0: float = 1e-4, rho0: float = 1000.0, gamma: float = 2e-7,
                           nu: float = 0.72, tau0: float = 0.15, grid_size=40,
                           length: float = 1.6e6, days: float = 100.0,
                           dt_data: float = DAY, h_std: float = 10.0,
                           method: str = "dopri5", rtol: float = 1e-6, atol: float = 1e-6,
                           step_size: float | None = None, batch_size: int | None = 16,
                           seed: int = 0, progress: bool = True,
                           store_dtype: str = "float32",
                           initial_state: torch.Tensor | None = None):
    """Simulate the wind-forced shallow-water dataset (thesis A.2) at a reduced grid.

    Each trajectory starts from random balanced eddies (:func:`balanced_initial_state`) and
    evolves under the steady wind; frames every ``dt_data`` seconds (default 1 day) for
    ``days`` days. The thesis's 600 + 1000 images correspond to the default 16 trajectories
    x 100 daily frames; its stored-frame interval, Coriolis parameter and time stepper are not
    given (see :class:`ShallowWater`).

    Parameters
    ----------
    n_trajectories : int
        Number of trajectories.
    g, H, f0, rho0, gamma, nu, tau0, grid_size, length
        As in :class:`ShallowWater`.
    days : float
        Length of each trajectory (days).
    dt_data : float
        Frame spacing (s).
    h_std : float
        Standard deviation of the initial thickness anomaly (m).
    method, rtol, atol, step_size, batch_size, seed, progress, store_dtype
        As in :func:`probdyn.physics.simulate_fitzhugh_nagumo` (default dopri5 at rtol 1e-6,
        atol 1e-6: 1 micrometre on ``h``, 1e-6 m/s on ``u``, ``v``).
    initial_state : torch.Tensor of shape (B, 3, ny, nx), optional
        Start from these states instead of drawing them.

    Returns
    -------
    xarray.Dataset
        ``state`` with dims (trajectory, time, channel, y, x); ``time`` in seconds, ``x``,
        ``y`` the cell centres in metres (``u``/``v`` are half a cell west/south).
    """
    n_trajectories = _check_count("n_trajectories", n_trajectories)
    field = ShallowWater(g, H, f0, rho0, gamma, nu, tau0, grid_size, length).double()
    x0 = initial_or(initial_state, field, lambda: balanced_initial_state(
        n_trajectories, field, h_std=h_std, seed=seed))
    times = time_grid(0.0, check_number("days", days) * DAY, check_number("dt_data", dt_data))
    states = integrate(lambda sl: field, x0, times, method=method, rtol=rtol, atol=atol,
                       step_size=step_size, batch_size=batch_size, progress=progress,
                       desc="shallow water", store_dtype=store_dtype)
    if (states[:, :, 2] + H <= 0).any():
        raise RuntimeError("shallow water: the layer depth H + h became non-positive; lower "
                           "tau0 or h_std, or shorten the run")
    attrs = {"model": "wind-forced reduced-gravity shallow water (f-plane, doubly periodic)",
             **field.physical_parameters(), "length_m": float(length),
             "dx_m": field.dx[1], "grid": "Arakawa C (u west faces, v south faces)",
             "wind": "tau_x = tau0 sin(2 pi (y - y_c) / L_y)", "observed": "h",
             "initial_condition": f"geostrophic eddies, h std {h_std} m", "seed": seed,
             **solver_attrs(method, rtol, atol, step_size), "time_units": "s",
             "units": "u, v: m/s; h: m"}
    return to_dataset(states, times, field, store_dtype=store_dtype, attrs=attrs,
                      cell_centred=True)
