"""System matrices of the local-global model from network-produced, time-varying variances.

Per series: a level (or level-trend) block and one one-hot seasonal block per seasonal
component (spec §4.2-4.4), stacked block-diagonally. The joint model of N series side by side
is again block-diagonal, with one scalar observation per series.
"""

from __future__ import annotations

import torch

from ..distributions import LinearGaussianSSM
from ..ssm._blocks import block_diag, block_diag_static


def state_dim(num_seasons, add_trend: bool) -> int:
    """d = 1 (level) [+ 1 (trend)] + the number of seasons of every seasonal component."""
    return 1 + int(add_trend) + sum(int(m) for m in num_seasons)


def local_system(level_var, season_vars, season_onehots, trend_var=None):
    """Per-series matrices of the structural model (spec S134, S135 and §4.4).

    Parameters
    ----------
    level_var : (..., T) tensor
        Level innovation variance alpha_t^2.
    season_vars : list of (..., T) tensors
        Innovation variance sigma_t^2 of each seasonal component.
    season_onehots : list of (..., T, m_c) tensors
        One-hot indicator of the active season of each component at each step.
    trend_var : (..., T) tensor, optional
        Trend innovation variance beta_t^2 (level-trend block F = [[1, 1], [0, 1]],
        emission [1, 1]); None for the level-only block (F = [1], emission [1]).

    Returns
    -------
    F : (d, d)  time-invariant transition
    Q : (..., T, d, d)  diagonal innovation covariance diag(alpha^2, [beta^2],
        sigma_c^2 * onehot_c ...): only the active season diffuses
    H : (..., T, 1, d)  emission row [1, [1], onehot_c ...]
    """
    dtype, device = level_var.dtype, level_var.device
    ones = torch.ones_like(level_var).unsqueeze(-1)
    if trend_var is None:
        F_trend = torch.ones(1, 1, dtype=dtype, device=device)
        q, h = [level_var.unsqueeze(-1)], [ones]
    else:
        F_trend = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=dtype, device=device)
        q, h = [level_var.unsqueeze(-1), trend_var.unsqueeze(-1)], [ones, ones]
    blocks = [F_trend]
    for var, onehot in zip(season_vars, season_onehots):
        m = onehot.shape[-1]
        blocks.append(torch.eye(m, dtype=dtype, device=device))
        q.append(var.unsqueeze(-1) * onehot)
        h.append(onehot)
    batch = torch.broadcast_shapes(*(x.shape[:-1] for x in q + h))
    q = torch.cat([x.expand(batch + x.shape[-1:]) for x in q], dim=-1)
    h = torch.cat([x.expand(batch + x.shape[-1:]) for x in h], dim=-1)
    return block_diag_static(blocks), torch.diag_embed(q), h.unsqueeze(-2)


def side_by_side(initial_loc, initial_cov, F, Q, H, R, **options) -> LinearGaussianSSM:
    """The joint linear-Gaussian model of N independent local models with scalar observations.

    Inputs are the per-series parameters with the series axis just left of time:
    ``initial_loc (..., N, d)``, ``initial_cov (..., N, d, d)``, ``F (d, d)``,
    ``Q (..., N, T, d, d)``, ``H (..., N, T, 1, d)``, ``R (..., N, T, 1, 1)``.
    The result has state dimension ``N d`` (block-diagonal F, Q, initial covariance; row i of
    the emission holds series i's row in block i; diagonal R), batch ``...`` and event (T, N).
    """
    N = initial_loc.shape[-2]
    loc = initial_loc.flatten(-2)
    cov = block_diag_static([initial_cov[..., i, :, :] for i in range(N)])
    F_joint = torch.kron(torch.eye(N, dtype=F.dtype, device=F.device), F)
    Q_joint = block_diag([Q[..., i, :, :, :] for i in range(N)])
    H_joint = block_diag([H[..., i, :, :, :] for i in range(N)])
    R_joint = torch.diag_embed(R[..., 0, 0].movedim(-2, -1))
    return LinearGaussianSSM(loc, cov, F_joint, Q_joint, H_joint, R_joint, **options)
