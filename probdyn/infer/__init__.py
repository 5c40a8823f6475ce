"""Fitting: point estimates (maximum likelihood, MAP) of probdyn models.

:func:`fit_mle` and :func:`fit_map` share one optimisation loop, :func:`minimize`
(L-BFGS with a strong-Wolfe line search by default, float64, tqdm progress).
"""

from ._fit import FitResult, fit_map, fit_mle, model_log_likelihood, parameter_values
from ._optim import OptimizationTrace, minimize

__all__ = [
    "FitResult",
    "OptimizationTrace",
    "fit_map",
    "fit_mle",
    "minimize",
    "model_log_likelihood",
    "parameter_values",
]
