"""Damped wave equation on a 2-D grid with homogeneous Neumann walls (APHYNITY)."""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .. import ops
from ._base import GridField, check_number
from ._simulate import (
    initial_or,
    integrate,
    solver_attrs,
    storage_dtype,
    time_grid,
    to_dataset,
)
from .reaction_diffusion import _check_count, _generator


class DampedWave(GridField):
    """Damped wave equation ``w_tt = c^2 Lap w - k w_t`` as a first-order system
    (thesis C.2): ``d/dt (w, w_t) = (w_t, c^2 Lap w - k w_t)``.

    Zero normal derivative on the walls (half-sample symmetric ghost cells, grid points at
    the cell centres, see :func:`probdyn.ops.laplacian`).

    Parameters
    ----------
    c : float
        Wave speed (length / time; with the spec's pixel grid, pixels / time), positive.
    k : float
        Damping rate (1 / time), non-negative (``k = 0``: the undamped wave).
    grid_size : int or (int, int)
        Grid points.
    dx : float
        Grid spacing (length units).
    stencil : str
        Laplacian stencil: the physical model's ``"five_point"`` (default); the spec's data
        generator uses ``"fourth_order"``.

    Attributes
    ----------
    state_shape : (2, ny, nx)
        Channels ``("w", "w_t")``.
    """

    channels = ("w", "w_t")

    def __init__(self, c: float = 330.0, k: float = 50.0, grid_size=64, dx: float = 1.0,
                 stencil: str = "five_point"):
        super().__init__(grid_size, check_number("dx", dx))
        self._register_positive("c", c)
        self._register_positive("k", k, allow_zero=True)
        ops.laplacian(torch.zeros(self.grid), self.dx, boundary="neumann", stencil=stencil)
        self.stencil = stencil

    def _lap(self, w):
        return ops.laplacian(w, self.dx, boundary="neumann", stencil=self.stencil)

    def forward(self, t, x):
        self._check_shape(x)
        w, wt = x[..., 0, :, :], x[..., 1, :, :]
        c = self._param("c", x)
        return torch.stack([wt, c**2 * self._lap(w) - self._param("k", x) * wt], dim=-3)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Discrete energy ``E = 1/2 sum (w_t^2 - c^2 w Lap w) dx dy``, shape ``x.shape[:-3]``.

        The Neumann Laplacian is a symmetric negative semi-definite matrix, so ``E >= 0`` and
        ``dE/dt = -k sum w_t^2 dx dy``: conserved exactly by the semi-discrete system when
        ``k = 0``.
        """
        self._check_shape(x)
        w, wt = x[..., 0, :, :], x[..., 1, :, :]
        c = self._param("c", x)
        density = wt**2 - c**2 * w * self._lap(w)
        return 0.5 * density.sum((-2, -1)) * self.dx[0] * self.dx[1]


def _dct_modes(n: int, h: float, stencil: str):
    """Orthonormal DCT-II matrix ``C`` (rows are modes) and the eigenvalues of the 1-D
    Neumann Laplacian in that basis: the half-sample symmetric ghost cells make the stencil
    matrix circulant on the mirrored grid, so ``C A C^T`` is diagonal."""
    j = torch.arange(n, dtype=torch.float64)
    m = j[:, None]
    C = torch.cos(torch.pi * m * (j[None, :] + 0.5) / n) * (2.0 / n) ** 0.5
    C[0] /= 2.0**0.5
    A = ops.laplacian(torch.eye(n, dtype=torch.float64), h, ndim=1, boundary="neumann",
                      stencil=stencil).T  # column i is the Laplacian of basis vector i
    D = C @ A @ C.T
    diag = torch.diagonal(D).clone()
    if (D - torch.diag(diag)).abs().max() > 1e-8 * max(1.0, diag.abs().max().item()):
        raise ValueError(f"stencil {stencil!r} is not diagonalised by the DCT: use a "
                         "torchdiffeq method instead of method='exact'")
    return C, diag


def _exact_wave(field: DampedWave, x0: torch.Tensor, times: torch.Tensor, progress: bool,
                store_dtype: str) -> torch.Tensor:
    """Exact solution of the semi-discrete (linear) system on a uniform time grid: each DCT
    mode is a damped oscillator ``a'' + k a' + c^2 mu a = 0``, advanced by the 2x2 matrix
    exponential of its companion matrix."""
    if field.stencil == "nine_point":
        raise ValueError("method='exact' supports the separable stencils 'five_point' and "
                         "'fourth_order', not 'nine_point'")
    (Cy, ly), (Cx, lx) = (_dct_modes(n, h, field.stencil) for n, h in zip(field.grid, field.dx))
    c, k = field.c.detach().double(), field.k.detach().double()
    omega2 = -(c**2) * (ly[:, None] + lx[None, :])  # (ny, nx), >= 0
    companion = torch.zeros((*omega2.shape, 2, 2), dtype=torch.float64)
    companion[..., 0, 1] = 1.0
    companion[..., 1, 0] = -omega2
    companion[..., 1, 1] = -k
    steps = torch.diff(times)
    if (steps - steps[0]).abs().max() > 1e-12 * steps[0].abs():
        raise ValueError("method='exact' needs a uniform time grid")
    propagator = torch.linalg.matrix_exp(companion * steps[0])  # (ny, nx, 2, 2)
    modes = torch.einsum("my,...cyx,nx->...cmn", Cy, x0, Cx)
    out = torch.empty((x0.shape[0], len(times), *x0.shape[1:]),
                      dtype=storage_dtype(store_dtype))
    out[:, 0] = x0
    for i in tqdm(range(1, len(times)), desc="damped wave (exact)", disable=not progress):
        modes = torch.einsum("mnij,...jmn->...imn", propagator, modes)
        out[:, i] = torch.einsum("my,...cmn,nx->...cyx", Cy, modes, Cx)
    return out


def wave_initial_state(n: int, grid_size=64, dx: float = 1.0, *,
                       sigma_range=(10.0, 100.0), variant: str = "thesis",
                       seed: int = 0) -> torch.Tensor:
    """Gaussian-bump initial states with zero velocity, shape ``(n, 2, ny, nx)`` (float64).

    ``variant="thesis"``: ``w = exp(-r^2 / sigma^2)`` centred on the domain centre, with
    ``sigma ~ U[sigma_range]`` per sequence (thesis A.2.5.3). ``variant="code"``:
    ``w = exp(-r^2 / s)``, ``s ~ U[sigma_range]``, centre at a random integer pixel in
    ``[20, 40)^2`` scaled to the grid (the APHYNITY code; see the spec's conflict register).
    ``r`` is in length units of the cell-centred grid.
    """
    n = _check_count("n", n)
    field = DampedWave(grid_size=grid_size, dx=dx)
    lo, hi = (check_number("sigma_range", s) for s in sigma_range)
    if hi < lo:
        raise ValueError(f"sigma_range must be (low, high) with low <= high, got {sigma_range}")
    if variant not in ("thesis", "code"):
        raise ValueError(f"variant must be 'thesis' or 'code', got {variant!r}")
    gen = _generator(seed)
    coords = field.coordinates(cell_centred=True)
    y = torch.tensor(coords["y"], dtype=torch.float64)[:, None]
    x = torch.tensor(coords["x"], dtype=torch.float64)[None, :]
    ny, nx = field.grid
    s = lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)
    if variant == "thesis":
        cy = torch.full((n,), ny * field.dx[0] / 2, dtype=torch.float64)
        cx = torch.full((n,), nx * field.dx[1] / 2, dtype=torch.float64)
        scale = s**2
    else:
        cy = torch.randint(20 * ny // 64, 40 * ny // 64, (n,), generator=gen) * field.dx[0]
        cx = torch.randint(20 * nx // 64, 40 * nx // 64, (n,), generator=gen) * field.dx[1]
        scale = s
    r2 = (y - cy.double()[:, None, None]) ** 2 + (x - cx.double()[:, None, None]) ** 2
    w = torch.exp(-r2 / scale[:, None, None])
    return torch.stack([w, torch.zeros_like(w)], dim=1)


def simulate_damped_wave(n_trajectories: int = 250, *, c: float = 330.0, k: float = 50.0,
                         grid_size=64, dx: float = 1.0, horizon: float = 0.3,
                         dt_data: float = 1e-3, sigma_range=(10.0, 100.0),
                         initial_condition: str = "thesis", stencil: str = "fourth_order",
                         method: str = "exact", rtol: float = 1e-8, atol: float = 1e-10,
                         step_size: float | None = None, batch_size: int | None = 50,
                         seed: int = 0, progress: bool = True, store_dtype: str = "float32",
                         initial_state: torch.Tensor | None = None):
    """Simulate the APHYNITY damped-wave dataset (thesis C.3): independent sequences from
    Gaussian bumps, Neumann walls, fourth-order Laplacian in the generator.

    Parameters
    ----------
    n_trajectories : int
        Sequences (spec: 250 = 200 train + 50 test).
    c, k, grid_size, dx
        As in :class:`DampedWave` (spec: c = 330, k = 50, 64 x 64, dx = 1 pixel).
    horizon, dt_data : float
        Final time and frame spacing (spec: 300 steps of 1e-3).
    sigma_range, initial_condition
        See :func:`wave_initial_state` (``initial_condition`` is its ``variant``).
    stencil : str
        Laplacian of the generator (spec: ``"fourth_order"``; the models use 3x3).
    initial_state : torch.Tensor of shape (B, 2, ny, nx), optional
        Start from these states instead of drawing them (``n_trajectories`` is then B).
    method : str
        ``"exact"`` (default): the semi-discrete system is linear and the Neumann Laplacian
        is diagonalised by the discrete cosine transform, so each mode is advanced exactly
        (2x2 matrix exponential per mode; error at round-off level). Or a torchdiffeq
        method (``"dopri5"``, ``"rk4"`` with ``step_size=1e-3`` as in the thesis, ...).
    rtol, atol, step_size, batch_size, seed, progress, store_dtype
        As in :func:`probdyn.physics.simulate_fitzhugh_nagumo`.

    Returns
    -------
    xarray.Dataset
        ``state`` with dims (trajectory, time, channel, y, x), channels ``w``, ``w_t``; the
        ``x``, ``y`` coordinates are the cell centres.

    Notes
    -----
    The default stores 250 x 301 frames of 2 x 64 x 64 float32: 2.5 GB. Reduce
    ``n_trajectories`` or raise ``dt_data`` when memory is short.
    """
    n_trajectories = _check_count("n_trajectories", n_trajectories)
    field = DampedWave(c, k, grid_size, dx, stencil).double()
    x0 = initial_or(initial_state, field, lambda: wave_initial_state(
        n_trajectories, grid_size, dx, sigma_range=sigma_range, variant=initial_condition,
        seed=seed))
    times = time_grid(0.0, horizon, dt_data)
    if method == "exact":
        states = _exact_wave(field, x0, times, progress, store_dtype)
        solver = {"solver": "exact modal (DCT + 2x2 matrix exponential)"}
    else:
        states = integrate(lambda sl: field, x0, times, method=method, rtol=rtol, atol=atol,
                           step_size=step_size, batch_size=batch_size, progress=progress,
                           desc="damped wave", store_dtype=store_dtype)
        solver = solver_attrs(method, rtol, atol, step_size)
    attrs = {"model": "damped wave equation", **field.physical_parameters(), "dx": float(dx),
             "boundary": "neumann (half-sample symmetric)", "laplacian": stencil,
             "initial_condition": f"gaussian bump, {initial_condition} variant, "
                                  f"sigma ~ U{tuple(sigma_range)}",
             "seed": seed, **solver, "time_units": "model time",
             "length_units": "units of dx"}
    return to_dataset(states, times, field, store_dtype=store_dtype, attrs=attrs,
                      cell_centred=True)
