"""Random initial conditions on periodic grids."""

from __future__ import annotations

import torch


def gaussian_random_field(n: int, grid: tuple[int, int], dx: tuple[float, float], *,
                          alpha: float, tau: float, generator: torch.Generator,
                          dtype=torch.float64) -> torch.Tensor:
    """``n`` zero-mean periodic Gaussian random fields, shape ``(n, ny, nx)``.

    ``w(x) = Re sum_k sqrt(2 lambda_k) (a_k + i b_k) exp(i kappa_k . x)`` with ``a_k, b_k``
    iid N(0, 1) over all grid wavenumbers ``kappa_k != 0`` and the spectrum
    ``lambda_k = tau^(2 (alpha - 1)) (|kappa_k|^2 + tau^2)^(-alpha)``: the law of Li et al.
    (2021, FNO) used for the LEADS Navier-Stokes initial vorticity (alpha = 2.5, tau = 7 on the
    unit square).
    """
    ny, nx = grid
    ky = 2 * torch.pi * torch.fft.fftfreq(ny, d=dx[0], dtype=dtype)[:, None]
    kx = 2 * torch.pi * torch.fft.fftfreq(nx, d=dx[1], dtype=dtype)[None, :]
    k2 = kx**2 + ky**2
    amp = (2.0**0.5) * tau ** (alpha - 1) * (k2 + tau**2) ** (-alpha / 2)
    amp = torch.where(k2 > 0, amp, torch.zeros_like(amp))
    a = torch.randn((n, ny, nx), generator=generator, dtype=dtype)
    b = torch.randn((n, ny, nx), generator=generator, dtype=dtype)
    coef = torch.complex(a, b) * amp
    return torch.fft.ifft2(coef).real * (ny * nx)

