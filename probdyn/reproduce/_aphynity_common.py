"""What the APHYNITY reproductions (pendulum, reaction-diffusion, wave) share: training one
model of Table S6, predicting the test split, and the rows of the table."""

from __future__ import annotations

import math

import torch

from ..dynamics import HybridField, solve
from ..infer import fit_aphynity
from ..io import trajectories_to_dataset

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


def fixed(physical: torch.nn.Module) -> torch.nn.Module:
    """``physical`` with its parameters frozen: the "APHYNITY True PDE/ODE" rows train only
    the augmentation on top of the true physics."""
    return physical.requires_grad_(False)


def pct_errors(estimates: dict, truth: dict) -> dict:
    """``100 |hat - true| / true`` for every parameter in ``estimates``."""
    return {p: 100 * abs(float(v) - truth[p]) / truth[p] for p, v in estimates.items()}


def grid_table(models: dict, truth: HybridField, y: torch.Tensor, y_test: torch.Tensor,
               t: torch.Tensor, *, physics: type, rows_fn, channels: tuple,
               train_steps: int | None,
               batch_size: int, lr_physics: float | None, seed: int, **fit) -> tuple:
    """Train and score the methods of a PDE table (reaction-diffusion, wave).

    ``models`` maps a method name to ``(field, naive)``; each is trained on the first
    ``train_steps`` steps of ``y`` (default all), the parameters of its ``physics`` part (a
    physical model class) at ``lr_physics`` (default ``fit["lr"]``), then solved on the
    whole test windows ``y_test``, as is the untrained ``truth`` ("True PDE").
    ``rows_fn(name, field, pred, fa)`` gives each method's table rows (``fa``:
    ``||F_a||^2`` on the training states of APHYNITY rows, else None).

    Returns ``(rows, history, dataset, train_steps, batch_size)``, the dataset holding the
    first test sequence and every method's prediction of it (the output stays small).
    """
    steps = len(t) - 1 if train_steps is None else train_steps
    if not 1 <= steps <= len(t) - 1:
        raise ValueError(f"train_steps must be in [1, {len(t) - 1}], got {train_steps!r}")
    y_fit, t_fit = y[:, :steps + 1], t[:steps + 1]
    batch = min(batch_size, y.shape[0])
    rows, predictions, history = [], {}, {}
    for name, (field, naive) in {**models, "True PDE": (truth, None)}.items():
        if naive is not None:
            parametric = isinstance(field.physical, physics)
            history[name] = train(field, y_fit, t_fit, naive=naive, batch_size=batch,
                                  seed=seed, lr_physics=lr_physics if parametric else None,
                                  **fit)
        pred = predict(field, y_test, t, batch)
        predictions[name] = pred.numpy()
        fa = augmentation_norm(field, y_fit, batch) if "APHYNITY" in name else None
        rows += rows_fn(name, field, pred, fa)
    ds = trajectories_to_dataset(y_test[:1].numpy(), t.numpy(), channels, name="observation",
                                 attrs={"split": "test", "seed": seed})
    for i, (name, pred) in enumerate(predictions.items()):
        ds[f"prediction_{i}"] = (ds["observation"].dims, pred[:1], {"method": name})
    return rows, history, ds, steps, batch
