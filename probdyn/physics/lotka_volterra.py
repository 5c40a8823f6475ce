"""Lotka-Volterra predator-prey dynamics and the LEADS multi-environment generator."""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from ..dynamics import solve
from ..io import trajectories_to_dataset
from ._physical import PhysicalField, check_grid, float64_default, split_seeds

CHANNELS = ("u", "v")

#: LEADS' 10 training environments (alpha, beta, gamma, delta) (official ``datasets``):
#: beta = delta = 0.5, so theta = (alpha / beta, gamma / delta) lies in {0.5, 1, 1.5, 2}^2.
LV_TRAIN_ENVIRONMENTS = tuple(
    (a, 0.5, g, 0.5) for a, g in [(0.5, 0.5), (0.25, 0.5), (0.75, 0.5), (1.0, 0.5), (0.5, 0.25),
                                  (0.5, 0.75), (0.5, 1.0), (0.25, 0.25), (0.75, 0.75),
                                  (1.0, 1.0)])
#: Novel environments: the points of the thesis grid {0.5, 1, 1.44, 1.5, 1.86, 2}^2 that use
#: only its values 1.44 and 1.86, which no training environment has (the thesis does not
#: list its novel environments; this choice is probdyn's).
LV_NOVEL_ENVIRONMENTS = tuple(
    (0.5 * a, 0.5, 0.5 * g, 0.5) for a in (1.44, 1.86) for g in (1.44, 1.86))


class LotkaVolterra(PhysicalField):
    r"""Lotka-Volterra ``du/dt = (alpha - beta v) u``, ``dv/dt = (-gamma + delta u) v``.

    State ``x = (u, v)``: prey and predator populations (positive), shape ``(..., 2)``.

    Parameters
    ----------
    alpha : float or tensor
        Prey growth rate [1/time].
    beta : float or tensor
        Predation rate [1/(time * predator unit)].
    gamma : float or tensor
        Predator death rate [1/time].
    delta : float or tensor
        Predator growth per prey [1/(time * prey unit)].

    Notes
    -----
    All positive; a tensor of shape ``(B,)`` gives one environment per trajectory of a
    ``(B, 2)`` state. :meth:`invariant` is conserved along solutions.
    """

    parameter_names = ("alpha", "beta", "gamma", "delta")

    def __init__(self, alpha=0.5, beta=0.5, gamma=0.5, delta=0.5):
        super().__init__()
        self.state_shape = (2,)
        for name, value in zip(self.parameter_names, (alpha, beta, gamma, delta)):
            self._add_positive(name, value)

    def _derived(self, values: dict) -> dict:
        # dx/dt = x * (c + M x), c = (alpha, -gamma), M = [[0, -beta], [delta, 0]]: three
        # tensor ops per evaluation instead of ten, which matters inside NUTS (autograd
        # overhead per op dominates for a 2-dimensional state)
        a, b, g, d = torch.broadcast_tensors(*(values[n] for n in self.parameter_names))
        zero = torch.zeros_like(a)
        c = torch.stack([a, -g], -1)
        m = torch.stack([torch.stack([zero, -b], -1), torch.stack([d, zero], -1)], -2)
        return {"_c": c, "_m": m}

    def forward(self, t, x):
        self._check_state(x)
        if self._frozen is None:
            terms = self._derived({n: self.param(n) for n in self.parameter_names})
        else:
            terms = self._frozen
        return x * (terms["_c"] + (terms["_m"] * x.unsqueeze(-2)).sum(-1))

    def invariant(self, x: torch.Tensor) -> torch.Tensor:
        """``V = delta u - gamma ln u + beta v - alpha ln v``, shape ``(...,)`` (u, v > 0)."""
        self._check_state(x)
        u, v = x[..., 0], x[..., 1]
        a, b, g, d = (self.param(n) for n in self.parameter_names)
        return d * u - g * torch.log(u) + b * v - a * torch.log(v)


def _environments(environments) -> np.ndarray:
    if isinstance(environments, str):
        table = {"train": LV_TRAIN_ENVIRONMENTS, "novel": LV_NOVEL_ENVIRONMENTS}
        if environments not in table:
            raise ValueError(f"environments must be 'train', 'novel' or a sequence of "
                             f"(alpha, beta, gamma, delta), got {environments!r}")
        environments = table[environments]
    env = np.asarray(environments, dtype=float)
    if env.ndim != 2 or env.shape[1] != 4 or env.shape[0] < 1:
        raise ValueError(f"environments must have shape (E, 4) (alpha, beta, gamma, delta), "
                         f"got {env.shape}")
    if not np.isfinite(env).all() or (env <= 0).any():
        raise ValueError("environments: every alpha, beta, gamma, delta must be positive")
    return env


def simulate_lotka_volterra(environments="train", trajectories_per_environment: int = 8,
                            num_steps: int = 20, dt: float = 0.5, *, split: str = "train",
                            seed: int = 0, noise: float = 0.0, rtol: float = 1e-10,
                            atol: float = 1e-10, progress: bool = True):
    """Lotka-Volterra trajectories in several environments (LEADS, thesis A.3.4.1).

    Initial states ``(u, v) ~ U([1, 2]^2)``, shared across environments (thesis
    [T:3429-3432]: the j-th trajectory starts from the same state in every environment):
    trajectory ``j`` draws it from ``numpy.random.RandomState(s_j)`` with ``s_j = seed + j``
    (``"train"``) or ``2**31 - 1 - (seed + j)`` (``"test"``), like the official code.
    Solved in float64 with torchdiffeq's ``dopri8`` at ``rtol``/``atol``.

    Parameters
    ----------
    environments : "train", "novel" or sequence of (alpha, beta, gamma, delta)
        ``"train"``: :data:`LV_TRAIN_ENVIRONMENTS` (10); ``"novel"``:
        :data:`LV_NOVEL_ENVIRONMENTS` (4).
    trajectories_per_environment : int
        n (LEADS: 1 to 8 for training, 32 for test).
    num_steps, dt
        Times ``0, dt, ..., (num_steps - 1) dt`` (default 20 points at 0.5).
    noise : float
        Sd of additive Gaussian noise in ``observation`` (default none).

    Returns
    -------
    xarray.Dataset
        ``state`` and ``observation`` (trajectory, time, channel) with channels ``u`` (prey),
        ``v`` (predator); the coordinate ``env`` (trajectory) gives each trajectory's
        environment and the variables ``alpha``, ``beta``, ``gamma``, ``delta`` (environment)
        its parameters.
    """
    check_grid(num_steps, dt)
    env = _environments(environments)
    n = trajectories_per_environment
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"trajectories_per_environment must be a positive integer, got {n!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be non-negative and finite, got {noise!r}")
    seeds = split_seeds(split, seed, int(n))
    x0 = torch.tensor(np.stack([np.random.RandomState(s).uniform(1.0, 2.0, 2) for s in tqdm(
        seeds, desc="initial states", disable=not progress, leave=False)]), dtype=torch.float64)
    x0 = x0.repeat(env.shape[0], 1)  # (E * n, 2): the same n initial states in every env
    per_traj = torch.tensor(np.repeat(env, int(n), axis=0), dtype=torch.float64)  # (B, 4)
    with float64_default():
        field = LotkaVolterra(*per_traj.T)
    t = torch.arange(int(num_steps), dtype=torch.float64) * dt
    with torch.no_grad():
        states = solve(field, x0, t, method="dopri8", rtol=rtol, atol=atol, progress=progress)
    attrs = {"model": "Lotka-Volterra", "split": split, "seed": seed, "noise_sd": noise,
             "solver": "torchdiffeq dopri8 (float64)", "rtol": rtol, "atol": atol}
    ds = trajectories_to_dataset(states, t.numpy(), CHANNELS, name="state", attrs=attrs)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    ds["observation"] = ds["state"] + noise * rng.standard_normal(ds["state"].shape)
    ds = ds.assign_coords(env=("trajectory", np.repeat(np.arange(env.shape[0]), int(n))))
    for k, name in enumerate(("alpha", "beta", "gamma", "delta")):
        ds[name] = ("environment", env[:, k])
    return ds
