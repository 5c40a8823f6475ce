"""The pendulum: damped and frictionless vector fields and the APHYNITY data generator."""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from ..dynamics import solve
from ..io import trajectories_to_dataset
from ._physical import PhysicalField, check_grid, float64_default, split_seeds

CHANNELS = ("theta", "omega")


class DampedPendulum(PhysicalField):
    r"""Damped pendulum ``theta'' + (2 pi / T0)^2 sin(theta) + alpha theta' = 0``.

    State ``x = (theta, omega)`` with ``omega = dtheta/dt``; shape ``(..., 2)``;
    ``forward`` returns ``(omega, -(2 pi/T0)^2 sin(theta) - alpha omega)``.

    Parameters
    ----------
    period : float or tensor
        ``T0``, period of the small oscillations of the undamped pendulum [s] (default 6, as
        in APHYNITY's experiments). Positive.
    damping : float or tensor
        ``alpha``, damping rate [1/s] (default 0.2). Positive.

    Notes
    -----
    Angles are in radians, time in seconds.
    """

    parameter_names = ("period", "damping")

    def __init__(self, period=6.0, damping=0.2):
        super().__init__()
        self.state_shape = (2,)
        self._add_positive("period", period)
        self._add_positive("damping", damping)

    def natural_frequency_squared(self) -> torch.Tensor:
        """``omega0^2 = (2 pi / T0)^2`` [1/s^2]."""
        return (2 * math.pi / self.param("period")) ** 2

    def forward(self, t, x):
        self._check_state(x)
        theta, omega = x[..., 0], x[..., 1]
        domega = -self.natural_frequency_squared() * torch.sin(theta)
        return torch.stack([omega, domega - self.param("damping") * omega], dim=-1)


class Pendulum(PhysicalField):
    r"""Frictionless pendulum ``theta'' + (2 pi / T0)^2 sin(theta) = 0`` (APHYNITY's
    incomplete "Param ODE (omega0)" model).

    State ``(theta, omega)``, shape ``(..., 2)``; ``period`` ``T0`` [s], positive.
    :meth:`energy` is conserved along its solutions.
    """

    parameter_names = ("period",)

    def __init__(self, period=6.0):
        super().__init__()
        self.state_shape = (2,)
        self._add_positive("period", period)

    def natural_frequency_squared(self) -> torch.Tensor:
        """``omega0^2 = (2 pi / T0)^2`` [1/s^2]."""
        return (2 * math.pi / self.param("period")) ** 2

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Energy per unit ``m l^2``: ``omega^2 / 2 + omega0^2 (1 - cos theta)`` [1/s^2],
        shape ``(...,)``."""
        self._check_state(x)
        return 0.5 * x[..., 1] ** 2 + self.natural_frequency_squared() * (1 - torch.cos(x[..., 0]))

    def forward(self, t, x):
        self._check_state(x)
        return torch.stack([x[..., 1], -self.natural_frequency_squared() * torch.sin(x[..., 0])],
                           dim=-1)


def pendulum_initial_state(seed: int) -> np.ndarray:
    """APHYNITY's initial-condition law for one trajectory (``datasets/pendulum.py``):
    ``y ~ U([-1, 1]^2)`` rescaled to norm ``r ~ U[1.3, 2.3)`` in ``(theta, omega)`` space,
    drawn from ``numpy.random.RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    y = rng.rand(2) * 2.0 - 1.0
    r = rng.rand() + 1.3
    return y / np.sqrt((y**2).sum()) * r


def simulate_pendulum(num_trajectories: int = 25, num_steps: int = 40, dt: float = 0.5, *,
                      period: float = 6.0, damping: float = 0.2, noise: float = 0.01,
                      split: str = "train", seed: int = 0, rtol: float = 1e-10,
                      atol: float = 1e-10, progress: bool = True):
    """Damped-pendulum trajectories as in APHYNITY (thesis A.2.5.1, T0 = 6, alpha = 0.2).

    Trajectory ``i`` starts from :func:`pendulum_initial_state` with seed ``seed + i``
    (``split="train"``) or ``2**31 - 1 - (seed + i)`` (``"test"``), as the official
    generator does, and is solved in float64 with torchdiffeq's 8th-order Dormand-Prince
    (``dopri8``) at ``rtol``/``atol`` (a much more accurate solver than the fixed-step RK4
    models are usually trained with). Gaussian noise of sd ``noise`` is added to the states
    (the thesis adds sd 0.01; the official code adds none: ``noise=0``).

    Parameters
    ----------
    num_trajectories, num_steps, dt : int, int, float
        B trajectories at times ``0, dt, ..., (num_steps - 1) dt`` [s] (default 25 x 40 at
        0.5 s: t in [0, 20)).
    period, damping : float
        ``T0`` [s] and ``alpha`` [1/s].
    noise : float
        Standard deviation of the observation noise [rad, rad/s].
    split : {"train", "test"}
    seed : int
        Offsets the initial-condition seeds; also seeds the noise.

    Returns
    -------
    xarray.Dataset
        ``state`` (noise-free) and ``observation`` (with noise), dims (trajectory, time,
        channel) with channels ``theta`` [rad], ``omega`` [rad/s]; parameters, solver and
        seed in ``attrs``.
    """
    check_grid(num_steps, dt)
    if isinstance(num_trajectories, bool) or int(num_trajectories) != num_trajectories \
            or num_trajectories < 1:
        raise ValueError(f"num_trajectories must be a positive integer, got {num_trajectories!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be non-negative and finite, got {noise!r}")
    seeds = split_seeds(split, seed, int(num_trajectories))
    x0 = torch.tensor(np.stack([pendulum_initial_state(s) for s in tqdm(
        seeds, desc="initial states", disable=not progress, leave=False)]), dtype=torch.float64)
    t = torch.arange(int(num_steps), dtype=torch.float64) * dt
    with float64_default():
        field = DampedPendulum(period, damping)
    with torch.no_grad():
        states = solve(field, x0, t, method="dopri8", rtol=rtol, atol=atol, progress=progress)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    clean = states.numpy()
    attrs = {"model": "damped pendulum", "period": period, "damping": damping,
             "period_units": "s", "damping_units": "1/s", "noise_sd": noise, "split": split,
             "seed": seed, "solver": "torchdiffeq dopri8 (float64)", "rtol": rtol,
             "atol": atol, "time_units": "s"}
    ds = trajectories_to_dataset(clean, t.numpy(), CHANNELS, name="state", attrs=attrs)
    ds["observation"] = ds["state"] + noise * rng.standard_normal(clean.shape)
    ds["channel"].attrs["units"] = "theta: rad, omega: rad/s"
    return ds
