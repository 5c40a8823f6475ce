"""Exact maximum-likelihood training of the local-global NKF on random windows of a panel."""

from __future__ import annotations

import copy
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..dynamics._neural import _positive_int


@dataclass
class FitHistory:
    """Outcome of :func:`fit_local_global`.

    ``history``: one dict per epoch (``epoch``, ``train_nll``, ``val_nll``: negative
    log-likelihood per observed entry of the scaled targets; the validation one is the
    forecast NLL ``-log p(future | context)`` over the validation range). ``best_epoch`` and
    ``best_val_nll`` are those of the restored parameters; ``seconds`` the wall time.
    """

    history: list = field(default_factory=list)
    best_epoch: int = -1
    best_val_nll: float = float("inf")
    seconds: float = 0.0
    stopped_early: bool = False
    seed: int = 0


def _stack(inputs, starts, length):
    idx = torch.as_tensor(starts)[:, None] + torch.arange(length)
    return inputs.y[idx], inputs.features[idx], inputs.seasons[idx]


def _scaled_nll(model, y, features, seasons, split=None):
    """NLL per observed entry of windows (scaled units): all steps, or steps >= split given
    the steps before (chain rule: loglik(window) - loglik(context))."""
    s = model.scale(y)
    y_s = y / s.unsqueeze(-2)
    params = model.emit(features, seasons)
    total = model._scaled_log_prob(y_s, params)
    count = (~torch.isnan(y)).sum()
    if split is not None:
        total = total - model._scaled_log_prob(y_s[:, :split], params.steps(slice(0, split)))
        count = (~torch.isnan(y[:, split:])).sum()
    return -total.sum() / count


def fit_local_global(model, y, time=None, covariates=None, *, prediction_length=30,
                     validation_length=None, epochs=25, batches_per_epoch=50, batch_size=32,
                     lr=2e-4, weight_decay=1e-6, clip=10.0, patience=5, checkpoint=None,
                     seed=0, progress=True) -> FitHistory:
    """Train a :class:`LocalGlobalNKF` by exact maximum likelihood (Adam).

    Each batch holds ``batch_size`` windows of ``context_length + prediction_length`` steps of
    the whole N-series panel (the flow mixes the series, so they cannot be sub-sampled), with
    random starts in the training range; the loss is the exact negative log-likelihood per
    observed entry of the scaled targets. The last ``validation_length`` steps are held out:
    after each epoch the forecast NLL of the windows whose ``prediction_length``-step futures
    tile them is computed, the best parameters are kept (and written to ``checkpoint``) and
    training stops after ``patience`` epochs without improvement.

    Parameters
    ----------
    model : LocalGlobalNKF
    y, time, covariates
        The training panel, as in :meth:`LocalGlobalNKF.prepare`.
    prediction_length : int
        Future part of each window (30 for exchange_rate).
    validation_length : int, optional
        Held-out steps (default ``5 * prediction_length``, the size of the test set of the
        ``*_nips`` benchmarks, spec §5.3); 0 disables validation and early stopping.
    epochs, batches_per_epoch, batch_size : int
        GluonTS defaults 25, 50, 32.
    lr, weight_decay : float
        Adam settings (thesis: 2e-4, 1e-6).
    clip : float
        Gradient-norm clipping (GluonTS's 10).
    patience : int
        Early-stopping patience in epochs.
    checkpoint : str or Path, optional
        Where the best ``state_dict`` is saved (``torch.save``).
    seed : int
        Seeds the window sampler and torch (dropout, initial weights are the model's own).
    progress : bool
        tqdm bar over epochs.

    Returns
    -------
    FitHistory

    Notes
    -----
    The linear algebra is many tiny batched matrices (d = 8 per series): on small CPUs
    ``torch.set_num_threads(1)`` is often several times faster than the default.
    """
    prediction_length = _positive_int(prediction_length, "prediction_length")
    epochs = _positive_int(epochs, "epochs")
    batches_per_epoch = _positive_int(batches_per_epoch, "batches_per_epoch")
    batch_size = _positive_int(batch_size, "batch_size")
    patience = _positive_int(patience, "patience")
    if validation_length is None:
        validation_length = 5 * prediction_length
    if int(validation_length) != validation_length or validation_length < 0:
        raise ValueError(f"validation_length must be a non-negative integer, "
                         f"got {validation_length!r}")
    validation_length = int(validation_length)
    inputs = model.prepare(y, time, covariates)
    T = inputs.y.shape[0]
    L = model.context_length + prediction_length
    train_end = T - validation_length
    if train_end < L:
        raise ValueError(f"y has {T} steps: too short for training windows of {L} steps "
                         f"(context_length + prediction_length) plus {validation_length} "
                         "validation steps")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    val = None
    if validation_length:
        ends = np.arange(train_end + prediction_length, T + 1, prediction_length)
        val = _stack(inputs, ends - L, L) if len(ends) else None
        if val is None:
            raise ValueError(f"validation_length={validation_length} is shorter than "
                             f"prediction_length={prediction_length}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    result = FitHistory(seed=int(seed))
    best_state, bad = None, 0
    start_time = _time.perf_counter()
    bar = tqdm(range(epochs), disable=not progress, desc="fit NKF", unit="epoch")
    for epoch in bar:
        model.train()
        losses = []
        for _ in range(batches_per_epoch):
            starts = rng.integers(0, train_end - L + 1, size=batch_size)
            loss = _scaled_nll(model, *_stack(inputs, starts, L))
            if not bool(torch.isfinite(loss)):
                raise ValueError(f"non-finite training loss at epoch {epoch}: lower lr or "
                                 "use float64")
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(float(loss.detach()))
        record = {"epoch": epoch, "train_nll": float(np.mean(losses))}
        if val is not None:
            model.eval()
            with torch.no_grad():
                record["val_nll"] = float(_scaled_nll(model, *val,
                                                      split=model.context_length))
            if record["val_nll"] < result.best_val_nll:
                result.best_val_nll, result.best_epoch, bad = record["val_nll"], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
                if checkpoint is not None:
                    Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
                    torch.save(best_state, checkpoint)
            else:
                bad += 1
        result.history.append(record)
        bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k != "epoch"})
        if val is not None and bad >= patience:
            result.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    elif checkpoint is not None:
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), checkpoint)
    model.eval()
    result.seconds = _time.perf_counter() - start_time
    return result
