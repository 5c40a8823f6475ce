"""Structural time-series model: components stacked into one linear-Gaussian state space."""

from collections.abc import Mapping
from typing import NamedTuple

import pyro
import torch
from pyro.distributions import constraints
from pyro.nn import PyroModule, PyroParam

from ._blocks import block_diag, block_diag_static, cat_vectors, hstack
from ._component import Component, check_variance
from ._diffuse import diffuse_log_likelihood
from ._regression import Regression


class SystemMatrices(NamedTuple):
    """All system matrices of a structural model for ``T`` steps (column convention).

    ``initial_loc (..., D)``, ``initial_cov (..., D, D)`` (proper part: zero on diffuse
    states), ``transition_matrix``/``transition_cov`` ``(..., T or 1, D, D)``,
    ``observation_matrix (..., T or 1, 1, D)``, ``observation_cov (..., T or 1, 1, 1)`` and
    ``diffuse (D,)`` (bool).
    """

    initial_loc: torch.Tensor
    initial_cov: torch.Tensor
    transition_matrix: torch.Tensor
    transition_cov: torch.Tensor
    observation_matrix: torch.Tensor
    observation_cov: torch.Tensor
    diffuse: torch.Tensor


class ComponentEstimate(NamedTuple):
    """Mean and variance, each ``(..., T, 1)``, of one component's contribution to ``y``."""

    mean: torch.Tensor
    variance: torch.Tensor


_RESERVED = {"observation_variance", "diffuse_variance", "component_names"}


def _has_priors(module: torch.nn.Module) -> bool:
    return any(getattr(m, "_pyro_samples", None) for m in module.modules())


class StructuralTimeSeries(PyroModule):
    r"""A univariate structural time-series model (sum of components plus white noise).

    .. math:: y_t = \sum_k H^{(k)}_t x^{(k)}_t + \varepsilon_t,\quad
              \varepsilon_t \sim N(0, \sigma^2_\varepsilon)

    The components' states are stacked block-diagonally, in the given order, into one
    :class:`~probdyn.distributions.LinearGaussianSSM` (column convention
    ``x_t = F_t x_{t-1} + w_t``, ``y_t = H_t x_t + v_t``).

    Parameters
    ----------
    components : sequence of Component, or mapping name -> Component
        The components. With a sequence their names are their ``default_name`` ("level",
        "trend", "seasonal", "regression", "ar"), suffixed "_2", "_3", ... when repeated. Each
        becomes a sub-module attribute of that name, so its parameters are addressed as
        ``model.level.level_variance`` and are named ``"level.level_variance"`` in Pyro.
    observation_variance : float
        Initial value of the positive parameter ``observation_variance`` (``sigma^2_eps``).
    diffuse_variance : float
        Variance given to diffuse initial states in :meth:`ssm` (statsmodels'
        "approximate diffuse" initialisation uses 1e6). :meth:`log_likelihood` treats them
        exactly instead.

    Notes
    -----
    Several series: give ``y`` a batch shape, ``(B, T, 1)``. They share the parameters, or
    each has its own when the variances are given with shape ``(B,)`` (e.g.
    ``Level(torch.full((B,), 1.0))``); everything then carries the batch dim ``B``.

    Priors: any parameter may be replaced by a ``PyroSample``, e.g.
    ``model.level.level_variance = PyroSample(dist.LogNormal(0., 1.))``; calling the model
    (:meth:`forward`) then samples it, and autoguides such as ``AutoNormal(model)`` apply.

    Examples
    --------
    >>> model = StructuralTimeSeries([Level(), Seasonal(12)])
    >>> ssm = model.ssm(120)                    # LinearGaussianSSM, event_shape (120, 1)
    >>> ll = model.log_likelihood(y)            # exact diffuse log-likelihood
    """

    def __init__(self, components, observation_variance=1.0, diffuse_variance: float = 1e6):
        super().__init__()
        if isinstance(components, Mapping):
            items = list(components.items())
        else:
            items, counts = [], {}
            for c in components:
                base = getattr(c, "default_name", "component")
                counts[base] = counts.get(base, 0) + 1
                items.append((base if counts[base] == 1 else f"{base}_{counts[base]}", c))
        if not items:
            raise ValueError("components must contain at least one component")
        names = []
        for name, comp in items:
            if not isinstance(comp, Component):
                raise ValueError(f"components[{name!r}] must be a probdyn.ssm Component, got "
                                 f"{type(comp).__name__}")
            if (not isinstance(name, str) or not name.isidentifier() or name in names
                    or name in _RESERVED or hasattr(type(self), name)):
                raise ValueError(f"invalid component name {name!r} (must be an identifier that "
                                 "is not an attribute of StructuralTimeSeries)")
            setattr(self, name, comp)
            names.append(name)
        self.component_names = names
        self.observation_variance = PyroParam(
            check_variance("observation_variance", observation_variance), constraints.positive
        )
        diffuse_variance = float(check_variance("diffuse_variance", diffuse_variance))
        self.diffuse_variance = diffuse_variance

    # -------------------------------------------------------------- structure
    @property
    def components(self) -> dict:
        """Mapping name -> component, in state order."""
        return {n: getattr(self, n) for n in self.component_names}

    @property
    def state_dim(self) -> int:
        """Total state dimension ``D``."""
        return sum(c.state_dim for c in self.components.values())

    @property
    def component_slices(self) -> dict:
        """Mapping name -> ``slice`` of the state dims that belong to the component."""
        out, start = {}, 0
        for name, comp in self.components.items():
            out[name] = slice(start, start + comp.state_dim)
            start += comp.state_dim
        return out

    @property
    def state_names(self) -> list[str]:
        """Names ``"<component>.<state>"`` of the ``D`` state dims."""
        return [f"{n}.{s}" for n, c in self.components.items() for s in c.state_names]

    @property
    def has_priors(self) -> bool:
        """Whether some parameter is a ``PyroSample`` (random under the model)."""
        return _has_priors(self)

    def _context(self):
        # Entering the PyroModule context makes each PyroSample parameter one draw per call.
        # Only done when there are priors: an active context also syncs PyroParams with Pyro's
        # global parameter store, which plain (prior-free) use should not touch.
        import contextlib

        return self._pyro_context if self.has_priors else contextlib.nullcontext()

    def _route_covariates(self, covariates) -> dict:
        regressions = [n for n, c in self.components.items() if isinstance(c, Regression)]
        if covariates is None:
            return {}
        if isinstance(covariates, Mapping):
            unknown = set(covariates) - set(regressions)
            if unknown:
                raise ValueError(f"covariates given for {sorted(unknown)}, which are not "
                                 f"Regression components (those are {regressions})")
            return dict(covariates)
        if len(regressions) != 1:
            raise ValueError(f"covariates must be a dict name -> (T, k) tensor when the model "
                             f"has {len(regressions)} Regression components ({regressions})")
        return {regressions[0]: covariates}

    # --------------------------------------------------------------- matrices
    def system(self, duration: int, covariates=None, start: int = 0) -> SystemMatrices:
        """System matrices for steps ``start .. start + duration - 1`` (:class:`SystemMatrices`).

        Parameters
        ----------
        duration : int
            Number of steps ``T``.
        covariates : tensor (T, k) or dict name -> tensor, optional
            Covariates of the Regression component(s) for these steps (default: those given
            at construction).
        start : int
            Absolute index of the first step (phase of seasonal components); e.g. ``T`` for
            the steps right after a series of length ``T``.
        """
        if isinstance(duration, bool) or int(duration) != duration or duration < 1:
            raise ValueError(f"duration must be a positive integer, got {duration!r}")
        if isinstance(start, bool) or int(start) != start:
            raise ValueError(f"start must be an integer, got {start!r}")
        duration, start = int(duration), int(start)
        routed = self._route_covariates(covariates)
        with self._context():
            R = torch.as_tensor(self.observation_variance)
            dtype, device = R.dtype, R.device
            if not dtype.is_floating_point:
                dtype = torch.get_default_dtype()
            blocks = [comp.system(duration, start, routed.get(name), dtype=dtype, device=device)
                      for name, comp in self.components.items()]
        dtype = blocks[0].transition_matrix.dtype
        for b in blocks[1:]:
            dtype = torch.promote_types(dtype, b.transition_matrix.dtype)
        blocks = [type(b)(*(x.to(dtype) if x.is_floating_point() else x for x in b))
                  for b in blocks]
        return SystemMatrices(
            initial_loc=cat_vectors([b.initial_loc for b in blocks]),
            initial_cov=block_diag_static([b.initial_cov for b in blocks]),
            transition_matrix=block_diag([b.transition_matrix for b in blocks]),
            transition_cov=block_diag([b.transition_cov for b in blocks]),
            observation_matrix=hstack([b.observation_matrix for b in blocks]),
            observation_cov=R.to(dtype)[..., None, None, None].expand(R.shape + (1, 1, 1)),
            diffuse=torch.cat([b.diffuse for b in blocks]),
        )

    def ssm(self, duration: int, covariates=None, start: int = 0):
        """The model for ``duration`` steps as a :class:`~probdyn.distributions.LinearGaussianSSM`
        (``event_shape (duration, 1)``); diffuse initial states get ``diffuse_variance``."""
        from ..distributions import LinearGaussianSSM

        s = self.system(duration, covariates, start)
        return LinearGaussianSSM(s.initial_loc, self._proper_initial_cov(s), s.transition_matrix,
                                 s.transition_cov, s.observation_matrix, s.observation_cov,
                                 duration=int(duration))

    def _proper_initial_cov(self, s: SystemMatrices) -> torch.Tensor:
        return s.initial_cov + torch.diag_embed(self.diffuse_variance * s.diffuse.to(
            s.initial_cov.dtype))

    def log_likelihood(self, y, covariates=None, start: int = 0, diffuse: str = "exact"):
        """Log-likelihood of ``y`` (``(T,)`` or ``(..., T, 1)``; NaN = missing), shape (...).

        ``diffuse="exact"`` (default): the exact diffuse log-likelihood of Durbin & Koopman
        (2012, section 7.2), as statsmodels' ``use_exact_diffuse=True``; see
        :func:`diffuse_log_likelihood`. ``diffuse="approximate"``: ``ssm(T).log_prob(y)``, the
        diffuse states having the proper prior variance ``diffuse_variance``.
        """
        if diffuse not in ("exact", "approximate"):
            raise ValueError(f"diffuse must be 'exact' or 'approximate', got {diffuse!r}")
        y = as_series(y)
        T = y.shape[-2]
        with self._context():
            s = self.system(T, covariates, start)
            if diffuse == "approximate":
                from ..distributions import LinearGaussianSSM

                d = LinearGaussianSSM(s.initial_loc, self._proper_initial_cov(s),
                                      s.transition_matrix, s.transition_cov,
                                      s.observation_matrix, s.observation_cov, duration=T)
                return d.log_prob(y.to(s.initial_loc.dtype))
            return diffuse_log_likelihood(y.to(s.initial_loc.dtype), s.initial_loc,
                                          s.initial_cov, s.transition_matrix, s.transition_cov,
                                          s.observation_matrix, s.observation_cov, s.diffuse,
                                          state_names=self.state_names)

    def forward(self, y=None, duration=None, covariates=None, start: int = 0):
        """Pyro model: ``y ~ self.ssm(T)`` at sample site ``"y"``; returns ``y``.

        Give ``y`` (``(T,)`` or ``(..., T, 1)``) to condition on data, or ``duration`` to
        sample. Parameters with priors are sampled first (sites named like
        ``"level.level_variance"``).
        """
        if y is None and duration is None:
            raise ValueError("give the data y or the duration of the series to sample")
        if y is not None:
            y = as_series(y)
            if duration is not None and duration != y.shape[-2]:
                raise ValueError(f"duration={duration} but y has {y.shape[-2]} steps")
            duration = y.shape[-2]
        dist = self.ssm(duration, covariates, start)
        if y is not None:
            y = y.to(dist.initial_loc.dtype)
        return pyro.sample("y", dist, obs=y)

    # ------------------------------------------------------------ components
    def decompose(self, smoothed_mean, smoothed_cov, covariates=None, start: int = 0) -> dict:
        """Per-component contribution to ``y``: mean and variance of ``H^(k)_t x^(k)_t``.

        Parameters
        ----------
        smoothed_mean : (..., T, D)
            State means (e.g. ``ssm.smooth(y).mean``; filtered moments work too).
        smoothed_cov : (..., T, D, D)
            State covariances (e.g. ``ssm.smooth(y).covariance_matrix``).
        covariates, start
            As in :meth:`system` (the observation rows of Regression/one-hot seasonal
            components depend on them).

        Returns
        -------
        dict name -> :class:`ComponentEstimate` ``(mean (..., T, 1), variance (..., T, 1))``.
        """
        m, P = torch.as_tensor(smoothed_mean), torch.as_tensor(smoothed_cov)
        D = self.state_dim
        if m.dim() < 2 or m.shape[-1] != D:
            raise ValueError(f"smoothed_mean must have shape (..., T, {D}), got {tuple(m.shape)}")
        T = m.shape[-2]
        if P.shape[-3:] != (T, D, D):
            raise ValueError(f"smoothed_cov must have shape (..., {T}, {D}, {D}), "
                             f"got {tuple(P.shape)}")
        H = self.system(T, covariates, start).observation_matrix.to(m.dtype)
        out = {}
        for name, sl in self.component_slices.items():
            Hk = H[..., sl]
            mean = (Hk @ m[..., sl].unsqueeze(-1)).squeeze(-1)
            var = (Hk @ P[..., sl, sl] @ Hk.mT).squeeze(-1)
            out[name] = ComponentEstimate(mean, var.clamp_min(0.0))
        return out

    def forecast(self, y, horizon: int, covariates=None, future_covariates=None):
        """Predictive distribution of the ``horizon`` steps after ``y`` (a
        :class:`~probdyn.distributions.LinearGaussianSSM` with ``.mean``, ``.variance``,
        ``.sample``), with the diffuse states at ``diffuse_variance``.

        ``covariates`` cover the observed period, ``future_covariates`` the forecast period.
        """
        y = as_series(y)
        T = y.shape[-2]
        with self._context():
            dist = self.ssm(T, covariates)
            future = self.system(horizon, future_covariates, start=T)
        kwargs = {}
        for name in ("transition_matrix", "transition_cov", "observation_matrix",
                     "observation_cov"):
            if getattr(dist, name).shape[-3] != 1:
                kwargs[name] = getattr(future, name)
        return dist.forecast(y.to(dist.initial_loc.dtype), horizon, **kwargs)


def as_series(y) -> torch.Tensor:
    """``y`` as a float tensor of shape (..., T, 1) (a 1-D series gets a trailing axis)."""
    y = torch.as_tensor(y)
    if not y.is_floating_point():
        y = y.to(torch.get_default_dtype())
    if y.dim() == 1:
        y = y.unsqueeze(-1)
    if y.dim() < 2 or y.shape[-1] != 1:
        raise ValueError(f"y must have shape (T,) or (..., T, 1) for a univariate structural "
                         f"model, got {tuple(y.shape)}")
    return y
