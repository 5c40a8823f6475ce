"""Training a latent ODE from partial observations (thesis 3.1, Algorithm 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .._best_state import BestState
from ..dynamics import PartiallyObservedODE
from ..dynamics._neural import _positive_int


@dataclass
class PartialObservationResult:
    """Outcome of :func:`fit_partial_observations`.

    Attributes
    ----------
    losses : list of float
        Mean training cost ``J`` (MSE of ``H(X_t) - Y_t`` over the predicted steps) per epoch.
    validation_losses : list of float
        Validation cost per epoch (empty without validation data).
    best_epoch : int
        Epoch whose parameters the model holds at the end (best validation epoch, else last).
    stopped_early : bool
    seed : int or None
    """

    losses: list = field(repr=False)
    validation_losses: list = field(repr=False)
    best_epoch: int
    stopped_early: bool
    seed: int | None = None


def _check_data(model: PartiallyObservedODE, y, x0, t, name: str):
    y = torch.as_tensor(y)
    if y.dim() != 5:
        raise ValueError(f"{name} must have shape (B, T, C_obs, y, x), got {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if y.shape[1] != len(t):
        raise ValueError(f"{name} has {y.shape[1]} times but t has {len(t)}")
    if len(t) < model.history + 1:
        raise ValueError(f"t needs at least history k + 1 = {model.history + 1} times (k past "
                         f"observations and one target), got {len(t)}")
    if model.encoder is None:
        if x0 is None:
            raise ValueError(f"Setting 2 (no encoder) needs the true initial states with {name}")
        x0 = torch.as_tensor(x0)
        if x0.dim() != 4 or x0.shape[0] != y.shape[0] or x0.shape[-2:] != y.shape[-2:]:
            raise ValueError(f"the initial states of {name} must have shape ({y.shape[0]}, C, "
                             f"{y.shape[-2]}, {y.shape[-1]}), got {tuple(x0.shape)}")
    elif x0 is not None:
        raise ValueError("initial states are for Setting 2; with an encoder X_0 = g_theta(y)")
    return y, x0


def partial_observation_loss(model: PartiallyObservedODE, y, t, x0=None,
                             **solve_kwargs) -> torch.Tensor:
    """The cost ``J`` (spec S5, discretised): mean of ``(H(X_t) - Y_t)^2`` over the targets.

    ``y``: ``(B, k + T, C_obs, y, x)`` at times ``t`` ``(k + T,)``; ``X_0`` is
    ``g_theta(y[:, :k])`` (Setting 1) or ``x0`` ``(B, C, y, x)`` (Setting 2); the targets are
    ``y[:, k:]`` (see :class:`~probdyn.dynamics.PartiallyObservedODE`). ``solve_kwargs`` go to
    the model's forward (``method``, ``substeps``, ``adjoint``, ...).
    """
    _, obs = model(t, y=y, x0=x0, **solve_kwargs)
    target = y[:, model.history:]
    if obs[:, 1:].shape != target.shape:
        raise ValueError(f"H(X) has shape {tuple(obs.shape[2:])} per step but the observations "
                         f"have {tuple(target.shape[2:])}: the observation operator does not "
                         "match the data")
    return ((obs[:, 1:] - target) ** 2).mean()


def fit_partial_observations(model: PartiallyObservedODE, y, t, *, x0=None, epochs: int = 50,
                             batch_size: int | None = None, lr: float = 1e-3,
                             y_val=None, x0_val=None, patience: int | None = None,
                             method: str = "euler", substeps: int = 3, adjoint: bool = False,
                             grad_clip: float | None = None, seed: int | None = 0,
                             progress: bool = True, **solve_kwargs) -> PartialObservationResult:
    """Train ``F_theta`` (and ``g_theta`` in Setting 1) on observation sequences, in place.

    Algorithm 1 of the thesis: per mini-batch, ``X_0`` from the encoder (or the given true
    state), a forward solve over the target times, the gradient of ``J`` by backpropagation
    through the solver (``adjoint=False``, the thesis's choice) or by the adjoint equations
    (``adjoint=True``), and an Adam step.

    Parameters
    ----------
    model : PartiallyObservedODE
        Field, observation operator and optional encoder; the parameters of the field and the
        encoder that require grad are trained (the operator ``H`` is known and stays fixed).
    y : tensor, shape (B, k + T, C_obs, y, x)
        Observation sequences at times ``t``; the first ``k`` (the model's history; 1 in
        Setting 2) frames are the past, ``y[:, k:]`` the targets.
    t : tensor, shape (k + T,)
        Observation times (model time units).
    x0 : tensor, shape (B, C, y, x), optional
        Setting 2: the true states at ``t[0]``.
    epochs, batch_size, lr
        Passes over the data, sequences per step (default all), Adam learning rate.
    y_val, x0_val : tensor, optional
        Validation sequences (same times): the model keeps the parameters of the best
        validation epoch; with ``patience``, training stops after that many epochs without
        improvement.
    method, substeps, adjoint, **solve_kwargs
        Solver (default explicit Euler with 3 sub-steps per interval, as the thesis) and the
        differentiation mode; passed to the model's forward.
    grad_clip : float, optional
        Clip the gradient's global norm to this value.
    seed : int, optional
        Seeds the shuffling.
    progress : bool
        tqdm bar over epochs with the losses.

    Returns
    -------
    PartialObservationResult
    """
    if not isinstance(model, PartiallyObservedODE):
        raise ValueError(f"model must be a PartiallyObservedODE, got {type(model).__name__}")
    # H is known and fixed: only F_theta and g_theta are trained
    trained = [model.field] + ([] if model.encoder is None else [model.encoder])
    params = [p for m in trained for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    dtype = params[0].dtype
    t = torch.as_tensor(t, dtype=dtype)
    y, x0 = _check_data(model, torch.as_tensor(y, dtype=dtype), x0, t, "y")
    x0 = None if x0 is None else x0.to(dtype)
    if y_val is not None:
        y_val, x0_val = _check_data(model, torch.as_tensor(y_val, dtype=dtype), x0_val, t,
                                    "y_val")
        x0_val = None if x0_val is None else x0_val.to(dtype)
    epochs = _positive_int(epochs, "epochs")
    batch_size = y.shape[0] if batch_size is None else _positive_int(batch_size, "batch_size")
    if patience is not None and (y_val is None or _positive_int(patience, "patience") < 1):
        raise ValueError("patience needs y_val")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be positive, got {grad_clip!r}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    opt = torch.optim.Adam(params, lr=lr)
    kw = dict(method=method, substeps=substeps, adjoint=adjoint, **solve_kwargs)
    losses, val_losses = [], []
    best = BestState(model, patience)
    with tqdm(total=epochs, desc="partial obs", disable=not progress, leave=False) as bar:
        for epoch in range(epochs):
            order = torch.randperm(y.shape[0], generator=generator)
            total = 0.0
            for start in range(0, y.shape[0], batch_size):
                idx = order[start:start + batch_size]
                opt.zero_grad()
                loss = partial_observation_loss(model, y[idx], t,
                                                None if x0 is None else x0[idx], **kw)
                if not torch.isfinite(loss):
                    raise RuntimeError(f"the training cost is {float(loss)} in epoch {epoch}: "
                                       "lower lr, use more substeps or set grad_clip")
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / y.shape[0])
            post = {"loss": f"{losses[-1]:.4g}"}
            if y_val is not None:
                with torch.no_grad():
                    val = float(partial_observation_loss(model, y_val, t, x0_val,
                                                         **{**kw, "adjoint": False}))
                val_losses.append(val)
                post["val"] = f"{val:.4g}"
                best.update(val, epoch)
            bar.update(1)
            bar.set_postfix(post)
            if best.should_stop:
                break
    best_epoch = best.restore(default=len(losses) - 1)
    return PartialObservationResult(losses, val_losses, best_epoch, best.should_stop, seed)
