"""Training and evaluation of the warping forecaster (PKN, spec B.2/B.4) and of the direct
predictor (ACDNN) it is compared with: sliding windows of ``k`` inputs and ``horizon``
targets, Adam on the S17 loss (the photometric term alone for ACDNN) through the full
autoregressive rollout, early stopping on a validation split of whole trajectories."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .._best_state import BestState
from .direct import DirectForecaster
from .warping import MotionEstimator, WarpingForecaster, charbonnier, pkn_loss


def _frames(data) -> torch.Tensor:
    """``(trajectory, time, H, W)`` float tensor from a tensor/array or a simulator Dataset."""
    if hasattr(data, "data_vars"):
        if "state" not in data:
            raise ValueError("data must be a Dataset with a 'state' variable (trajectory, time, "
                             "channel, y, x)")
        arr = data["state"].transpose("trajectory", "time", "channel", "y", "x").values
        if arr.shape[2] != 1:
            raise ValueError(f"data must have one channel, got {arr.shape[2]}")
        arr = arr[:, :, 0]
    else:
        arr = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    if arr.ndim != 4:
        raise ValueError(f"data must have shape (trajectory, time, H, W), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("data contains NaN or infinite values")
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=torch.float32)


def sliding_windows(frames: torch.Tensor, n_inputs: int = 4, horizon: int = 6):
    """All windows of ``n_inputs`` inputs followed by ``horizon`` targets.

    Parameters
    ----------
    frames : torch.Tensor, shape (trajectory, time, H, W)

    Returns
    -------
    inputs : torch.Tensor, shape (N, n_inputs, H, W)
    targets : torch.Tensor, shape (N, horizon, H, W)
        ``N = trajectory * (time - n_inputs - horizon + 1)``.
    """
    frames = _frames(frames)
    length = n_inputs + horizon
    if frames.shape[1] < length:
        raise ValueError(f"trajectories have {frames.shape[1]} frames, need at least "
                         f"n_inputs + horizon = {length}")
    win = frames.unfold(1, length, 1)  # (traj, n_win, H, W, length)
    win = win.permute(0, 1, 4, 2, 3).reshape(-1, length, *frames.shape[-2:])
    return win[:, :n_inputs].contiguous(), win[:, n_inputs:].contiguous()


@dataclass
class PKNTrainResult:
    """Outcome of :func:`train_warping_forecaster` and :func:`train_direct_forecaster`.

    Attributes
    ----------
    model : WarpingForecaster or DirectForecaster
        The model with the weights of the best validation epoch (in eval mode).
    history : dict
        Per-epoch ``train_loss`` and ``val_loss`` (validation loss: S17 for the PKN, the
        photometric term for the direct predictor) and ``val_mse``
        (6-step photometric MSE on the validation windows).
    best_epoch : int
    seconds : float
        Wall-clock training time.
    """

    model: WarpingForecaster | DirectForecaster
    history: dict = field(default_factory=dict)
    best_epoch: int = 0
    seconds: float = 0.0


def _evaluate(model, inputs, targets, horizon, batch_size, loss_fn):
    model.eval()
    total = mse = 0.0
    with torch.no_grad():
        for s in range(0, len(inputs), batch_size):
            x, y = inputs[s:s + batch_size], targets[s:s + batch_size]
            pred, w = model(x, horizon)
            loss, _ = loss_fn(pred, y, w)
            total += float(loss) * len(x)
            mse += float((pred - y).pow(2).mean()) * len(x)
    return total / len(inputs), mse / len(inputs)


def train_warping_forecaster(data, *, model: WarpingForecaster | None = None,
                             n_inputs: int = 4, horizon: int = 6, train_horizon: int | None = None,
                             small: bool = False, diffusivity: float = 0.15, truncate: float = 4.0,
                             epochs: int = 500, batch_size: int = 64, lr: float = 1e-4,
                             weight_decay: float = 4e-4, val_fraction: float = 0.2,
                             patience: int = 20, lambda_div: float = 1.0,
                             lambda_magn: float = 0.0, lambda_grad: float = 0.4,
                             eps: float = 0.0, alpha: float = 0.5,
                             boundary: str = "periodic", max_seconds: float | None = None,
                             seed: int = 0, progress: bool = True) -> PKNTrainResult:
    """Train a :class:`WarpingForecaster` on image sequences.

    Windows of ``n_inputs + horizon`` consecutive frames; the loss S17 (:func:`pkn_loss`) is
    averaged over the ``horizon`` autoregressive steps and back-propagated through all of them
    (spec B.2). The validation split holds out whole trajectories (the last
    ``ceil(val_fraction * n)`` after a seeded shuffle); training stops after ``patience``
    epochs without a lower validation loss and the best weights are restored.

    Parameters
    ----------
    data : xarray.Dataset or array of shape (trajectory, time, H, W)
        E.g. :func:`probdyn.physics.simulate_advection_diffusion` output (one channel).
        ``H`` and ``W`` divisible by 32.
    n_inputs, horizon : int
        ``k`` input frames (4) and the forecast length of the validation loss (6).
    train_horizon : int, optional
        Rollout length of the training loss (default ``horizon``, as in the thesis; shorter
        rollouts make each step cheaper).
    small, diffusivity, truncate
        For the default model: ``MotionEstimator(small=small)``, the initial ``D``
        (pixels^2 / step) and the warp window (see :class:`WarpingForecaster`).
    model : WarpingForecaster, optional
        Default: a new one (``MotionEstimator(n_inputs, small=small)``, circular padding if
        ``boundary="periodic"``).
    epochs, batch_size, lr, weight_decay
        Adam settings; the defaults are the reference code's (500 epochs, batch 64, lr 1e-4,
        weight decay 4e-4).
    lambda_div, lambda_magn, lambda_grad, eps, alpha
        Loss weights and Charbonnier parameters (see :func:`pkn_loss`). The defaults are the
        reference code's. Measured on :func:`~probdyn.physics.simulate_advection_diffusion`
        fields (32x32 and 64x64, motion in pixels per step), ``lambda_grad = 0.4`` and
        ``lambda_div = 1`` keep the estimated motion at zero (the forecaster stays
        persistence); ``lambda_grad = lambda_div = 0.01`` learn the flow.
    boundary : {"periodic", "neumann"}
        Boundary of the warp (``"periodic"``; ``"neumann"`` warps with ``"replicate"``) and of
        the regularisers' finite differences.
    max_seconds : float, optional
        Stop after the epoch during which this wall-clock budget ran out.
    seed : int
        Seeds the split, the initial weights and the batch order.
    progress : bool
        tqdm bar over epochs.
    """
    if boundary not in ("periodic", "neumann"):
        raise ValueError(f"boundary must be 'periodic' or 'neumann', got {boundary!r}")
    _check_loop_args(val_fraction, epochs, batch_size, patience)
    train_horizon = horizon if train_horizon is None else train_horizon
    frames = _frames(data)
    x_tr, y_tr, x_va, y_va, gen = _split(frames, n_inputs, horizon, train_horizon,
                                         val_fraction, seed)
    torch.manual_seed(seed)
    if model is None:
        warp_boundary = "periodic" if boundary == "periodic" else "replicate"
        pad = "circular" if boundary == "periodic" else "zeros"
        model = WarpingForecaster(MotionEstimator(n_inputs, small=small, padding_mode=pad),
                                  n_inputs=n_inputs, diffusivity=diffusivity,
                                  boundary=warp_boundary, truncate=truncate)
    loss_kw = dict(lambda_div=lambda_div, lambda_magn=lambda_magn, lambda_grad=lambda_grad,
                   eps=eps, alpha=alpha, boundary=boundary)

    def loss_fn(pred, y, w):
        return pkn_loss(pred, y, w, **loss_kw)

    return _fit(model, loss_fn, (x_tr, y_tr, x_va, y_va), gen, horizon=horizon,
                train_horizon=train_horizon, epochs=epochs, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, patience=patience, max_seconds=max_seconds,
                progress=progress, desc="PKN training")


def _check_loop_args(val_fraction, epochs, batch_size, patience):
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience)):
        if not (isinstance(v, int) and v >= 1):
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _split(frames, n_inputs, horizon, train_horizon, val_fraction, seed):
    """Windows of the training and validation trajectories (seeded shuffle, the last
    ``ceil(val_fraction * n)`` held out) and the generator that continues the seeded stream."""
    n = frames.shape[0]
    n_val = math.ceil(val_fraction * n)
    if n - n_val < 1:
        raise ValueError(f"need at least 2 trajectories for a validation split, got {n}")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=gen)
    if not (isinstance(train_horizon, int) and 1 <= train_horizon <= horizon):
        raise ValueError(f"train_horizon must be an int in [1, horizon], got {train_horizon!r}")
    x_tr, y_tr = sliding_windows(frames[order[:n - n_val]], n_inputs, horizon)
    x_va, y_va = sliding_windows(frames[order[n - n_val:]], n_inputs, horizon)
    return x_tr, y_tr[:, :train_horizon], x_va, y_va, gen


def _fit(model, loss_fn, windows, gen, *, horizon, train_horizon, epochs, batch_size, lr,
         weight_decay, patience, max_seconds, progress, desc) -> PKNTrainResult:
    """Adam through the ``train_horizon``-step rollout, early stopping on the validation loss
    of the full ``horizon``, best weights restored."""
    x_tr, y_tr, x_va, y_va = windows
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999),
                           weight_decay=weight_decay)
    history = {"train_loss": [], "val_loss": [], "val_mse": []}
    best = BestState(model, patience)
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, unit="epoch")
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        running = 0.0
        for s in range(0, len(x_tr), batch_size):
            idx = perm[s:s + batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            pred, w = model(x_tr[idx], train_horizon)
            loss, _ = loss_fn(pred, y_tr[idx], w)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += float(loss.detach()) * len(idx)
        val_loss, val_mse = _evaluate(model, x_va, y_va, horizon, batch_size, loss_fn)
        history["train_loss"].append(running / len(x_tr))
        history["val_loss"].append(val_loss)
        history["val_mse"].append(val_mse)
        bar.set_postfix(train=f"{running / len(x_tr):.4f}", val_mse=f"{val_mse:.4f}")
        best.update(val_loss, epoch)
        if best.should_stop or (max_seconds is not None
                                and time.perf_counter() - start > max_seconds):
            break
    bar.close()
    best_epoch = best.restore()
    if best_epoch is None:
        raise FloatingPointError("the validation loss was never finite: lower lr")
    model.eval()
    return PKNTrainResult(model, history, best_epoch, time.perf_counter() - start)


def train_direct_forecaster(data, *, model: DirectForecaster | None = None,
                            n_inputs: int = 4, horizon: int = 6,
                            train_horizon: int | None = None, small: bool = False,
                            residual: bool = False, epochs: int = 500, batch_size: int = 64,
                            lr: float = 1e-4, weight_decay: float = 4e-4,
                            val_fraction: float = 0.2, patience: int = 20, eps: float = 0.0,
                            alpha: float = 0.5, boundary: str = "periodic",
                            max_seconds: float | None = None, seed: int = 0,
                            progress: bool = True) -> PKNTrainResult:
    """Train the direct convolutional predictor (ACDNN, :class:`DirectForecaster`) exactly as
    :func:`train_warping_forecaster` trains the PKN: the same windows, split, optimiser, early
    stopping and photometric loss (:func:`charbonnier`, MSE by default), without the motion
    regularisers (there is no motion field).

    Parameters
    ----------
    data : xarray.Dataset or array of shape (trajectory, time, H, W)
        As for :func:`train_warping_forecaster`.
    model : DirectForecaster, optional
        Default: ``DirectForecaster(n_inputs, small=small, residual=residual)``, circular
        padding if ``boundary="periodic"``.
    n_inputs, horizon, train_horizon, small, residual
        Window, horizons and the default model's size and form.
    epochs, batch_size, lr, weight_decay, val_fraction, patience, max_seconds
        As for :func:`train_warping_forecaster`.
    eps, alpha : float
        Charbonnier parameters of the photometric loss.
    boundary : {"periodic", "neumann"}
        Only chooses the default model's padding (``"circular"`` or ``"zeros"``).
    seed : int
        Seeds the split, the initial weights and the batch order.
    progress : bool
        tqdm bar over epochs.

    Returns
    -------
    PKNTrainResult
        With ``model`` the trained :class:`DirectForecaster`.
    """
    if boundary not in ("periodic", "neumann"):
        raise ValueError(f"boundary must be 'periodic' or 'neumann', got {boundary!r}")
    _check_loop_args(val_fraction, epochs, batch_size, patience)
    train_horizon = horizon if train_horizon is None else train_horizon
    frames = _frames(data)
    x_tr, y_tr, x_va, y_va, gen = _split(frames, n_inputs, horizon, train_horizon,
                                         val_fraction, seed)
    torch.manual_seed(seed)
    if model is None:
        pad = "circular" if boundary == "periodic" else "zeros"
        model = DirectForecaster(n_inputs, small=small, padding_mode=pad, residual=residual)
    elif model.n_inputs != n_inputs:
        raise ValueError(f"model takes {model.n_inputs} frames, n_inputs is {n_inputs}")

    def loss_fn(pred, y, _):
        photo = charbonnier(pred - y, eps=eps, alpha=alpha)
        return photo, {"photometric": float(photo.detach())}

    return _fit(model, loss_fn, (x_tr, y_tr, x_va, y_va), gen, horizon=horizon,
                train_horizon=train_horizon, epochs=epochs, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, patience=patience, max_seconds=max_seconds,
                progress=progress, desc="ACDNN training")


def forecast_scores(model: WarpingForecaster | DirectForecaster, data, *, horizon: int = 6,
                    batch_size: int = 64) -> dict:
    """6-step forecast MSE of the model and of persistence (copy the last input frame) on
    every window of ``data`` (spec B.5: MSE averaged over the ``horizon`` steps).

    ``model`` is anything called as ``model(frames, horizon) -> (predictions, motions)`` with
    an ``n_inputs`` attribute (:class:`WarpingForecaster`, :class:`DirectForecaster`).

    Returns
    -------
    dict
        ``mse`` and ``persistence_mse`` (floats), ``mse_per_step`` and
        ``persistence_mse_per_step`` (arrays of length ``horizon``), and ``mean_speed``: the
        mean ``|w|`` of the first-step motion over windows and pixels (pixels per step;
        ``None`` for a model without motion, such as the direct predictor).
    """
    x, y = sliding_windows(_frames(data), model.n_inputs, horizon)
    model.eval()
    per, base, speed = torch.zeros(horizon), torch.zeros(horizon), 0.0
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            xb, yb = x[s:s + batch_size], y[s:s + batch_size]
            pred, motions = model(xb, horizon)
            per += (pred - yb).pow(2).mean((-2, -1)).sum(0)
            base += (xb[:, -1:] - yb).pow(2).mean((-2, -1)).sum(0)
            speed = None if motions is None else speed + float(
                motions[:, 0].norm(dim=1).mean((-2, -1)).sum())
    per, base = (per / len(x)).numpy(), (base / len(x)).numpy()
    return {"mse": float(per.mean()), "persistence_mse": float(base.mean()),
            "mse_per_step": per, "persistence_mse_per_step": base,
            "mean_speed": None if speed is None else speed / len(x)}


def motion_agreement(estimated: torch.Tensor, true: torch.Tensor, *,
                     min_speed_fraction: float = 0.25) -> dict:
    """Agreement of estimated and true motion fields ``(..., 2, H, W)`` (same units).

    Returns
    -------
    dict
        ``correlation``: Pearson correlation of all components pooled; ``cosine``: mean cosine
        of the angle between the vectors where ``|w_true|`` exceeds ``min_speed_fraction`` of
        its maximum (spec B.6.8 asks for > 0.8).
    """
    est, tru = torch.as_tensor(estimated).double(), torch.as_tensor(true).double()
    if est.shape != tru.shape or est.dim() < 3 or est.shape[-3] != 2:
        raise ValueError(f"estimated {tuple(est.shape)} and true {tuple(tru.shape)} must "
                         "have the same shape (..., 2, H, W)")
    a, b = est.flatten() - est.mean(), tru.flatten() - tru.mean()
    corr = float((a * b).sum() / (a.norm() * b.norm()))
    speed = tru.norm(dim=-3)
    mask = speed > min_speed_fraction * speed.max()
    cos = (est * tru).sum(-3) / (est.norm(dim=-3) * speed).clamp_min(1e-12)
    return {"correlation": corr, "cosine": float(cos[mask].mean())}
