"""The local-global Normalizing Kalman Filter forecaster (de Bézenac et al. 2020, spec §3-4)."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from ..distributions import LinearGaussianSSM, NormalizingKalmanFilter
from ..flows import ElementwiseSpline, Flow, IdentityFlow, RealNVP, as_flow
from ..io import samples_to_dataset
from . import _features as feats
from ._structure import local_system, side_by_side, state_dim

FLOWS = ("realnvp", "local", "identity")


class SSMParameters(NamedTuple):
    """Per-series state-space parameters emitted by the network for a batch of windows.

    Shapes (B windows, N series, T steps, d states): ``initial_loc (B, N, d)``,
    ``initial_cov (B, N, d, d)``, ``transition_matrix (d, d)``,
    ``transition_cov (B, N, T, d, d)``, ``observation_matrix (B, N, T, 1, d)``,
    ``observation_cov (B, N, T, 1, 1)`` (the scalar variance Gamma_t of each series).
    """

    initial_loc: torch.Tensor
    initial_cov: torch.Tensor
    transition_matrix: torch.Tensor
    transition_cov: torch.Tensor
    observation_matrix: torch.Tensor
    observation_cov: torch.Tensor

    def steps(self, sl: slice) -> SSMParameters:
        """The same parameters restricted to the time steps ``sl`` (initial state unchanged)."""
        return self._replace(transition_cov=self.transition_cov[..., sl, :, :],
                             observation_matrix=self.observation_matrix[..., sl, :, :],
                             observation_cov=self.observation_cov[..., sl, :, :])


class Inputs(NamedTuple):
    """Validated tensors of one series panel: targets ``y (T, N)`` (NaN = missing), network
    inputs ``features (T, k)``, season indices ``seasons (T, C)`` and the dates."""

    y: torch.Tensor
    features: torch.Tensor
    seasons: torch.Tensor
    time: pd.DatetimeIndex


def _bounded(raw, low, high):
    """Spec §3's bounded output map ``(b - a) * sigmoid(x) + a``."""
    return low + (high - low) * torch.sigmoid(raw)


def pseudo_observations(flow: Flow, y: torch.Tensor):
    """``(z, log_det)`` = (f^{-1}(y) (..., T, N), NaN where y is missing; per-step log|det| of
    the observed entries (..., T)). Mixing flows need whole missing steps (NaN rows)."""
    observed = ~torch.isnan(y)
    if bool(observed.all()):
        return flow.inverse_and_log_det(y)
    nan = torch.full((), float("nan"), dtype=y.dtype, device=y.device)
    if flow.elementwise:
        z, ld = flow.inverse_and_log_det_elementwise(torch.where(observed, y, 0.0))
        return torch.where(observed, z, nan), torch.where(observed, ld, 0.0).sum(-1)
    rows = observed.any(-1)
    if bool((rows & ~observed.all(-1)).any()):
        raise ValueError("y has time steps with only some series missing, but the flow mixes "
                         "the series: mark the whole step missing or use flow='local'")
    z, ld = flow.inverse_and_log_det(torch.where(rows.unsqueeze(-1), y, 0.0))
    return torch.where(rows.unsqueeze(-1), z, nan), torch.where(rows, ld, 0.0)


class LocalGlobalNKF(nn.Module):
    r"""Local-global NKF forecaster: per-series structural state spaces whose time-varying
    parameters come from one LSTM shared by all series, observed jointly through a flow.

    For series i and step t (spec S31, S28),
    ``h^{(i)}_t = LSTM([x_t, e_i], h^{(i)}_{t-1})``, ``Theta^{(i)}_t = sigma(W h^{(i)}_t + b)``,
    ``l^{(i)}_t = F l^{(i)}_{t-1} + eps``, ``z^{(i)}_t = a^{(i)T}_t l^{(i)}_t + vareps``,
    ``y_t / s = f(z^{(1)}_t, ..., z^{(N)}_t)``.

    ``x_t`` are calendar features (:func:`~probdyn.models._features.time_features`: day of
    week, day of month, day of year, [hour], log-age) and optional dynamic covariates;
    ``e_i`` a learned series embedding. As in DeepState the network never sees the targets,
    so forecasts are not autoregressive. The local model is a level (or level-trend,
    ``add_trend``) block plus one-hot seasonality (day of week for 'B'/'D' data, hour of day
    and day of week for 'H'), d = 8 (daily) or 32 (hourly) without trend. Innovations are
    diagonal (thesis S134-S135): ``Q = diag(alpha_t^2, [beta_t^2], sigma_t^2 onehot_t)``.
    Targets are divided per series by ``s``, the mean absolute value over the context part of
    each window (GluonTS's mean scaler); :meth:`log_prob` is the density of the unscaled data.

    Output maps (spec §3): noise std ``sqrt(Gamma_t) = bounded(noise_std_bounds)``,
    innovation stds ``bounded(0, innovation_std_max)``, initial mean real-valued (level
    bias initialised at 1, the scaled level), initial stds ``bounded(0.01, initial_std_max)``,
    the initial state read from the first LSTM output (GluonTS).

    Parameters
    ----------
    num_series : int
        N, the dimension of y_t.
    freq : {'B', 'D', 'H'}
        Frequency of the data; selects the seasonality and the calendar features.
    flow : {'realnvp', 'local', 'identity'} or Flow
        'realnvp': the NKF (RealNVP over the N series, ``flow_blocks`` coupling blocks with
        ``flow_layers`` x ``flow_hidden`` conditioners: the paper's 9, 2 x 16 by default);
        'local': NKF-Local, an element-wise monotone spline per series
        (:class:`~probdyn.flows.ElementwiseSpline`; the thesis used a shared iResNet);
        'identity': DeepState (f = id). Or any flow over N series.
    add_trend : bool
        Level-trend instead of level-only (the paper's d counts imply level-only).
    num_covariates : int
        Number of extra dynamic covariates given to :meth:`fit` / :meth:`forecast`.
    context_length : int, optional
        Conditioning range of training windows and forecasts; default 4 x the longest
        season (GluonTS DeepState: 28 for daily data, 96 for hourly).
    hidden_size, num_layers, dropout, embedding_dim
        LSTM width, depth, dropout between layers (GluonTS: 40, 2, 0.1 as zoneout), and the
        series embedding size (20).
    noise_std_bounds : (float, float)
        Bounds on sqrt(Gamma_t) in scaled units. The thesis lower-bounds Gamma by 0.01 on
        exchange (whether variance or std is unspecified); we bound the std, 0.01 x the
        series' mean level, and take GluonTS's upper bound 1.
    innovation_std_max, initial_std_max : float
        Upper bounds of the innovation and initial-state standard deviations (scaled units).
    series_names : sequence of str, optional
        Names for the ``series`` coordinate of forecasts.
    """

    def __init__(self, num_series, freq="B", flow="realnvp", add_trend=False, num_covariates=0,
                 context_length=None, hidden_size=40, num_layers=2, dropout=0.1,
                 embedding_dim=20, flow_blocks=9, flow_hidden=16, flow_layers=2,
                 noise_std_bounds=(0.01, 1.0), innovation_std_max=0.1, initial_std_max=1.0,
                 series_names=None):
        super().__init__()
        for name, value in (("num_series", num_series), ("hidden_size", hidden_size),
                            ("num_layers", num_layers), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if int(num_covariates) != num_covariates or num_covariates < 0:
            raise ValueError(f"num_covariates must be a non-negative integer, "
                             f"got {num_covariates!r}")
        low, high = (float(b) for b in noise_std_bounds)
        if not 0 < low < high:
            raise ValueError(f"noise_std_bounds must be (low, high) with 0 < low < high, "
                             f"got {noise_std_bounds!r}")
        if not (innovation_std_max > 0 and initial_std_max > 0.01):
            raise ValueError("innovation_std_max must be > 0 and initial_std_max > 0.01")
        self.num_series, self.freq = int(num_series), feats.check_freq(freq)
        self.add_trend, self.num_covariates = bool(add_trend), int(num_covariates)
        self.seasons = feats.SEASONS[self.freq]
        self.state_dim = state_dim([m for _, m in self.seasons], self.add_trend)
        longest = max(m for _, m in self.seasons)
        self.context_length = int(context_length) if context_length is not None else 4 * longest
        if self.context_length < 1:
            raise ValueError(f"context_length must be a positive integer, got {context_length}")
        self.noise_std_bounds = (low, high)
        self.innovation_std_max, self.initial_std_max = float(innovation_std_max), \
            float(initial_std_max)
        names = list(series_names) if series_names is not None else None
        if names is not None and len(names) != self.num_series:
            raise ValueError(f"series_names has {len(names)} names for {num_series} series")
        self.series_names = names
        self.flow_kind = flow if isinstance(flow, str) else "custom"
        self.flow = self._make_flow(flow, flow_blocks, flow_hidden, flow_layers)
        self.embedding = nn.Embedding(self.num_series, int(embedding_dim))
        k = feats.num_time_features(self.freq) + self.num_covariates + int(embedding_dim)
        self.lstm = nn.LSTM(k, int(hidden_size), int(num_layers), batch_first=True,
                            dropout=float(dropout) if num_layers > 1 else 0.0)
        # per-step outputs: noise, level [, trend], one innovation per seasonal component
        self.num_step_outputs = 2 + int(self.add_trend) + len(self.seasons)
        self.step_head = nn.Linear(int(hidden_size), self.num_step_outputs)
        self.initial_head = nn.Linear(int(hidden_size), 2 * self.state_dim)
        with torch.no_grad():
            # start with small noise and innovations (about 2% and 0.5% of the level)
            self.step_head.bias.fill_(-4.0)
            self.initial_head.bias.zero_()
            self.initial_head.bias[0] = 1.0  # the scaled level is about 1

    def _make_flow(self, flow, blocks, hidden, layers):
        if not isinstance(flow, str):
            return as_flow(flow, self.num_series)
        if flow == "realnvp":
            if self.num_series < 2:
                raise ValueError("flow='realnvp' needs num_series >= 2; use flow='local'")
            return RealNVP(self.num_series, num_blocks=blocks, hidden_features=hidden,
                           num_layers=layers)
        if flow == "local":
            return ElementwiseSpline(self.num_series)
        if flow == "identity":
            return IdentityFlow(self.num_series)
        raise ValueError(f"flow must be one of {FLOWS} or a Flow, got {flow!r}")

    @property
    def dtype(self) -> torch.dtype:
        return self.step_head.weight.dtype

    # ------------------------------------------------------------------ inputs
    def prepare(self, y, time=None, covariates=None, name="y") -> Inputs:
        """Validate a panel and compute the network inputs.

        Parameters
        ----------
        y : xarray.DataArray (dims time, series) or array_like (T, N)
            Targets, NaN = missing. A DataArray supplies ``time`` from its coordinate.
        time : DatetimeIndex, length T
            Dates (required for arrays).
        covariates : array_like (T, num_covariates), optional
            Extra dynamic covariates; must be finite.
        """
        if isinstance(y, xr.DataArray):
            if set(y.dims) != {"time", "series"}:
                raise ValueError(f"{name} must have dims ('time', 'series'), got {y.dims}")
            y = y.transpose("time", "series")
            if time is None:
                time = y["time"].values
            y = y.values
        values = np.asarray(y, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.num_series:
            raise ValueError(f"{name} must have shape (T, {self.num_series}) (the model was "
                             f"built for {self.num_series} series), got {values.shape}")
        if values.shape[0] < 1:
            raise ValueError(f"{name} has no time steps")
        if np.isinf(values).any():
            raise ValueError(f"{name} contains infinite values (use NaN for missing data)")
        if time is None:
            raise ValueError("time must be given (dates of the steps of y) when y is an array")
        index = feats.as_time_index(time, values.shape[0])
        steps = np.arange(values.shape[0])
        x = feats.time_features(index, self.freq, steps)
        x = np.concatenate([x, self._covariates(covariates, values.shape[0])], axis=-1)
        s = feats.season_index(index, self.freq)
        as_t = torch.as_tensor
        return Inputs(as_t(values, dtype=self.dtype), as_t(x, dtype=self.dtype), as_t(s), index)

    def _covariates(self, covariates, T, name="covariates"):
        if self.num_covariates == 0:
            if covariates is not None:
                raise ValueError(f"{name} were given but the model has num_covariates=0")
            return np.zeros((T, 0))
        if covariates is None:
            raise ValueError(f"{name} must be given: the model has num_covariates="
                             f"{self.num_covariates}")
        c = np.asarray(covariates, dtype=np.float64)
        if c.ndim == 1 and self.num_covariates == 1:
            c = c[:, None]
        if c.shape != (T, self.num_covariates):
            raise ValueError(f"{name} must have shape ({T}, {self.num_covariates}), "
                             f"got {c.shape}")
        if not np.isfinite(c).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        return c

    # ----------------------------------------------------------------- network
    def emit(self, features, seasons) -> SSMParameters:
        """Per-series state-space parameters for windows of network inputs.

        Parameters
        ----------
        features : (B, T, k) tensor
        seasons : (B, T, C) long tensor of active season indices

        Returns
        -------
        SSMParameters
        """
        B, T, _ = features.shape
        N = self.num_series
        emb = self.embedding.weight
        x = torch.cat([features.unsqueeze(1).expand(B, N, T, features.shape[-1]),
                       emb[None, :, None, :].expand(B, N, T, emb.shape[-1])], dim=-1)
        h, _ = self.lstm(x.reshape(B * N, T, x.shape[-1]))
        h = h.reshape(B, N, T, h.shape[-1])
        raw = self.step_head(h)
        noise_std = _bounded(raw[..., 0], *self.noise_std_bounds)
        innov = _bounded(raw[..., 1:], 0.0, self.innovation_std_max) ** 2
        k = 2 if self.add_trend else 1
        onehots = [nn.functional.one_hot(seasons[..., c], m).to(h.dtype).unsqueeze(1)
                   for c, (_, m) in enumerate(self.seasons)]
        F, Q, H = local_system(innov[..., 0], [innov[..., k + c] for c in range(len(onehots))],
                               onehots, trend_var=innov[..., 1] if self.add_trend else None)
        Q = Q.expand(B, N, T, self.state_dim, self.state_dim)
        H = H.expand(B, N, T, 1, self.state_dim)
        init = self.initial_head(h[:, :, 0])
        loc, std = init[..., : self.state_dim], init[..., self.state_dim:]
        std = _bounded(std, 0.01, self.initial_std_max)
        R = (noise_std**2)[..., None, None]
        return SSMParameters(loc, torch.diag_embed(std**2), F, Q, H, R)

    def local_ssm(self, params: SSMParameters) -> LinearGaussianSSM:
        """The N local models as one LinearGaussianSSM with batch (B, N), event (T, 1)."""
        return LinearGaussianSSM(*params, parallel=False, steady_state=False)

    def joint_ssm(self, params: SSMParameters) -> LinearGaussianSSM:
        """The N local models side by side: batch (B,), state N*d, event (T, N)."""
        return side_by_side(*params, parallel=False, steady_state=False)

    def distribution(self, params: SSMParameters) -> NormalizingKalmanFilter:
        """The NKF of the scaled targets, ``NormalizingKalmanFilter(joint_ssm, flow)``."""
        return NormalizingKalmanFilter(self.joint_ssm(params), self.flow)

    # --------------------------------------------------------------- likelihood
    def scale(self, y, context_length=None):
        """Per-series scale s (B, N): mean |y| over the observed entries of the first
        ``context_length`` steps of each window.

        Where a window has no observed value of a series in that range (many missing steps),
        the mean over all its observed steps is used; where it has none at all, s = 1 (the
        series then has no likelihood term in that window, so s does not enter it).
        :meth:`forecast` extends its context so that this never happens there.
        """
        L = self.context_length if context_length is None else int(context_length)
        with warnings.catch_warnings():  # all-NaN slices are handled just below
            warnings.simplefilter("ignore", RuntimeWarning)
            s = torch.nanmean(y[..., :L, :].abs(), dim=-2)
            if bool(torch.isnan(s).any()):
                s = torch.where(torch.isnan(s), torch.nanmean(y.abs(), dim=-2), s)
                s = torch.nan_to_num(s, nan=1.0)
        return s.clamp_min(1e-10)

    def _scaled_log_prob(self, y_scaled, params):
        """log p(y / s) of windows (B, T, N): sum of N scalar Kalman filters + log-dets (B,)."""
        z, ld = pseudo_observations(self.flow, y_scaled)
        z = z.transpose(-1, -2).unsqueeze(-1)  # (B, N, T, 1)
        # a series with no observation in a window contributes log 1 = 0 (many missing
        # steps); LinearGaussianSSM refuses such a series, so it is scored on a placeholder
        # and masked out (no gradient flows through the placeholder)
        empty = torch.isnan(z).flatten(-2).all(-1)  # (B, N)
        if bool(empty.any()):
            z = torch.where(empty[..., None, None], 0.0, z)
        local = self.local_ssm(params).log_prob(z)
        if bool(empty.any()):
            local = torch.where(empty, 0.0, local)
        return local.sum(-1) + ld.sum(-1)

    def window_log_prob(self, y, features, seasons):
        """Exact log-density of the unscaled targets of a batch of windows.

        Parameters
        ----------
        y : (B, T, N) tensor, NaN = missing
        features, seasons : (B, T, k), (B, T, C) network inputs (see :meth:`prepare`)

        Returns
        -------
        (B,) tensor: ``log p(y / s) - sum over observed entries of log s_i``, with s from the
        first ``context_length`` steps of each window.
        """
        s = self.scale(y)
        params = self.emit(features, seasons)
        observed = (~torch.isnan(y)).to(y.dtype).sum(-2)
        return self._scaled_log_prob(y / s.unsqueeze(-2), params) - (observed * s.log()).sum(-1)

    def log_prob(self, y, time=None, covariates=None):
        """Exact log-likelihood (scalar tensor) of one panel ``y (T, N)`` (see
        :meth:`prepare` for the inputs), its scale from the first ``context_length`` steps."""
        inputs = self.prepare(y, time, covariates)
        return self.window_log_prob(inputs.y[None], inputs.features[None],
                                    inputs.seasons[None])[0]

    # ---------------------------------------------------------------- training
    def fit(self, y, time=None, covariates=None, **options):
        """Maximum-likelihood training; see :func:`probdyn.models.fit_local_global`."""
        from ._fit import fit_local_global

        return fit_local_global(self, y, time, covariates, **options)

    # ----------------------------------------------------------------- forecast
    def forecast(self, y, horizon, time=None, covariates=None, future_time=None,
                 future_covariates=None, num_samples=100, seed=0) -> xr.Dataset:
        """Sample paths of the next ``horizon`` steps after the panel ``y``.

        The filter runs over the last ``context_length`` steps of ``y`` (per series, exact),
        extended back to the last observation of every series when missing values leave a
        series unobserved in that range (attrs ``context_length`` gives the length used);
        draws of the future states and pseudo-observations are joint over the horizon and
        vectorised over samples, then mapped through the flow and rescaled.

        Parameters
        ----------
        y : DataArray (time, series) or array (T, N)
            History; only the last ``context_length`` steps are used (the age feature counts
            from the first step of ``y``).
        horizon : int
            Number of steps ahead (> 0).
        time, covariates : as in :meth:`prepare`
        future_time : DatetimeIndex (horizon,), optional
            Forecast dates; default continues ``time`` at the model's frequency.
        future_covariates : array (horizon, num_covariates), optional
        num_samples : int
        seed : int
            Seeds the draws (torch's global generator state is restored afterwards).

        Returns
        -------
        xarray.Dataset
            Variable ``y`` with dims (sample, time, series) in the units of the data, dates
            as the time coordinate; attrs seed, model, flow, context_length.
        """
        if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        horizon = int(horizon)
        past = self.prepare(y, time, covariates)
        T = past.y.shape[0]
        if future_time is None:
            offset = pd.tseries.frequencies.to_offset(self.freq)
            future_time = pd.date_range(past.time[-1] + offset, periods=horizon, freq=offset)
        future_time = feats.as_time_index(future_time, horizon, "future_time")
        if future_time[0] <= past.time[-1]:
            raise ValueError("future_time must start after the last date of y")
        x_f = feats.time_features(future_time, self.freq, np.arange(T, T + horizon))
        x_f = np.concatenate([x_f, self._covariates(future_covariates, horizon,
                                                    "future_covariates")], axis=-1)
        s_f = feats.season_index(future_time, self.freq)
        L = min(self.context_length, T)
        observed = ~torch.isnan(past.y)
        if not bool(observed.any(0).all()):
            raise ValueError("y has a series with no observed value: its forecast scale is "
                             "undefined")
        # extend the context back until it holds an observation of every series
        last_seen = (torch.arange(T)[:, None] * observed).amax(0).min()
        L = max(L, T - int(last_seen))
        features = torch.cat([past.features[T - L:], torch.as_tensor(x_f, dtype=self.dtype)])
        seasons = torch.cat([past.seasons[T - L:], torch.as_tensor(s_f)])
        context = past.y[T - L:]
        with torch.no_grad():
            was_training = self.training
            self.eval()
            try:
                samples = self._sample_future(context, features, seasons, horizon,
                                              int(num_samples), int(seed))
            finally:
                self.train(was_training)
        attrs = {"seed": int(seed), "model": "LocalGlobalNKF", "flow": self.flow_kind,
                 "context_length": L}
        ds = samples_to_dataset(samples, time=future_time, series=self.series_names,
                                attrs={"long_name": "forecast sample paths"})
        ds.attrs.update(attrs)
        return ds

    def _sample_future(self, context, features, seasons, horizon, num_samples, seed):
        L = context.shape[0]
        params = self.emit(features[None], seasons[None])
        s = self.scale(context[None], L)  # (1, N)
        z, _ = pseudo_observations(self.flow, context[None] / s.unsqueeze(-2))
        future = self.local_ssm(params.steps(slice(0, L))).forecast(
            z.transpose(-1, -2).unsqueeze(-1), horizon,
            transition_cov=params.transition_cov[..., L:, :, :],
            observation_matrix=params.observation_matrix[..., L:, :, :],
            observation_cov=params.observation_cov[..., L:, :, :])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            z_f = future.sample((num_samples,))  # (S, 1, N, horizon, 1)
        z_f = z_f[:, 0, :, :, 0].transpose(-1, -2)  # (S, horizon, N)
        y = self.flow(z_f) * s
        if not bool(torch.isfinite(y).all()):
            raise ValueError("the flow mapped some forecast draws to non-finite values")
        return y
