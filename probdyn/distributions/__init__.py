"""Pyro distributions: the composable units of probdyn models."""

from ._lgssm import LinearGaussianSSM

__all__ = ["LinearGaussianSSM"]
