"""LEADS training (thesis 3.4): trajectories of several environments, ``f + g_e`` with the
penalty ``Omega(g_e)``, scheduled sampling as in the official code."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .._best_state import BestState
from ..dynamics import EnvironmentGRU, MultiEnvironmentField, solve


@dataclass
class LeadsResult:
    """Outcome of :func:`fit_leads`.

    Attributes
    ----------
    losses : list of float
        Trajectory MSE of each iteration's batch (with scheduled sampling).
    penalties : list of float
        ``sum_e Omega(g_e)`` per iteration (zeros without a penalty).
    validation_mses : list of (int, float)
        ``(iteration, free-rollout MSE on y_val)`` at each evaluation.
    best_iteration : int
        The iteration whose parameters the field holds (best validation MSE with
        ``keep_best``, else the last).
    seed : int or None
    """

    losses: list = field(repr=False)
    penalties: list = field(repr=False)
    validation_mses: list = field(repr=False)
    best_iteration: int
    seed: int | None = None


SOLVERS = ("rk4", "euler")


def rollout(field, y: torch.Tensor, t: torch.Tensor, restart=None,
            method: str = "rk4") -> torch.Tensor:
    """Predicted trajectories ``(E, B, T, *state)`` from ``y[:, :, 0]``, one ``method`` step
    (``"rk4"``, LV and GS; ``"euler"``, NS) per interval of the grid ``t``.

    ``restart`` (T - 1,) bool: where True, the step from ``t[k]`` starts from the data
    ``y[:, :, k]`` instead of the prediction (scheduled sampling; ``restart[0]`` is implied).
    None or all False after the first: one free rollout. An :class:`EnvironmentGRU` (FT-RNN)
    steps itself, with the data as its input where ``restart``; ``method`` is not used.
    """
    if method not in SOLVERS:
        raise ValueError(f"method must be one of {SOLVERS}, got {method!r}")
    if isinstance(field, EnvironmentGRU):
        return field.rollout(y, restart)
    if restart is None or not bool(restart[1:].any()):
        return solve(field, y[:, :, 0], t, method=method)
    preds = [y[:, :, 0]]
    for k in range(len(t) - 1):
        start = y[:, :, k] if bool(restart[k]) else preds[-1]
        preds.append(solve(field, start, t[k:k + 2], method=method)[:, :, -1])
    return torch.stack(preds, dim=2)


def trajectory_mse_per_env(field, y, t, method: str = "rk4") -> torch.Tensor:
    """Free-rollout MSE of each environment's trajectories (over trajectories, time incl.
    ``t = 0``, channels and grid points, as the official code): shape (E,)."""
    with torch.no_grad():
        pred = rollout(field, y, t, method=method)
    return ((pred - y) ** 2).reshape(y.shape[0], -1).mean(-1)


def _check(y, t, name, num_envs, state_dims):
    y = torch.as_tensor(y)
    if y.dim() != 3 + state_dims:
        raise ValueError(f"{name} must have shape (E, B, T, *state) with {state_dims} state "
                         f"dims, got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if y.shape[2] != len(t):
        raise ValueError(f"{name} has {y.shape[2]} times but t has {len(t)}")
    if num_envs is not None and y.shape[0] != num_envs:
        raise ValueError(f"{name} has {y.shape[0]} environments, the field {num_envs}")
    return y


def fit_leads(field: MultiEnvironmentField | EnvironmentGRU, y, t, *, iterations: int = 10_000,
              lr: float = 1e-3, penalty_weight: float = 1 / 5e3, alpha: float = 1e-2,
              batch_size: int = 1, teacher_forcing: float = 0.99, decay_every: int = 10,
              y_val=None, eval_every: int = 200, method: str = "rk4", keep_best: bool = True,
              seed: int | None = 0, progress: bool = True) -> LeadsResult:
    """Train a :class:`~probdyn.dynamics.MultiEnvironmentField` on trajectories of E
    environments (LEADS, thesis S25 with the practical ``Omega`` of the official code).

    Each iteration takes ``batch_size`` trajectories of every environment, predicts them by
    ``method`` (scheduled sampling: each step restarts from the data with probability
    ``teacher_forcing ** (i // decay_every)``), and takes an Adam step on

    ``MSE_traj + penalty_weight * sum_e Omega(g_e)``,
    ``Omega(g_e) = mean ||g_e(x)||^2 / ||x||^2 + alpha sum_l sigma_l(W_l)^2``

    over the batch's observed states. ``penalty_weight = 0`` is "LEADS no min."; a field
    without environment parts has no penalty (One-For-All, FT-NODE).

    Parameters
    ----------
    field : MultiEnvironmentField or EnvironmentGRU
        The vector field, or the FT-RNN baseline (trained the same way, without a penalty).
    y : tensor, shape (E, n, T, *state)
        n training trajectories per environment at times ``t`` (T,); ``state`` is the
        field's ``state_shape`` (``(d,)`` or a grid ``(C, ny, nx)``).
    iterations, lr
        Adam iterations and learning rate (official: 1e-3, betas (0.9, 0.999)).
    penalty_weight, alpha
        ``1 / lambda`` and ``alpha`` (official code LV: 1/5e3 and 1e-2; the thesis says
        alpha = 1e-3; GS 1/1e3 and 1e-2; NS 1/1e5 and 1e-4).
    batch_size : int
        Trajectories per environment per iteration (official LV: 1).
    teacher_forcing, decay_every
        Scheduled sampling (official: 0.99, every 10 iterations); ``teacher_forcing=0``
        trains by free rollout only.
    y_val : tensor (E, n_val, T, *state), optional
        Validation trajectories: free-rollout MSE every ``eval_every`` iterations (and at the
        last iteration), recorded in ``validation_mses``.
    method : {"rk4", "euler"}
        One solver step per data interval (official: RK4 for LV and GS, Euler for NS).
    keep_best : bool
        With ``y_val``: end with the parameters of the best validation MSE (early stopping).
        False: keep the last iterate, so ``y_val`` only records a learning curve (then it
        may be test data without selecting on it).
    seed : int, optional
        Seeds the batch choice and the restart draws.
    progress : bool
        tqdm bar over iterations.
    """
    if not isinstance(field, (MultiEnvironmentField, EnvironmentGRU)):
        raise ValueError("field must be a MultiEnvironmentField or an EnvironmentGRU, got "
                         f"{type(field).__name__}")
    params = [p for p in field.parameters() if p.requires_grad]
    if not params:
        raise ValueError("field has no trainable parameters")
    dtype = params[0].dtype
    t = torch.as_tensor(t, dtype=dtype)
    nd = len(field.state_shape)
    y = _check(torch.as_tensor(y, dtype=dtype), t, "y", field.num_envs, nd)
    if y_val is not None:
        y_val = _check(torch.as_tensor(y_val, dtype=dtype), t, "y_val", field.num_envs, nd)
    if method not in SOLVERS:
        raise ValueError(f"method must be one of {SOLVERS}, got {method!r}")
    for name, value in (("iterations", iterations), ("batch_size", batch_size),
                        ("decay_every", decay_every), ("eval_every", eval_every)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (0 <= teacher_forcing <= 1):
        raise ValueError(f"teacher_forcing must lie in [0, 1], got {teacher_forcing!r}")
    if not (penalty_weight >= 0 and math.isfinite(penalty_weight)):
        raise ValueError(f"penalty_weight must be non-negative, got {penalty_weight!r}")
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be non-negative, got {alpha!r}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
    use_penalty = field.specific is not None and penalty_weight > 0
    losses, penalties, val_mses = [], [], []
    best = BestState(field)
    n = y.shape[1]
    with tqdm(total=int(iterations), desc="LEADS", disable=not progress, leave=False) as bar:
        for it in range(int(iterations)):
            idx = torch.randperm(n, generator=generator)[:min(int(batch_size), n)]
            batch = y[:, idx]
            eps = teacher_forcing ** (it // int(decay_every))
            restart = torch.rand(len(t) - 1, generator=generator) < eps
            opt.zero_grad()
            pred = rollout(field, batch, t, restart, method)
            loss = ((pred - batch) ** 2).mean()
            pen = (field.penalty(batch, alpha) if use_penalty else loss.new_zeros(()))
            objective = loss + penalty_weight * pen
            if not torch.isfinite(objective):
                raise RuntimeError(f"LEADS objective is {float(objective)} at iteration {it}: "
                                   "lower lr")
            objective.backward()
            opt.step()
            losses.append(float(loss.detach()))
            penalties.append(float(pen.detach()))
            if y_val is not None and ((it + 1) % int(eval_every) == 0
                                      or it == int(iterations) - 1):
                val = float(trajectory_mse_per_env(field, y_val, t, method).mean())
                val_mses.append((it, val))
                if keep_best:
                    best.update(val, it)
            bar.update(1)
            if it % 50 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.3g}", eps=f"{eps:.2f}")
    best_it = best.restore(default=int(iterations) - 1)
    return LeadsResult(losses, penalties, val_mses, best_it, seed)
