"""Normalizing Kalman Filter: a linear-Gaussian state space observed through a flow."""

from typing import NamedTuple

import torch
from pyro.distributions import TorchDistribution, constraints

from .. import ops
from ..flows import as_flow
from ._lgssm import LinearGaussianSSM


class Imputation(NamedTuple):
    """Result of :meth:`NormalizingKalmanFilter.impute` (shapes for data of shape (..., T, N)).

    ``samples`` (S, ..., T, N): joint posterior paths, observed entries equal to the data.
    ``mean`` (..., T, N): Monte-Carlo mean of ``samples``.
    ``median`` (..., T, N): ``f(loc_z)``; for an element-wise flow this is the exact marginal
    median of every entry (a monotone map of a Gaussian), for a mixing flow a point estimate.
    ``loc_z`` (..., T, N), ``cov_z`` (..., T, N, N): Gaussian marginal of the pseudo-observation
    z_t given all observed data (zero variance on observed entries).
    """

    samples: torch.Tensor
    mean: torch.Tensor
    median: torch.Tensor
    loc_z: torch.Tensor
    cov_z: torch.Tensor


def _mv(matrix, vector):
    return (matrix @ vector.unsqueeze(-1)).squeeze(-1)


def _at_steps(x, T):
    """(…, T or 1, r, c) -> (…, T, r, c)."""
    return x.expand(x.shape[:-3] + (T,) + x.shape[-2:])


class NormalizingKalmanFilter(TorchDistribution):
    r"""Normalizing Kalman Filter (de Bézenac et al. 2020): ``y_t = f(z_t)``,
    ``z_{1:T} ~ ssm``.

    .. math::
        x_t = F_t x_{t-1} + w_t,\quad z_t = H_t x_t + v_t,\quad y_t = f(z_t)

    Everything is exact: with ``z_t = f^{-1}(y_t)``,
    ``log p(y) = ssm.log_prob(z) + sum_t log|det J_{f^{-1}}(y_t)|``, and filtering, smoothing
    and forecasting are those of the linear-Gaussian model on ``z``.

    Parameters
    ----------
    ssm : LinearGaussianSSM
        The law of the pseudo-observations ``z`` (batch shape, event shape (T, N), time-varying
        or network-produced parameters all allowed).
    flow : probdyn.flows.Flow, nflows Transform or torch Transform
        Invertible map of R^N (the same at every time step), z -> y. Its floating-point
        parameters must have the dtype of the ssm.

    Notes
    -----
    ``batch_shape`` and ``event_shape == (T, N)`` are those of ``ssm``. Missing data are NaN,
    as whole time steps for any flow, or as single entries for an element-wise flow
    (``flow.elementwise``), which are then marginalised exactly. A mixing flow cannot
    marginalise part of ``y_t`` in closed form, so such data raise ``ValueError``. A series
    with no observed entry at all raises ``ValueError``, as in ``LinearGaussianSSM``.
    """

    arg_constraints = {}
    support = constraints.independent(constraints.real, 2)
    has_rsample = True

    def __init__(self, ssm, flow, validate_args=None):
        if not isinstance(ssm, LinearGaussianSSM):
            raise ValueError(f"ssm must be a LinearGaussianSSM, got {type(ssm)}")
        flow = as_flow(flow, ssm.obs_dim)
        dtype = ssm.initial_loc.dtype
        for name, p in flow.named_parameters():
            if not torch.isfinite(p).all():
                raise ValueError(f"flow parameter {name!r} contains NaN or infinite values")
            if p.is_floating_point() and p.dtype != dtype:
                raise ValueError(f"flow parameter {name!r} has dtype {p.dtype} but the ssm has "
                                 f"{dtype}: convert the flow with flow.to({dtype})")
        self.ssm, self.flow = ssm, flow
        super().__init__(ssm.batch_shape, ssm.event_shape, validate_args=validate_args)

    @property
    def duration(self) -> int:
        return self.event_shape[0]

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NormalizingKalmanFilter, _instance)
        new.ssm = self.ssm.expand(batch_shape)
        new.flow = self.flow
        super(NormalizingKalmanFilter, new).__init__(new.ssm.batch_shape, self.event_shape,
                                                     validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _validate_sample(self, value):
        # NaN marks missing data: shapes and infinities only (as LinearGaussianSSM)
        self.ssm._validate_sample(value)

    # ------------------------------------------------------------ change of variables
    def pseudo_observations(self, value):
        """``(z, log_det)``: ``z = f^{-1}(y)`` (..., T, N), NaN where ``y`` is missing, and
        ``log_det`` (..., T), the log|det J_{f^{-1}}(y_t)| of the observed entries of each step.
        """
        y = torch.as_tensor(value, dtype=self.ssm.initial_loc.dtype)
        self.ssm._validate_sample(y)
        observed = ~torch.isnan(y)
        nan = torch.full((), float("nan"), dtype=y.dtype, device=y.device)
        if bool(observed.all()):
            z, ld = self.flow.inverse_and_log_det(y)
            self._check_inverse(z, ld, observed)
            return z, ld
        if self.flow.elementwise:
            # missing entries get a harmless 0 so that no NaN reaches the gradients
            z, ld = self.flow.inverse_and_log_det_elementwise(torch.where(observed, y, 0.0))
            self._check_inverse(z, ld, observed)
            return torch.where(observed, z, nan), torch.where(observed, ld, 0.0).sum(-1)
        rows = observed.any(-1)
        partial = rows & ~observed.all(-1)
        if partial.any():
            where = tuple(partial.nonzero()[0].tolist())
            raise ValueError(
                f"y has time steps with only some entries missing (first at index {where}), but "
                f"the flow {type(self.flow).__name__} mixes the series: a partially observed "
                "y_t cannot be marginalised through it in closed form. Use an element-wise flow "
                "(flow.elementwise=True) or mark the whole step as missing (NaN row)."
            )
        z, ld = self.flow.inverse_and_log_det(torch.where(rows.unsqueeze(-1), y, 0.0))
        self._check_inverse(z, ld, rows.unsqueeze(-1).expand(y.shape))
        return torch.where(rows.unsqueeze(-1), z, nan), torch.where(rows, ld, 0.0)

    @staticmethod
    def _check_inverse(z, ld, observed):
        if not bool(torch.isfinite(z[observed]).all()):
            raise ValueError("f^-1(y) is not finite at some observed entry: y is outside the "
                             "range of the flow, or the flow is not invertible there")
        # per-entry log-dets (element-wise flows) or per-step ones
        mask = observed if ld.shape == observed.shape else observed.any(-1)
        if not bool(torch.isfinite(ld[mask]).all()):
            raise ValueError("log|det J_{f^-1}(y)| is not finite at some observed step: the "
                             "flow is not invertible there (zero or infinite Jacobian)")

    # ------------------------------------------------------------------ distribution
    def log_prob(self, value):
        """Exact log-density of the observed entries of ``value`` (..., T, N); NaN = missing.

        Returns shape (...): ``ssm.log_prob(f^{-1}(y))`` plus the observed log-dets.
        """
        z, ld = self.pseudo_observations(value)
        return self.ssm.log_prob(z) + ld.sum(-1)

    def rsample(self, sample_shape=()):
        y = self.flow(self.ssm.rsample(sample_shape))
        if not bool(torch.isfinite(y).all()):
            raise ValueError("the flow maps some sampled z to a non-finite y (overflow): check "
                             "the flow's parameters or use float64")
        return y

    def sample_states(self, sample_shape=()):
        """Joint draws ``(x (*S, ..., T, d), z (*S, ..., T, N), y (*S, ..., T, N))``."""
        x, z = self.ssm.sample_states(sample_shape)
        return x, z, self.flow(z)

    # --------------------------------------------------------------------- inference
    def filter(self, value):
        """p(x_t | y_{1:t}) = p_LGM(x_t | z_{1:t}): ``MultivariateNormal``, batch (..., T)."""
        return self.ssm.filter(self.pseudo_observations(value)[0])

    def smooth(self, value):
        """p(x_t | y_{1:T}) = p_LGM(x_t | z_{1:T}): ``MultivariateNormal``, batch (..., T)."""
        return self.ssm.smooth(self.pseudo_observations(value)[0])

    def sample_posterior(self, value, sample_shape=()):
        """Joint draws of the latent path x_{1:T} | y: shape (*sample_shape, ..., T, d)."""
        return self.ssm.sample_posterior(self.pseudo_observations(value)[0], sample_shape)

    def forecast(self, value, horizon, **future):
        """Joint predictive law of the next ``horizon`` steps given ``value``, as a
        :class:`NormalizingKalmanFilter` with event shape (horizon, N).

        Its ``log_prob`` is the exact joint density of a candidate future (chain rule through
        the filter on ``f^{-1}``), its ``sample`` draws whole paths at once (vectorised over
        samples). Time-varying ssm parameters for the horizon are passed as keywords, as in
        :meth:`LinearGaussianSSM.forecast`. ``result.ssm.mean`` and
        ``result.ssm.covariance_matrix`` are the k-step-ahead marginal moments of the
        pseudo-observations z (predict-only propagation from the last filtered state).
        """
        if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon}")
        z, _ = self.pseudo_observations(value)
        return NormalizingKalmanFilter(self.ssm.forecast(z, int(horizon), **future), self.flow)

    def impute(self, value, num_samples=100, seed=None):
        """Posterior of the missing entries of ``value`` (..., T, N) given the observed ones.

        Smoothing-based (spec §2.5): latent paths x_{1:T} | y by forward filtering / backward
        sampling, then ``z_t | x_t, observed part of z_t`` and ``y = f(z)``. Draws are joint over
        time and series; observed entries are returned unchanged.

        Parameters
        ----------
        value : (..., T, N) tensor, NaN = missing
        num_samples : int
        seed : int, optional
            Seeds a private generator (reproducible draws without touching torch's global RNG).

        Returns
        -------
        Imputation
        """
        if int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples}")
        y = torch.as_tensor(value, dtype=self.ssm.initial_loc.dtype)
        z, _ = self.pseudo_observations(y)
        ssm = self.ssm
        observed = ~torch.isnan(z)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=z.device).manual_seed(int(seed))
        T, N = self.event_shape
        H = _at_steps(ssm.observation_matrix, T)
        R = _at_steps(ssm.observation_cov, T)
        # z_t | x_t, z_{o,t}:  z_t = (I - W) H x_t + W z_t(filled) + e,  e ~ N(0, R - W R),
        # with W = R M, M the inverse of R's observed block embedded with zeros elsewhere
        o = observed.to(z.dtype)
        both = o.unsqueeze(-1) * o.unsqueeze(-2)
        eye = torch.eye(N, dtype=z.dtype, device=z.device)
        M = torch.linalg.inv(R * both + torch.diag_embed(1.0 - o)) * both
        W = R @ M
        # rows of observed entries are exactly zero in C and in the conditional covariance
        # (set explicitly: rounding would leave tiny negative eigenvalues)
        m = 1.0 - o
        C = ((eye - W) @ H) * m.unsqueeze(-1)
        z0 = torch.where(observed, z, 0.0)
        shift = _mv(W, z0)
        cond_cov = (R - W @ R) * (m.unsqueeze(-1) * m.unsqueeze(-2))
        cond_cov = 0.5 * (cond_cov + cond_cov.mT)
        # Gaussian marginals of z_t given all data
        smoothed = ssm.smooth(z)
        loc_z = _mv(C, smoothed.loc) + shift
        cov_z = C @ smoothed.covariance_matrix @ C.mT + cond_cov
        cov_z = 0.5 * (cov_z + cov_z.mT)
        # joint paths
        x = ops.kalman_sample_posterior(z, *ssm._args(), sample_shape=(int(num_samples),),
                                        generator=generator, **ssm._kernel_options())
        eps = torch.randn(x.shape[:-1] + (N,), dtype=z.dtype, device=z.device,
                          generator=generator)
        z_paths = _mv(C, x) + shift + _mv(ops.psd_sqrt(cond_cov), eps)
        z_paths = torch.where(observed, z, z_paths)
        y_paths = torch.where(~torch.isnan(y), y, self.flow(z_paths))
        median = torch.where(~torch.isnan(y), y, self.flow(loc_z))
        return Imputation(y_paths, y_paths.mean(0), median, loc_z, cov_z)

    # ------------------------------------------------------------------- conversion
    def to_filter_result(self, value):
        """Every per-step filter quantity on ``z = f^{-1}(value)`` (:class:`ops.FilterResult`)."""
        return self.ssm.filter_result(self.pseudo_observations(value)[0])

    def __repr__(self):
        return (f"NormalizingKalmanFilter(batch_shape={tuple(self.batch_shape)}, "
                f"event_shape={tuple(self.event_shape)}, flow={type(self.flow).__name__})")
