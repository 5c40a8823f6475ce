"""Observed trajectories of an ODE: noisy measurements of its solution as a Pyro distribution."""

from __future__ import annotations

import math

import torch
from pyro.distributions import LogNormal, Normal, StudentT, TorchDistribution, constraints

from ..dynamics import solve

OBSERVATION_MODELS = ("normal", "studentt", "lognormal")


def _measure(measurement, states: torch.Tensor) -> torch.Tensor:
    if measurement is None:
        return states
    if callable(measurement) and not torch.is_tensor(measurement):
        out = measurement(states)
        if not torch.is_tensor(out) or out.shape[:-1] != states.shape[:-1]:
            raise ValueError(f"measurement(states) must map (..., T, D) states to (..., T, M) "
                             f"observations; states {tuple(states.shape)} gave "
                             f"{tuple(getattr(out, 'shape', ()))}")
        return out
    matrix = torch.as_tensor(measurement, dtype=states.dtype, device=states.device)
    if matrix.dim() != 2 or matrix.shape[-1] != states.shape[-1]:
        raise ValueError(f"measurement matrix must have shape (M, {states.shape[-1]}), got "
                         f"{tuple(matrix.shape)}")
    return states @ matrix.transpose(-1, -2)


class ODETrajectory(TorchDistribution):
    r"""Noisy observations ``y_{1:T}`` of the solution of ``dx/dt = f(t, x)``.

    .. math::
        x(t_0) = x_0,\quad \dot x = f(t, x),\quad y_{n,m} \sim p(\cdot \mid (H x(t_n))_m,
        \sigma_m)

    with ``p`` Normal (mean ``Hx``, sd ``sigma``), Student-t (location ``Hx``, scale ``sigma``,
    ``df``) or LogNormal (median ``Hx``: ``log y ~ N(log Hx, sigma)``, for positive states
    such as populations). Observation noise is independent over times and channels.

    The ODE is solved when the distribution is built (inside the model, so that parameters
    sampled by ``PyroSample`` or ``pyro.sample`` are drawn once per model run); the solution is
    :attr:`states` and the noise-free observations :attr:`loc`.

    Parameters
    ----------
    field : nn.Module
        The vector field (a :class:`~probdyn.dynamics.VectorField`).
    initial_state : tensor, shape (..., D)
        ``x_0`` at time ``t0``; its leading dims (e.g. trajectories in a ``pyro.plate``) are
        the batch. May itself be a sample site's value.
    times : tensor, shape (T,)
        Observation times, strictly increasing, shared by the batch (pad with NaN
        observations for irregular sampling).
    scale : float or tensor, shape (..., M) or broadcastable
        ``sigma > 0`` (sd of the noise; of ``log y`` for LogNormal).
    observation : {"normal", "studentt", "lognormal"}
    df : float or tensor, optional
        Degrees of freedom (> 0) of the Student-t.
    measurement : None, tensor (M, D) or callable
        Known differentiable measurement operator ``H``: a matrix (``y = H x``; e.g. rows of
        the identity to observe some channels) or a function mapping states ``(..., T, D)``
        to ``(..., T, M)``. Default: all channels (``M = D``).
    t0 : float, optional
        Time of ``initial_state``; default ``times[0]`` (then ``y`` at ``times[0]`` measures
        ``x_0`` itself). Must not be after ``times[0]``.
    method, rtol, atol, step_size, adjoint
        Passed to :func:`probdyn.dynamics.solve`.

    Notes
    -----
    Shapes: ``batch_shape`` is the broadcast of ``initial_state.shape[:-1]`` and the batch of
    ``scale``/``df``; ``event_shape = (T, M)``.

    Parameters with priors: ``PyroSample`` parameters of the field are drawn when the
    distribution is built, under the plates active at that moment. Under a
    ``pyro.plate("trajectories", B)`` they would be drawn once per trajectory; for shared
    parameters, draw them first with the field's ``frozen_parameters()`` (physical fields)::

        with field.frozen_parameters(), pyro.plate("trajectories", B, subsample_size=b) as i:
            pyro.sample("y", ODETrajectory(field, x0[i], times, sigma), obs=y[i])

    Missing data: ``NaN`` entries of ``y`` are left out of :meth:`log_prob` (marginalising an
    independent entry is dropping its factor). A solution that is not finite (blown-up
    dynamics at extreme parameters), or not positive under LogNormal, gives
    ``log_prob = -inf`` for that trajectory, like a rejection in Stan.
    """

    arg_constraints = {"scale": constraints.positive}
    has_rsample = True

    def __init__(self, field, initial_state, times, scale, observation: str = "normal", *,
                 df=None, measurement=None, t0=None, method: str = "dopri5",
                 rtol: float = 1e-6, atol: float = 1e-8, step_size=None, adjoint: bool = False,
                 validate_args=None):
        if observation not in OBSERVATION_MODELS:
            raise ValueError(f"observation must be one of {OBSERVATION_MODELS}, got "
                             f"{observation!r}")
        x0 = torch.as_tensor(initial_state)
        if not x0.is_floating_point():
            x0 = x0.to(torch.get_default_dtype())
        if x0.dim() < 1:
            raise ValueError("initial_state must have shape (..., D), got a scalar")
        times = torch.as_tensor(times, dtype=x0.dtype, device=x0.device)
        if times.dim() != 1 or times.numel() < 1:
            raise ValueError(f"times must be a non-empty 1-D tensor, got shape "
                             f"{tuple(times.shape)}")
        start = times[0] if t0 is None else torch.as_tensor(t0, dtype=x0.dtype)
        if t0 is not None and not (float(start) <= float(times[0])):
            raise ValueError(f"t0 must not be after times[0] = {float(times[0])}, got {t0}")
        grid = times if t0 is None or float(start) == float(times[0]) else \
            torch.cat([start.reshape(1), times])
        # NaN / blow-up become -inf log-likelihoods (see log_prob), not exceptions: an extreme
        # trial point of NUTS or an optimiser must be rejectable.
        states = solve(field, x0, grid, method=method, rtol=rtol, atol=atol,
                       step_size=step_size, adjoint=adjoint, check_finite=False)
        if grid.numel() != times.numel():
            states = states[..., 1:, :]
        loc = _measure(measurement, states)
        scale = torch.as_tensor(scale, dtype=loc.dtype, device=loc.device)
        if not torch.isfinite(scale).all() or (scale <= 0).any():
            raise ValueError("scale must be positive and finite")
        if observation == "studentt":
            if df is None:
                raise ValueError("observation='studentt' needs df")
            df = torch.as_tensor(df, dtype=loc.dtype, device=loc.device)
            if not torch.isfinite(df).all() or (df <= 0).any():
                raise ValueError("df must be positive and finite")
        elif df is not None:
            raise ValueError(f"df is only used by observation='studentt', not {observation!r}")
        try:
            shape = torch.broadcast_shapes(loc.shape, scale.shape,
                                           () if df is None else df.shape)
        except RuntimeError:
            raise ValueError(f"scale {tuple(scale.shape)} (and df) must broadcast with the "
                             f"observations (..., T, M) = {tuple(loc.shape)}") from None
        if shape[-2:] != loc.shape[-2:]:
            raise ValueError(f"scale/df must not change the event shape {tuple(loc.shape[-2:])}")
        self.observation = observation
        self.states = states
        self.loc = loc.expand(shape)
        self.scale = scale.expand(shape)
        self.df = None if df is None else df.expand(shape)
        self.times = times
        super().__init__(shape[:-2], shape[-2:], validate_args=False)

    @property
    def support(self):
        base = constraints.positive if self.observation == "lognormal" else constraints.real
        return constraints.independent(base, 2)

    def _noise(self, safe: bool = False) -> torch.distributions.Distribution:
        loc = self.loc
        if safe:  # unusable solutions (NaN, blow-up) at a harmless value: log_prob masks them
            # to -inf afterwards, and a NaN here would fail the distribution's validation and
            # give NaN gradients through the masked branch
            ok = torch.isfinite(loc) & ((loc > 0) if self.observation == "lognormal" else True)
            loc = torch.where(ok, loc, torch.ones_like(loc))
        if self.observation == "normal":
            return Normal(loc, self.scale)
        if self.observation == "studentt":
            return StudentT(self.df, loc, self.scale)
        return LogNormal(torch.log(loc.clamp_min(torch.finfo(loc.dtype).tiny)), self.scale)

    @property
    def mean(self):
        if self.observation == "lognormal":
            return self.loc * torch.exp(0.5 * self.scale**2)
        if self.observation == "studentt":
            return torch.where(self.df > 1, self.loc, torch.full_like(self.loc, math.nan))
        return self.loc

    @property
    def variance(self):
        return self._noise().variance

    def _bad_solution(self) -> torch.Tensor:
        """(batch_shape) True where the noise-free observations are unusable."""
        bad = ~torch.isfinite(self.loc)
        if self.observation == "lognormal":
            bad = bad | (self.loc <= 0)
        return bad.flatten(-2).any(-1)

    def log_prob(self, value):
        value = torch.as_tensor(value, dtype=self.loc.dtype, device=self.loc.device)
        if value.shape[-2:] != self.event_shape:
            raise ValueError(f"value must have shape (..., {', '.join(map(str, self.event_shape))})"
                             f" (times, observed channels), got {tuple(value.shape)}")
        observed = ~torch.isnan(value)
        if torch.isinf(value).any():
            raise ValueError("value contains infinite entries (use NaN for missing ones)")
        if self.observation == "lognormal" and (value[observed] <= 0).any():
            raise ValueError("observation='lognormal' needs positive observations")
        noise = self._noise(safe=True)
        filler = noise.mean if self.observation != "studentt" else self.loc
        filler = torch.where(torch.isfinite(filler), filler, torch.ones_like(filler))
        safe = torch.where(observed, value, filler.detach())
        lp = torch.where(observed, noise.log_prob(safe), torch.zeros(()).to(safe))
        lp = lp.sum((-1, -2))
        bad = self._bad_solution()
        return torch.where(bad, torch.full_like(lp, -math.inf), lp)

    def rsample(self, sample_shape=()):
        if self._bad_solution().any():
            raise RuntimeError("cannot sample: the ODE solution is not finite (or not positive "
                               "under LogNormal) for some trajectories")
        return self._noise().rsample(torch.Size(sample_shape))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ODETrajectory, _instance)
        batch_shape = torch.Size(batch_shape)
        shape = batch_shape + self.event_shape
        new.observation = self.observation
        new.states = self.states.expand(batch_shape + self.states.shape[-2:])
        new.loc = self.loc.expand(shape)
        new.scale = self.scale.expand(shape)
        new.df = None if self.df is None else self.df.expand(shape)
        new.times = self.times
        super(ODETrajectory, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new
