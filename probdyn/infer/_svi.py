"""Stochastic variational inference with Pyro's autoguides, with optional early stopping."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pyro
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.infer.autoguide import (
    AutoDelta,
    AutoLaplaceApproximation,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
    init_to_median,
)
from tqdm.auto import tqdm

from ._optim import minimize

GUIDES = {
    "normal": AutoNormal,
    "mvn": AutoMultivariateNormal,
    "lowrank": AutoLowRankMultivariateNormal,
    "delta": AutoDelta,
    "laplace": AutoLaplaceApproximation,
}


@dataclass
class SVIResult:
    """Outcome of :func:`fit_svi`.

    Attributes
    ----------
    guide : pyro.infer.autoguide.AutoGuide
        The fitted guide (at the best validation loss when early stopping was used); sample
        the posterior with ``pyro.infer.Predictive(model, guide=result.guide, num_samples=S)``.
    losses : list of float
        ELBO loss (negative ELBO estimate) at each step.
    validation_losses : list of float
        Loss on the validation arguments at each check (empty without validation).
    num_steps : int
        Steps run (fewer than requested after an early stop).
    stopped_early : bool
    median : dict of str to tensor
        Posterior medians by site (for ``"delta"``: the MAP estimate).
    seed : int or None
    """

    guide: object
    losses: list = field(repr=False)
    validation_losses: list = field(repr=False)
    num_steps: int
    stopped_early: bool
    median: dict = field(repr=False)
    seed: int | None = None


def _loss_value(elbo, model, guide, args, kwargs) -> float:
    with torch.no_grad():
        return float(elbo.loss(model, guide, *args, **kwargs))


def fit_svi(model, *args, guide="normal", steps: int = 1000, lr: float = 0.01,
            num_particles: int = 1, seed: int | None = 0, progress: bool = True,
            validation_args: tuple | None = None, validation_kwargs: dict | None = None,
            validate_every: int = 50, patience: int = 5, init_loc_fn=None,
            lr_decay: float = 0.1, clip_norm: float | None = 10.0, polish_steps: int = 200,
            **kwargs) -> SVIResult:
    """Fit an autoguide to ``model(*args, **kwargs)`` by SVI (Adam on the ELBO).

    Parameters
    ----------
    model : callable
        A Pyro model. Neural parameters of the model take part when registered
        (``pyro.module``, or a ``PyroModule`` with ``PyroParam``s). Mini-batching over
        trajectories is the model's ``pyro.plate("trajectories", B, subsample_size=b)``:
        each step then sees a random batch and the likelihood is rescaled by ``B / b``.
    *args, **kwargs
        Passed to the model (and the guide).
    guide : {"normal", "mvn", "lowrank", "delta", "laplace"} or AutoGuide
        ``AutoNormal`` (mean field), ``AutoMultivariateNormal``,
        ``AutoLowRankMultivariateNormal`` or ``AutoDelta`` (MAP), initialised at the prior
        medians unless ``init_loc_fn`` is given; or a guide object. ``"laplace"`` finds the
        MAP (``AutoLaplaceApproximation``) and returns the Laplace approximation there: an
        ``AutoMultivariateNormal`` whose covariance is the inverse Hessian of the negative
        log joint in the unconstrained space. It captures strong posterior correlations
        that a full-rank guide trained by SVI learns only slowly (the guide first shrinks to
        the conditional, mean-field-like widths; the lynx-hare tutorial shows it). Adam's
        last iterate is then polished by L-BFGS (``polish_steps``), because the Hessian must
        be taken at the mode. A guide
        built from a name starts fresh: earlier values of its class's parameters are removed
        from Pyro's global param store (so an older guide of that class is stale afterwards).
    steps, lr, num_particles
        Adam steps, learning rate and ELBO particles per step.
    seed : int, optional
        ``pyro.set_rng_seed(seed)`` first.
    progress : bool
        tqdm bar with the current loss.
    validation_args, validation_kwargs : optional
        Arguments of the model on held-out data (e.g. other trajectories). Every
        ``validate_every`` steps the ELBO loss there is computed; when it has not improved
        for ``patience`` checks in a row the fit stops and the guide and model parameters
        are restored to the best check. Only meaningful for global latent variables (local
        ones of held-out data are not fitted).
    lr_decay : float
        The learning rate decays geometrically to ``lr * lr_decay`` at the last step
        (default 0.1): the final iterate then fluctuates much less around the optimum of the
        noisy ELBO. 1 keeps it constant.
    clip_norm : float, optional
        Gradient norm clipping; None for none (``pyro.optim.ClippedAdam`` either way).
    polish_steps : int
        ``"laplace"`` only: at most this many L-BFGS iterations on the (deterministic) MAP
        loss after Adam; 0 skips the polish. Adam stops short of the mode: on the pendulum
        of ``probdyn reproduce ode-recovery`` its last iterate had gradient norms of 200-2500
        and a log joint 0.3-12 nats below the mode, which moved the Laplace mean of the period
        by about one posterior sd. The loss must be deterministic (no subsampled plates).

    Returns
    -------
    SVIResult
    """
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (lr > 0):
        raise ValueError(f"lr must be positive, got {lr!r}")
    if validate_every < 1 or patience < 1:
        raise ValueError("validate_every and patience must be positive")
    if seed is not None:
        pyro.set_rng_seed(seed)
    if isinstance(guide, str):
        if guide not in GUIDES:
            raise ValueError(f"guide must be one of {sorted(GUIDES)} or an AutoGuide, got "
                             f"{guide!r}")
        guide = GUIDES[guide](model, init_loc_fn=init_loc_fn or init_to_median(num_samples=51))
        # A new guide starts fresh: Pyro's global param store would otherwise hand it the
        # values an earlier guide of the same class left under the same names.
        prefix = f"{guide._pyro_name}."
        store = pyro.get_param_store()
        for name in [n for n in store.keys() if n.startswith(prefix)]:
            del store[name]
    elif not callable(guide):
        raise ValueError(f"guide must be a name or a callable guide, got {type(guide).__name__}")
    if isinstance(polish_steps, bool) or int(polish_steps) != polish_steps or polish_steps < 0:
        raise ValueError(f"polish_steps must be a non-negative integer, got {polish_steps!r}")
    if not 0 < lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], got {lr_decay!r}")
    optim = pyro.optim.ClippedAdam({"lr": lr, "lrd": lr_decay ** (1.0 / int(steps)),
                                    "clip_norm": math.inf if clip_norm is None else clip_norm})
    elbo = Trace_ELBO(num_particles=num_particles)
    svi = SVI(model, guide, optim, elbo)
    losses, val_losses = [], []
    best, best_state, bad_checks, stopped = math.inf, None, 0, False
    with tqdm(total=int(steps), desc="fit_svi", disable=not progress, leave=False) as bar:
        for step in range(int(steps)):
            loss = svi.step(*args, **kwargs)
            if not math.isfinite(loss):
                raise RuntimeError(f"the ELBO loss is {loss} at step {step}: lower lr, or check "
                                   "the model at the guide's initial values")
            losses.append(float(loss))
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.5g}")
            if validation_args is None or (step + 1) % validate_every:
                continue
            val = _loss_value(elbo, model, guide, validation_args, validation_kwargs or {})
            val_losses.append(val)
            if val < best:
                best, bad_checks = val, 0
                best_state = pyro.get_param_store().get_state()
                best_state = {**best_state, "params": {k: v.detach().clone() for k, v in
                                                       best_state["params"].items()}}
            else:
                bad_checks += 1
                if bad_checks >= patience:
                    stopped = True
                    break
    if stopped and best_state is not None:
        store = pyro.get_param_store()
        with torch.no_grad():
            for name, value in best_state["params"].items():
                store._params[name].copy_(value)  # in place: modules keep their tensors
    if isinstance(guide, AutoLaplaceApproximation):
        if polish_steps:
            loss_fn = Trace_ELBO().differentiable_loss
            minimize(lambda: loss_fn(model, guide, *args, **kwargs), [guide.loc],
                     steps=int(polish_steps), grad_tolerance=1e-8, progress=False)
        # the MAP found, the Gaussian with the inverse Hessian of -log p at it (unconstrained)
        guide = guide.laplace_approximation(*args, **kwargs)
    with torch.no_grad():
        median = {k: v.detach() for k, v in guide.median(*args, **kwargs).items()}
    return SVIResult(guide, losses, val_losses, len(losses), stopped, median, seed)
