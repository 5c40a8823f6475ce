"""Reaction-diffusion systems on periodic 2-D grids: FitzHugh-Nagumo (APHYNITY) and
Gray-Scott (LEADS), with their data simulators."""

from __future__ import annotations

import torch

from .. import ops
from ._base import GridField, check_number, grid_shape
from ._simulate import initial_or, integrate, solver_attrs, time_grid, to_dataset

#: LEADS Gray-Scott environments ``(F, k)`` (thesis A.3.4.1).
GRAY_SCOTT_ENVIRONMENTS = ((0.037, 0.060), (0.030, 0.062), (0.039, 0.058))


class FitzHughNagumo(GridField):
    """FitzHugh-Nagumo reaction-diffusion on a periodic square (APHYNITY, thesis C.2):

    ``du/dt = a Lap u + u - u^3 - k - v``,  ``dv/dt = b Lap v + u - v``.

    Parameters
    ----------
    a, b : float
        Diffusion coefficients of ``u`` and ``v`` (length^2 / time), positive.
    k : float
        Reaction constant (dimensionless), non-negative.
    grid_size : int or (int, int)
        Grid points ``n`` (``n x n``) or ``(ny, nx)``.
    length : float
        Side of the periodic domain (length units; the spec's ``[-1, 1]^2`` has length 2), so
        ``dx = length / n``.
    stencil : str
        Laplacian stencil, see :func:`probdyn.ops.laplacian` (the spec's 3x3 five-point).
    reaction : bool
        Include the reaction terms (default). ``False`` leaves the pure diffusion
        ``(a Lap u, b Lap v)``: APHYNITY's incomplete "Param PDE (a, b)" (``k`` is then not
        a parameter).

    Attributes
    ----------
    state_shape : (2, ny, nx)
        Channels ``("u", "v")``.
    """

    channels = ("u", "v")

    def __init__(self, a: float = 1e-3, b: float = 5e-3, k: float = 5e-3, grid_size=32,
                 length: float = 2.0, stencil: str = "five_point", reaction: bool = True):
        ny, nx = grid_shape(grid_size)
        length = check_number("length", length)
        super().__init__((ny, nx), (length / ny, length / nx))
        self._register_positive("a", a)
        self._register_positive("b", b)
        self.reaction = bool(reaction)
        if self.reaction:
            self._register_positive("k", k, allow_zero=True)
        ops.laplacian(torch.zeros(self.grid), self.dx, stencil=stencil)  # validates stencil
        self.stencil = stencil

    def forward(self, t, x):
        self._check_shape(x)
        u, v = x[..., 0, :, :], x[..., 1, :, :]
        lap = ops.laplacian(x, self.dx, stencil=self.stencil)
        if not self.reaction:
            return torch.stack([self._param("a", x) * lap[..., 0, :, :],
                                self._param("b", x) * lap[..., 1, :, :]], dim=-3)
        du = self._param("a", x) * lap[..., 0, :, :] + u - u**3 - self._param("k", x) - v
        dv = self._param("b", x) * lap[..., 1, :, :] + u - v
        return torch.stack([du, dv], dim=-3)


class GrayScott(GridField):
    """Gray-Scott reaction-diffusion on a periodic grid (LEADS, thesis D.2):

    ``du/dt = D_u Lap u - u v^2 + F (1 - u)``,  ``dv/dt = D_v Lap v + u v^2 - (F + k) v``.

    Parameters
    ----------
    F : float
        Feed rate (1 / time), positive.
    k : float
        Kill rate (1 / time), positive.
    Du, Dv : float
        Diffusion coefficients (length^2 / time), positive.
    grid_size : int or (int, int)
        Grid points.
    dx : float
        Grid spacing (length units; the spec uses pixels, ``dx = 1``).
    stencil : str
        Laplacian stencil (default the LEADS code's 3x3 ``"nine_point"``).

    Attributes
    ----------
    state_shape : (2, ny, nx)
        Channels ``("u", "v")``.
    """

    channels = ("u", "v")

    def __init__(self, F: float = 0.037, k: float = 0.060, Du: float = 0.2097,
                 Dv: float = 0.105, grid_size=32, dx: float = 1.0,
                 stencil: str = "nine_point"):
        super().__init__(grid_size, check_number("dx", dx))
        for name, value in (("F", F), ("k", k), ("Du", Du), ("Dv", Dv)):
            self._register_positive(name, value)
        ops.laplacian(torch.zeros(self.grid), self.dx, stencil=stencil)
        self.stencil = stencil

    def forward(self, t, x):
        self._check_shape(x)
        u, v = x[..., 0, :, :], x[..., 1, :, :]
        lap = ops.laplacian(x, self.dx, stencil=self.stencil)
        F, k = self._param("F", x), self._param("k", x)
        uvv = u * v**2
        du = self._param("Du", x) * lap[..., 0, :, :] - uvv + F * (1 - u)
        dv = self._param("Dv", x) * lap[..., 1, :, :] + uvv - (F + k) * v
        return torch.stack([du, dv], dim=-3)


def _generator(seed) -> torch.Generator:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _check_count(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def simulate_fitzhugh_nagumo(n_trajectories: int = 1920, *, a: float = 1e-3, b: float = 5e-3,
                             k: float = 5e-3, grid_size=32, length: float = 2.0,
                             t_start: float = -0.5, horizon: float = 2.5,
                             dt_data: float = 0.1, method: str = "dopri5",
                             rtol: float = 1e-8, atol: float = 1e-10,
                             step_size: float | None = None, batch_size: int | None = 256,
                             seed: int = 0, progress: bool = True,
                             store_dtype: str = "float32",
                             initial_state: torch.Tensor | None = None):
    """Simulate the APHYNITY reaction-diffusion dataset (thesis C.3).

    Initial states ``U[0, 1]^(2 x ny x nx)`` at ``t_start = -0.5``; frames every ``dt_data``
    up to ``horizon``, so with the defaults 31 frames, ``t = -0.5, ..., 2.5``: the frame at
    ``t = 0`` is the models' ``X_0`` (25 steps follow), the 5 frames before it are the
    reserved ones of the thesis's A.2.7.2.

    Parameters
    ----------
    n_trajectories : int
        Number of sequences (spec: 1920 = 1600 train/validation + 320 test).
    a, b, k, grid_size, length
        As in :class:`FitzHughNagumo`.
    t_start, horizon, dt_data : float
        First time, last time and frame spacing (time units).
    method, rtol, atol, step_size
        torchdiffeq solver. Default ``dopri5`` at rtol 1e-8 / atol 1e-10; the thesis's
        generator is ``method="euler", step_size=1e-3`` (the spec's conflict register).
    batch_size : int or None
        Trajectories integrated together.
    seed : int
        Seed of the initial states (stored in attrs).
    progress : bool
        Show a tqdm bar.
    store_dtype : {"float32", "float64"}
        dtype of the stored states (the solve is float64).
    initial_state : torch.Tensor of shape (B, 2, ny, nx), optional
        Start (at ``t_start``) from these states instead of drawing them.

    Returns
    -------
    xarray.Dataset
        ``state`` with dims (trajectory, time, channel, y, x); parameters, grid, solver and
        seed in attrs.

    Notes
    -----
    The default (1920 sequences of 31 frames, 32 x 32) stores 0.49 GB in float32.
    """
    n_trajectories = _check_count("n_trajectories", n_trajectories)
    field = FitzHughNagumo(a, b, k, grid_size, length).double()
    times = time_grid(t_start, horizon, dt_data)
    gen = _generator(seed)
    x0 = initial_or(initial_state, field, lambda: torch.rand(
        (n_trajectories, *field.state_shape), generator=gen, dtype=torch.float64))
    states = integrate(lambda sl: field, x0, times, method=method, rtol=rtol, atol=atol,
                       step_size=step_size, batch_size=batch_size, progress=progress,
                       desc="FitzHugh-Nagumo", store_dtype=store_dtype)
    attrs = {"model": "FitzHugh-Nagumo reaction-diffusion", **field.physical_parameters(),
             "length": float(length), "dx": field.dx[1], "dy": field.dx[0],
             "boundary": "periodic", "laplacian": field.stencil,
             "initial_condition": f"U[0, 1] at t={t_start}", "seed": seed,
             **solver_attrs(method, rtol, atol, step_size), "time_units": "model time"}
    ds = to_dataset(states, times, field, store_dtype=store_dtype, attrs=attrs)
    # coordinates of the spec's domain [-length/2, length/2)^2
    return ds.assign_coords(x=ds.x - length / 2, y=ds.y - length / 2)


def gray_scott_initial_state(n: int, grid_size=32, *, n_squares: int = 3,
                             square_size: int | None = None, seed: int = 0) -> torch.Tensor:
    """LEADS Gray-Scott initial states, shape ``(n, 2, ny, nx)`` (float64).

    Background ``(u, v) = (0.95, 0.05)``; inside ``n_squares`` squares of ``square_size``
    pixels (default ``int(nx / 10)``, i.e. 3 at 32) at uniform random positions, wrapping
    periodically, ``(u, v) = (0, 1)`` (the LEADS code; see the spec's conflict register).
    """
    ny, nx = grid_shape(grid_size)
    n = _check_count("n", n)
    n_squares = _check_count("n_squares", n_squares)
    size = int(nx / 10) if square_size is None else _check_count("square_size", square_size)
    if size > min(ny, nx):
        raise ValueError(f"square_size {size} does not fit the grid {(ny, nx)}")
    gen = _generator(seed)
    x0 = torch.empty((n, 2, ny, nx), dtype=torch.float64)
    x0[:, 0], x0[:, 1] = 0.95, 0.05
    corners = torch.stack([torch.randint(0, ny, (n, n_squares), generator=gen),
                           torch.randint(0, nx, (n, n_squares), generator=gen)], -1)
    offs = torch.arange(size)
    for i in range(n):
        for cy, cx in corners[i].tolist():
            rows, cols = (cy + offs) % ny, (cx + offs) % nx
            x0[i, 0, rows[:, None], cols[None, :]] = 0.0
            x0[i, 1, rows[:, None], cols[None, :]] = 1.0
    return x0


def simulate_gray_scott(n_trajectories: int = 1, *, environments=GRAY_SCOTT_ENVIRONMENTS,
                        Du: float = 0.2097, Dv: float = 0.105, grid_size=32, dx: float = 1.0,
                        horizon: float = 400.0, dt_data: float = 40.0, n_squares: int = 3,
                        square_size: int | None = None, method: str = "dopri5",
                        rtol: float = 1e-8, atol: float = 1e-10,
                        step_size: float | None = None, batch_size: int | None = None,
                        seed: int = 0, progress: bool = True, store_dtype: str = "float32",
                        initial_state: torch.Tensor | None = None):
    """Simulate the LEADS Gray-Scott dataset (thesis D.2), one block per environment.

    The i-th initial state is the same in every environment (LEADS's protocol).

    Parameters
    ----------
    n_trajectories : int
        Trajectories per environment (spec: 1 for training, 32 for test).
    environments : sequence of (F, k)
        Feed and kill rates, default :data:`GRAY_SCOTT_ENVIRONMENTS`.
    Du, Dv, grid_size, dx
        As in :class:`GrayScott`.
    horizon, dt_data : float
        Final time and frame spacing (spec: 400 and 40, i.e. K = 10 steps).
    n_squares, square_size
        Initial condition, see :func:`gray_scott_initial_state`.
    method, rtol, atol, step_size, batch_size, seed, progress, store_dtype, initial_state
        As in :func:`simulate_fitzhugh_nagumo` (the initial states are shared by all
        environments).

    Returns
    -------
    xarray.Dataset
        ``state`` with dims (env, trajectory, time, channel, y, x) and coordinates ``F``,
        ``k`` along ``env``.
    """
    envs = [(check_number("environments F", f), check_number("environments k", kk))
            for f, kk in environments]
    if not envs:
        raise ValueError("environments must not be empty")
    times = time_grid(0.0, horizon, dt_data)
    fields = [GrayScott(f, kk, Du, Dv, grid_size, dx).double() for f, kk in envs]
    x0 = initial_or(initial_state, fields[0], lambda: gray_scott_initial_state(
        n_trajectories, grid_size, n_squares=n_squares, square_size=square_size, seed=seed))
    states = torch.stack([
        integrate(lambda sl, fld=fld: fld, x0, times, method=method, rtol=rtol, atol=atol,
                  step_size=step_size, batch_size=batch_size, progress=progress,
                  desc=f"Gray-Scott env {e}", store_dtype=store_dtype)
        for e, fld in enumerate(fields)])
    attrs = {"model": "Gray-Scott reaction-diffusion", "Du": float(Du), "Dv": float(Dv),
             "dx": float(dx), "boundary": "periodic", "laplacian": fields[0].stencil,
             "initial_condition": f"(0.95, 0.05) with {n_squares} squares of (0, 1)",
             "seed": seed, **solver_attrs(method, rtol, atol, step_size),
             "time_units": "model time"}
    return to_dataset(states, times, fields[0], store_dtype=store_dtype, attrs=attrs,
                      env=list(range(len(envs))),
                      env_coords={"F": [e[0] for e in envs], "k": [e[1] for e in envs]})
