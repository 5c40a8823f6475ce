"""Structural state-space components and their assembly into linear-Gaussian state spaces.

Components (each a ``PyroModule`` with named, positive-constrained variance parameters):
:class:`Level`, :class:`LocalLinearTrend`, :class:`Seasonal` (dummy, one-hot, trigonometric),
:class:`Regression`, :class:`Autoregressive`. :class:`StructuralTimeSeries` stacks them into a
:class:`~probdyn.distributions.LinearGaussianSSM` and computes the exact diffuse likelihood.
"""

from ._autoregressive import (
    Autoregressive,
    coefficients_to_pacf,
    companion,
    pacf_to_coefficients,
    stationary_covariance,
)
from ._component import Component, ComponentSystem
from ._diffuse import diffuse_log_likelihood, diffuse_regressors
from ._regression import Regression
from ._seasonal import Seasonal
from ._structural import ComponentEstimate, StructuralTimeSeries, SystemMatrices, as_series
from ._trend import Level, LocalLinearTrend

__all__ = [
    "Autoregressive",
    "Component",
    "ComponentEstimate",
    "ComponentSystem",
    "Level",
    "LocalLinearTrend",
    "Regression",
    "Seasonal",
    "StructuralTimeSeries",
    "SystemMatrices",
    "as_series",
    "coefficients_to_pacf",
    "companion",
    "diffuse_log_likelihood",
    "diffuse_regressors",
    "pacf_to_coefficients",
    "stationary_covariance",
]
