"""The least-action principle on the 2-D concentric-circles toy (thesis ch. 4.2, LAP-Net).

A residual network ``x_{k+1} = x_k + v_k(x_k)`` (blocks: 2 FC layers, optional batch norm,
ReLU) transports the points of two concentric circles so that a FIXED random linear classifier
separates them. Three trainings are compared on the same data and initialisation:

- ``ResNet``: cross-entropy only;
- ``fixed lambda``: cross-entropy + ``lambda * C`` (the thesis's "Regularized ResNet"; its
  lambda read as the weight of C, per row 0.005 / 0.09 / 0.04 / 0.04 in table order);
- ``LAP``: Algorithm 4, the Uzawa multiplier with the thesis's toy values ``lambda0 = 0.1,
  tau = 0.1, s = 5``;

where ``C = mean_x sum_k ||x_{k+1} - x_k||^2`` is the transport cost (S17). Each runs without
and with batch norm, over independent instances (new data, initialisation and classifier per
seed). Reported per cell: the highest test accuracy over training (the thesis's metric) with a
95 % interval over instances, and the test transport cost of the kept parameters. An ODE
transport (``MLPField`` integrated on [0, 1] by RK4, cost = kinetic energy) is run too, plain
and under LAP.

Data and choices the thesis leaves open (ours): 1000 points of
:func:`probdyn.data.concentric_circles` with ``noise = 0.2, factor = 0.5`` (scikit-learn's
classifier-comparison setting), 80/20 split; the "50 points" row trains on 50 points and is
tested on 200 fresh ones; 16 hidden units; Adam, lr 1e-2, batch 64, a budget of
``steps`` optimiser steps; the fixed classifier is a random ``nn.Linear(2, 2)``, frozen.
The rows "100 blocks" and "N(0, 5) init" of the thesis table are not run.

Published (thesis appendix, 100 instances, test accuracy %, no BN / BN): see ``PUBLISHED``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from ..data import concentric_circles
from ..dynamics import MLPField, ResidualTransport
from ..infer import (
    FixedPenalty,
    LeastActionMultiplier,
    evaluate_transport_classifier,
    fit_transport_classifier,
)
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread

#: Thesis appendix table (2-D circles, 100 instances): accuracy % as (no BN, BN).
PUBLISHED = {
    ("1 block", "ResNet"): (76.6, 75.4),
    ("1 block", "fixed lambda"): (76.5, 75.6),
    ("1 block", "LAP"): (82.1, 84.6),
    ("50 points", "ResNet"): (88.2, 92.9),
    ("50 points", "fixed lambda"): (93.5, 94.4),
    ("50 points", "LAP"): (95.8, 96.0),
}
#: Setting -> (num_blocks, training points, fixed-lambda weight).
SETTINGS = {"9 blocks": (9, 800, 0.04), "1 block": (1, 800, 0.005),
            "50 points": (9, 50, 0.04)}
METHODS = ("ResNet", "fixed lambda", "LAP")
LAP_CONSTANTS = (0.1, 0.1, 5)  # lambda0, tau, s of the thesis's 2-D toy
NOISE, FACTOR, HIDDEN, LR, BATCH = 0.2, 0.5, 16, 1e-2, 64
ODE_STEPS = 10


def _regulariser(method: str, weight: float):
    if method == "ResNet":
        return None
    if method == "fixed lambda":
        return FixedPenalty(weight)
    return LeastActionMultiplier(*LAP_CONSTANTS)


def _instance(num_train: int, seed: int):
    """Training and test tensors of one instance (test: 200 points)."""
    ds = concentric_circles(num_train + 200, noise=NOISE, factor=FACTOR, seed=seed)
    x = torch.tensor(ds["x"].values, dtype=torch.float32)
    labels = torch.tensor(ds["label"].values)
    return x[:num_train], labels[:num_train], x[num_train:], labels[num_train:]


def run_one(transport, num_train: int, method: str, weight: float, steps: int, seed: int):
    """Train one instance; return (best test accuracy, test transport cost)."""
    xtr, ytr, xte, yte = _instance(num_train, seed)
    torch.manual_seed(10_000 + seed)
    head = torch.nn.Linear(2, 2)
    head.requires_grad_(False)
    epochs = max(1, math.ceil(steps / math.ceil(num_train / BATCH)))
    kw = {"num_steps": ODE_STEPS} if not isinstance(transport, ResidualTransport) else {}
    fit_transport_classifier(transport, head, xtr, ytr, least_action=_regulariser(method, weight),
                             epochs=epochs, batch_size=BATCH, lr=LR, x_val=xte, labels_val=yte,
                             seed=seed, progress=False, **kw)
    ev = evaluate_transport_classifier(transport, head, xte, yte, **kw)
    return ev["accuracy"], ev["cost"]


def _ci95(values: np.ndarray) -> float:
    return float(1.96 * values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def run_circles(seeds: int, steps: int, settings=tuple(SETTINGS), *, ode: bool = True,
                seed: int = 0, progress: bool = True) -> ExperimentResult:
    """The grid ``settings x METHODS x (no BN, BN)`` over ``seeds`` instances."""
    cells = [(s, m, bn) for s in settings for m in METHODS for bn in (False, True)]
    if ode:
        cells += [("ODE", m, False) for m in ("ResNet", "LAP")]
    acc = np.zeros((len(cells), seeds))
    cost = np.zeros((len(cells), seeds))
    with tqdm(total=len(cells) * seeds, desc="least-action circles", disable=not progress) as bar:
        for i, (setting, method, bn) in enumerate(cells):
            blocks, num_train, weight = SETTINGS.get(setting, (None, 800, 0.04))
            for k in range(seeds):
                instance = seed * 1000 + k
                torch.manual_seed(instance)
                transport = (MLPField(2, hidden=HIDDEN) if setting == "ODE" else
                             ResidualTransport(2, blocks, HIDDEN, batch_norm=bn))
                acc[i, k], cost[i, k] = run_one(transport, num_train, method, weight, steps,
                                                instance)
                bar.update(1)
    rows = []
    for i, (setting, method, bn) in enumerate(cells):
        label = f"{method} ({setting}, {'BN' if bn else 'no BN'})"
        pub = PUBLISHED.get((setting, method))
        rows += [
            {"method": label, "metric": "test_accuracy_pct", "measured": 100 * acc[i].mean(),
             "published": None if pub is None else pub[int(bn)]},
            {"method": label, "metric": "test_accuracy_ci95_pct", "measured": 100 * _ci95(acc[i]),
             "published": None},
            {"method": label, "metric": "transport_cost", "measured": float(cost[i].mean()),
             "published": None},
        ]
    coords = {"cell": [f"{s} | {m} | {'BN' if b else 'no BN'}" for s, m, b in cells],
              "instance": np.arange(seeds)}
    ds = xr.Dataset({"test_accuracy": (("cell", "instance"), acc),
                     "transport_cost": (("cell", "instance"), cost)}, coords=coords,
                    attrs={"seed": seed, "steps": steps})
    config = {"seeds": seeds, "steps": steps, "settings": list(settings), "ode": ode,
              "noise": NOISE, "factor": FACTOR, "hidden": HIDDEN, "lr": LR, "batch": BATCH,
              "lap_lambda0_tau_s": list(LAP_CONSTANTS),
              "fixed_lambda": {s: SETTINGS[s][2] for s in settings},
              "ode_transport": f"MLPField(2, hidden={HIDDEN}), rk4, {ODE_STEPS} steps on [0, 1]",
              "metric": "highest test accuracy during training (thesis); cost at that epoch",
              "published_source": "thesis ch. 4.2 appendix, 2-D circles table (100 instances)"}
    return ExperimentResult(config, rows, {"least_action_circles": ds})


@register_experiment(
    "least-action-circles",
    "Least-action ResNets (LAP-Net, Uzawa multiplier) vs plain and fixed-lambda ResNets on "
    "the 2-D concentric circles: test accuracy and transport cost",
)
def run(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: 2 instances, 400 steps, settings 9 blocks and 50 points; full: 10 instances,
    1500 steps, all settings."""
    with single_thread():  # tiny MLPs: one thread is fastest
        if quick:
            return run_circles(2, 400, ("9 blocks", "50 points"), seed=seed)
        return run_circles(10, 1500, seed=seed)


__all__ = ["PUBLISHED", "run", "run_circles", "run_one"]
