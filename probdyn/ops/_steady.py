"""Steady-state Kalman filter for time-invariant, fully observed models.

The covariance recursion of such a model does not depend on the data and converges
geometrically to the fixed point of the Riccati equation. The transient covariances are computed
by the parallel filter on a prefix (doubled until it has converged to rounding); every later step
has the same gain K and innovation covariance S, so the filtered means obey the linear
time-invariant recursion m_t = (I - K H) F m_{t-1} + K y_t, evaluated in O(log T) vectorised
steps. Results equal the full filter's to rounding (tested against statsmodels).
"""

import torch

from ._checks import cholesky
from ._filter import LOG_2PI, FilterResult, _mv, filter_parallel


def linear_recurrence(A: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """x_t = A_t x_{t-1} + c_t for t = 0..n-1 with x_{-1} = 0, by recursive doubling.

    ``A`` (n or 1, *mbatch, d, d), ``c`` (n, *batch, d); returns (n, *batch, d).
    """
    x, prod, shift, n = c, A, 1, c.shape[0]
    while shift < n:
        # prod[t] = A_t A_{t-1} ... A_{t-shift+1}
        head = prod if prod.shape[0] == 1 else prod[shift:]
        x = torch.cat([x[:shift], x[shift:] + _mv(head, x[:-shift])], 0)
        if prod.shape[0] == 1:
            prod = prod @ prod
        else:
            prod = torch.cat([prod[:shift], prod[shift:] @ prod[:-shift]], 0)
        shift *= 2
    return x


def _converged_prefix(P0, F, Q, H, R, T, tol):
    """Predicted covariances of the first K steps, K doubled until they stop changing.

    Returns ``(Pp (K, *mb, d, d), k)`` with steps >= k equal to step k - 1 to rounding, or
    ``(None, None)`` if not converged within T / 2 steps."""
    K = min(256, T // 2)
    while K <= T // 2:
        zeros = torch.zeros((K,) + P0.shape[:-2] + (H.shape[-2],), dtype=P0.dtype,
                            device=P0.device)
        Pp = filter_parallel(zeros, torch.zeros_like(P0[..., 0]), P0, F, Q, H, R, None)
        Pp = Pp.predicted_cov
        scale = Pp.abs().flatten(1).amax(-1).clamp_min(torch.finfo(P0.dtype).tiny)
        change = (Pp[1:] - Pp[:-1]).abs().flatten(1).amax(-1) / scale[1:]
        settled = change <= tol
        if bool(settled[-8:].all()):
            # first step after which every change is within tolerance
            unsettled = (~settled).nonzero()
            k = 1 if unsettled.numel() == 0 else int(unsettled[-1, 0]) + 2
            return Pp[:k], k
        K *= 2
    return None, None


def filter_steady_state(y, m0, P0, F, Q, H, R) -> FilterResult | None:
    """Filter of a time-invariant model with no missing data (time axis first; matrices with a
    size-1 time axis). Returns None when the covariances do not converge within T / 2 steps,
    and the caller then uses the general filter."""
    T = y.shape[0]
    tol = 16 * torch.finfo(y.dtype).eps
    Pp_head, k = _converged_prefix(P0, F, Q, H, R, T, tol)
    if Pp_head is None:
        return None
    F, H, R = F[0], H[0], R[0]
    eye = torch.eye(F.shape[-1], dtype=y.dtype, device=y.device)
    S = H @ Pp_head @ H.mT + R
    L = cholesky(S, "innovation covariance H P H' + R", time_dim=0)
    gain = torch.cholesky_solve(H @ Pp_head, L).mT  # P H' S^-1    (k, *mb, d, N)
    I_KH = eye - gain @ H
    Pf_head = I_KH @ Pp_head @ I_KH.mT + gain @ R @ gain.mT  # Joseph form
    Pf_head = 0.5 * (Pf_head + Pf_head.mT)

    # means: m^f_t = A_t m^f_{t-1} + K_t y_t, A_t = (I - K_t H) F, the first from m0
    A = I_KH @ F
    c = _mv(gain[:k], y[:k])
    c = torch.cat([(c[0] + _mv(I_KH[0], m0)).unsqueeze(0), c[1:]], 0)
    mf = linear_recurrence(torch.cat([A[:1] * 0, A[1:]], 0), c)
    if T > k:
        c_tail = _mv(gain[-1], y[k:])
        c_tail = torch.cat([(c_tail[0] + _mv(A[-1], mf[-1])).unsqueeze(0), c_tail[1:]], 0)
        mf = torch.cat([mf, linear_recurrence(A[-1:], c_tail)], 0)
    mp = torch.cat([m0.expand(mf.shape[1:]).unsqueeze(0), _mv(F, mf[:-1])], 0)

    def extend(head):
        return torch.cat([head, head[-1:].expand((T - k,) + head.shape[1:])], 0)

    S_inv = torch.cholesky_inverse(L)
    e = y - _mv(H, mp)
    quad = torch.cat([
        torch.einsum("t...i,t...ij,t...j->t...", e[:k], S_inv, e[:k]),
        torch.einsum("t...i,...ij,t...j->t...", e[k:], S_inv[-1], e[k:]),
    ], 0)
    logdet = extend(2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1))
    ll = -0.5 * (quad + logdet + y.shape[-1] * LOG_2PI)
    return FilterResult(mp, extend(Pp_head), mf, extend(Pf_head), ll)
