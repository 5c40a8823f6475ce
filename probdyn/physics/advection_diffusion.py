"""Advection-diffusion of a scalar by a velocity field on a periodic grid (the PKN warping
model's physics, thesis B.1)."""

from __future__ import annotations

import torch

from .. import ops
from ._base import GridField, check_number
from ._random import gaussian_random_field
from ._simulate import initial_or, integrate, solver_attrs, time_grid, to_dataset
from .reaction_diffusion import _check_count, _generator

_SCHEMES = ("spectral", "finite_difference")


class AdvectionDiffusion(GridField):
    """``dI/dt = -div(w I) + D Lap I`` on a periodic grid; for a divergence-free (or
    constant) velocity ``w`` this is thesis S14, ``dI/dt + (w . grad) I = D Lap I``.

    The conservative (flux) form conserves the total ``sum I`` exactly for any ``w``.

    Parameters
    ----------
    diffusivity : float
        ``D`` (length^2 / time), non-negative.
    velocity : torch.Tensor
        ``w`` (length / time), components ``(w_x, w_y)`` in dim ``-3``: shape ``(2,)`` (a
        constant velocity), ``(2, ny, nx)`` (a steady field), or ``(B, 2, ny, nx)`` (one
        field per trajectory of a batch of ``B``).
    grid_size : int or (int, int)
        Grid points.
    dx : float
        Grid spacing (length units; pixels for the PKN setting).
    scheme : {"spectral", "finite_difference"}
        FFT derivatives (default), or second-order central differences / five-point
        Laplacian from :mod:`probdyn.ops`.

    Attributes
    ----------
    state_shape : (1, ny, nx)
        Channel ``("I",)``.
    """

    channels = ("I",)

    def __init__(self, diffusivity: float = 0.1, velocity: torch.Tensor | None = None,
                 grid_size=64, dx: float = 1.0, scheme: str = "spectral"):
        super().__init__(grid_size, check_number("dx", dx))
        self._register_positive("D", diffusivity, allow_zero=True)
        if scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
        self.scheme = scheme
        if velocity is None:
            velocity = torch.zeros(2, dtype=torch.float64)
        velocity = torch.as_tensor(velocity, dtype=torch.float64)
        if velocity.shape == (2,):
            velocity = velocity[:, None, None].expand(2, *self.grid).clone()
        if velocity.dim() < 3 or tuple(velocity.shape[-3:]) != (2, *self.grid):
            raise ValueError(f"velocity must have shape (2,), (2, {self.grid[0]}, "
                             f"{self.grid[1]}) or (B, 2, {self.grid[0]}, {self.grid[1]}), "
                             f"got {tuple(velocity.shape)}")
        if not torch.isfinite(velocity).all():
            raise ValueError("velocity contains NaN or infinite values")
        self.register_buffer("velocity", velocity)

    def forward(self, t, x):
        self._check_shape(x)
        flux = self.velocity.to(x.dtype) * x  # (..., 2, ny, nx) by broadcasting over channel
        D = self._param("D", x)
        if self.scheme == "spectral":
            rhs = -ops.spectral_divergence(flux, self.dx) + D * ops.spectral_laplacian(
                x[..., 0, :, :], self.dx)
        else:
            rhs = -ops.divergence(flux, self.dx) + D * ops.laplacian(x[..., 0, :, :], self.dx)
        return rhs.unsqueeze(-3)


def divergence_free_velocity(n: int, grid_size=64, dx: float = 1.0, *, speed: float = 1.0,
                             alpha: float = 3.0, tau: float | None = None,
                             seed: int = 0) -> torch.Tensor:
    """Random smooth divergence-free velocities ``w = (d psi/dy, -d psi/dx)``, shape
    ``(n, 2, ny, nx)``, from a Gaussian-random-field stream function ``psi``, scaled so that
    ``max |w| = speed`` (length / time) per field. ``tau`` (1 / length) sets the correlation
    length (default ``8 pi / L``, a few eddies per domain)."""
    field = GridField(grid_size, check_number("dx", dx))
    n = _check_count("n", n)
    length = max(field.grid[0] * field.dx[0], field.grid[1] * field.dx[1])
    tau = 8 * torch.pi / length if tau is None else check_number("tau", tau)
    psi = gaussian_random_field(n, field.grid, field.dx, alpha=check_number("alpha", alpha),
                                tau=tau, generator=_generator(seed))
    grad = ops.spectral_gradient(psi, field.dx)  # (n, 2, ny, nx): (d/dx, d/dy)
    w = torch.stack([grad[:, 1], -grad[:, 0]], dim=1)
    norm = w.pow(2).sum(1).sqrt().amax((-2, -1)).reshape(n, 1, 1, 1)
    return w * (check_number("speed", speed, allow_zero=True) / norm)


def simulate_advection_diffusion(n_trajectories: int = 16, *, diffusivity: float = 0.1,
                                 velocity: torch.Tensor | None = None, speed: float = 1.0,
                                 grid_size=64, dx: float = 1.0, horizon: float = 20.0,
                                 dt_data: float = 1.0, alpha: float = 3.0,
                                 scalar_tau: float | None = None,
                                 velocity_tau: float | None = None,
                                 scheme: str = "spectral", method: str = "dopri5",
                                 rtol: float = 1e-8, atol: float = 1e-10,
                                 step_size: float | None = None, batch_size: int | None = 16,
                                 seed: int = 0, progress: bool = True,
                                 store_dtype: str = "float32",
                                 initial_state: torch.Tensor | None = None):
    """Simulate advected-diffused scalar fields (synthetic data for the PKN model, B.6.8).

    Initial scalars are Gaussian random fields (unit standard deviation, correlation length a
    few pixels ~ ``L / 8``); each trajectory gets its own steady, smooth, divergence-free
    velocity (:func:`divergence_free_velocity` with max speed ``speed``) unless ``velocity``
    is given.

    Parameters
    ----------
    n_trajectories : int
        Number of trajectories.
    diffusivity, grid_size, dx, scheme
        As in :class:`AdvectionDiffusion` (default 64 x 64 pixels, D = 0.1 px^2 / step).
    velocity : torch.Tensor, optional
        A velocity shared by all trajectories (shape ``(2,)`` or ``(2, ny, nx)``) or one per
        trajectory ``(n_trajectories, 2, ny, nx)``.
    speed : float
        Max speed of the random velocities (pixels / time unit).
    horizon, dt_data : float
        Final time and frame spacing (time units; ``dt_data = 1`` makes ``w`` pixels/step).
    alpha : float
        Smoothness exponent of the random initial scalars and stream functions.
    scalar_tau, velocity_tau : float, optional
        Inverse correlation lengths (1 / length) of the initial scalars (default
        ``16 pi / L``) and of the stream functions (default ``8 pi / L``, see
        :func:`divergence_free_velocity`); smaller is smoother.
    method, rtol, atol, step_size, batch_size, seed, progress, store_dtype
        As in :func:`probdyn.physics.simulate_fitzhugh_nagumo`.
    initial_state : torch.Tensor of shape (n_trajectories, 1, ny, nx), optional
        Start from these scalar fields instead of drawing them.

    Returns
    -------
    xarray.Dataset
        ``state`` (trajectory, time, channel, y, x) and ``velocity`` (trajectory, component,
        y, x), components ``("x", "y")``.
    """
    n_trajectories = _check_count("n_trajectories", n_trajectories)
    template = AdvectionDiffusion(diffusivity, None, grid_size, dx, scheme).double()
    length = max(template.grid[0] * template.dx[0], template.grid[1] * template.dx[1])
    gen = _generator(seed)
    x0 = gaussian_random_field(n_trajectories, template.grid, template.dx, alpha=alpha,
                               tau=16 * torch.pi / length if scalar_tau is None else
                               check_number("scalar_tau", scalar_tau), generator=gen)
    x0 = (x0 / x0.std(dim=(-2, -1), keepdim=True))[:, None]
    x0 = initial_or(initial_state, template, lambda: x0)
    if x0.shape[0] != n_trajectories:
        raise ValueError(f"initial_state has {x0.shape[0]} states, n_trajectories is "
                         f"{n_trajectories}")
    if velocity is None:
        w = divergence_free_velocity(n_trajectories, grid_size, dx, speed=speed, alpha=alpha,
                                     tau=velocity_tau, seed=seed + 1)
    else:
        w = torch.as_tensor(velocity, dtype=torch.float64)
        AdvectionDiffusion(diffusivity, w, grid_size, dx, scheme)  # validates the shape
        if w.shape == (2,):
            w = w[:, None, None].expand(2, *template.grid)
        if w.dim() == 3:
            w = w.expand(n_trajectories, *w.shape)
        if w.shape[0] != n_trajectories:
            raise ValueError(f"velocity has {w.shape[0]} fields for {n_trajectories} "
                             "trajectories")
    times = time_grid(0.0, horizon, dt_data)

    def field_for(sl):
        return AdvectionDiffusion(diffusivity, w[sl], grid_size, dx, scheme).double()

    states = integrate(field_for, x0, times, method=method, rtol=rtol, atol=atol,
                       step_size=step_size, batch_size=batch_size, progress=progress,
                       desc="advection-diffusion", store_dtype=store_dtype)
    attrs = {"model": "advection-diffusion of a scalar", "D": float(diffusivity),
             "dx": float(dx), "boundary": "periodic", "scheme": scheme,
             "initial_condition": f"unit-variance GRF (alpha={alpha})",
             "velocity": "given" if velocity is not None else
                         f"random divergence-free, max speed {speed}",
             "seed": seed, **solver_attrs(method, rtol, atol, step_size),
             "time_units": "model time"}
    ds = to_dataset(states, times, template, store_dtype=store_dtype, attrs=attrs)
    dtype = "float32" if store_dtype == "float32" else "float64"
    ds["velocity"] = (("trajectory", "component", "y", "x"), w.numpy().astype(dtype))
    return ds.assign_coords(component=["x", "y"])
