"""Missing-data handling and whitening of the observation model.

Both Kalman implementations condition on the observed entries only. Missing entries (NaN or
``mask == False``) are removed exactly: their rows of ``H`` are zeroed, their rows and columns of
``R`` replaced by the identity and their data by 0, which leaves the conditional law of the state
and the likelihood of the observed entries unchanged (the removed entries contribute a constant
that is not counted). The parallel filter then works in information form on the state dimension,
for which the observation model is whitened to a diagonal weight.
"""

from typing import NamedTuple

import torch

from ._checks import NotPositiveDefiniteError, cholesky


class WhitenedObservations(NamedTuple):
    """Observation model with ``R`` reduced to diagonal weights (time axis first).

    ``y``: (T, *batch, N) whitened data (0 where missing); ``H``: (T or 1, *mbatch, N, d);
    ``weight``: (T or 1, *mbatch, N) inverse variances (0 where missing);
    ``logdet_R``: (T or 1, *mbatch) log-determinant of the observed block of ``R``;
    ``num_observed``: (T or 1, *mbatch) number of observed entries.
    """

    y: torch.Tensor
    H: torch.Tensor
    weight: torch.Tensor
    logdet_R: torch.Tensor
    num_observed: torch.Tensor


def resolve_mask(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
    """Boolean mask of observed entries (None when everything is observed)."""
    observed = ~torch.isnan(y)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor, got dtype {mask.dtype}")
        try:
            observed = observed & mask
        except RuntimeError as e:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast with y of shape "
                f"{tuple(y.shape)}"
            ) from e
    return None if bool(observed.all()) else observed


def mask_observation_model(y, H, R, observed):
    """Apply the masking trick: returns ``(y, H, R)`` with missing entries neutralised."""
    if observed is None:
        return y, H, R
    o = observed.to(y.dtype)
    y = torch.where(observed, y, torch.zeros((), dtype=y.dtype))
    H = H * o.unsqueeze(-1)
    both = o.unsqueeze(-1) * o.unsqueeze(-2)
    R = R * both + torch.diag_embed(1.0 - o)
    return y, H, R


def is_diagonal(matrix: torch.Tensor) -> bool:
    off = matrix - torch.diag_embed(torch.diagonal(matrix, dim1=-2, dim2=-1))
    return not bool(off.any())


def whiten_observations(y, H, R, observed) -> WhitenedObservations:
    """Reduce ``(y, H, R, observed)`` (time axis first) to :class:`WhitenedObservations`."""
    if is_diagonal(R):
        r = torch.diagonal(R, dim1=-2, dim2=-1)
        if (r <= 0).any():
            step = int((r <= 0).nonzero()[0, 0])
            raise NotPositiveDefiniteError(
                f"observation_cov is not positive definite at time step {step} (0-based): "
                "its diagonal must be positive"
            )
        if observed is None:
            weight = 1.0 / r
            logdet = torch.log(r).sum(-1)
            num = torch.full_like(logdet, r.shape[-1])
            return WhitenedObservations(y, H, weight, logdet, num)
        o = observed.to(y.dtype)
        weight = o / r
        logdet = (o * torch.log(r)).sum(-1)
        y = torch.where(observed, y, torch.zeros((), dtype=y.dtype))
        return WhitenedObservations(y, H, weight, logdet, o.sum(-1))
    y, H, R = mask_observation_model(y, H, R, observed)
    L = cholesky(R, "observation_cov", time_dim=0)
    Hw = torch.linalg.solve_triangular(L, H, upper=False)
    yw = torch.linalg.solve_triangular(L, y.unsqueeze(-1), upper=False).squeeze(-1)
    logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    if observed is None:
        weight = torch.ones(Hw.shape[:-1], dtype=y.dtype, device=y.device)
        num = torch.full_like(logdet, y.shape[-1])
    else:
        weight = observed.to(y.dtype)
        num = weight.sum(-1)
    return WhitenedObservations(yw, Hw, weight, logdet, num)
