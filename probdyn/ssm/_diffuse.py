"""Exact diffuse log-likelihood of a linear-Gaussian state space (de Jong 1991).

Some initial states have a diffuse (improper, flat) prior: ``x_1 = a + A delta + u`` with
``u ~ N(0, P_*)`` and ``delta ~ N(0, kappa I_q)``, ``kappa -> infinity``, where ``A`` selects the
diffuse coordinates. The diffuse log-likelihood of Durbin & Koopman (2012, section 7.2) is the
limit of ``log p_kappa(y) + (q / 2) log kappa``. Writing the data as
``y ~ N(mu + X delta, V)`` (``X`` the response of the mean of ``y`` to ``delta``, ``V`` the
covariance when ``delta = 0``), the limit is

    log L_d = log N(y; mu, V) - 1/2 log|M| + 1/2 b' M^-1 b,
    M = X' V^-1 X,  b = X' V^-1 (y - mu),

the generalised-least-squares form. All three terms come from ONE batched run of the ordinary
Kalman filter of :mod:`probdyn.ops` on the data and on the ``q`` columns of ``X`` (the filter's
innovations are a linear map of its input: de Jong's augmented Kalman filter).
"""

import torch

from .. import ops


def _with_time(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(-3) if x.dim() == 2 else x


def _at(x: torch.Tensor, t: int) -> torch.Tensor:
    return x[..., t, :, :] if x.shape[-3] > 1 else x[..., 0, :, :]


def diffuse_regressors(transition_matrix, observation_matrix, diffuse, duration: int):
    """``X (..., T, N, q)``: response of ``E[y_t]`` to unit shifts of the ``q`` diffuse states.

    ``transition_matrix`` (..., T or 1, d, d), ``observation_matrix`` (..., T or 1, N, d),
    ``diffuse`` (d,) bool.
    """
    F, H = _with_time(transition_matrix), _with_time(observation_matrix)
    d = F.shape[-1]
    idx = torch.as_tensor(diffuse, dtype=torch.bool).nonzero().squeeze(-1)
    x = torch.eye(d, dtype=F.dtype, device=F.device)[:, idx]  # (d, q)
    out = []
    for t in range(duration):
        if t > 0:
            x = _at(F, t) @ x
        out.append(_at(H, t) @ x)
    return torch.stack(torch.broadcast_tensors(*out), dim=-3)


def diffuse_log_likelihood(y, initial_loc, initial_cov, transition_matrix, transition_cov,
                           observation_matrix, observation_cov, diffuse, mask=None,
                           parallel=True, state_names=None) -> torch.Tensor:
    """Exact diffuse log-likelihood of ``y`` (..., T, N), shape (...).

    Parameters follow :func:`probdyn.ops.kalman_log_likelihood` (``y`` with NaN for missing
    entries, optional boolean ``mask``; matrices with or without a time axis). ``diffuse`` (d,)
    marks the states whose initial distribution is diffuse: their entries of ``initial_loc`` and
    their rows/columns of ``initial_cov`` are ignored. The other states keep the proper prior
    ``N(initial_loc, initial_cov)`` (e.g. a stationary AR block). With no diffuse state this is
    the ordinary log-likelihood.

    Raises ``ValueError`` when the data do not identify the diffuse states (a state never
    observed, or collinear diffuse states, e.g. a level plus a one-hot seasonal); name them
    with ``state_names`` (a list of d strings) for the message.

    Use float64: the generalised-least-squares terms cancel the large innovations of the
    ``delta = 0`` filter.
    """
    y = torch.as_tensor(y)
    diffuse = torch.as_tensor(diffuse, dtype=torch.bool, device=y.device)
    F, Q, H, R = (_with_time(torch.as_tensor(x)) for x in (
        transition_matrix, transition_cov, observation_matrix, observation_cov))
    initial_loc, initial_cov = torch.as_tensor(initial_loc), torch.as_tensor(initial_cov)
    d = initial_loc.shape[-1]
    if diffuse.shape != (d,):
        raise ValueError(f"diffuse must be a boolean vector of shape ({d},), "
                         f"got shape {tuple(diffuse.shape)}")
    if y.dim() < 2:
        raise ValueError(f"y must have shape (..., T, N), got {tuple(y.shape)}")
    q = int(diffuse.sum())
    if q == 0:
        return ops.kalman_log_likelihood(y, initial_loc, initial_cov, F, Q, H, R, mask=mask,
                                         parallel=parallel)
    dtype = y.dtype if y.is_floating_point() else torch.get_default_dtype()
    for x in (initial_loc, initial_cov, F, Q, H, R):
        dtype = torch.promote_types(dtype, x.dtype)
    y, initial_loc, initial_cov, F, Q, H, R = (
        x.to(dtype) for x in (y, initial_loc, initial_cov, F, Q, H, R))
    T, N = y.shape[-2:]

    keep = (~diffuse).to(dtype)
    P0 = initial_cov * keep[:, None] * keep[None, :]
    m0 = initial_loc * keep
    observed = ~torch.isnan(y)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor, got dtype {mask.dtype}")
        observed = observed & mask
    X = diffuse_regressors(F, H, diffuse, T)  # (..., T, N, q)
    batch = torch.broadcast_shapes(y.shape[:-2], X.shape[:-3], observed.shape[:-2])
    X = X.expand(batch + X.shape[-3:]).movedim(-1, -3)  # (..., q, T, N)
    obs = observed.expand(batch + (T, N))
    y_b = y.expand(batch + (T, N))
    Z = torch.cat([y_b.unsqueeze(-3), X], dim=-3)  # (..., 1 + q, T, N)
    Z = torch.where(obs.unsqueeze(-3), Z, torch.full((), float("nan"), dtype=dtype))
    m0 = torch.cat([m0.expand(batch + (1, d)),
                    torch.zeros(batch + (q, d), dtype=dtype, device=y.device)], dim=-2)
    f = ops.kalman_filter(Z, m0, P0.unsqueeze(-3), F.unsqueeze(-4), Q.unsqueeze(-4),
                          H.unsqueeze(-4), R.unsqueeze(-4), parallel=parallel)

    # innovations e_t = z_t - H_t m_t|t-1 and their covariance S_t (shared by the batch 1 + q)
    Hb = H.unsqueeze(-4)
    e = torch.nan_to_num(Z, nan=0.0) - (Hb @ f.predicted_loc.unsqueeze(-1)).squeeze(-1)
    o = obs.to(dtype)
    e = e * o.unsqueeze(-3)
    P = f.predicted_cov[..., 0, :, :, :]
    S = H @ P @ H.mT + R
    S = S * (o.unsqueeze(-1) * o.unsqueeze(-2)) + torch.diag_embed(1.0 - o)
    L, info = torch.linalg.cholesky_ex(0.5 * (S + S.mT))
    if (info != 0).any():
        raise ValueError("innovation covariance is not positive definite in the diffuse "
                         "likelihood; use float64 or check the variance parameters")
    w = torch.linalg.solve_triangular(L.unsqueeze(-4), e.unsqueeze(-1), upper=False)
    w = w.squeeze(-1)
    w_y, w_x = w[..., 0, :, :], w[..., 1:, :, :]
    M = torch.einsum("...itn,...jtn->...ij", w_x, w_x)
    b = torch.einsum("...itn,...tn->...i", w_x, w_y)
    _check_identified(M.detach(), diffuse, state_names)
    LM = torch.linalg.cholesky(M)
    u = torch.linalg.solve_triangular(LM, b.unsqueeze(-1), upper=False).squeeze(-1)
    ll_y = f.log_likelihood[..., 0, :].sum(-1)
    logdet_M = 2 * torch.log(torch.diagonal(LM, dim1=-2, dim2=-1)).sum(-1)
    return ll_y + 0.5 * (u * u).sum(-1) - 0.5 * logdet_M


def _check_identified(M: torch.Tensor, diffuse: torch.Tensor, state_names) -> None:
    idx = diffuse.nonzero().squeeze(-1).tolist()
    names = [state_names[i] if state_names else f"state {i}" for i in idx]
    diag = torch.diagonal(M, dim1=-2, dim2=-1)
    scale = diag.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(M.dtype).tiny)
    never = (diag <= 1e-12 * scale).flatten(0, -2).any(0) if diag.dim() > 1 else (
        diag <= 1e-12 * scale)
    if never.any():
        bad = [n for n, flag in zip(names, never.tolist()) if flag]
        raise ValueError(f"the data never observe the diffuse initial state(s) {bad}: the "
                         "diffuse likelihood is undefined (give them a proper prior with "
                         "initial_scale, or remove them)")
    D = diag.sqrt()
    corr = M / (D.unsqueeze(-1) * D.unsqueeze(-2))
    smallest = torch.linalg.eigvalsh(corr).amin(-1)
    if (smallest <= 1e-10).any():
        raise ValueError(f"the diffuse initial states {names} are not identified by the data "
                         "(collinear, e.g. a level together with a one-hot seasonal, or too few "
                         "observations): give some of them a proper prior with initial_scale")
