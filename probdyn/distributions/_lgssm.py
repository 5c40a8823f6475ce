"""Linear-Gaussian state-space model as a Pyro distribution over whole series."""

import torch
from pyro.distributions import MultivariateNormal, TorchDistribution, constraints

from .. import ops

_MATRIX_ARGS = ("transition_matrix", "transition_cov", "observation_matrix", "observation_cov")


def _with_time_axis(name: str, value, rows: int, cols: int) -> torch.Tensor:
    value = torch.as_tensor(value)
    if value.dim() < 2 or value.shape[-2:] != (rows, cols):
        raise ValueError(
            f"{name} must have shape (..., [T,] {rows}, {cols}), got {tuple(value.shape)}"
        )
    return value.unsqueeze(-3) if value.dim() == 2 else value


class LinearGaussianSSM(TorchDistribution):
    r"""Linear-Gaussian state-space model over a whole series ``y_{1:T}``.

    .. math::
        x_1 \sim N(\mu_1, \Sigma_1),\quad x_t = F_t x_{t-1} + w_t,\ w_t \sim N(0, Q_t),\quad
        y_t = H_t x_t + v_t,\ v_t \sim N(0, R_t)

    Column-vector convention (statsmodels, dynamax). ``initial_loc``/``initial_cov`` are the law
    of the state at the FIRST time step, which generates ``y_1`` (Pyro's ``GaussianHMM`` puts its
    initial distribution one step earlier; use :meth:`to_gaussian_hmm` /
    :meth:`from_gaussian_hmm` to convert exactly).

    Parameters (``d`` states, ``N`` observed series, ``T`` time steps)
    ----------
    initial_loc : (..., d)
    initial_cov : (..., d, d), positive definite
    transition_matrix : (..., [T,] d, d)  F_t; entry t = 0 of a time-varying F is unused
    transition_cov : (..., [T,] d, d)  Q_t, positive semi-definite
    observation_matrix : (..., [T,] N, d)  H_t
    observation_cov : (..., [T,] N, N)  R_t, positive definite
    duration : int, optional
        T when no parameter carries a time axis.
    parallel : bool
        Use the parallel-in-time (associative scan) kernels (default) or the sequential ones.
    steady_state : bool
        For time-invariant, fully observed models, switch to the constant Kalman gain once the
        covariances have converged to rounding (default; same numbers, much faster for long T).

    As in Pyro's HMM distributions, the rightmost batch dim of a matrix parameter is TIME (size T,
    or 1 for time-invariant); a plain (d, d) matrix is time-invariant. To batch time-invariant
    matrices write shape (B, 1, d, d). ``batch_shape`` is the broadcast of the remaining dims and
    ``event_shape == (T, N)``.

    Missing data: ``NaN`` entries of ``y`` (whole steps or single entries) are marginalised out
    exactly in :meth:`log_prob`, :meth:`filter`, :meth:`smooth`, :meth:`sample_posterior` and
    :meth:`forecast`; an explicit boolean ``mask`` (True = observed) may be given instead.
    """

    arg_constraints = {
        "initial_loc": constraints.real_vector,
        "initial_cov": constraints.positive_definite,
        "transition_matrix": constraints.real,
        "transition_cov": constraints.positive_semidefinite,
        "observation_matrix": constraints.real,
        "observation_cov": constraints.positive_definite,
    }
    support = constraints.independent(constraints.real, 2)
    has_rsample = True

    def __init__(self, initial_loc, initial_cov, transition_matrix, transition_cov,
                 observation_matrix, observation_cov, duration=None, parallel=True,
                 steady_state=True, validate_args=None):
        initial_loc = torch.as_tensor(initial_loc)
        if initial_loc.dim() < 1:
            raise ValueError(
                f"initial_loc must have shape (..., d), got {tuple(initial_loc.shape)}"
            )
        d = initial_loc.shape[-1]
        initial_cov = torch.as_tensor(initial_cov)
        if initial_cov.dim() < 2 or initial_cov.shape[-2:] != (d, d):
            raise ValueError(
                f"initial_cov must have shape (..., {d}, {d}), got {tuple(initial_cov.shape)}"
            )
        observation_matrix = torch.as_tensor(observation_matrix)
        if observation_matrix.dim() < 2 or observation_matrix.shape[-1] != d:
            raise ValueError(
                f"observation_matrix must have shape (..., [T,] N, {d}), "
                f"got {tuple(observation_matrix.shape)}"
            )
        N = observation_matrix.shape[-2]
        F = _with_time_axis("transition_matrix", transition_matrix, d, d)
        Q = _with_time_axis("transition_cov", transition_cov, d, d)
        H = _with_time_axis("observation_matrix", observation_matrix, N, d)
        R = _with_time_axis("observation_cov", observation_cov, N, N)
        times = {name: x.shape[-3] for name, x in zip(_MATRIX_ARGS, (F, Q, H, R))}
        varying = {n: t for n, t in times.items() if t != 1}
        if duration is not None:
            if int(duration) < 1:
                raise ValueError(f"duration must be a positive integer, got {duration}")
            duration = int(duration)
        T = duration if duration is not None else max(times.values())
        for name, t in varying.items():
            if t != T:
                raise ValueError(
                    f"{name} has a time axis of length {t}, but the series has T = {T} steps "
                    f"(duration={duration}, time axes: {times})"
                )
        for name, x in zip(("initial_loc", "initial_cov"), (initial_loc, initial_cov)):
            if not torch.isfinite(x).all():
                raise ValueError(f"{name} contains NaN or infinite values")
        for name, x in zip(_MATRIX_ARGS, (F, Q, H, R)):
            if not torch.isfinite(x).all():
                raise ValueError(f"{name} contains NaN or infinite values")
        dtype = initial_loc.dtype if initial_loc.is_floating_point() else torch.get_default_dtype()
        for x in (initial_cov, F, Q, H, R):
            dtype = torch.promote_types(dtype, x.dtype)
        self.initial_loc = initial_loc.to(dtype)
        self.initial_cov = initial_cov.to(dtype)
        self.transition_matrix, self.transition_cov = F.to(dtype), Q.to(dtype)
        self.observation_matrix, self.observation_cov = H.to(dtype), R.to(dtype)
        self.parallel, self.steady_state = parallel, steady_state
        self.state_dim, self.obs_dim = d, N
        batch_shape = torch.broadcast_shapes(
            initial_loc.shape[:-1], initial_cov.shape[:-2], F.shape[:-3], Q.shape[:-3],
            H.shape[:-3], R.shape[:-3],
        )
        super().__init__(batch_shape, torch.Size((T, N)), validate_args=validate_args)

    # ------------------------------------------------------------------ helpers
    @property
    def duration(self) -> int:
        return self.event_shape[0]

    @property
    def time_varying(self) -> bool:
        return any(x.shape[-3] != 1 for x in self._matrices())

    def _matrices(self):
        return (self.transition_matrix, self.transition_cov, self.observation_matrix,
                self.observation_cov)

    def _kernel_options(self):
        return {"parallel": self.parallel, "steady_state": self.steady_state}

    def _args(self):
        return (self.initial_loc, self.initial_cov) + self._matrices()

    def _validate_sample(self, value):
        # NaN marks missing data, so only shapes and infinities are checked
        if value.shape[-2:] != self.event_shape:
            raise ValueError(
                f"value must have event shape (T, N) = {tuple(self.event_shape)}, "
                f"got {tuple(value.shape)}"
            )
        if torch.isinf(value).any():
            raise ValueError("value contains infinite entries (use NaN for missing data)")

    def _check_data(self, y, mask=None):
        y = torch.as_tensor(y, dtype=self.initial_loc.dtype)
        self._validate_sample(y)
        if mask is not None and torch.as_tensor(mask).dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor (True = observed), got dtype "
                             f"{torch.as_tensor(mask).dtype}")
        observed = ~torch.isnan(y) if mask is None else (~torch.isnan(y) & mask)
        empty = ~observed.flatten(-2).any(-1)
        if empty.any():
            raise ValueError(
                f"y has a series with no observed entry (batch index "
                f"{tuple(empty.nonzero()[0].tolist())}): its likelihood is undefined"
            )
        return y

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LinearGaussianSSM, _instance)
        batch_shape = torch.Size(batch_shape)
        new.initial_loc = self.initial_loc.expand(batch_shape + self.initial_loc.shape[-1:])
        new.initial_cov = self.initial_cov.expand(batch_shape + self.initial_cov.shape[-2:])
        for name in _MATRIX_ARGS:
            x = getattr(self, name)
            setattr(new, name, x.expand(batch_shape + x.shape[-3:]))
        new.parallel, new.steady_state = self.parallel, self.steady_state
        new.state_dim, new.obs_dim = self.state_dim, self.obs_dim
        super(LinearGaussianSSM, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    # ------------------------------------------------------------ distribution
    def log_prob(self, value, mask=None):
        """Exact log-density of the observed entries of ``value`` (..., T, N); NaN = missing."""
        value = self._check_data(value, mask)
        return ops.kalman_log_likelihood(value, *self._args(), mask=mask,
                                         **self._kernel_options())

    def rsample(self, sample_shape=()):
        _, y = ops.sample_prior(*self._args(), num_steps=self.duration,
                                sample_shape=sample_shape)
        return y.expand(torch.Size(sample_shape) + self.batch_shape + self.event_shape)

    def sample_states(self, sample_shape=()):
        """Joint draws ``(x (*S, ..., T, d), y (*S, ..., T, N))`` from the model."""
        return ops.sample_prior(*self._args(), num_steps=self.duration,
                                sample_shape=sample_shape)

    def _marginals(self):
        return ops.marginal_moments(*self._args(), num_steps=self.duration)

    @property
    def mean(self):
        """Marginal mean of y, (..., T, N)."""
        return self._marginals()[2].expand(self.batch_shape + self.event_shape)

    @property
    def variance(self):
        """Marginal variance of each entry of y, (..., T, N)."""
        cov = self._marginals()[3]
        return torch.diagonal(cov, dim1=-2, dim2=-1).expand(self.batch_shape + self.event_shape)

    @property
    def covariance_matrix(self):
        """Per-step marginal covariance of y_t, (..., T, N, N) (steps are correlated too)."""
        return self._marginals()[3]

    # --------------------------------------------------------------- inference
    def filter(self, value, mask=None):
        """p(x_t | y_{1:t}) for every t as a ``MultivariateNormal``, batch (..., T), event (d,)."""
        f = ops.kalman_filter(self._check_data(value, mask), *self._args(), mask=mask,
                              **self._kernel_options())
        return MultivariateNormal(f.filtered_loc, f.filtered_cov)

    def filter_result(self, value, mask=None):
        """All per-step filter quantities (:class:`probdyn.ops.FilterResult`)."""
        return ops.kalman_filter(self._check_data(value, mask), *self._args(), mask=mask,
                                 **self._kernel_options())

    def smooth(self, value, mask=None):
        """p(x_t | y_{1:T}) for every t as a ``MultivariateNormal``, batch (..., T), event (d,)."""
        s = ops.kalman_smoother(self._check_data(value, mask), *self._args(), mask=mask,
                                **self._kernel_options())
        return MultivariateNormal(s.loc, s.cov)

    def sample_posterior(self, value, sample_shape=(), mask=None):
        """Joint draws of the latent path x_{1:T} | y (forward filtering, backward sampling):
        shape (*sample_shape, ..., T, d)."""
        return ops.kalman_sample_posterior(self._check_data(value, mask), *self._args(),
                                           sample_shape=sample_shape, mask=mask,
                                           **self._kernel_options())

    def forecast(self, value, horizon, mask=None, **future):
        """Joint predictive distribution of the next ``horizon`` steps given ``value``.

        Returns a :class:`LinearGaussianSSM` with ``event_shape (horizon, N)`` (``.mean``,
        ``.variance``, ``.sample``, ``.log_prob`` of candidate futures). For time-varying models
        pass the future parameters as keywords (``transition_matrix=...`` etc., with a time axis
        of length ``horizon``); time-invariant ones are reused.
        """
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon}")
        unknown = set(future) - set(_MATRIX_ARGS)
        if unknown:
            raise ValueError(f"unknown future parameters {sorted(unknown)}; use {_MATRIX_ARGS}")
        params = {}
        for name in _MATRIX_ARGS:
            x = getattr(self, name)
            if name in future:
                params[name] = torch.as_tensor(future[name], dtype=x.dtype)
            elif x.shape[-3] != 1:
                raise ValueError(
                    f"{name} is time-varying: pass its values for the {horizon} forecast steps "
                    f"as forecast(..., {name}=tensor of shape (..., {horizon}, ...))"
                )
            else:
                params[name] = x
        f = ops.kalman_filter(self._check_data(value, mask), *self._args(), mask=mask,
                              **self._kernel_options())
        m_T, P_T = f.filtered_loc[..., -1, :], f.filtered_cov[..., -1, :, :]
        F = _with_time_axis("transition_matrix", params["transition_matrix"], *P_T.shape[-2:])
        Q = _with_time_axis("transition_cov", params["transition_cov"], *P_T.shape[-2:])
        F1, Q1 = F[..., 0, :, :], Q[..., 0, :, :]
        loc = (F1 @ m_T.unsqueeze(-1)).squeeze(-1)
        cov = F1 @ P_T @ F1.mT + Q1
        return LinearGaussianSSM(loc, 0.5 * (cov + cov.mT), F, Q, params["observation_matrix"],
                                 params["observation_cov"], duration=int(horizon),
                                 **self._kernel_options())

    # -------------------------------------------------------------- conversion
    def to_gaussian_hmm(self):
        """The same law as a ``pyro.distributions.GaussianHMM`` (exact).

        Pyro's initial state precedes the first observation, so the first transition of the
        HMM is set to ``0 @ z_0 + N(initial_loc, initial_cov)``; later transitions use F_t^T.
        """
        from pyro.distributions import GaussianHMM

        T, d = self.duration, self.state_dim
        F = self.transition_matrix.expand(self.transition_matrix.shape[:-3] + (T, d, d))
        Q = self.transition_cov.expand(self.transition_cov.shape[:-3] + (T, d, d))
        batch = torch.broadcast_shapes(F.shape[:-3], self.initial_loc.shape[:-1])
        F = F.expand(batch + F.shape[-3:]).clone()
        F[..., 0, :, :] = 0.0
        Q = Q.expand(batch + Q.shape[-3:]).clone()
        Q[..., 0, :, :] = self.initial_cov.expand(batch + (d, d))
        loc = torch.zeros(batch + (T, d), dtype=F.dtype, device=F.device)
        loc[..., 0, :] = self.initial_loc.expand(batch + (d,))
        # singular Q (deterministic states) is not allowed by MultivariateNormal: tiny jitter
        eye = torch.eye(d, dtype=F.dtype, device=F.device)
        jitter = 0.0 if torch.linalg.cholesky_ex(Q)[1].eq(0).all() else 1e-12
        transition_dist = MultivariateNormal(loc, Q + jitter * eye)
        initial = MultivariateNormal(torch.zeros(d, dtype=F.dtype), eye)
        obs_dist = MultivariateNormal(
            torch.zeros(self.obs_dim, dtype=F.dtype), self.observation_cov
        )
        return GaussianHMM(initial, F.mT, transition_dist, self.observation_matrix.mT, obs_dist,
                           duration=T)

    @classmethod
    def from_gaussian_hmm(cls, hmm, parallel=True):
        """Convert a ``pyro.distributions.GaussianHMM`` (row-vector form, initial state ``z_0``
        one step before the first observation) into a :class:`LinearGaussianSSM` (exact).

        The HMM's Gaussian factors are read back into matrices; a non-zero mean of the
        transition noise after the first step, or of the observation noise, has no counterpart
        here and raises ``ValueError``.
        """
        d = hmm.hidden_dim
        init_cov = torch.linalg.inv(hmm._init.precision)
        init_loc = (init_cov @ hmm._init.info_vec.unsqueeze(-1)).squeeze(-1)
        A, Q, b = _matrix_noise_from_gaussian(hmm._trans, d)
        C, R, c = _matrix_noise_from_gaussian(hmm._obs, d)
        if c.abs().max() > 0:
            raise ValueError("observation_dist of the GaussianHMM has a non-zero mean")
        T = hmm.event_shape[0]
        # Pyro's rightmost batch dim is time; time-invariant factors may have none
        A, Q, C, R = (x.unsqueeze(-3) if x.dim() == 2 else x for x in (A, Q, C, R))
        b = b.unsqueeze(-2) if b.dim() == 1 else b
        A_t = A.expand(A.shape[:-3] + (T,) + A.shape[-2:]) if A.shape[-3] == 1 else A
        Q_t = Q.expand(Q.shape[:-3] + (T,) + Q.shape[-2:]) if Q.shape[-3] == 1 else Q
        b_t = b.expand(b.shape[:-2] + (T,) + b.shape[-1:]) if b.shape[-2] == 1 else b
        if b_t[..., 1:, :].abs().max() > 0:
            raise ValueError("transition_dist of the GaussianHMM has a non-zero mean after the "
                             "first step (a drift), which LinearGaussianSSM does not model")
        A1, Q1, b1 = A_t[..., 0, :, :], Q_t[..., 0, :, :], b_t[..., 0, :]
        loc = (init_loc.unsqueeze(-2) @ A1).squeeze(-2) + b1
        cov = A1.mT @ init_cov @ A1 + Q1
        return cls(loc, 0.5 * (cov + cov.mT), A.mT, Q, C.mT, R, duration=T, parallel=parallel)


def _matrix_noise_from_gaussian(gaussian, d):
    """Read ``(matrix, noise_cov, noise_loc)`` of ``y = x @ matrix + N(loc, cov)`` back from
    Pyro's joint Gaussian factor over ``(x, y)`` (x of size ``d``)."""
    prec, info = gaussian.precision, gaussian.info_vec
    cov = torch.linalg.inv(prec[..., d:, d:])
    matrix = -prec[..., :d, d:] @ cov
    loc = (cov @ info[..., d:].unsqueeze(-1)).squeeze(-1)
    return matrix, 0.5 * (cov + cov.mT), loc
