"""Regression on covariates with static or random-walk coefficients."""

import torch

from ._component import Component, ComponentSystem, check_positive_int, stochastic_variance


class Regression(Component):
    r"""Linear effect of covariates: ``y_t += x_t' beta_t``.

    The coefficients ``beta`` (``k`` of them) are the state: static (``F = I``, ``Q = 0``; the
    default, statsmodels' ``UnobservedComponents(exog=..., mle_regression=False)``) or random
    walks (``random_walk=True``: ``Q = diag(coefficient_variance)``). The observation row at
    step ``t`` is the covariate vector ``x_t'``, so ``H`` is time-varying.

    Parameters
    ----------
    covariates : tensor (T, k), optional
        Covariates of the fitting period (a buffer of the module, converted with it). Passing
        ``covariates`` to :meth:`system` (or to :meth:`StructuralTimeSeries.ssm`) overrides
        them, e.g. for a forecast period. Must be finite (no missing covariates).
    num_covariates : int, optional
        ``k`` when no ``covariates`` are given at construction.
    random_walk : bool
        Random-walk coefficients with the positive parameter ``coefficient_variance`` (k,).
    coefficient_variance : float or (k,)
        Initial value of ``coefficient_variance`` (random walk only).
    initial_loc, initial_scale
        Prior of ``beta`` at the first step (default diffuse).
    """

    default_name = "regression"

    def __init__(self, covariates=None, num_covariates=None, random_walk: bool = False,
                 coefficient_variance=1.0, initial_loc=0.0, initial_scale=None):
        if covariates is None and num_covariates is None:
            raise ValueError("Regression needs covariates (T, k) or num_covariates")
        if covariates is not None:
            covariates = _check_covariates(covariates, num_covariates=num_covariates)
            k = covariates.shape[-1]
        else:
            k = check_positive_int("num_covariates", num_covariates)
        super().__init__(k, initial_loc, initial_scale)
        self.num_covariates = k
        self.random_walk = bool(random_walk)
        if covariates is not None:
            self.register_buffer("covariates", covariates)
        else:
            self.covariates = None
        variance = torch.as_tensor(coefficient_variance, dtype=torch.get_default_dtype())
        if variance.dim() > 1 or (variance.dim() == 1 and variance.shape[0] != k):
            raise ValueError(f"coefficient_variance must be a scalar or have shape ({k},), "
                             f"got shape {tuple(variance.shape)}")
        stochastic_variance(self, "coefficient_variance", variance.expand(k).clone(),
                            self.random_walk)

    @property
    def state_names(self):
        return [f"beta{j}" for j in range(self.num_covariates)]

    def system(self, duration, start=0, covariates=None, dtype=None, device=None):
        var = torch.as_tensor(self.coefficient_variance)
        dtype = dtype or var.dtype
        if covariates is None:
            if self.covariates is None:
                raise ValueError("covariates are required: this Regression was built without "
                                 "covariates (pass covariates of shape (T, k))")
            covariates = self.covariates
        covariates = _check_covariates(covariates, duration, self.num_covariates)
        X = covariates.to(dtype=dtype, device=device)
        k = self.num_covariates
        F = torch.eye(k, dtype=dtype, device=device).unsqueeze(0)
        Q = torch.diag_embed(var.to(dtype)).unsqueeze(-3)
        H = X.unsqueeze(-2)  # (..., T, 1, k)
        loc, cov, diffuse = self._initial(dtype, device)
        return ComponentSystem(F, Q, H, loc, cov, diffuse)


def _check_covariates(covariates, duration=None, num_covariates=None) -> torch.Tensor:
    try:
        X = torch.as_tensor(covariates)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"covariates must be a (T, k) array, got {type(covariates)}") from e
    if not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    if X.dim() != 2:
        raise ValueError(f"covariates must have shape (T, k), got shape {tuple(X.shape)}")
    if duration is not None and X.shape[0] != duration:
        raise ValueError(f"covariates must have shape (T, k) with T = {duration} time steps, "
                         f"got shape {tuple(X.shape)}")
    if num_covariates is not None and X.shape[1] != num_covariates:
        raise ValueError(f"covariates must have k = {num_covariates} columns, got shape "
                         f"{tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise ValueError("covariates contain NaN or infinite values (missing covariates are "
                         "not supported; impute them first)")
    return X
