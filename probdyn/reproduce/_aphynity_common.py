"""What the APHYNITY reproductions (pendulum, reaction-diffusion, wave) share: training one
model of Table S6, predicting the test split, and the rows of the table."""

from __future__ import annotations

import math

import torch

from ..dynamics import HybridField, solve
from ..infer import fit_aphynity

#: the rows' metric names, by the base of the published "log MSE" (spec C.3)
LOG_METRICS = {"e": "ln_mse", "10": "log10_mse"}


def train(field: HybridField, y: torch.Tensor, t: torch.Tensor, *, naive: bool = False,
          **fit) -> dict:
    """Fit ``field`` in place by :func:`~probdyn.infer.fit_aphynity` (``naive``: plain
    trajectory MSE, the Neural ODE and the physics-only rows); returns its history."""
    res = fit_aphynity(field, y, t, naive=naive, **fit)
    return {"final_lambda": res.final_lambda, "final_traj_mse": res.epoch_losses[-1],
            "final_Fa_norm2": res.norms[-1]}


def predict(field: torch.nn.Module, y: torch.Tensor, t: torch.Tensor,
            batch_size: int | None = None) -> torch.Tensor:
    """RK4 solutions from ``y[:, 0]`` on the grid ``t``, shape of ``y``.

    Solved in chunks of ``batch_size`` trajectories: the training batch size, so that a
    batch-normalised ConvNet sees batches of the size it was trained on.
    """
    step = y.shape[0] if batch_size is None else batch_size
    with torch.no_grad():
        return torch.cat([solve(field, y[i:i + step, 0], t, method="rk4")
                          for i in range(0, y.shape[0], step)])


def augmentation_norm(field: HybridField, y: torch.Tensor,
                      batch_size: int | None = None) -> float | None:
    """Mean ``||F_a||^2`` (``"l2"``) on the training states, by chunks of trajectories as in
    training; ``None`` without an augmentation."""
    if field.augmentation is None:
        return None
    step = y.shape[0] if batch_size is None else batch_size
    with torch.no_grad():
        parts = [float(field.augmentation_norm(y[i:i + step])) * len(y[i:i + step])
                 for i in range(0, y.shape[0], step)]
    return sum(parts) / y.shape[0]


def method_rows(name: str, pred: torch.Tensor, y_test: torch.Tensor, published: tuple, *,
                log_base: str, errors: dict | None = None, fa: float | None = None) -> list:
    """The Table S6 rows of one method.

    ``published`` is ``(log MSE, %Err param., ||F_a||^2)`` (``None`` where the table has
    n/a); the log MSE is over the predicted steps (``t > 0``), given in both bases with
    ``published`` on ``LOG_METRICS[log_base]``. ``errors`` maps a parameter name to its
    relative error in %: one ``pct_err_<name>`` row each and their mean as
    ``pct_err_param`` (the table's column). ``fa`` is the ``Fa_norm2`` row.
    """
    mse = float(((pred[:, 1:] - y_test[:, 1:]) ** 2).mean())
    if not math.isfinite(mse):
        raise RuntimeError(f"{name}: test MSE is not finite")
    pub_mse, pub_err, pub_fa = published
    rows = [{"method": name, "metric": metric, "measured": fn(mse),
             "published": pub_mse if LOG_METRICS[log_base] == metric else None}
            for metric, fn in (("ln_mse", math.log), ("log10_mse", math.log10))]
    if errors:
        rows += [{"method": name, "metric": f"pct_err_{p}", "measured": e, "published": None}
                 for p, e in errors.items()]
        rows.append({"method": name, "metric": "pct_err_param",
                     "measured": sum(errors.values()) / len(errors), "published": pub_err})
    if fa is not None:
        rows.append({"method": name, "metric": "Fa_norm2", "measured": fa, "published": pub_fa})
    return rows


def pct_errors(estimates: dict, truth: dict) -> dict:
    """``100 |hat - true| / true`` for every parameter in ``estimates``."""
    return {p: 100 * abs(float(v) - truth[p]) / truth[p] for p, v in estimates.items()}
