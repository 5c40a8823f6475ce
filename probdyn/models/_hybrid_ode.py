"""APHYNITY as a Bayesian model: priors on the physics, a Gaussian prior on the augmentation.

The constrained problem of APHYNITY (thesis 3.3), ``min ||F_a||^2`` subject to the
trajectories being fitted, has a probabilistic reading: with Gaussian observation noise of sd
``sigma`` and an independent ``N(0, s^2)`` prior on every component of ``F_a`` at the states
the trajectories visit, minus the log joint is

    sum ||y - H x||^2 / (2 sigma^2)  +  N ||F_a||^2 / (2 s^2)  +  (priors),

with ``N`` the number of states and ``||F_a||^2`` their mean squared norm: a Lagrangian with a
fixed multiplier ``lambda ~ s^2 / sigma^2`` (per observed entry). The smaller ``s``, the more
of the dynamics the physical part must explain. Priors on the physical parameters then give a
posterior over them, and over the forecasts.
"""

from __future__ import annotations

import contextlib
import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ..distributions import ODETrajectory
from ..dynamics import HybridField
from ..dynamics._hybrid import NORMS


def augmentation_prior(field: HybridField, states: torch.Tensor, scale, *, norm: str = "l2",
                       name: str = "augmentation_prior") -> torch.Tensor:
    r"""Add APHYNITY's penalty to the current Pyro model as the log density of a Gaussian
    prior on the augmentation: ``pyro.factor(name, -N ||F_a||^2 / (2 scale^2))``.

    Parameters
    ----------
    field : HybridField
        ``F_p + F_a``.
    states : tensor, shape (..., *state_shape)
        States at which ``F_a`` is penalised, e.g. the model's solution ``(B, T, D)`` (its
        :attr:`~probdyn.distributions.ODETrajectory.states`) or observed full states.
        ``N`` is their number (the product of the leading dims).
    scale : float
        ``s > 0``: prior sd of each component of ``F_a(x)`` (units of the state per unit of
        time; relative to ``||x||`` with ``norm="l2_normalized"``).
    norm : {"l2", "l2_normalized"}
        As :meth:`~probdyn.dynamics.HybridField.augmentation_norm`.
    name : str
        Name of the factor site.

    Returns
    -------
    tensor, scalar
        The log density added (0 without an augmentation).
    """
    if not isinstance(field, HybridField):
        raise ValueError(f"field must be a HybridField, got {type(field).__name__}")
    scale = _positive(scale, "scale")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    states = torch.as_tensor(states)
    ndim = 1 if field.state_shape is None else len(field.state_shape)
    count = math.prod(states.shape[:states.dim() - ndim])
    log_density = -0.5 * count * field.augmentation_norm(states, norm=norm) / scale ** 2
    pyro.factor(name, log_density)
    return log_density


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class HybridODEModel(nn.Module):
    r"""Bayesian APHYNITY: trajectories observed with Gaussian noise, ``dx/dt = F_p + F_a``.

    .. math::
        \sigma_m \sim \text{noise prior},\quad x_0^{(b)} \sim N(0, s_0^2 I),\quad
        y^{(b)}_{n} \sim N(H x^{(b)}(t_n), \sigma^2),\quad
        F_a(x^{(b)}(t_n))_d \sim N(0, s^2)

    Priors on the physical parameters are the user's: set them with ``PyroSample`` on
    ``field.physical`` (e.g. ``field.physical.period = PyroSample(LogNormal(...))``); the
    parameters left without one and the augmentation's weights are point estimates (all are
    registered with ``pyro.module``). The augmentation prior is taken on the model's own
    solution (the states the trajectories visit), so it also applies when ``H`` hides some
    channels; with full noisy observations it is close to APHYNITY's penalty on the data.

    Fit it with :func:`probdyn.infer.fit_svi` (``guide="delta"`` for the MAP, ``"laplace"``
    or ``"mvn"`` for a posterior over the latent sites) or :func:`probdyn.infer.run_nuts`
    (with a fixed, pretrained augmentation).

    Parameters
    ----------
    field : HybridField
        ``F_p + F_a``. With ``augmentation=None`` the model is physics-only.
    augmentation_scale : float
        ``s > 0``, prior sd of each component of ``F_a`` at the visited states.
    noise_prior : pyro distribution, optional
        Prior of ``sigma`` (shape () or (M,)); default ``LogNormal(log 0.1, 1)`` per
        observed channel.
    initial_state_scale : float
        ``s_0``, prior sd of each component of every initial state (default 2).
    measurement : None, tensor (M, D) or callable
        Known ``H`` (see :class:`~probdyn.distributions.ODETrajectory`); default all
        channels.
    norm : {"l2", "l2_normalized"}
        Penalty norm (see :meth:`~probdyn.dynamics.HybridField.augmentation_norm`).
    method, step_size, rtol, atol
        Passed to the solver (default fixed-step RK4 on the observation grid).

    Notes
    -----
    ``forward(times, y=None)``: ``times`` (T,) [time units of the field], ``y`` (B, T, M)
    observations (NaN entries are missing); without ``y`` it needs ``num_trajectories``
    and samples observations. Sample sites: ``sigma``, ``x0`` (B, D) under the plate
    ``"trajectories"``, ``y``, the physical ``PyroSample`` sites, and the factor
    ``"augmentation_prior"``. Returns the :class:`~probdyn.distributions.ODETrajectory`.
    """

    def __init__(self, field: HybridField, *, augmentation_scale: float, noise_prior=None,
                 initial_state_scale: float = 2.0, measurement=None, norm: str = "l2",
                 method: str = "rk4", step_size=None, rtol: float = 1e-6, atol: float = 1e-8):
        super().__init__()
        if not isinstance(field, HybridField):
            raise ValueError(f"field must be a HybridField, got {type(field).__name__}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if noise_prior is not None and not isinstance(noise_prior, dist.Distribution):
            raise ValueError("noise_prior must be a pyro distribution, got "
                             f"{type(noise_prior).__name__}")
        self.field = field
        self.augmentation_scale = _positive(augmentation_scale, "augmentation_scale")
        self.initial_state_scale = _positive(initial_state_scale, "initial_state_scale")
        self.noise_prior = noise_prior
        self.measurement = measurement
        self.norm = norm
        self.solver = dict(method=method, step_size=step_size, rtol=rtol, atol=atol)

    def forward(self, times, y=None, num_trajectories: int | None = None):
        times = torch.as_tensor(times, dtype=torch.get_default_dtype())
        if y is not None:
            y = torch.as_tensor(y, dtype=times.dtype)
            if y.dim() != 3 or y.shape[1] != times.shape[0]:
                raise ValueError(f"y must have shape (B, T={times.shape[0]}, M), got "
                                 f"{tuple(y.shape)}")
            num_trajectories = y.shape[0]
        elif num_trajectories is None:
            raise ValueError("give y or num_trajectories")
        state_dim = self.field.state_shape[-1] if self.field.state_shape else None
        if state_dim is None:
            raise ValueError("field must declare state_shape (its physical part's)")
        pyro.module("hybrid_field", self.field)
        num_obs = y.shape[-1] if y is not None else state_dim
        prior = self.noise_prior or dist.LogNormal(
            torch.full((num_obs,), math.log(0.1), dtype=times.dtype), 1.0).to_event(1)
        sigma = pyro.sample("sigma", prior)
        physical = self.field.physical
        frozen = physical.frozen_parameters() if hasattr(physical, "frozen_parameters") \
            else contextlib.nullcontext()
        # shared physical parameters are drawn once, before the trajectory plate
        with frozen, pyro.plate("trajectories", num_trajectories):
            x0 = pyro.sample("x0", dist.Normal(torch.zeros(state_dim, dtype=times.dtype),
                                               self.initial_state_scale).to_event(1))
            trajectory = ODETrajectory(self.field, x0, times, sigma,
                                       measurement=self.measurement, **self.solver)
            pyro.sample("y", trajectory, obs=y)
        if self.field.augmentation is not None:
            states = trajectory.states
            if torch.isfinite(states).all():  # a blown-up solution is already -inf
                augmentation_prior(self.field, states, self.augmentation_scale,
                                   norm=self.norm)
        return trajectory
