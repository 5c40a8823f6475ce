"""Pure tensor kernels: Kalman filtering, smoothing, sampling and scans.

Functions, not classes; batched over leading dims, differentiable, dtype/device agnostic.
"""

from ._checks import NotPositiveDefiniteError
from ._filter import FilterResult
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
    "kalman_filter",
    "kalman_log_likelihood",
    "kalman_sample_posterior",
    "kalman_smoother",
    "marginal_moments",
    "psd_sqrt",
    "sample_prior",
]
