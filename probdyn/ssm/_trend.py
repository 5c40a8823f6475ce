"""Trend components: local level (random walk) and local linear trend."""

import torch

from ._component import Component, ComponentSystem, scalar_times, stochastic_variance


class Level(Component):
    r"""Local level: a random walk observed directly.

    .. math:: \mu_t = \mu_{t-1} + \eta_t,\quad \eta_t \sim N(0, \sigma^2_\eta),\qquad
              y_t \mathrel{+}= \mu_t

    State dimension 1 (``["level"]``); system matrices ``F = [[1]]``, ``Q = [[level_variance]]``,
    ``H = [[1]]`` (statsmodels' ``UnobservedComponents(level="llevel")``).

    Parameters
    ----------
    level_variance : float
        Initial value of the positive parameter ``level_variance`` (``sigma^2_eta``, in squared
        units of ``y`` per step).
    stochastic : bool
        If False the level is a constant (no innovation; ``level_variance`` is a zero buffer).
    initial_loc, initial_scale
        Prior of the level at the first step (see :class:`Component`; default diffuse).
    """

    default_name = "level"

    def __init__(self, level_variance=1.0, stochastic: bool = True, initial_loc=0.0,
                 initial_scale=None):
        super().__init__(1, initial_loc, initial_scale)
        self.stochastic = bool(stochastic)
        stochastic_variance(self, "level_variance", level_variance, self.stochastic)

    @property
    def state_names(self):
        return ["level"]

    def system(self, duration, start=0, covariates=None, dtype=None, device=None):
        var = torch.as_tensor(self.level_variance)
        dtype = dtype or var.dtype
        one = torch.ones(1, 1, 1, dtype=dtype, device=device)
        loc, cov, diffuse = self._initial(dtype, device)
        return ComponentSystem(one, scalar_times(var, one), one, loc, cov, diffuse)


class LocalLinearTrend(Component):
    r"""Local linear trend: a level whose slope is itself a random walk.

    .. math:: \mu_t = \mu_{t-1} + \beta_{t-1} + \eta_t,\quad
              \beta_t = \beta_{t-1} + \zeta_t,\qquad y_t \mathrel{+}= \mu_t

    with ``eta_t ~ N(0, level_variance)`` and ``zeta_t ~ N(0, slope_variance)``. State
    ``["level", "slope"]``; ``F = [[1, 1], [0, 1]]``, ``Q = diag(level_variance,
    slope_variance)``, ``H = [[1, 0]]`` (statsmodels' ``"lltrend"``; its state "trend" is the
    slope here).

    Parameters
    ----------
    level_variance, slope_variance : float
        Initial values of the positive parameters of the same names (variances per step).
    stochastic_level, stochastic_slope : bool
        Set False to make the corresponding innovation zero (e.g. ``stochastic_level=False``
        gives the "smooth trend" model; both False give a deterministic line).
    initial_loc, initial_scale
        Prior of ``(level, slope)`` at the first step (default diffuse).
    """

    default_name = "trend"

    def __init__(self, level_variance=1.0, slope_variance=1.0, stochastic_level: bool = True,
                 stochastic_slope: bool = True, initial_loc=0.0, initial_scale=None):
        super().__init__(2, initial_loc, initial_scale)
        self.stochastic_level = bool(stochastic_level)
        self.stochastic_slope = bool(stochastic_slope)
        stochastic_variance(self, "level_variance", level_variance, self.stochastic_level)
        stochastic_variance(self, "slope_variance", slope_variance, self.stochastic_slope)

    @property
    def state_names(self):
        return ["level", "slope"]

    def system(self, duration, start=0, covariates=None, dtype=None, device=None):
        lv = torch.as_tensor(self.level_variance)
        sv = torch.as_tensor(self.slope_variance)
        dtype = dtype or lv.dtype
        opts = dict(dtype=dtype, device=device)
        F = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]], **opts)
        e1 = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]], **opts)
        e2 = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]], **opts)
        Q = scalar_times(lv, e1) + scalar_times(sv, e2)
        H = torch.tensor([[[1.0, 0.0]]], **opts)
        loc, cov, diffuse = self._initial(dtype, device)
        return ComponentSystem(F, Q, H, loc, cov, diffuse)
