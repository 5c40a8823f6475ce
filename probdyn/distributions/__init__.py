"""Pyro distributions: the composable units of probdyn models."""

from ._lgssm import LinearGaussianSSM
from ._ode import OBSERVATION_MODELS, ODETrajectory
from ._truncated import LowerTruncatedNormal

__all__ = ["OBSERVATION_MODELS", "LinearGaussianSSM", "LowerTruncatedNormal", "ODETrajectory"]
