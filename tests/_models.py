"""Random linear-Gaussian models and brute-force oracles shared by the tests."""

import math

import numpy as np
import torch


def random_model(d=3, N=2, T=6, batch=(), time_varying=True, diagonal_R=False, dtype=None,
                 generator=None):
    """(initial_loc, initial_cov, F, Q, H, R) with an explicit time axis (T or 1)."""
    g = generator
    dtype = dtype or torch.float64
    Tt = T if time_varying else 1

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    F = 0.6 * rnd(*batch, Tt, d, d) / math.sqrt(d)
    A = rnd(*batch, Tt, d, d)
    Q = 0.3 * A @ A.mT / d + 0.1 * torch.eye(d, dtype=dtype)
    H = rnd(*batch, Tt, N, d)
    if diagonal_R:
        R = torch.diag_embed(0.2 + torch.rand(*batch, Tt, N, generator=g, dtype=dtype))
    else:
        C = rnd(*batch, Tt, N, N)
        R = 0.2 * C @ C.mT / N + 0.3 * torch.eye(N, dtype=dtype)
    m0 = rnd(*batch, d)
    A0 = rnd(*batch, d, d)
    P0 = A0 @ A0.mT / d + torch.eye(d, dtype=dtype)
    return m0, P0, F, Q, H, R


def _at(x, t):
    return x[t] if x.shape[0] > 1 else x[0]


def joint_gaussian(m0, P0, F, Q, H, R, T):
    """Mean and covariance of the stacked (x_{1:T}, y_{1:T}) of one unbatched model."""
    d = m0.shape[-1]
    # x = Phi (x_1, w_2..w_T): build the linear map from the independent noises
    n_noise = T * d
    Lx = torch.zeros(T * d, n_noise, dtype=m0.dtype)
    mx = torch.zeros(T * d, dtype=m0.dtype)
    cov_noise = torch.block_diag(P0, *[_at(Q, t) for t in range(1, T)])
    Lx[:d, :d] = torch.eye(d)
    mx[:d] = m0
    for t in range(1, T):
        Ft = _at(F, t)
        Lx[t * d:(t + 1) * d] = Ft @ Lx[(t - 1) * d:t * d]
        Lx[t * d:(t + 1) * d, t * d:(t + 1) * d] += torch.eye(d, dtype=m0.dtype)
        mx[t * d:(t + 1) * d] = Ft @ mx[(t - 1) * d:t * d]
    Cxx = Lx @ cov_noise @ Lx.T
    Hb = torch.block_diag(*[_at(H, t) for t in range(T)])
    Rb = torch.block_diag(*[_at(R, t) for t in range(T)])
    my = Hb @ mx
    Cyy = Hb @ Cxx @ Hb.T + Rb
    Cxy = Cxx @ Hb.T
    return mx, Cxx, my, Cyy, Cxy


def brute_force(y, m0, P0, F, Q, H, R):
    """Log-likelihood of the observed entries of y (T, N) and the smoothed moments of x,
    by conditioning the joint Gaussian (numpy float64)."""
    T, N = y.shape
    d = m0.shape[-1]
    mx, Cxx, my, Cyy, Cxy = (np.asarray(v, dtype=np.float64)
                             for v in joint_gaussian(m0, P0, F, Q, H, R, T))
    yf = np.asarray(y, dtype=np.float64).reshape(-1)
    o = ~np.isnan(yf)
    S = Cyy[np.ix_(o, o)]
    r = yf[o] - my[o]
    sign, logdet = np.linalg.slogdet(S)
    ll = -0.5 * (r @ np.linalg.solve(S, r) + logdet + o.sum() * np.log(2 * np.pi))
    K = Cxy[:, o] @ np.linalg.inv(S)
    mean = mx + K @ r
    cov = Cxx - K @ Cxy[:, o].T
    means = mean.reshape(T, d)
    covs = np.stack([cov[t * d:(t + 1) * d, t * d:(t + 1) * d] for t in range(T)])
    return ll, means, covs, mean, cov


def perturb_parameters(module, scale=0.4, seed=1):
    """Add seeded N(0, scale^2) noise to every parameter of ``module`` (flows start at the
    identity; this makes them really transform and mix). Returns the module."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module
