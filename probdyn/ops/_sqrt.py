"""Square roots of covariance matrices that may be singular (deterministic state components)."""

import torch


def psd_sqrt(cov: torch.Tensor) -> torch.Tensor:
    """A matrix S with S S' = cov for positive SEMI-definite ``cov`` (..., d, d).

    Cholesky where it succeeds (differentiable, fast); a symmetric eigen-square-root for the
    singular matrices, e.g. the zero noise of a deterministic trend. Negative eigenvalues beyond
    rounding (relative size sqrt(eps) of the largest eigenvalue: 1.5e-8 in float64, 3.5e-4 in
    float32; the backward-sampling covariances of long, nearly deterministic seasonal states
    reach 1e-10 in float64) raise ``ValueError``.
    """
    chol, info = torch.linalg.cholesky_ex(cov)
    if not (info != 0).any():
        return chol
    vals, vecs = torch.linalg.eigh(cov)
    scale = vals.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(cov.dtype).tiny)
    if (vals < -(torch.finfo(cov.dtype).eps ** 0.5) * scale).any():
        raise ValueError("covariance matrix has negative eigenvalues (not positive semi-definite)")
    root = vecs * vals.clamp_min(0).sqrt().unsqueeze(-2)
    ok = (info == 0)[..., None, None]
    return torch.where(ok, chol, root)
