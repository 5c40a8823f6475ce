"""Pyro distributions: the composable units of probdyn models."""

from . import _numerics  # noqa: F401  (registers the HMC exception handler)
from ._lgssm import LinearGaussianSSM

__all__ = ["LinearGaussianSSM"]
