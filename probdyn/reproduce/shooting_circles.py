"""Concentric circles with the dynamic-with-particles UpDown model (Vialard et al. 2020, §5,
spec E3): how often does training fit the data perfectly, against the inflation alpha?

The data are ANODE's "concentric spheres" in 2-D (:func:`probdyn.data.concentric_annuli`): a
disc of radius 0.5 (class 0) inside the annulus 1 <= r <= 1.5 (class 1), as in the reference
code's run, one third of the points inside. No flow of the plane can make them linearly
separable; the UpDown flow can, through its ``alpha * 2`` extra dimensions ``v``. The model:
``x(0)`` = the point, ``v(0)`` its learned affine lift, the UpDown field driven by K = 20 shooting
particles (dynamic with particles, ReLU, RK4 step 0.1 on [0, 1]), then a linear classifier
``Linear(2, 1)`` on ``x(1)``. Loss ``CLS_WEIGHT * BCE + NORM_WEIGHT * int_0^1 R dt`` (``= H``, the
conserved Hamiltonian) with the penalty weights ``(1, 1, 1, 1, 10)``; Adam lr 5e-3 (the reference
code's) with ``CosineAnnealingLR``, full-batch steps. A run is a *success* when the trained model
classifies every training point correctly (100 % training accuracy); the success rate is over
runs, each with its own data (same law) and initialisation, the same runs for every alpha.

The weights. The paper says the effect of alpha appears only when the classification loss is
down-weighted so that the penalty dominates (otherwise every run fits) and does not give the
weights. Measured here with ``CLS_WEIGHT = 1`` (Adam is invariant to a common scale of the
loss, so only the ratio matters), seeds 0-2: on 300 points with 300 steps, ``NORM_WEIGHT = 0``
fits every run at every alpha (2 runs each; H 34-77 at the end), 0.05 fits all 3 runs at
alpha = 5 (H ~2.5), 0.3 none of them (training accuracy 0.67-0.75, H ~0.25: the penalty wins).
Inside that range, on 150 points with 250 steps (2 runs each): 0.1 and 0.15 both give 0/2 at
alpha = 5 (accuracy 0.69-0.97) and 1/2 at alpha = 20. ``NORM_WEIGHT = 0.1`` is used.

Published (paper §5, as extracted, 50 runs): **26.7 %, 8 %, 4 %**, in that order next to
alpha = 5, 10, 20. The spec (§1.8 E3) warns that this mapping is unreliable: 26.7 % is not a
multiple of 2 % (so not a fraction of 50 runs), the text and ANODE say more dimensions make the
separation *easier* (the rate should rise with alpha), and the reference code's notebook (10
initialisations, another protocol) prints alpha 5 -> 10 % and alpha 20 -> 90 %. The rows carry
the three numbers as ``published`` in the extracted order for reference only; they are not a
target.

Notes
-----
Quick run (``--quick``, seed 0: 4 runs per alpha, 150 training points, 250 full-batch steps;
262 s CPU, 17 min wall on the loaded 2-core machine), success rate / mean training accuracy /
mean test accuracy (1000 fresh points) / mean final H:

- alpha = 5: 50 % / 94.0 % / 93.7 % / 1.08 (published, as extracted: 26.7 %);
- alpha = 10: 75 % / 99.5 % / 99.5 % / 1.13 (8 %);
- alpha = 20: 75 % / 98.2 % / 97.5 % / 1.03 (4 %).

The final training BCE falls with alpha (mean 0.29, 0.21, 0.17) at about the same H: more
dimensions make the separation cheaper, the direction of ANODE and of the reference notebook,
not of the extracted mapping. Four runs per alpha cannot resolve 50 % from 75 %; the full mode
(50 runs per alpha, 300 points, 500 steps; about 150 x 70 s, ~3 h CPU, estimated from the
quick run, not run) is needed for rates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from tqdm.auto import tqdm

from ..data import concentric_annuli
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread
from ._updown import make_updown, predict

ALPHAS = (5, 10, 20)
#: paper §5 as extracted, in the order alpha = 5, 10, 20 (an unreliable mapping: see above)
PUBLISHED = {5: 26.7, 10: 8.0, 20: 4.0}
NUM_PARTICLES, STEP, T, LR = 20, 0.1, 1.0, 5e-3
CLS_WEIGHT, NORM_WEIGHT = 1.0, 0.1
INNER, OUTER = (0.0, 0.5), (1.0, 1.5)


def circle_data(num_points: int, seed: int):
    """``(x (n, 2), labels (n,))`` float32 tensors, a third of the points in the inner disc."""
    n_inner = max(1, num_points // 3)
    ds = concentric_annuli(n_inner, num_points - n_inner, inner_range=INNER, outer_range=OUTER,
                           seed=seed)
    return (torch.tensor(ds["x"].values, dtype=torch.float32),
            torch.tensor(ds["label"].values, dtype=torch.float32))


def _logits(field, head, x):
    xs, pen = predict(field, x, torch.tensor([0.0, T]), STEP)
    return head(xs[:, -1]).squeeze(-1), pen


def run_one(alpha: int, steps: int, seed: int, *, num_points: int = 300,
            num_test: int = 1000, norm_weight: float = NORM_WEIGHT,
            cls_weight: float = CLS_WEIGHT) -> dict:
    """Train one model; returns training and test accuracy, success, H and the final BCE."""
    x, y = circle_data(num_points, seed)
    xt, yt = circle_data(num_test, 10_000 + seed)
    torch.manual_seed(seed)
    field = make_updown("dynamic particles", 2, alpha, NUM_PARTICLES, T, seed=seed)
    head = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam([*field.parameters(), *head.parameters()], lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    for step in range(steps):
        opt.zero_grad()
        logits, pen = _logits(field, head, x)
        bce = F.binary_cross_entropy_with_logits(logits, y)
        loss = cls_weight * bce + norm_weight * pen
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}")
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        logits, pen = _logits(field, head, x)
        train_acc = ((logits > 0).float() == y).float().mean().item()
        test_logits, _ = _logits(field, head, xt)
        test_acc = ((test_logits > 0).float() == yt).float().mean().item()
        bce = F.binary_cross_entropy_with_logits(logits, y).item()
    return {"train_accuracy": train_acc, "test_accuracy": test_acc,
            "success": float(train_acc == 1.0), "hamiltonian": pen.item(), "train_bce": bce}


def run_circles(runs: int, steps: int, *, alphas=ALPHAS, num_points: int = 300,
                num_test: int = 1000, norm_weight: float = NORM_WEIGHT, seed: int = 0,
                progress: bool = True) -> ExperimentResult:
    """``runs`` runs (seeds ``seed * 1000 + k``, shared by every alpha) per alpha."""
    alphas = [int(a) for a in alphas]
    metrics = ("success", "train_accuracy", "test_accuracy", "hamiltonian", "train_bce")
    out = {m: np.full((len(alphas), runs), np.nan) for m in metrics}
    with tqdm(total=len(alphas) * runs, desc="shooting circles", disable=not progress) as bar:
        for a, alpha in enumerate(alphas):
            for k in range(runs):
                r = run_one(alpha, steps, seed * 1000 + k, num_points=num_points,
                            num_test=num_test, norm_weight=norm_weight)
                for m in metrics:
                    out[m][a, k] = r[m]
                bar.update(1)
    rows = []
    for a, alpha in enumerate(alphas):
        label = f"dynamic particles (alpha={alpha})"
        rows += [
            {"method": label, "metric": "success_rate_pct",
             "measured": 100 * out["success"][a].mean(), "published": PUBLISHED.get(alpha)},
            {"method": label, "metric": "train_accuracy_pct",
             "measured": 100 * out["train_accuracy"][a].mean(), "published": None},
            {"method": label, "metric": "test_accuracy_pct",
             "measured": 100 * out["test_accuracy"][a].mean(), "published": None},
            {"method": label, "metric": "hamiltonian", "measured": out["hamiltonian"][a].mean(),
             "published": None},
        ]
    ds = xr.Dataset({m: (("alpha", "run"), v) for m, v in out.items()},
                    coords={"alpha": alphas, "run": seed * 1000 + np.arange(runs)},
                    attrs={"seed": seed, "steps": steps})
    config = {"runs": runs, "steps": steps, "alphas": alphas, "num_points": num_points,
              "num_test": num_test, "inner_range": list(INNER), "outer_range": list(OUTER),
              "num_particles": NUM_PARTICLES, "activation": "relu", "rk4_step": STEP, "T": T,
              "lr": LR, "scheduler": "CosineAnnealingLR(T_max=steps)", "batch": "full",
              "loss": f"{CLS_WEIGHT} BCE + {norm_weight} int_0^T R dt",
              "penalty_weights": [1, 1, 1, 1, 10], "success": "100 % training accuracy",
              "published_caveat": "paper's 26.7 / 8 / 4 % in extraction order for alpha 5 / 10 "
                                  "/ 20; the mapping is unreliable (spec 1.8 E3), not a target"}
    return ExperimentResult(config, rows, {"shooting_circles": ds})


@register_experiment(
    "shooting-circles",
    "UpDown shooting (Vialard et al. 2020): concentric circles with 20 particles, success "
    "rate (100 % training accuracy) over runs against alpha = 5, 10, 20",
)
def run(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: 4 runs per alpha, 150 training points, 250 steps; full: 50 runs per alpha (the
    paper's count), 300 training points, 500 steps."""
    with single_thread():  # tiny networks: one thread is fastest
        if quick:
            return run_circles(4, 250, num_points=150, seed=seed)
        return run_circles(50, 500, num_points=300, seed=seed)


__all__ = ["ALPHAS", "PUBLISHED", "circle_data", "run", "run_circles", "run_one"]
