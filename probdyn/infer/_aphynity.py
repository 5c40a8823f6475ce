"""APHYNITY's constrained training (thesis 3.3, Algorithm 2): minimise ``||F_a||`` subject to
the trajectories being fitted, by an adaptive Lagrangian."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ..dynamics import HybridField, solve
from ..dynamics._hybrid import NORMS
from ..dynamics._neural import _positive_int
from ._train import _check_trajectories, trajectory_mse


@dataclass
class AphynityResult:
    """Outcome of :func:`fit_aphynity`; one entry per optimiser step unless stated.

    Attributes
    ----------
    losses : list of float
        Trajectory MSE ``L_traj`` of the batch at each step (before the step).
    norms : list of float
        ``||F_a||^2`` on the batch's ground-truth states at each step.
    lambdas : list of float
        ``lambda_j`` used at each step (non-decreasing).
    epoch_losses : list of float
        Mean over the batches of the last step's ``L_traj``, per epoch.
    final_lambda : float
    seed : int or None
    """

    losses: list = field(repr=False)
    norms: list = field(repr=False)
    lambdas: list = field(repr=False)
    epoch_losses: list = field(repr=False)
    final_lambda: float
    seed: int | None = None


def _non_negative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def fit_aphynity(field: HybridField, y, t, *, epochs: int = 1000, niter: int = 5,
                 lr: float = 1e-3, lr_physics: float | None = None, tau2: float = 1.0,
                 lambda0: float = 1.0,
                 norm: str = "l2", naive: bool = False, batch_size: int | None = None,
                 max_grad_norm: float | None = None,
                 method: str = "rk4", step_size: float | None = None, seed: int | None = 0,
                 progress: bool = True, **solve_kwargs) -> AphynityResult:
    r"""Train a :class:`~probdyn.dynamics.HybridField` by APHYNITY's adaptive Lagrangian,
    in place.

    For each mini-batch, ``niter`` Adam steps (learning rate ``lr``, the thesis's
    ``tau_1``) are taken on

    .. math:: \mathcal L_{\lambda_j} = \|F_a\|^2 + \lambda_j \, L_{traj},

    then ``lambda_{j+1} = lambda_j + tau2 * L_traj`` (the last step's ``L_traj``, as in
    the code).
    ``L_traj`` is the MSE of the solution from each trajectory's first state against its
    later states (:func:`trajectory_mse`, fixed-step RK4 on the data grid by default) and
    ``||F_a||^2`` is :meth:`HybridField.augmentation_norm` on the batch's **ground-truth**
    states, never on predictions.

    Conventions where thesis and official code disagree (spec C.1, C.4, E); the defaults
    follow the code:

    - ``L_traj`` is the MSE (code), not the sum of unsquared norms (thesis S21); it leaves
      out the ``t = 0`` frame, which the solution matches exactly (the code's MSE includes
      it: a factor ``(T - 1)/T``).
    - lambda is updated after each batch's ``niter`` steps (code), not once per epoch
      (Algorithm 2); with one full batch (the pendulum setting) the two coincide.
    - ``tau_1`` is the Adam learning rate (code 1e-3; thesis Table S2 writes 1). The
      pendulum code uses ``lambda0 = 1``, ``tau2 = 1``, ``niter = 5`` and ``norm =
      "l2_normalized"``; Table S2 gives ``(lambda0, tau2) = (1, 10)`` for Param ODE
      (omega0) and ``(1000, 100)`` for Param ODE (omega0, alpha).

    Parameters
    ----------
    field : HybridField
        ``F_p + F_a``; every parameter of both parts that requires grad is trained. With
        ``augmentation=None`` this is the physics-only fit.
    y : tensor, shape (B, T, *state_shape)
        Observed training trajectories at times ``t``; finite.
    t : tensor, shape (T,)
    epochs : int
        Passes over the trajectories.
    niter : int
        Optimiser steps per batch between lambda updates (thesis ``N_iter``).
    lr : float
        Adam learning rate (``tau_1``), positive.
    lr_physics : float, optional
        A separate Adam learning rate for the parameters of ``field.physical`` (default
        ``lr``): a few physical parameters on a log scale may need larger steps than the
        network's weights.
    tau2 : float
        Lambda step (>= 0; 0 is the "vanilla optim." ablation with fixed lambda).
    lambda0 : float
        Initial multiplier (>= 0).
    norm : {"l2", "l2_normalized"}
        The penalty (see :meth:`HybridField.augmentation_norm`).
    naive : bool
        The "no min." ablation: no ``||F_a||`` term, loss ``L_traj`` alone (lambda is then
        irrelevant and kept at ``lambda0``); the norms are still recorded.
    batch_size : int, optional
        Trajectories per batch (default all: the pendulum's full batch).
    max_grad_norm : float, optional
        Clip the gradient's global norm to this value before each step (default: no
        clipping, as the official code). At the large learning rates of short CPU runs one
        outlying step can make the augmentation blow the solution up to inf.
    method, step_size, **solve_kwargs
        Passed to :func:`probdyn.dynamics.solve`.
    seed : int, optional
        Seeds the batch shuffling.
    progress : bool
        tqdm bar over epochs with ``L_traj``, ``||F_a||^2`` and lambda.

    Returns
    -------
    AphynityResult
    """
    if not isinstance(field, HybridField):
        raise ValueError(f"field must be a HybridField, got {type(field).__name__}")
    epochs = _positive_int(epochs, "epochs")
    niter = _positive_int(niter, "niter")
    for name, value in (("lr (tau_1)", lr), ("lr_physics", lr_physics)):
        if value is None and name == "lr_physics":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0) \
                or not math.isfinite(value):
            raise ValueError(f"{name} must be positive and finite, got {value!r}")
    if max_grad_norm is not None and not (isinstance(max_grad_norm, (int, float))
                                          and not isinstance(max_grad_norm, bool)
                                          and math.isfinite(max_grad_norm)
                                          and max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be positive and finite, got {max_grad_norm!r}")
    tau2 = _non_negative(tau2, "tau2")
    lam = _non_negative(lambda0, "lambda0")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    y0 = torch.as_tensor(y)
    params = [p for p in field.parameters() if p.requires_grad]
    if not params:  # PyroParams are created lazily: one evaluation materialises them
        with torch.no_grad():
            solve(field, y0[:1, 0].to(torch.get_default_dtype()), torch.as_tensor(t)[:2],
                  method=method)
        params = [p for p in field.parameters() if p.requires_grad]
    if not params:
        raise ValueError("field has no trainable parameters")
    dtype = params[0].dtype
    t = torch.as_tensor(t, dtype=dtype)
    y = _check_trajectories(y0.to(dtype), t, "y")
    batch_size = y.shape[0] if batch_size is None else _positive_int(batch_size, "batch_size")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    groups = [{"params": params}]
    if lr_physics is not None:
        physical = {id(p) for p in field.physical.parameters()}
        groups = [{"params": [p for p in params if id(p) not in physical]},
                  {"params": [p for p in params if id(p) in physical], "lr": lr_physics}]
    opt = torch.optim.Adam([g for g in groups if g["params"]], lr=lr)
    kw = dict(method=method, step_size=step_size, **solve_kwargs)
    losses, norms, lambdas, epoch_losses = [], [], [], []
    with tqdm(total=epochs, desc="aphynity", disable=not progress, leave=False) as bar:
        for epoch in range(epochs):
            order = torch.randperm(y.shape[0], generator=generator)
            total = 0.0
            for start in range(0, y.shape[0], batch_size):
                batch = y[order[start:start + batch_size]]
                for _ in range(niter):
                    opt.zero_grad()
                    traj = trajectory_mse(field, batch, t, **kw)
                    fa = field.augmentation_norm(batch, norm=norm)
                    loss = traj if naive else fa + lam * traj
                    if not torch.isfinite(loss):
                        raise RuntimeError(f"APHYNITY loss is {float(loss)} in epoch {epoch} "
                                           f"(lambda {lam:.4g}): lower lr or tau2")
                    loss.backward()
                    if max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                    opt.step()
                    losses.append(float(traj.detach()))
                    norms.append(float(fa.detach()))
                    lambdas.append(lam)
                after = losses[-1]  # the code's "last L_traj" (before the last step)
                if not naive:
                    lam += tau2 * after
                total += after * batch.shape[0]
            epoch_losses.append(total / y.shape[0])
            bar.update(1)
            bar.set_postfix(traj=f"{epoch_losses[-1]:.3g}", fa=f"{norms[-1]:.3g}",
                            lam=f"{lam:.3g}")
    return AphynityResult(losses, norms, lambdas, epoch_losses, lam, seed)
