"""Pure tensor kernels: Kalman filtering, smoothing, sampling and scans; grid operators
(finite-difference and FFT Laplacian, gradient, divergence, Poisson solve).

Functions, not classes; batched over leading dims, differentiable, dtype/device agnostic.
"""

from ._checks import NotPositiveDefiniteError
from ._filter import FilterResult
from ._grid import (
    divergence,
    gradient,
    inverse_laplacian,
    laplacian,
    spectral_divergence,
    spectral_gradient,
    spectral_laplacian,
    wavenumbers,
)
from ._kalman import (
    SmootherResult,
    kalman_filter,
    kalman_log_likelihood,
    kalman_sample_posterior,
    kalman_smoother,
    marginal_moments,
    sample_prior,
)
from ._scan import associative_scan
from ._sqrt import psd_sqrt

__all__ = [
    "FilterResult",
    "NotPositiveDefiniteError",
    "SmootherResult",
    "associative_scan",
    "divergence",
    "gradient",
    "inverse_laplacian",
    "kalman_filter",
    "kalman_log_likelihood",
    "kalman_sample_posterior",
    "kalman_smoother",
    "laplacian",
    "marginal_moments",
    "psd_sqrt",
    "sample_prior",
    "spectral_divergence",
    "spectral_gradient",
    "spectral_laplacian",
    "wavenumbers",
]
