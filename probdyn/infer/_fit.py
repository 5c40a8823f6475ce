"""Point estimates of a model's parameters: maximum likelihood and maximum a posteriori."""

from dataclasses import dataclass, field

import pyro
import torch
from pyro.infer import Trace_ELBO
from pyro.infer.autoguide import AutoDelta, init_to_median

from ._optim import minimize


@dataclass
class FitResult:
    """Outcome of :func:`fit_mle` / :func:`fit_map`.

    Attributes
    ----------
    log_likelihood : float
        Log-likelihood of the data at the estimate (summed over any batch of series).
    num_iterations : int
        Optimiser iterations run.
    converged : bool
        Whether the convergence test passed before ``steps`` ran out.
    params : dict of str to float
        Constrained parameter values by name (``"level.level_variance"``; vector parameters
        as ``"ar.coefficients[0]"``, ...), including derived ones (e.g. AR coefficients) and,
        for MAP, the parameters that have priors.
    losses : list of float
        Loss (negative log-likelihood or log-joint) at the start of each iteration, then the
        final value.
    method : str
        ``"mle"`` or ``"map"``.
    seed : int or None
    log_prior : float or None
        MAP only: log prior density of the parameters with priors at the estimate.
    """

    log_likelihood: float
    num_iterations: int
    converged: bool
    params: dict
    losses: list = field(repr=False)
    method: str = "mle"
    seed: int | None = None
    log_prior: float | None = None


def model_log_likelihood(module, y, **kwargs) -> torch.Tensor:
    """``module.log_likelihood(y, **kwargs)`` if the module defines it (e.g. the exact diffuse
    likelihood of a :class:`~probdyn.ssm.StructuralTimeSeries`), else
    ``module.ssm(T, **kwargs).log_prob(y)``; summed to a scalar."""
    if hasattr(module, "log_likelihood"):
        ll = module.log_likelihood(y, **kwargs)
    elif hasattr(module, "ssm"):
        yy = y.unsqueeze(-1) if y.dim() == 1 else y
        ll = module.ssm(yy.shape[-2], **kwargs).log_prob(yy)
    else:
        raise ValueError(f"module {type(module).__name__} has neither log_likelihood(y) nor "
                         "ssm(duration): nothing to fit")
    return ll.sum()


def _flatten(name: str, value) -> dict:
    value = torch.as_tensor(value).detach()
    if value.numel() == 1:
        return {name: float(value.reshape(()))}
    out = {}
    for index in torch.cartesian_prod(*(torch.arange(n) for n in value.shape)).reshape(
            value.numel(), -1).tolist():
        out[f"{name}[{','.join(map(str, index))}]"] = float(value[tuple(index)])
    return out


def parameter_values(module: torch.nn.Module) -> dict:
    """Constrained values of the module's parameters (PyroParams, plain parameters, and the
    ``derived_parameters()`` of sub-modules that define it) as a flat dict name -> float."""
    out = {}
    for prefix, m in module.named_modules():
        pre = f"{prefix}." if prefix else ""
        for name in getattr(m, "_pyro_params", {}):
            out.update(_flatten(pre + name, getattr(m, name)))
        for name, p in m.named_parameters(recurse=False):
            if not name.endswith("_unconstrained"):
                out.update(_flatten(pre + name, p))
        derived = getattr(m, "derived_parameters", None)
        if callable(derived):
            for name, v in derived().items():
                out.update(_flatten(pre + name, v))
    return out


def _prepare(module, y, dtype, seed):
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if seed is not None:
        pyro.set_rng_seed(seed)
    if dtype is not None:
        module.to(dtype)
    y = torch.as_tensor(y)
    y = y.to(dtype if dtype is not None else (
        y.dtype if y.is_floating_point() else torch.get_default_dtype()))
    if torch.isinf(y).any():
        raise ValueError("y contains infinite values (use NaN for missing observations)")
    if torch.isnan(y).all():
        raise ValueError("y has no observed value")
    return y


def fit_mle(module, y, *, covariates=None, steps: int = 200, lr: float = 1.0,
            optimizer: str = "lbfgs", tolerance: float = 1e-10, dtype=torch.float64,
            progress: bool = True, seed=None) -> FitResult:
    """Maximum-likelihood estimate of the parameters of ``module`` (in place).

    Maximises :func:`model_log_likelihood` — for a
    :class:`~probdyn.ssm.StructuralTimeSeries` its exact diffuse log-likelihood — over every
    parameter of ``module`` that requires grad (positivity etc. hold through the PyroParam
    transforms; freeze a parameter with ``requires_grad_(False)``).

    Parameters
    ----------
    module : torch.nn.Module
        With ``log_likelihood(y, ...)`` or ``ssm(duration, ...)``. Must not have priors
        (``PyroSample`` attributes): use :func:`fit_map` for those.
    y : tensor (T,) or (..., T, N)
        Data; NaN marks missing values. A batch of series shares the parameters (their
        log-likelihoods are summed).
    covariates : optional
        Passed on to ``log_likelihood``/``ssm``.
    steps, lr, optimizer, tolerance
        See :func:`probdyn.infer.minimize` (L-BFGS with strong-Wolfe line search by default).
    dtype : torch.dtype or None
        The module (parameters and buffers) and the data are converted to it, in place
        (default float64); None keeps the module's dtype.
    progress : bool
        tqdm progress bar.
    seed : int, optional
        Seeds Pyro/torch/numpy (kept in the result).
    """
    if isinstance(module, torch.nn.Module) and any(
            getattr(m, "_pyro_samples", None) for m in module.modules()):
        raise ValueError("module has priors (PyroSample attributes); use fit_map, or replace "
                         "them by PyroParam for maximum likelihood")
    y = _prepare(module, y, dtype, seed)
    kwargs = {} if covariates is None else {"covariates": covariates}
    # a private parameter store: the fit neither reads nor changes the user's global one
    with pyro.get_param_store().scope():
        trace = minimize(lambda: -model_log_likelihood(module, y, **kwargs), module.parameters(),
                         steps=steps, lr=lr, optimizer=optimizer, tolerance=tolerance,
                         progress=progress, description="fit_mle")
        params = parameter_values(module)
    return FitResult(-trace.losses[-1], trace.num_iterations, trace.converged, params,
                     trace.losses, "mle", seed)


def fit_map(module, y, *, covariates=None, steps: int = 200, lr: float = 1.0,
            optimizer: str = "lbfgs", tolerance: float = 1e-10, dtype=torch.float64,
            progress: bool = True, seed=None) -> FitResult:
    """Maximum a posteriori estimate: maximises ``log p(y | theta) + log p(theta)``.

    Parameters with priors (``PyroSample`` attributes of a ``PyroModule``) are optimised at
    their mode in the constrained space (an :class:`~pyro.infer.autoguide.AutoDelta` guide,
    initialised at the prior medians); the other parameters (``PyroParam``) as in
    :func:`fit_mle`. Arguments as in :func:`fit_mle`. The estimates of the parameters with
    priors are in ``result.params`` (they are not written back into the module, whose
    attributes stay ``PyroSample``); ``result.log_prior`` is their log prior density.
    """
    y = _prepare(module, y, dtype, seed)
    kwargs = {} if covariates is None else {"covariates": covariates}

    def model():
        pyro.factor("log_likelihood", model_log_likelihood(module, y, **kwargs))

    with pyro.get_param_store().scope():
        guide = AutoDelta(model, init_loc_fn=init_to_median(num_samples=51))
        guide()  # creates the guide's parameters
        if dtype is not None:
            guide.to(dtype)
        elbo = Trace_ELBO()
        trace = minimize(lambda: elbo.differentiable_loss(model, guide),
                         list(module.parameters()) + list(guide.parameters()), steps=steps,
                         lr=lr, optimizer=optimizer, tolerance=tolerance, progress=progress,
                         description="fit_map")
        with torch.no_grad():
            guide_trace = pyro.poutine.trace(guide).get_trace()
            model_trace = pyro.poutine.trace(
                pyro.poutine.replay(model, trace=guide_trace)).get_trace()
            model_trace.compute_log_prob()
            log_lik = float(model_trace.nodes["log_likelihood"]["log_prob_sum"])
            log_prior = sum(float(site["log_prob_sum"]) for name, site in model_trace.nodes.items()
                            if site["type"] == "sample" and name != "log_likelihood")
            params = parameter_values(module)
            for name, value in guide.median().items():
                params.update(_flatten(name, value))
    return FitResult(log_lik, trace.num_iterations, trace.converged, params, trace.losses,
                     "map", seed, log_prior)
