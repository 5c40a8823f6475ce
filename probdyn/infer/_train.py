"""Maximum-likelihood training of a (neural) vector field on observed trajectories."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .._best_state import BestState
from ..dynamics import kinetic_energy, solve
from ._least_action import LeastActionMultiplier, as_regulariser


@dataclass
class TrainResult:
    """Outcome of :func:`train_vector_field`.

    Attributes
    ----------
    losses : list of float
        Mean training loss (MSE over predicted steps and channels) per epoch.
    validation_losses : list of float
        Validation MSE per epoch (empty without validation data).
    best_epoch : int
        Epoch whose parameters the field holds at the end (the best validation epoch with
        early stopping / validation, else the last).
    stopped_early : bool
    seed : int or None
    kinetic_energies : list of float
        With ``least_action``: the mean kinetic energy ``∫ ||f(t, x_t)||^2 dt`` of the
        predicted trajectories per epoch (else empty).
    multipliers : list of float
        With a :class:`LeastActionMultiplier`: its value after each update (else empty).
    """

    losses: list = field(repr=False)
    validation_losses: list = field(repr=False)
    best_epoch: int
    stopped_early: bool
    seed: int | None = None
    kinetic_energies: list = field(default_factory=list, repr=False)
    multipliers: list = field(default_factory=list, repr=False)


def _check_trajectories(y, t, name: str):
    y = torch.as_tensor(y)
    if y.dim() < 3:
        raise ValueError(f"{name} must have shape (B, T, *state_shape), got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if y.shape[1] != len(t) or len(t) < 2:
        raise ValueError(f"{name} has {y.shape[1]} times but t has {len(t)} (need >= 2)")
    return y


def trajectory_mse(field, y, t, **solve_kwargs) -> torch.Tensor:
    """Mean squared error of the solutions started at ``y[:, 0]`` against ``y[:, 1:]``.

    The Gaussian negative log-likelihood with a fixed variance, up to constants: minimising
    it is maximum likelihood. ``y``: (B, T, *state_shape); ``t``: (T,).
    """
    pred = solve(field, y[:, 0], t, **solve_kwargs)
    return ((pred[:, 1:] - y[:, 1:]) ** 2).mean()


def _mse_and_energy(field, y, t, **solve_kwargs):
    """``(MSE, mean kinetic energy over [t_0, t_end])`` of the solutions from ``y[:, 0]``."""
    pred, energy = kinetic_energy(field, y[:, 0], t, state_shape=y.shape[2:], **solve_kwargs)
    return ((pred[:, 1:] - y[:, 1:]) ** 2).mean(), energy[:, -1].mean()


def train_vector_field(field: torch.nn.Module, y, t, *, epochs: int = 100,
                       batch_size: int | None = None, lr: float = 1e-3,
                       method: str = "rk4", step_size: float | None = None,
                       y_val=None, patience: int | None = None, seed: int | None = 0,
                       progress: bool = True, least_action=None,
                       **solve_kwargs) -> TrainResult:
    """Fit the parameters of ``field`` to trajectories by maximum likelihood (MSE), in place.

    Each epoch shuffles the trajectories into mini-batches of ``batch_size``; for each, the
    ODE is solved from the batch's first states and Adam takes a step on the MSE of the
    later states.

    Parameters
    ----------
    field : nn.Module
        The vector field (neural, physical, hybrid). All its parameters that require grad
        are trained (physical ``PyroParam``s stay positive through their transforms).
    y : tensor, shape (B, T, *state_shape)
        Observed trajectories at times ``t``; ``y[:, 0]`` are the initial states.
    t : tensor, shape (T,)
    epochs, batch_size, lr
        Passes over the data, trajectories per step (default all), Adam learning rate.
    method, step_size, **solve_kwargs
        Passed to :func:`probdyn.dynamics.solve` (default RK4 on the data grid).
    y_val : tensor, optional
        Validation trajectories (same times): the field keeps the parameters of the best
        validation epoch; with ``patience``, training stops after that many epochs without
        improvement.
    seed : int, optional
        Seeds the shuffling (``torch.manual_seed``).
    progress : bool
        tqdm bar over epochs with the losses.
    least_action : None, float, FixedPenalty or LeastActionMultiplier
        The least-action regulariser (thesis ch. 4.2): also penalise the kinetic energy
        ``C = mean_b ∫ ||field(t, x_t)||^2 dt`` of the predicted trajectories, integrated
        with them as an extra ODE state. A float ``w`` minimises ``MSE + w C``; a
        :class:`~probdyn.infer.LeastActionMultiplier` runs Algorithm 4 (``C / lambda + MSE``
        with ``lambda`` raised by ``tau * MSE`` every ``inner_steps`` batches).
    """
    regulariser = as_regulariser(least_action)
    if not isinstance(field, torch.nn.Module):
        raise ValueError(f"field must be an nn.Module, got {type(field).__name__}")
    params = [p for p in field.parameters() if p.requires_grad]
    if not params:
        # PyroParams are created lazily: one evaluation materialises them
        with torch.no_grad():
            solve(field, torch.as_tensor(y)[:1, 0], torch.as_tensor(t)[:2], method=method)
        params = [p for p in field.parameters() if p.requires_grad]
    if not params:
        raise ValueError("field has no trainable parameters")
    dtype = params[0].dtype
    t = torch.as_tensor(t, dtype=dtype)
    y = _check_trajectories(torch.as_tensor(y, dtype=dtype), t, "y")
    if y_val is not None:
        y_val = _check_trajectories(torch.as_tensor(y_val, dtype=dtype), t, "y_val")
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    batch_size = y.shape[0] if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if patience is not None and (patience < 1 or y_val is None):
        raise ValueError("patience needs y_val and must be a positive integer")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    opt = torch.optim.Adam(params, lr=lr)
    kw = dict(method=method, step_size=step_size, **solve_kwargs)
    losses, val_losses, energies = [], [], []
    best = BestState(field, patience)
    with tqdm(total=int(epochs), desc="train", disable=not progress, leave=False) as bar:
        for epoch in range(int(epochs)):
            order = torch.randperm(y.shape[0], generator=generator)
            total = total_energy = 0.0
            for start in range(0, y.shape[0], batch_size):
                batch = y[order[start:start + batch_size]]
                opt.zero_grad()
                if regulariser is None:
                    loss = objective = trajectory_mse(field, batch, t, **kw)
                else:
                    loss, energy = _mse_and_energy(field, batch, t, **kw)
                    objective = regulariser.objective(energy, loss)
                    total_energy += float(energy.detach()) * batch.shape[0]
                if not torch.isfinite(objective):
                    raise RuntimeError(f"training loss is {float(objective)} in epoch {epoch}: "
                                       "lower lr or use a smaller step_size")
                objective.backward()
                opt.step()
                loss = loss.detach()
                if regulariser is not None:
                    regulariser.update(float(loss))
                total += float(loss) * batch.shape[0]
            losses.append(total / y.shape[0])
            post = {"loss": f"{losses[-1]:.4g}"}
            if regulariser is not None:
                energies.append(total_energy / y.shape[0])
                post["energy"] = f"{energies[-1]:.4g}"
            if y_val is not None:
                with torch.no_grad():
                    val = float(trajectory_mse(field, y_val, t, **kw))
                val_losses.append(val)
                post["val"] = f"{val:.4g}"
                best.update(val, epoch)
            bar.update(1)
            bar.set_postfix(post)
            if best.should_stop:
                break
    best_epoch = best.restore(default=len(losses) - 1)
    multipliers = (list(regulariser.history)
                   if isinstance(regulariser, LeastActionMultiplier) else [])
    return TrainResult(losses, val_losses, best_epoch, best.should_stop, seed, energies,
                       multipliers)
