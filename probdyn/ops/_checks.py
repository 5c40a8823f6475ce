"""Input checks and Cholesky factorisations with errors that say where and what failed."""

import torch


class NotPositiveDefiniteError(ValueError):
    """A covariance the filter needs (innovation, predicted or filtered state) is not positive
    definite: the parameters are degenerate or float precision ran out.

    A ``ValueError``. Samplers treat it as a numerical failure of the proposal (probdyn
    registers it with Pyro's HMC/NUTS exception handlers, as Pyro does for singular Cholesky
    factors), so a divergent proposal is rejected instead of stopping the chain.
    """


def check_finite(name: str, value: torch.Tensor) -> None:
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def check_square(name: str, value: torch.Tensor, size: int | None = None) -> None:
    if value.dim() < 2 or value.shape[-1] != value.shape[-2]:
        raise ValueError(f"{name} must be a (..., n, n) matrix, got shape {tuple(value.shape)}")
    if size is not None and value.shape[-1] != size:
        raise ValueError(f"{name} must be ({size} x {size}), got shape {tuple(value.shape)}")


def _first_bad_step(info: torch.Tensor, time_dim: int | None) -> str:
    bad = (info != 0).nonzero()
    if bad.numel() == 0:
        return ""
    if time_dim is None:
        return f" (batch index {tuple(bad[0].tolist())})"
    return f" at time step {int(bad[0, time_dim])} (0-based)"


def cholesky(matrix: torch.Tensor, name: str, time_dim: int | None = None) -> torch.Tensor:
    """Lower Cholesky factor; a ``ValueError`` naming ``name`` and the time step if not PD.

    ``time_dim`` is the batch dimension of ``matrix`` that indexes time (for the message).
    """
    chol, info = torch.linalg.cholesky_ex(matrix)
    if (info != 0).any():
        where = _first_bad_step(info, time_dim)
        raise NotPositiveDefiniteError(
            f"{name} is not positive definite{where}. Check the covariance parameters; if they "
            "are valid, the filter lost precision: use float64 or add jitter to the covariances."
        )
    return chol


def symmetrize(matrix: torch.Tensor) -> torch.Tensor:
    return 0.5 * (matrix + matrix.mT)
