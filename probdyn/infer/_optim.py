"""The one deterministic optimisation loop behind the point-estimate fits (MLE, MAP)."""

import math
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

OPTIMIZERS = ("lbfgs", "adam")


class OptimizationTrace(NamedTuple):
    """``losses``: loss at the start of each iteration and at the end; ``num_iterations``;
    ``converged`` (relative loss change or gradient below tolerance before ``steps`` ran out)."""

    losses: list
    num_iterations: int
    converged: bool


def minimize(loss_fn, params, *, steps: int = 200, lr: float = 1.0, optimizer: str = "lbfgs",
             tolerance: float = 1e-10, grad_tolerance: float = 1e-6, progress: bool = True,
             description: str = "fit") -> OptimizationTrace:
    """Minimise ``loss_fn()`` (a scalar tensor) over the tensors ``params`` in place.

    Parameters
    ----------
    loss_fn : callable
        Returns the scalar loss, differentiable in ``params``.
    params : list of tensors
        Leaf tensors with ``requires_grad=True``.
    steps : int
        Maximum number of iterations (one quasi-Newton step with its line search for
        ``"lbfgs"``, one gradient step for ``"adam"``).
    lr : float
        Learning rate (initial step length of the L-BFGS line search).
    optimizer : {"lbfgs", "adam"}
        ``"lbfgs"``: ``torch.optim.LBFGS`` with a strong-Wolfe line search (history kept across
        iterations). ``"adam"``: ``torch.optim.Adam``.
    tolerance : float
        Converged when the loss changes by less than ``tolerance * max(1, |loss|)`` in one
        iteration ...
    grad_tolerance : float
        ... or when the largest absolute gradient entry is below this.
    progress : bool
        Show a tqdm progress bar with the current loss.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (lr > 0):
        raise ValueError(f"lr must be positive, got {lr!r}")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("there are no free parameters to optimise")
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, max_eval=40, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=0.0,
                                tolerance_change=0.0)
    else:
        opt = torch.optim.Adam(params, lr=lr)

    first_grad = []  # largest |gradient| at the point where each iteration starts
    finite = []  # finite losses seen so far

    def closure():
        opt.zero_grad()
        try:
            loss = loss_fn()
            bad = not bool(torch.isfinite(loss.detach()).all())
        except ValueError:
            # non-finite or non-positive-definite matrices at an extreme trial point
            if not finite:
                raise
            loss, bad = None, True
        if loss is not None and loss.dim() != 0:
            raise ValueError(f"the loss must be a scalar, got shape {tuple(loss.shape)}")
        if bad:
            if not finite:
                raise ValueError(f"the loss is {float(loss)} at the initial parameters; check "
                                 "the data and the initial parameter values")
            # A line-search trial point overflowed: report a much larger loss and no slope,
            # so that the strong-Wolfe search brackets and shrinks its step.
            ref = finite[-1]
            return torch.tensor(ref + 1e3 * (1.0 + abs(ref)), dtype=torch.float64)
        loss.backward()
        value = float(loss.detach())
        finite.append(value)
        if not first_grad:
            first_grad.append(max(float(p.grad.abs().max()) if p.grad is not None else 0.0
                                  for p in params))
        return loss.detach()

    losses, converged, stalled = [], False, False
    with tqdm(total=int(steps), desc=description, disable=not progress, leave=False) as bar:
        for _ in range(int(steps)):
            first_grad.clear()
            value = float(opt.step(closure))  # the loss where this iteration started
            losses.append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.6g}")
            if first_grad and first_grad[0] <= grad_tolerance:
                converged = True
                break
            if len(losses) < 2:
                continue
            change = losses[-2] - value
            if optimizer == "lbfgs" and change <= 0:
                # no progress: the quasi-Newton model is poor (e.g. its curvature was learnt
                # far away). Restart from steepest descent once; a second stall ends the fit.
                if stalled:
                    break
                stalled = True
                opt.state.clear()
                continue
            stalled = False
            if abs(change) <= tolerance * max(1.0, abs(value)):
                converged = True
                break
    with torch.no_grad():
        final = float(loss_fn())
    if not math.isfinite(final):
        raise ValueError(f"the loss is {final} after optimisation")
    losses.append(final)
    return OptimizationTrace(losses, len(losses) - 1, converged)
