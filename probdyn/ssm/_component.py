"""Base class of the structural components and the block of system matrices they produce."""

from typing import NamedTuple

import torch
from pyro.nn import PyroModule


class ComponentSystem(NamedTuple):
    """One component's block of a linear-Gaussian state space (column convention).

    ``d`` is the component's state dimension, ``T'`` is 1 for a time-invariant matrix and the
    number of steps otherwise, ``...`` are batch dims of the parameters (usually none).

    Attributes
    ----------
    transition_matrix : (..., T', d, d)
        ``F_t``; entry 0 of a time-varying ``F`` is never used (``x_1`` comes from the prior).
    transition_cov : (..., T', d, d)
        ``Q_t``, positive semi-definite.
    observation_matrix : (..., T', 1, d)
        The component's contribution to ``y_t`` is ``observation_matrix @ x_t``.
    initial_loc : (..., d)
        Mean of the state at the first step.
    initial_cov : (..., d, d)
        Covariance of the *proper* part of the initial state; rows/columns of diffuse
        states are zero here.
    diffuse : (d,) bool
        States with a diffuse (improper, infinitely wide) initial distribution.
    """

    transition_matrix: torch.Tensor
    transition_cov: torch.Tensor
    observation_matrix: torch.Tensor
    initial_loc: torch.Tensor
    initial_cov: torch.Tensor
    diffuse: torch.Tensor


def check_variance(name: str, value, allow_zero: bool = False, zero_hint: str = "") -> torch.Tensor:
    """A variance argument as a float tensor; ``ValueError`` naming ``name`` if invalid."""
    try:
        tensor = torch.as_tensor(value).detach().clone()
        if not tensor.is_floating_point():
            tensor = tensor.to(torch.get_default_dtype())
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}") from e
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (tensor < 0).any():
        raise ValueError(f"{name} must be non-negative (it is a variance), got {value!r}")
    if not allow_zero and (tensor == 0).any():
        raise ValueError(f"{name} must be positive, got {value!r}{zero_hint}")
    return tensor


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ``ValueError`` naming ``name`` otherwise."""
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= minimum
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def stochastic_variance(module: PyroModule, name: str, value, stochastic: bool) -> None:
    """Register ``name`` as a positive ``PyroParam`` (stochastic) or a zero buffer (fixed)."""
    from pyro.distributions import constraints
    from pyro.nn import PyroParam

    if stochastic:
        hint = " (for a deterministic state pass stochastic=False instead of a zero variance)"
        value = check_variance(name, value, zero_hint=hint)
        setattr(module, name, PyroParam(value, constraints.positive))
    else:
        module.register_buffer(name, torch.zeros_like(check_variance(name, value, allow_zero=True)))


class Component(PyroModule):
    """Base class of a structural time-series component (a ``PyroModule``).

    Subclasses hold their variances as named, positive-constrained ``PyroParam`` attributes, so
    a prior replaces a parameter by assignment::

        level = Level()
        level.level_variance = PyroSample(dist.LogNormal(0.0, 1.0))

    and implement :meth:`system`, which returns the component's :class:`ComponentSystem`.

    Initial state. Every component takes ``initial_loc`` (scalar or ``(d,)``, default 0) and
    ``initial_scale`` (scalar or ``(d,)``, standard deviation). ``initial_scale=None`` (the
    default for non-stationary states) marks the initial state as *diffuse*: the exact diffuse
    likelihood (:meth:`StructuralTimeSeries.log_likelihood`) treats it exactly, and the proper
    distribution returned by :meth:`StructuralTimeSeries.ssm` gives it the variance
    ``diffuse_variance`` of the :class:`StructuralTimeSeries` (statsmodels' "approximate
    diffuse" initialisation). A number gives a proper ``N(initial_loc, initial_scale**2)``.
    ``initial_loc`` and ``initial_scale`` are buffers; assign a ``PyroParam`` to learn them.
    """

    #: name of the component inside a :class:`StructuralTimeSeries` when none is given
    default_name = "component"

    def __init__(self, state_dim: int, initial_loc=0.0, initial_scale=None):
        super().__init__()
        self._state_dim = int(state_dim)
        loc = torch.as_tensor(initial_loc, dtype=torch.get_default_dtype())
        if loc.dim() > 1 or (loc.dim() == 1 and loc.shape[0] != self._state_dim):
            raise ValueError(
                f"initial_loc must be a scalar or have shape ({self._state_dim},), "
                f"got shape {tuple(loc.shape)}"
            )
        if not torch.isfinite(loc).all():
            raise ValueError("initial_loc must be finite")
        self.register_buffer("initial_loc", loc)
        if initial_scale is None:
            self.initial_scale = None
        else:
            scale = check_variance("initial_scale", initial_scale)
            if scale.dim() > 1 or (scale.dim() == 1 and scale.shape[0] != self._state_dim):
                raise ValueError(
                    f"initial_scale must be a scalar or have shape ({self._state_dim},), "
                    f"got shape {tuple(scale.shape)}"
                )
            self.register_buffer("initial_scale", scale)

    @property
    def state_dim(self) -> int:
        """Number of state dimensions ``d`` of the component."""
        return self._state_dim

    @property
    def state_names(self) -> list[str]:
        """Names of the state dimensions (in order)."""
        return [f"state{i}" for i in range(self.state_dim)]

    def system(self, duration: int, start: int = 0, covariates=None, dtype=None,
               device=None) -> ComponentSystem:
        """The component's system block for steps ``start, ..., start + duration - 1``.

        Parameters
        ----------
        duration : int
            Number of time steps ``T``.
        start : int
            Absolute time index of the first step (sets the phase of seasonal components).
        covariates : tensor, optional
            Only for components that use covariates (:class:`Regression`).
        dtype, device
            Of the returned matrices (default: those of the parameters).
        """
        raise NotImplementedError

    def derived_parameters(self) -> dict:
        """Named quantities computed from the parameters that a fit should report
        (e.g. autoregressive coefficients parametrised by partial autocorrelations)."""
        return {}

    # ---------------------------------------------------------------- helpers
    def _initial(self, dtype, device, stationary_cov=None):
        """``(initial_loc (d,), initial_cov (d, d), diffuse (d,))`` of the component."""
        d = self.state_dim
        loc = self.initial_loc.to(dtype=dtype, device=device)
        loc = loc.expand(loc.shape[:-1] + (d,)) if loc.dim() else loc.expand(d)
        scale = self.initial_scale
        if scale is not None:
            scale = torch.as_tensor(scale).to(dtype=dtype, device=device)
            var = (scale * scale).expand(scale.shape[:-1] + (d,)) if scale.dim() else (
                (scale * scale).expand(d))
            cov = torch.diag_embed(var)
            diffuse = torch.zeros(d, dtype=torch.bool, device=device)
        elif stationary_cov is not None:
            cov = stationary_cov
            diffuse = torch.zeros(d, dtype=torch.bool, device=device)
        else:
            cov = torch.zeros(d, d, dtype=dtype, device=device)
            diffuse = torch.ones(d, dtype=torch.bool, device=device)
        return loc, cov, diffuse



def time_index(duration: int, start: int, device=None) -> torch.Tensor:
    """Absolute step indices ``start .. start + duration - 1`` as a long tensor."""
    return torch.arange(start, start + duration, device=device)


def scalar_times(value: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """``value[..., None, None, None] * pattern`` with ``pattern`` of shape (T', r, c)."""
    value = torch.as_tensor(value)
    return value.to(pattern.dtype)[..., None, None, None] * pattern
