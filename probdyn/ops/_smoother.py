"""Rauch-Tung-Striebel smoothing and forward-filtering backward-sampling (time axis first).

Both run on the same backward elements (E_t, g_t, L_t) of p(x_t | x_{t+1}, y_{1:t}) =
N(E_t x_{t+1} + g_t, L_t), with the corrected RTS gain G_t = P^f_t F_{t+1}' (P^p_{t+1})^{-1}
(spec nkf.md §2.2). Sequentially they are a backward loop; in parallel a reverse associative scan
(Särkkä & García-Fernández 2021).
"""

import torch

from ._checks import symmetrize
from ._filter import _after_first, _mv
from ._scan import associative_scan
from ._sqrt import psd_sqrt


def backward_elements(mp, Pp, mf, Pf, F, Q):
    """(E, g, L) per step; the last step is (0, m^f_T, P^f_T).

    L_t is computed in the Joseph form ``(I - E_t F_{t+1}) P^f_t (I - E_t F_{t+1})' +
    E_t Q_{t+1} E_t'``, equal to ``P^f_t - E_t P^p_{t+1} E_t'`` but a sum of positive
    semi-definite terms: the difference form loses positive semi-definiteness to rounding
    when P^f_t mixes large (diffuse, never observed) and tiny variances, as in seasonal
    states of the local-global NKF, which made posterior sampling fail.
    """
    F1, Q1 = _after_first(F), _after_first(Q)
    P_next = Pp[1:]
    try:
        # E_t = P^f_t F' P_next^-1, from the symmetric P_next by a Cholesky solve
        chol = torch.linalg.cholesky(P_next)
        E = torch.cholesky_solve(F1 @ Pf[:-1], chol).mT
    except torch.linalg.LinAlgError:
        E = torch.linalg.lstsq(P_next, F1 @ Pf[:-1]).solution.mT
    g = mf[:-1] - _mv(E, mp[1:])
    eye = torch.eye(Pf.shape[-1], dtype=Pf.dtype, device=Pf.device)
    A = eye - E @ F1
    L = symmetrize(A @ Pf[:-1] @ A.mT + E @ Q1 @ E.mT)
    E = torch.cat([E, torch.zeros_like(E[:1])], 0)
    g = torch.cat([g, mf[-1:]], 0)
    L = torch.cat([L, Pf[-1:]], 0)
    return E, g, L


def smooth_sequential(E, g, L):
    ms, Ps = [g[-1]], [L[-1]]
    for t in range(g.shape[0] - 2, -1, -1):
        ms.append(_mv(E[t], ms[-1]) + g[t])
        Ps.append(symmetrize(E[t] @ Ps[-1] @ E[t].mT + L[t]))
    return torch.stack(ms[::-1], 0), torch.stack(Ps[::-1], 0)


def _combine_backward(earlier, later):
    Ei, gi, Li = earlier
    Ej, gj, Lj = later
    return Ei @ Ej, _mv(Ei, gj) + gi, symmetrize(Ei @ Lj @ Ei.mT + Li)


def smooth_parallel(E, g, L):
    _, ms, Ps = associative_scan(_combine_backward, (E, g, L), reverse=True)
    return ms, Ps


def sample_backward(E, g, L, sample_shape, parallel, generator=None):
    """Joint draws of x_{1:T} | y_{1:T}: shape (T, *sample_shape, *batch, d)."""
    noise_shape = (g.shape[0], *sample_shape, *g.shape[1:])
    eps = torch.randn(noise_shape, dtype=g.dtype, device=g.device, generator=generator)
    root = psd_sqrt(L)  # (T, *mbatch, d, d)
    root = root.reshape(root.shape[:1] + (1,) * len(sample_shape) + root.shape[1:])
    h = g.reshape(g.shape[:1] + (1,) * len(sample_shape) + g.shape[1:]) + _mv(root, eps)
    Es = E.reshape(E.shape[:1] + (1,) * len(sample_shape) + E.shape[1:])
    if parallel:
        return associative_scan(
            lambda a, b: (a[0] @ b[0], _mv(a[0], b[1]) + a[1]), (Es, h), reverse=True
        )[1]
    xs = [h[-1]]
    for t in range(h.shape[0] - 2, -1, -1):
        xs.append(_mv(Es[t], xs[-1]) + h[t])
    return torch.stack(xs[::-1], 0)
