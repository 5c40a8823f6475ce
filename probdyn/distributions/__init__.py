"""Pyro distributions: the composable units of probdyn models."""

from ._lgssm import LinearGaussianSSM
from ._nkf import Imputation, NormalizingKalmanFilter

__all__ = ["Imputation", "LinearGaussianSSM", "NormalizingKalmanFilter"]
