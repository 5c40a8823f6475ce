"""Synthetic S1/S2 of the NKF paper (spec nkf.md §5.1): two daily series with weekly
seasonality, observed through a non-linear map plus non-Gaussian noise added AFTER it (so the
data do not come from an NKF).

Generating process, for t = 0..T-1 with weekday d(t) = t mod 7 (day 1 = index 0)::

    l_0 ~ N(mu, 1e-3 I),  mu = (-10, -10, 0, 0, 0, 10, 10) per series      (state R^{2 x 7})
    l_t = l_{t-1} + eps_t,  eps_t ~ N(0, 1e-3 I)                (all 14 components move)
    u_t = (l^{(1)}_{t, d(t)}, l^{(2)}_{t, d(t)})                  (A_t' l_t, one-hot emission)
    y_t = m(u_t) + eta_t

S1: m = identity, eta^(1) ~ U(-pi, pi), eta^(2) = cos(eta^(1)).
S2: m(x, y) = (x y, x + y); eta_t by weekday group: days 1-2 as S1; days 3-5 a mixture of two
Gaussians; days 6-7 a line (u, SLOPE u) with u uniform.

The thesis does not give the uniform bounds, the mixture parameters nor the line; the values
chosen here are the module constants below (recorded in the returned attrs).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: Initial mean of each series' seven weekday states (three levels, spec §5.1).
WEEKDAY_MEANS = (-10.0, -10.0, 0.0, 0.0, 0.0, 10.0, 10.0)
STATE_VARIANCE = 1e-3
#: [UNSPECIFIED in the thesis] bounds of the uniform noise of S1 (and S2 days 1-2).
UNIFORM_BOUNDS = (-np.pi, np.pi)
#: [UNSPECIFIED] S2 days 3-5: equal-weight mixture of N(+-MIXTURE_MEAN (1, 1), MIXTURE_STD^2 I).
MIXTURE_MEAN = 1.5
MIXTURE_STD = 0.3
#: [UNSPECIFIED] S2 days 6-7: noise (u, LINE_SLOPE * u), u ~ U(LINE_BOUNDS).
LINE_SLOPE = 1.0
LINE_BOUNDS = (-2.0, 2.0)


def _check(num_steps, seed):
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps}")
    if seed is not None and (int(seed) != seed or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed}")


def _weekly_states(num_steps, rng):
    """States (T, 2, 7) and the emitted linear signal u_t (T, 2)."""
    sd = np.sqrt(STATE_VARIANCE)
    first = np.asarray(WEEKDAY_MEANS) + sd * rng.standard_normal((1, 2, 7))
    steps = sd * rng.standard_normal((num_steps - 1, 2, 7))
    states = np.concatenate([first, first + np.cumsum(steps, axis=0)], axis=0)
    weekday = np.arange(num_steps) % 7
    return states, states[np.arange(num_steps), :, weekday], weekday


def _uniform_cosine(n, rng):
    e1 = rng.uniform(*UNIFORM_BOUNDS, size=n)
    return np.stack([e1, np.cos(e1)], axis=-1)


def _dataset(kind, y, signal, noise, states, weekday, seed):
    T = y.shape[0]
    coords = {"time": np.arange(T), "series": ["series_1", "series_2"],
              "weekday": ("time", weekday + 1), "season": np.arange(1, 8)}
    ds = xr.Dataset(
        {
            "y": (("time", "series"), y, {"long_name": f"{kind} observations y_t"}),
            "signal": (("time", "series"), signal,
                       {"long_name": "noise-free part m(A_t' l_t)"}),
            "noise": (("time", "series"), noise, {"long_name": "observation noise eta_t"}),
            "state": (("time", "series", "season"), states,
                      {"long_name": "weekday states l_t (one per day of the week)"}),
        },
        coords=coords,
    )
    ds["time"].attrs["long_name"] = "day index (weekday = time mod 7 + 1)"
    ds.attrs.update(
        name=kind, description=__doc__.split("\n\n")[0].replace("\n", " "),
        seed=-1 if seed is None else int(seed), state_variance=STATE_VARIANCE,
        weekday_means=list(WEEKDAY_MEANS), uniform_bounds=list(UNIFORM_BOUNDS),
        source="simulated by probdyn.data (spec nkf.md §5.1, thesis S136)",
    )
    return ds


def synthetic_s1(num_steps: int = 120, seed: int | None = 0) -> xr.Dataset:
    """Dataset S1: weekly levels observed with deterministic-dependent uniform/cosine noise.

    Parameters
    ----------
    num_steps : int
        T (the paper: 120 days).
    seed : int, optional
        Seed of the numpy generator (recorded in ``attrs["seed"]``; -1 when None).

    Returns
    -------
    xarray.Dataset
        ``y``, ``signal``, ``noise`` (time, series) and ``state`` (time, series, season);
        coordinate ``weekday`` (1-7) on ``time``; the generator's constants in ``attrs``.
    """
    _check(num_steps, seed)
    rng = np.random.default_rng(seed)
    states, u, weekday = _weekly_states(int(num_steps), rng)
    noise = _uniform_cosine(int(num_steps), rng)
    return _dataset("s1", u + noise, u, noise, states, weekday, seed)


def synthetic_s2(num_steps: int = 120, seed: int | None = 0) -> xr.Dataset:
    """Dataset S2: mixed series ``(x y, x + y)`` with weekday-dependent non-Gaussian noise.

    Parameters and returns as :func:`synthetic_s1`; ``attrs`` also record the mixture and line
    constants of the noise.
    """
    _check(num_steps, seed)
    T = int(num_steps)
    rng = np.random.default_rng(seed)
    states, u, weekday = _weekly_states(T, rng)
    signal = np.stack([u[:, 0] * u[:, 1], u[:, 0] + u[:, 1]], axis=-1)
    # draw every noise law for every step, then pick by weekday group (keeps draws reproducible)
    uniform_cos = _uniform_cosine(T, rng)
    sign = np.where(rng.uniform(size=T) < 0.5, -1.0, 1.0)
    mixture = sign[:, None] * MIXTURE_MEAN + MIXTURE_STD * rng.standard_normal((T, 2))
    v = rng.uniform(*LINE_BOUNDS, size=T)
    line = np.stack([v, LINE_SLOPE * v], axis=-1)
    group = np.select([weekday <= 1, weekday <= 4], [0, 1], 2)
    noise = np.where((group == 0)[:, None], uniform_cos,
                     np.where((group == 1)[:, None], mixture, line))
    ds = _dataset("s2", signal + noise, signal, noise, states, weekday, seed)
    ds.attrs.update(mixture_mean=MIXTURE_MEAN, mixture_std=MIXTURE_STD, line_slope=LINE_SLOPE,
                    line_bounds=list(LINE_BOUNDS))
    return ds
