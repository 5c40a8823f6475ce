"""Pyro distributions: the composable units of probdyn models."""

from . import _numerics  # noqa: F401  (registers the HMC exception handler)
from ._lgssm import LinearGaussianSSM
from ._nkf import Imputation, NormalizingKalmanFilter
from ._ode import OBSERVATION_MODELS, ODETrajectory
from ._truncated import LowerTruncatedNormal

__all__ = [
    "OBSERVATION_MODELS",
    "Imputation",
    "LinearGaussianSSM",
    "LowerTruncatedNormal",
    "NormalizingKalmanFilter",
    "ODETrajectory",
]
