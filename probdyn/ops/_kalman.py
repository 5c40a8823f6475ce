"""Public Kalman kernels: filter, smoother, log-likelihood, posterior sampling, predictions.

Layout (column convention, as statsmodels and dynamax)::

    x_1 ~ N(initial_loc, initial_cov)
    x_t = F_t x_{t-1} + w_t,   w_t ~ N(0, Q_t)          t = 2..T
    y_t = H_t x_t + v_t,       v_t ~ N(0, R_t)          t = 1..T

Shapes: ``y`` (..., T, N) with NaN for missing entries (or an explicit boolean ``mask``,
True = observed); ``initial_loc`` (..., d); ``initial_cov`` (..., d, d);
``transition_matrix`` F and ``transition_cov`` Q (..., T or 1, d, d);
``observation_matrix`` H (..., T or 1, N, d); ``observation_cov`` R (..., T or 1, N, N).
The time axis of the matrices is REQUIRED here (size 1 = time-invariant; entry 0 of F and Q is
never used). Leading batch dims broadcast. Everything is differentiable.

``parallel=True`` uses the associative-scan (O(log T) depth) filter and smoother in information
form; ``parallel=False`` the classical sequential filter (Cholesky of the innovation covariance,
Joseph update). Both give the same numbers to rounding. With ``steady_state=True`` (default) a
time-invariant, fully observed model switches to the constant gain once the covariances have
converged to rounding (``_steady.py``), which makes long series much cheaper.
"""

from typing import NamedTuple

import torch

from ._checks import NotPositiveDefiniteError, check_finite
from ._filter import FilterResult, filter_parallel, filter_sequential
from ._observations import resolve_mask
from ._smoother import backward_elements, sample_backward, smooth_parallel, smooth_sequential
from ._sqrt import psd_sqrt
from ._steady import filter_steady_state


class SmootherResult(NamedTuple):
    """``loc`` (..., T, d) and ``cov`` (..., T, d, d) of p(x_t | y_{1:T}), and the filter."""

    loc: torch.Tensor
    cov: torch.Tensor
    filter: FilterResult


class _Prepared(NamedTuple):
    y: torch.Tensor
    m0: torch.Tensor
    P0: torch.Tensor
    F: torch.Tensor
    Q: torch.Tensor
    H: torch.Tensor
    R: torch.Tensor
    observed: torch.Tensor | None
    batch_shape: torch.Size


def _check_matrix(name, x, rows, cols, T):
    if x.dim() < 3 or x.shape[-2:] != (rows, cols) or x.shape[-3] not in (1, T):
        raise ValueError(
            f"{name} must have shape (..., T or 1, {rows}, {cols}) with T = {T}, "
            f"got {tuple(x.shape)}"
        )
    check_finite(name, x)


def _prepare(y, initial_loc, initial_cov, F, Q, H, R, mask) -> _Prepared:
    if y.dim() < 2:
        raise ValueError(f"y must have shape (..., T, N), got {tuple(y.shape)}")
    T, N = y.shape[-2:]
    if T == 0:
        raise ValueError("y has no time steps (T = 0)")
    if initial_loc.dim() < 1:
        raise ValueError("initial_loc must have shape (..., d)")
    d = initial_loc.shape[-1]
    if initial_cov.shape[-2:] != (d, d):
        raise ValueError(
            f"initial_cov must have shape (..., {d}, {d}), got {tuple(initial_cov.shape)}"
        )
    check_finite("initial_loc", initial_loc)
    check_finite("initial_cov", initial_cov)
    _check_matrix("transition_matrix", F, d, d, T)
    _check_matrix("transition_cov", Q, d, d, T)
    _check_matrix("observation_matrix", H, N, d, T)
    _check_matrix("observation_cov", R, N, N, T)
    if torch.isinf(y).any():
        raise ValueError("y contains infinite values (use NaN for missing observations)")
    dtype = torch.promote_types(y.dtype, initial_loc.dtype)
    for x in (initial_cov, F, Q, H, R):
        dtype = torch.promote_types(dtype, x.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    observed = resolve_mask(y, mask)
    batch = torch.broadcast_shapes(
        y.shape[:-2], initial_loc.shape[:-1], initial_cov.shape[:-2],
        F.shape[:-3], Q.shape[:-3], H.shape[:-3], R.shape[:-3],
        () if observed is None else observed.shape[:-2],
    )
    nb = len(batch)

    def time_first(x, event_dims):
        x = x.to(dtype)
        x = x.reshape((1,) * (nb + event_dims + 1 - x.dim()) + x.shape)
        return x.movedim(-event_dims - 1, 0)

    def pad(x, event_dims):
        x = x.to(dtype)
        return x.reshape((1,) * (nb + event_dims - x.dim()) + x.shape)

    return _Prepared(
        y=time_first(y, 1),
        m0=pad(initial_loc, 1),
        P0=pad(initial_cov, 2),
        F=time_first(F, 2),
        Q=time_first(Q, 2),
        H=time_first(H, 2),
        R=time_first(R, 2),
        observed=None if observed is None else time_first(observed, 1).bool(),
        batch_shape=batch,
    )


def _public(x, event_dims, batch_shape):
    """Time-first (T, *b, ...) -> (*batch_shape, T, ...), expanding broadcast batch dims."""
    x = x.movedim(0, -event_dims - 1)
    return x.expand(batch_shape + x.shape[-event_dims - 1 :])


# Below this length the search for the converged gain costs more than it saves.
STEADY_STATE_MIN_STEPS = 256


def _has_nan(f: FilterResult) -> bool:
    # NaN covariances make NaN means and log-likelihoods: these two cover every failure
    return bool(torch.isnan(f.log_likelihood).any() or torch.isnan(f.filtered_loc).any())


def _run_filter(p: _Prepared, parallel: bool, steady_state: bool = True) -> FilterResult:
    """The fastest applicable filter; the Joseph-form sequential one when a faster form fails.

    The information-form scan and the steady-state shortcut lose precision first (covariances
    scaled by 1e20, or a variance of 1e-200, while NUTS explores the tails): they raise, or
    return NaN, where the sequential filter still computes the right numbers. NaN that the
    sequential filter produces as well is an error, never a result.
    """
    args = (p.y, p.m0, p.P0, p.F, p.Q, p.H, p.R, p.observed)
    time_invariant = all(x.shape[0] == 1 for x in (p.F, p.Q, p.H, p.R))
    long_enough = p.y.shape[0] >= STEADY_STATE_MIN_STEPS
    if steady_state and time_invariant and p.observed is None and long_enough:
        try:
            result = filter_steady_state(p.y, p.m0, p.P0, p.F, p.Q, p.H, p.R)
            if result is not None and not _has_nan(result):
                return result
        except ValueError:
            pass
    if parallel:
        try:
            result = filter_parallel(*args)
            if not _has_nan(result):
                return result
        except ValueError:
            pass
    result = filter_sequential(*args)
    if _has_nan(result):
        raise NotPositiveDefiniteError(
            "the Kalman filter lost precision (NaN covariances): the parameters are degenerate "
            "(a variance near 0 or overflowing) or need float64"
        )
    return result


def _publish_filter(f: FilterResult, batch) -> FilterResult:
    return FilterResult(
        _public(f.predicted_loc, 1, batch),
        _public(f.predicted_cov, 2, batch),
        _public(f.filtered_loc, 1, batch),
        _public(f.filtered_cov, 2, batch),
        _public(f.log_likelihood, 0, batch),
    )


def kalman_filter(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                  observation_matrix, observation_cov, mask=None, parallel=True,
                  steady_state=True) -> FilterResult:
    """Kalman filter: per-step predicted and filtered moments and log p(y_t | y_{1:t-1}).

    See the module docstring for shapes. Returns a :class:`FilterResult` with batch dims
    broadcast over all inputs.
    """
    p = _prepare(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                 observation_matrix, observation_cov, mask)
    return _publish_filter(_run_filter(p, parallel, steady_state), p.batch_shape)


def kalman_log_likelihood(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                          observation_matrix, observation_cov, mask=None,
                          parallel=True, steady_state=True) -> torch.Tensor:
    """Exact marginal log-likelihood of the observed entries of ``y``, shape (...)."""
    p = _prepare(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                 observation_matrix, observation_cov, mask)
    ll = _run_filter(p, parallel, steady_state).log_likelihood.sum(0)
    return ll.expand(p.batch_shape)


def kalman_smoother(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                    observation_matrix, observation_cov, mask=None,
                    parallel=True, steady_state=True) -> SmootherResult:
    """Rauch-Tung-Striebel smoother: moments of p(x_t | y_{1:T}) for every t."""
    p = _prepare(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                 observation_matrix, observation_cov, mask)
    f = _run_filter(p, parallel, steady_state)
    E, g, L = backward_elements(f.predicted_loc, f.predicted_cov, f.filtered_loc,
                                f.filtered_cov, p.F, p.Q)
    ms, Ps = (smooth_parallel if parallel else smooth_sequential)(E, g, L)
    b = p.batch_shape
    return SmootherResult(_public(ms, 1, b), _public(Ps, 2, b), _publish_filter(f, b))


def kalman_sample_posterior(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                            observation_matrix, observation_cov, sample_shape=(), mask=None,
                            parallel=True, steady_state=True,
                            generator=None) -> torch.Tensor:
    """Forward-filtering backward-sampling: joint draws of x_{1:T} | y, shape
    (*sample_shape, ..., T, d)."""
    p = _prepare(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                 observation_matrix, observation_cov, mask)
    f = _run_filter(p, parallel, steady_state)
    E, g, L = backward_elements(f.predicted_loc, f.predicted_cov, f.filtered_loc,
                                f.filtered_cov, p.F, p.Q)
    g = g.expand((g.shape[0],) + p.batch_shape + g.shape[-1:])
    x = sample_backward(E, g, L, torch.Size(sample_shape), parallel, generator)
    return x.movedim(0, -2)


def marginal_moments(initial_loc, initial_cov, transition_matrix, transition_cov,
                     observation_matrix, observation_cov, num_steps: int):
    """Unconditional moments of x_t and y_t, t = 1..num_steps (k-step-ahead predictive moments
    when the initial distribution is a one-step prediction from a filter).

    Returns ``(state_loc (..., K, d), state_cov (..., K, d, d), obs_loc (..., K, N),
    obs_cov (..., K, N, N))``.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    F, Q, H, R = transition_matrix, transition_cov, observation_matrix, observation_cov
    m, P = initial_loc, initial_cov
    ms, Ps = [], []
    for k in range(num_steps):
        if k > 0:
            Fk = F[..., k if F.shape[-3] > 1 else 0, :, :]
            m = (Fk @ m.unsqueeze(-1)).squeeze(-1)
            P = Fk @ P @ Fk.mT + Q[..., k if Q.shape[-3] > 1 else 0, :, :]
            P = 0.5 * (P + P.mT)
        ms.append(m)
        Ps.append(P)
    ms, Ps = torch.broadcast_tensors(*ms), torch.broadcast_tensors(*Ps)
    ms, Ps = torch.stack(ms, -2), torch.stack(Ps, -3)
    Hk = H if H.shape[-3] == 1 else H[..., :num_steps, :, :]
    Rk = R if R.shape[-3] == 1 else R[..., :num_steps, :, :]
    y_loc = (Hk @ ms.unsqueeze(-1)).squeeze(-1)
    y_cov = Hk @ Ps @ Hk.mT + Rk
    return ms, Ps, y_loc, 0.5 * (y_cov + y_cov.mT)


def sample_prior(initial_loc, initial_cov, transition_matrix, transition_cov,
                 observation_matrix, observation_cov, num_steps: int, sample_shape=(),
                 generator=None):
    """Reparametrised joint draws ``(x (*S, ..., T, d), y (*S, ..., T, N))`` from the model."""
    F, Q, H, R = transition_matrix, transition_cov, observation_matrix, observation_cov
    sample_shape = torch.Size(sample_shape)
    batch = torch.broadcast_shapes(initial_loc.shape[:-1], initial_cov.shape[:-2], F.shape[:-3],
                                   Q.shape[:-3], H.shape[:-3], R.shape[:-3])
    d, N = initial_loc.shape[-1], H.shape[-2]
    opts = dict(dtype=initial_loc.dtype, device=initial_loc.device)
    eps_x = torch.randn(sample_shape + batch + (num_steps, d), generator=generator, **opts)
    eps_y = torch.randn(sample_shape + batch + (num_steps, N), generator=generator, **opts)
    rootQ, rootR = psd_sqrt(Q), psd_sqrt(R)
    x = initial_loc + (psd_sqrt(initial_cov) @ eps_x[..., 0, :].unsqueeze(-1)).squeeze(-1)
    xs = [x]
    for t in range(1, num_steps):
        Ft = F[..., t if F.shape[-3] > 1 else 0, :, :]
        Qt = rootQ[..., t if Q.shape[-3] > 1 else 0, :, :]
        x = (Ft @ x.unsqueeze(-1) + Qt @ eps_x[..., t, :].unsqueeze(-1)).squeeze(-1)
        xs.append(x)
    x = torch.stack(xs, -2)
    y = (H @ x.unsqueeze(-1) + rootR @ eps_y.unsqueeze(-1)).squeeze(-1)
    return x, y
