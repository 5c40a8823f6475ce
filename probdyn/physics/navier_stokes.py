"""Incompressible 2-D Navier-Stokes in vorticity form, pseudo-spectral on a periodic square
(LEADS environments, thesis D.2; optional passive density as in thesis A.2)."""

from __future__ import annotations

import math

import torch

from ..ops import inverse_laplacian, wavenumbers
from ._base import GridField, check_number, grid_shape
from ._random import gaussian_random_field
from ._simulate import initial_or, integrate, solver_attrs, time_grid, to_dataset
from .reaction_diffusion import _check_count, _generator


def navier_stokes_forcing(environment: int, grid_size=32, length: float = 1.0,
                          dtype=torch.float64) -> torch.Tensor:
    """LEADS forcing ``xi_e`` on the grid ``x_j = j * length / n``, shape ``(n, n)``.

    ``xi_1 = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``,
    ``xi_2 = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + 2y))``,
    ``xi_3 = 0.1 (sin 2 pi (x + y) + cos 2 pi (2x + y))``,
    ``xi_4 = 0.1 (sin 2 pi (x + 2y) + cos 2 pi (2x + y))`` (the code's version, see the spec's
    conflict register), for ``environment = 0, 1, 2, 3``; ``x, y`` in units of ``length``.
    """
    n, n2 = grid_shape(grid_size)
    if n != n2:
        raise ValueError(f"grid_size must be square for the LEADS forcing, got {grid_size!r}")
    if environment not in range(4):
        raise ValueError(f"environment must be 0, 1, 2 or 3, got {environment!r}")
    length = check_number("length", length)
    s = torch.arange(n, dtype=dtype) / n
    y, x = s[:, None], s[None, :]
    sin_arg, cos_arg = [((x + y), (x + y)), ((x + y), (x + 2 * y)), ((x + y), (2 * x + y)),
                        ((x + 2 * y), (2 * x + y))][environment]
    return 0.1 * (torch.sin(2 * math.pi * sin_arg) + torch.cos(2 * math.pi * cos_arg))


class NavierStokesVorticity(GridField):
    """2-D incompressible Navier-Stokes in vorticity form on a periodic square:

    ``dw/dt = -u . grad w + nu Lap w + xi``, with velocity ``u = (d psi/dy, -d psi/dx)`` and
    stream function ``Lap psi = -w`` (so ``div u = 0`` and ``w = curl u``). Optionally a
    passive density ``rho`` advected by the same flow: ``d rho/dt = -u . grad rho +
    kappa Lap rho``.

    Pseudo-spectral: derivatives and the Poisson solve by FFT; the products are dealiased by
    the 2/3 rule (the inputs and the product are truncated to ``|k_x|, |k_y| < (2/3) k_max``).

    Parameters
    ----------
    nu : float
        Kinematic viscosity (length^2 / time), positive.
    forcing : torch.Tensor of shape (n, n), optional
        Time-independent forcing ``xi`` (vorticity / time), e.g.
        :func:`navier_stokes_forcing`; default none.
    grid_size : int
        Grid points per side (square grid).
    length : float
        Side of the periodic domain (spec: 1).
    tracer_diffusivity : float, optional
        ``kappa`` (length^2 / time, positive); adds the density channel ``rho``.
    dealias : bool
        Apply the 2/3 rule (default True).

    Attributes
    ----------
    state_shape : (1, n, n) or (2, n, n)
        Channels ``("w",)`` or ``("w", "rho")``.
    """

    def __init__(self, nu: float = 1e-3, forcing: torch.Tensor | None = None, grid_size=32,
                 length: float = 1.0, tracer_diffusivity: float | None = None,
                 dealias: bool = True):
        n, n2 = grid_shape(grid_size)
        if n != n2:
            raise ValueError(f"grid_size must be square (n, n), got {grid_size!r}")
        length = check_number("length", length)
        super().__init__(n, length / n)
        self.channels = ("w",) if tracer_diffusivity is None else ("w", "rho")
        self._register_positive("nu", nu)
        if tracer_diffusivity is not None:
            self._register_positive("kappa", tracer_diffusivity)
        if forcing is None:
            forcing = torch.zeros(n, n, dtype=torch.float64)
        if not isinstance(forcing, torch.Tensor) or tuple(forcing.shape) != (n, n):
            shape = tuple(forcing.shape) if isinstance(forcing, torch.Tensor) else forcing
            raise ValueError(f"forcing must be a tensor of shape ({n}, {n}), got {shape}")
        if not torch.isfinite(forcing).all():
            raise ValueError("forcing contains NaN or infinite values")
        self.register_buffer("forcing", forcing.detach().clone())
        kx, ky = wavenumbers((n, n), self.dx, dtype=torch.float64)
        kmax = math.pi / self.dx[1]
        cut = (2.0 / 3.0) * kmax if dealias else kmax * (1 - 1e-9)  # Nyquist always dropped
        self.register_buffer("kx", kx)
        self.register_buffer("ky", ky)
        self.register_buffer("mask", ((kx.abs() < cut) & (ky.abs() < cut)).double())
        # i k on the Nyquist mode of an even grid is not a real operator: drop that mode
        nyq = kmax * (1 - 1e-9)
        self.register_buffer("nyquist_free", ((kx.abs() < nyq) & (ky.abs() < nyq)).double())
        self.dealias = dealias

    def _spectra(self, x):
        dtype = x.dtype
        cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        kx, ky, mask = (b.to(dtype) for b in (self.kx, self.ky, self.mask))
        k2 = kx**2 + ky**2
        return kx.to(cdtype), ky.to(cdtype), mask, k2

    def _velocity_hat(self, w_hat, kx, ky, k2):
        psi_hat = w_hat / torch.where(k2 > 0, k2, torch.ones_like(k2))
        psi_hat = torch.where(k2 > 0, psi_hat, torch.zeros_like(psi_hat))
        return 1j * ky * psi_hat, -1j * kx * psi_hat

    def velocity(self, x: torch.Tensor) -> torch.Tensor:
        """Velocity ``(u, v)`` of the state's vorticity, shape ``(..., 2, n, n)``
        (components x, y; length / time); exactly divergence-free (Nyquist modes dropped)."""
        self._check_shape(x)
        kx, ky, mask, k2 = self._spectra(x)
        w_hat = torch.fft.rfft2(x[..., 0, :, :]) * self.nyquist_free.to(x.dtype)
        u_hat, v_hat = self._velocity_hat(w_hat, kx, ky, k2)
        n = self.grid
        return torch.stack([torch.fft.irfft2(u_hat, s=n), torch.fft.irfft2(v_hat, s=n)], -3)

    def stream_function(self, x: torch.Tensor) -> torch.Tensor:
        """``psi`` with ``Lap psi = -w`` (zero mean), shape ``(..., n, n)``."""
        self._check_shape(x)
        return -inverse_laplacian(x[..., 0, :, :], self.dx)

    def forward(self, t, x):
        self._check_shape(x)
        kx, ky, mask, k2 = self._spectra(x)
        n = self.grid
        fields_hat = torch.fft.rfft2(x)  # (..., C, n, n//2+1)
        u_hat, v_hat = self._velocity_hat(fields_hat[..., 0, :, :], kx, ky, k2)
        u = torch.fft.irfft2(u_hat * mask, s=n).unsqueeze(-3)
        v = torch.fft.irfft2(v_hat * mask, s=n).unsqueeze(-3)
        grad_x = torch.fft.irfft2(1j * kx * fields_hat * mask, s=n)
        grad_y = torch.fft.irfft2(1j * ky * fields_hat * mask, s=n)
        advection_hat = torch.fft.rfft2(u * grad_x + v * grad_y) * mask
        diffusivity = [self._param("nu", x)]
        if len(self.channels) == 2:
            diffusivity.append(self._param("kappa", x))
        diff = torch.stack(diffusivity).reshape(-1, 1, 1)
        rhs_hat = -advection_hat - diff * k2 * fields_hat
        rhs = torch.fft.irfft2(rhs_hat, s=n)
        forcing = self.forcing.to(x.dtype)
        if len(self.channels) == 2:
            forcing = torch.stack([forcing, torch.zeros_like(forcing)])
        return rhs + forcing


def navier_stokes_initial_vorticity(n: int, grid_size=32, length: float = 1.0, *,
                                    alpha: float = 2.5, tau: float = 7.0,
                                    seed: int = 0) -> torch.Tensor:
    """Gaussian-random-field vorticities (Li et al. 2021), shape ``(n, 1, g, g)``, float64.

    See ``probdyn.physics._random.gaussian_random_field`` for the law (spectrum
    ``tau^(2 (alpha - 1)) (|k|^2 + tau^2)^(-alpha)``, ``k`` the angular wavenumber).
    """
    g, g2 = grid_shape(grid_size)
    if g != g2:
        raise ValueError(f"grid_size must be square, got {grid_size!r}")
    n = _check_count("n", n)
    length = check_number("length", length)
    w = gaussian_random_field(n, (g, g), (length / g, length / g),
                              alpha=check_number("alpha", alpha), tau=check_number("tau", tau),
                              generator=_generator(seed))
    return w[:, None]


def simulate_navier_stokes(n_trajectories: int = 8, *, environments=(0, 1, 2, 3),
                           nu: float = 1e-3, grid_size: int = 32, length: float = 1.0,
                           horizon: float = 10.0, dt_data: float = 1.0, warmup: float = 30.0,
                           alpha: float = 2.5, tau: float = 7.0,
                           tracer_diffusivity: float | None = None, method: str = "dopri5",
                           rtol: float = 1e-7, atol: float = 1e-9,
                           step_size: float | None = None, batch_size: int | None = None,
                           seed: int = 0, progress: bool = True, store_dtype: str = "float32",
                           initial_state: torch.Tensor | None = None):
    """Simulate the LEADS Navier-Stokes dataset (thesis D.2), one block per environment.

    Initial vorticities are Gaussian random fields (alpha = 2.5, tau = 7), run through a
    ``warmup`` (30 time units) under forcing ``xi_1``; the warmed-up state is the ``t = 0``
    frame, identical in every environment. Each environment then evolves under its own
    forcing (:func:`navier_stokes_forcing`). With ``tracer_diffusivity`` a passive density
    (thesis A.2, observed there instead of the velocity) starts at ``t = 0`` from an
    independent random field of unit standard deviation.

    Parameters
    ----------
    n_trajectories : int
        Trajectories per environment (spec: 8 train, 32 test).
    environments : sequence of int
        Forcing indices 0..3 (``xi_1`` .. ``xi_4``).
    nu, grid_size, length, tracer_diffusivity
        As in :class:`NavierStokesVorticity` (spec: nu = 1e-3, 32 x 32 on [0, 1)^2; the
        thesis A.2 uses 64 x 64).
    horizon, dt_data, warmup : float
        Final time, frame spacing and warm-up length (spec: 10, 1, 30).
    alpha, tau : float
        Initial-condition law.
    method, rtol, atol, step_size, batch_size, seed, progress, store_dtype
        As in :func:`probdyn.physics.simulate_fitzhugh_nagumo` (default dopri5, rtol 1e-7,
        atol 1e-9; LEADS used Crank-Nicolson at dt = 1e-3).
    initial_state : torch.Tensor of shape (B, C, n, n), optional
        The ``t = 0`` states (vorticity, and density with a tracer); no warm-up is run.

    Returns
    -------
    xarray.Dataset
        ``state`` with dims (env, trajectory, time, channel, y, x).
    """
    envs = list(environments)
    if not envs:
        raise ValueError("environments must not be empty")
    for e in envs:
        navier_stokes_forcing(e, grid_size, length)  # validates
    n_trajectories = _check_count("n_trajectories", n_trajectories)
    warmup = check_number("warmup", warmup, allow_zero=True)
    times = time_grid(0.0, horizon, dt_data)
    fields = [NavierStokesVorticity(nu, navier_stokes_forcing(e, grid_size, length), grid_size,
                                    length, tracer_diffusivity).double() for e in envs]
    common = dict(method=method, rtol=rtol, atol=atol, step_size=step_size,
                  batch_size=batch_size, progress=progress)
    if initial_state is not None:
        x0 = initial_or(initial_state, fields[0], None)
        warmup = 0.0
    else:
        x0 = _initial_states(n_trajectories, nu, grid_size, length, warmup, alpha, tau,
                             tracer_diffusivity, seed, common)
    states = torch.stack([integrate(lambda sl, f=f: f, x0, times, desc=f"Navier-Stokes env {e}",
                                    store_dtype=store_dtype, **common)
                          for e, f in zip(envs, fields)])
    attrs = {"model": "2-D incompressible Navier-Stokes, vorticity form",
             **fields[0].physical_parameters(), "length": float(length),
             "dx": fields[0].dx[1], "boundary": "periodic",
             "discretisation": "pseudo-spectral, 2/3 dealiasing",
             "initial_condition": (f"GRF(alpha={alpha}, tau={tau}), {warmup} time units of "
                                   "warm-up under xi_1") if initial_state is None else "given",
             "forcing": "LEADS xi_e = navier_stokes_forcing(env)", "seed": seed,
             **solver_attrs(method, rtol, atol, step_size), "time_units": "model time"}
    return to_dataset(states, times, fields[0], store_dtype=store_dtype, attrs=attrs,
                      env=envs)


def _initial_states(n_trajectories, nu, grid_size, length, warmup, alpha, tau,
                    tracer_diffusivity, seed, common):
    w0 = navier_stokes_initial_vorticity(n_trajectories, grid_size, length, alpha=alpha,
                                         tau=tau, seed=seed)
    if warmup > 0:
        warm = NavierStokesVorticity(nu, navier_stokes_forcing(0, grid_size, length),
                                     grid_size, length).double()
        # unit-length legs, so the progress bar moves during the long warm-up
        legs = torch.linspace(0.0, warmup, math.ceil(warmup) + 1, dtype=torch.float64)
        w0 = integrate(lambda sl: warm, w0, legs, desc="Navier-Stokes warm-up", **common)[:, -1]
    x0 = w0
    if tracer_diffusivity is not None:
        gen = _generator(seed + 1)
        rho = gaussian_random_field(n_trajectories, (grid_size, grid_size),
                                    (length / grid_size,) * 2, alpha=alpha, tau=tau,
                                    generator=gen)
        rho = rho / rho.std(dim=(-2, -1), keepdim=True)
        x0 = torch.cat([w0, rho[:, None]], dim=1)
    return x0
