"""Kalman filtering: a sequential (covariance form) and a parallel-in-time (information form)
implementation that compute the same quantities.

All functions here take the time axis FIRST: ``y`` (T, *batch, N), matrices (T or 1, *batch, r, c),
``observed`` (T, *batch, N) or None. The public wrappers in ``_kalman.py`` move axes.

Covariances only depend on parameters and on which entries are missing, never on the data, so
they are kept at the (usually smaller) batch shape of the parameters: a batch of series that share
parameters pays for one covariance recursion.
"""

import math
from typing import NamedTuple

import torch

from ._checks import NotPositiveDefiniteError, cholesky, symmetrize
from ._observations import mask_observation_model, whiten_observations
from ._scan import associative_scan

LOG_2PI = math.log(2 * math.pi)


class FilterResult(NamedTuple):
    """Per-step moments of the Kalman filter and the per-step log-likelihood.

    In the public layout: ``predicted_loc``/``filtered_loc`` (..., T, d), ``predicted_cov``/
    ``filtered_cov`` (..., T, d, d) with p(x_t | y_{1:t-1}) and p(x_t | y_{1:t}), and
    ``log_likelihood`` (..., T) with log p(y_t | y_{1:t-1}) of the observed entries of y_t.
    """

    predicted_loc: torch.Tensor
    predicted_cov: torch.Tensor
    filtered_loc: torch.Tensor
    filtered_cov: torch.Tensor
    log_likelihood: torch.Tensor


def _at(x: torch.Tensor, t: int) -> torch.Tensor:
    return x[t] if x.shape[0] > 1 else x[0]


def _after_first(x: torch.Tensor) -> torch.Tensor:
    """Steps 1..T-1 of a (T or 1, ...) parameter."""
    return x[1:] if x.shape[0] > 1 else x


def _mv(matrix: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """Batched matrix-vector product. einsum does not materialise a matrix broadcast over the
    vectors' batch (many series sharing one covariance), unlike ``matrix @ vector[..., None]``."""
    return torch.einsum("...ij,...j->...i", matrix, vector)


def filter_sequential(y, m0, P0, F, Q, H, R, observed) -> FilterResult:
    """Textbook Kalman filter, one step at a time, with a Cholesky-factored innovation
    covariance and the Joseph-form covariance update (stays symmetric positive semi-definite)."""
    T, N = y.shape[0], y.shape[-1]
    d = m0.shape[-1]
    eye = torch.eye(d, dtype=y.dtype, device=y.device)
    out = {k: [] for k in ("mp", "Pp", "mf", "Pf", "ll")}
    m, P = m0, P0
    for t in range(T):
        if t > 0:
            Ft = _at(F, t)
            m = _mv(Ft, m)
            P = symmetrize(Ft @ P @ Ft.mT + _at(Q, t))
        out["mp"].append(m)
        out["Pp"].append(P)
        obs_t = None if observed is None else observed[t]
        yt, Ht, Rt = mask_observation_model(y[t], _at(H, t), _at(R, t), obs_t)
        S = Ht @ P @ Ht.mT + Rt
        try:
            L = cholesky(S, "innovation covariance H P H' + R")
        except NotPositiveDefiniteError as e:
            raise NotPositiveDefiniteError(f"{e} (time step {t})") from None
        e = yt - _mv(Ht, m)
        W = torch.linalg.solve_triangular(L, Ht @ P, upper=False)  # L^{-1} H P
        K = torch.linalg.solve_triangular(L.mT, W, upper=True).mT  # P H' S^{-1}
        z = torch.linalg.solve_triangular(L, e.unsqueeze(-1), upper=False).squeeze(-1)
        m = m + _mv(K, e)
        A = eye - K @ Ht
        P = symmetrize(A @ P @ A.mT + K @ Rt @ K.mT)
        n = N if obs_t is None else obs_t.sum(-1).to(y.dtype)
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        out["mf"].append(m)
        out["Pf"].append(P)
        out["ll"].append(-0.5 * ((z * z).sum(-1) + logdet + n * LOG_2PI))
    return FilterResult(*(_stack_broadcast(out[k]) for k in ("mp", "Pp", "mf", "Pf", "ll")))


def _stack_broadcast(tensors):
    return torch.stack(torch.broadcast_tensors(*tensors), dim=0)


def _filter_elements(obs, m0, P0, F, Q):
    """Särkkä & García-Fernández (2021) filtering elements (A, b, C, eta, J) per step, in the
    information form on the state dimension (cost independent of N)."""
    Hw = obs.H * obs.weight.unsqueeze(-1)
    M = Hw.mT @ obs.H  # H' R^-1 H         (T|1, *mb, d, d)
    u = _mv(Hw.mT, obs.y)  # H' R^-1 y     (T, *vb, d)
    T, d = obs.y.shape[0], m0.shape[-1]
    eye = torch.eye(d, dtype=M.dtype, device=M.device)

    # steps t >= 1 condition on x_{t-1}
    Mt, Ft, Qt, ut = _after_first(M), _after_first(F), _after_first(Q), u[1:]
    lu = torch.linalg.lu_factor_ex(eye + Qt @ Mt)[:2]
    C = symmetrize(torch.linalg.lu_solve(*lu, Qt))  # (Q^-1 + M)^-1
    A = torch.linalg.lu_solve(*lu, Ft)
    b = _mv(C, ut)
    MC = Mt @ C
    J = symmetrize(Ft.mT @ (Mt - MC @ Mt) @ Ft)  # F' H' S^-1 H F
    eta = _mv(Ft.mT, ut - _mv(MC, ut))  # F' H' S^-1 y

    # step 0 conditions the prior of x_1 on y_1
    M0 = M[0]
    lu0 = torch.linalg.lu_factor_ex(eye + P0 @ M0)[:2]
    C0 = symmetrize(torch.linalg.lu_solve(*lu0, P0))
    b0 = torch.linalg.lu_solve(*lu0, (m0 + _mv(P0, u[0])).unsqueeze(-1)).squeeze(-1)

    mshape = torch.broadcast_shapes(A.shape[1:], C.shape[1:], J.shape[1:], C0.shape)
    vshape = torch.broadcast_shapes(b.shape[1:], eta.shape[1:], b0.shape)

    def cat(first, rest, shape):
        return torch.cat([first.expand(shape).unsqueeze(0), rest.expand((T - 1,) + shape)], 0)

    zeros_m = torch.zeros(mshape, dtype=M.dtype, device=M.device)
    zeros_v = torch.zeros(vshape, dtype=M.dtype, device=M.device)
    return (
        cat(zeros_m, A, mshape),
        cat(b0, b, vshape),
        cat(C0, C, mshape),
        cat(zeros_v, eta, vshape),
        cat(zeros_m, J, mshape),
    )


def _combine_filter(earlier, later):
    Ai, bi, Ci, etai, Ji = earlier
    Aj, bj, Cj, etaj, Jj = later
    eye = torch.eye(Ai.shape[-1], dtype=Ai.dtype, device=Ai.device)
    lu = torch.linalg.lu_factor_ex(eye + Ci @ Jj)[:2]
    T1 = torch.linalg.lu_solve(*lu, Aj.mT, adjoint=True).mT  # A_j (I + C_i J_j)^-1
    T2 = torch.linalg.lu_solve(*lu, Ai).mT  # A_i' (I + J_j C_i)^-1
    A = T1 @ Ai
    b = _mv(T1, bi + _mv(Ci, etaj)) + bj
    C = symmetrize(T1 @ Ci @ Aj.mT + Cj)
    eta = _mv(T2, etaj - _mv(Jj, bi)) + etai
    J = symmetrize(T2 @ Jj @ Ai + Ji)
    return A, b, C, eta, J


def predict_from_filtered(mf, Pf, m0, P0, F, Q):
    """One-step predictions p(x_t | y_{1:t-1}) from the filtered moments of step t-1."""
    F1, Q1 = _after_first(F), _after_first(Q)
    mp = torch.cat([m0.expand(mf.shape[1:]).unsqueeze(0), _mv(F1, mf[:-1])], 0)
    Pp_rest = symmetrize(F1 @ Pf[:-1] @ F1.mT + Q1)
    Pp = torch.cat([P0.expand(Pp_rest.shape[1:]).unsqueeze(0), Pp_rest], 0)
    return mp, Pp


def step_log_likelihood(obs, mp, Pp):
    """log p(y_t | y_{1:t-1}) from the predicted moments, by the matrix determinant lemma and
    Woodbury on the state dimension: S = H P H' + R never formed."""
    d = mp.shape[-1]
    eye = torch.eye(d, dtype=mp.dtype, device=mp.device)
    Hw = obs.H * obs.weight.unsqueeze(-1)
    M = Hw.mT @ obs.H
    G = eye + Pp @ M
    sign, logdet_G = torch.linalg.slogdet(G)
    if (sign <= 0).any() or not torch.isfinite(logdet_G).all():
        bad = int(((sign <= 0) | ~torch.isfinite(logdet_G)).nonzero()[0, 0])
        raise NotPositiveDefiniteError(
            f"innovation covariance H P H' + R is not positive definite at time step {bad} "
            "(0-based). Use float64 or add jitter to the covariances."
        )
    e = obs.y - _mv(obs.H, mp)  # whitened residual, 0 where missing
    v = _mv(Hw.mT, e)  # H' R^-1 e
    correction = torch.linalg.solve(G, _mv(Pp, v).unsqueeze(-1)).squeeze(-1)
    quad = (obs.weight * e * e).sum(-1) - (v * correction).sum(-1)
    return -0.5 * (quad + obs.logdet_R + logdet_G + obs.num_observed * LOG_2PI)


def _warmup_length(observed, T: int, d: int) -> int:
    """Steps filtered sequentially before the scan: until 2d steps carried observations.

    A vague initial state (variance 1e6 and more, common for diffuse level/seasonal states)
    makes the information-form scan lose digits; once the data have pinned the state down, the
    covariances are moderate and the scan is as accurate as the sequential filter.
    """
    if observed is None:
        return min(T, 2 * d)
    seen = observed.flatten(1).any(-1).cumsum(0)
    reached = (seen >= 2 * d).nonzero()
    return T if reached.numel() == 0 else int(reached[0, 0]) + 1


def _from_step(x: torch.Tensor, k: int) -> torch.Tensor:
    return x[k:] if x.shape[0] > 1 else x


def filter_parallel(y, m0, P0, F, Q, H, R, observed) -> FilterResult:
    """Parallel-in-time Kalman filter (associative scan, depth O(log T)), after a short
    sequential warm-up (:func:`_warmup_length`)."""
    T = y.shape[0]
    k = _warmup_length(observed, T, m0.shape[-1])
    if k >= T:
        return filter_sequential(y, m0, P0, F, Q, H, R, observed)
    head = None
    if k > 0:
        first = [x[:k] if x.shape[0] > 1 else x for x in (F, Q, H, R)]
        head = filter_sequential(y[:k], m0, P0, *first,
                                 None if observed is None else observed[:k])
        Fk, Qk = _at(F, k), _at(Q, k)
        m0 = _mv(Fk, head.filtered_loc[-1])
        P0 = symmetrize(Fk @ head.filtered_cov[-1] @ Fk.mT + Qk)
        y, F, Q, H, R = y[k:], _from_step(F, k), _from_step(Q, k), _from_step(H, k), \
            _from_step(R, k)
        observed = None if observed is None else observed[k:]
    obs = whiten_observations(y, H, R, observed)
    elems = _filter_elements(obs, m0, P0, F, Q)
    _, mf, Pf, _, _ = associative_scan(_combine_filter, elems)
    mp, Pp = predict_from_filtered(mf, Pf, m0, P0, F, Q)
    ll = step_log_likelihood(obs, mp, Pp)
    tail = FilterResult(mp, Pp, mf, Pf, ll)
    if head is None:
        return tail
    return FilterResult(*(_cat_time(a, b) for a, b in zip(head, tail)))


def _cat_time(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    shape = torch.broadcast_shapes(a.shape[1:], b.shape[1:])
    return torch.cat([a.expand(a.shape[:1] + shape), b.expand(b.shape[:1] + shape)], 0)
