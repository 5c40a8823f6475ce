"""Seasonal component in three state-space forms: dummy, one-hot and trigonometric."""

import math

import torch

from ._component import (
    Component,
    ComponentSystem,
    check_positive_int,
    scalar_times,
    stochastic_variance,
    time_index,
)

_FORMS = ("dummy", "one_hot", "trigonometric")


class Seasonal(Component):
    r"""Seasonal effect with period ``period`` (in seasons) in one of three forms.

    ``form="dummy"`` (Harvey; statsmodels ``UnobservedComponents(seasonal=period)``): the sum of
    ``period`` consecutive seasonal effects is white noise,
    ``gamma_t = -sum_{j=1}^{s-1} gamma_{t-j} + omega_t``. State dimension ``s - 1``
    (``gamma_t, gamma_{t-1}, ..., gamma_{t-s+2}``), ``F`` has ``-1`` in its first row and an
    identity below, ``Q = seasonal_variance * e_1 e_1'``, ``H = e_1'``.

    ``form="one_hot"`` (DeepState / the normalizing Kalman filter, spec/nkf.md section 4.3):
    the state holds one effect per season, ``F = I_s``; at step ``t`` the active season
    ``j(t)`` is observed, ``H_t = onehot(j(t))'``, and only its effect moves,
    ``Q_t = seasonal_variance * diag(onehot(j(t)))``. State dimension ``s``; ``H_t`` and
    ``Q_t`` are time-varying. The effects are not constrained to sum to zero, so a model
    with a level and a one-hot seasonal is identified only through a proper initial prior
    (give ``initial_scale``; the exact diffuse likelihood raises for it).

    ``form="trigonometric"`` (statsmodels ``freq_seasonal``): a sum of ``harmonics`` cycles
    with frequencies ``lambda_j = 2 pi j / period``, each a rotated 2-state block
    ``[[cos, sin], [-sin, cos]]`` observed through its first state, all states with innovation
    variance ``seasonal_variance``. ``period`` may be fractional here (e.g. 365.25 / 7). For an
    even integer ``period`` and ``j = period / 2`` the block's second state is never observed
    and is dropped (one state with ``F = [[-1]]``), so full harmonics give ``period - 1``
    states; statsmodels keeps that unobservable state, which changes nothing in the likelihood.

    The season of absolute step ``t`` is ``(t // steps_per_season) % period`` (one-hot and
    dummy forms; the dummy recursion then moves only at season boundaries).

    Parameters
    ----------
    period : int (float for the trigonometric form)
        Number of seasons in a cycle, >= 2.
    form : {"dummy", "one_hot", "trigonometric"}
    harmonics : int, optional
        Trigonometric form only: number of harmonics, 1 <= harmonics <= period / 2
        (default ``floor(period / 2)``).
    seasonal_variance : float
        Initial value of the positive parameter ``seasonal_variance``.
    stochastic : bool
        False makes the seasonal pattern fixed (``seasonal_variance`` is a zero buffer).
    steps_per_season : int
        Time steps per season (e.g. 24 for a day-of-week effect on hourly data).
    initial_loc, initial_scale
        Prior of the state at the first step (default diffuse).
    """

    default_name = "seasonal"

    def __init__(self, period, form: str = "dummy", harmonics=None, seasonal_variance=1.0,
                 stochastic: bool = True, steps_per_season: int = 1, initial_loc=0.0,
                 initial_scale=None):
        if form not in _FORMS:
            raise ValueError(f"form must be one of {_FORMS}, got {form!r}")
        try:
            period_value = float(period)
        except (TypeError, ValueError) as e:
            raise ValueError(f"period must be a number >= 2, got {period!r}") from e
        if not math.isfinite(period_value) or period_value < 2:
            raise ValueError(f"period must be >= 2, got {period!r}")
        if form != "trigonometric":
            period_value = check_positive_int("period", period, minimum=2)
        if harmonics is not None and form != "trigonometric":
            raise ValueError(f"harmonics is only used with form='trigonometric', got form={form!r}")
        steps_per_season = check_positive_int("steps_per_season", steps_per_season)
        if steps_per_season != 1 and form == "trigonometric":
            raise ValueError("steps_per_season must be 1 for form='trigonometric' (use a "
                             "period counted in time steps instead)")
        block_sizes, frequencies = [], []
        if form == "trigonometric":
            max_h = int(math.floor(period_value / 2))
            harmonics = max_h if harmonics is None else harmonics
            harmonics = check_positive_int("harmonics", harmonics)
            if harmonics > max_h:
                raise ValueError(
                    f"harmonics must be <= floor(period / 2) = {max_h}, got {harmonics}"
                )
            frequencies = [2 * math.pi * j / period_value for j in range(1, harmonics + 1)]
            # a block of size 1 where the frequency is exactly pi (j = period / 2)
            block_sizes = [1 if 2 * j == period_value else 2 for j in range(1, harmonics + 1)]
            state_dim = sum(block_sizes)
        else:
            state_dim = period_value - 1 if form == "dummy" else period_value
        super().__init__(state_dim, initial_loc, initial_scale)
        self.period = period_value
        self.form = form
        self.steps_per_season = steps_per_season
        self.harmonics = harmonics
        self._block_sizes = block_sizes
        self._frequencies = frequencies
        self.stochastic = bool(stochastic)
        stochastic_variance(self, "seasonal_variance", seasonal_variance, self.stochastic)

    @property
    def state_names(self):
        if self.form == "dummy":
            return ["season"] + [f"season.L{i}" for i in range(1, self.state_dim)]
        if self.form == "one_hot":
            return [f"season{j}" for j in range(self.period)]
        names = []
        for j, size in enumerate(self._block_sizes, start=1):
            names += [f"cos{j}", f"sin{j}"][:size]
        return names

    def season(self, duration: int, start: int = 0, device=None) -> torch.Tensor:
        """Season index (0-based) of steps ``start .. start + duration - 1`` (long tensor)."""
        if self.form == "trigonometric":
            raise ValueError("season() is not defined for form='trigonometric'")
        return (time_index(duration, start, device) // self.steps_per_season) % self.period

    def system(self, duration, start=0, covariates=None, dtype=None, device=None):
        var = torch.as_tensor(self.seasonal_variance)
        dtype = dtype or var.dtype
        opts = dict(dtype=dtype, device=device)
        d = self.state_dim
        loc, cov, diffuse = self._initial(dtype, device)
        if self.form == "one_hot":
            onehot = torch.nn.functional.one_hot(
                self.season(duration, start, device), self.period
            ).to(dtype)  # (T, s)
            F = torch.eye(d, **opts).unsqueeze(0)
            Q = scalar_times(var, torch.diag_embed(onehot))
            H = onehot.unsqueeze(-2)
            return ComponentSystem(F, Q, H, loc, cov, diffuse)
        if self.form == "dummy":
            F = torch.zeros(d, d, **opts)
            F[0, :] = -1.0
            if d > 1:
                F[1:, :-1] = torch.eye(d - 1, **opts)
            pattern = torch.zeros(1, d, d, **opts)
            pattern[0, 0, 0] = 1.0
            H = torch.zeros(1, 1, d, **opts)
            H[0, 0, 0] = 1.0
            F = F.unsqueeze(0)
            if self.steps_per_season > 1:
                # the seasonal recursion moves when a new season starts, else the state holds
                boundary = (time_index(duration, start, device) % self.steps_per_season == 0)
                b = boundary.to(dtype)[:, None, None]
                F = b * F + (1 - b) * torch.eye(d, **opts)
                pattern = b * pattern
            return ComponentSystem(F, scalar_times(var, pattern), H, loc, cov, diffuse)
        blocks, rows = [], []
        for lam, size in zip(self._frequencies, self._block_sizes):
            c, s = math.cos(lam), math.sin(lam)
            if size == 1:
                blocks.append(torch.tensor([[c]], **opts))
                rows.append([1.0])
            else:
                blocks.append(torch.tensor([[c, s], [-s, c]], **opts))
                rows.append([1.0, 0.0])
        F = torch.block_diag(*blocks).unsqueeze(0)
        H = torch.tensor([sum(rows, [])], **opts).unsqueeze(0)
        Q = scalar_times(var, torch.eye(d, **opts).unsqueeze(0))
        return ComponentSystem(F, Q, H, loc, cov, diffuse)
