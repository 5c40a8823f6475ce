"""LEADS on Lotka-Volterra environments (thesis 3.4, Table S7 LV column).

Data (official code): the 10 training environments of
:data:`probdyn.physics.LV_TRAIN_ENVIRONMENTS`, 1 training trajectory per environment
(m = 10, n = 1 K), 32 test trajectories per environment, 20 points at dt = 0.5, initial
states U([1, 2]^2) shared across environments.

Models (4-layer MLPs of width 64 with the learnable Swish, N(0, 0.05^2) weights, RK4 on the
data grid, Adam 1e-3, scheduled sampling 0.99 every 10 iterations, one trajectory per
environment per iteration):

- ``One-For-All``: one network ``f`` for every environment;
- ``One-Per-Env.``: an independent ``g_e`` per environment;
- ``FT-RNN``: a GRU (width 64) with a one-hot environment code in its input and output
  layers (:class:`~probdyn.dynamics.EnvironmentGRU`), one residual step per data interval,
  trained as the others (scheduled sampling feeds it the data as input);
- ``FT-NODE``: ``f`` with a one-hot environment code in every linear layer;
- ``LEADS no min.``: ``f + g_e`` without the penalty;
- ``LEADS``: ``f + g_e`` with ``(1 / lambda) sum_e Omega(g_e)``, ``lambda = 5e3``,
  ``alpha = 1e-2`` (official code; the thesis text says 1e-3).

Metrics (official code): MSE over whole trajectories (t = 0 included) of free rollouts; test:
mean and standard deviation over the 32 test batches (one trajectory per environment each).

Novel environments (RQ2): the 4 environments of :data:`LV_NOVEL_ENVIRONMENTS`, one training
trajectory each; ``Pre-trained-f-Only`` (LEADS' ``f`` alone), ``One-Per-Env. (novel)`` from
scratch and ``Pre-trained-f-Plus-Trained-g`` (LEADS' ``f`` frozen, new ``g_e`` trained with the
penalty), with the same iteration budget as the adaptation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from ..dynamics import EnvironmentGRU, EnvironmentMLP, MultiEnvironmentField
from ..infer import fit_leads
from ..physics import simulate_lotka_volterra
from ._leads_common import leads_scores, leads_tables
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread

#: Table S7, LV column: (MSE train, MSE test mean, MSE test std).
PUBLISHED = {
    "One-For-All": (4.57e-1, 5.08e-1, 0.56e-1),
    "One-Per-Env.": (2.15e-5, 7.95e-3, 6.96e-3),
    "FT-RNN": (5.29e-5, 6.40e-3, 5.69e-3),
    "FT-NODE": (7.74e-5, 3.40e-3, 2.64e-3),
    "LEADS no min.": (3.28e-6, 3.07e-3, 2.58e-3),
    "LEADS": (5.74e-6, 1.16e-3, 0.99e-3),
}
METHODS = tuple(PUBLISHED)
NOVEL_METHODS = ("Pre-trained-f-Only", "One-Per-Env. (novel)", "Pre-trained-f-Plus-Trained-g")
PENALTY_WEIGHT, ALPHA = 1 / 5e3, 1e-2
HIDDEN, LAYERS, INIT_STD = 64, 3, 0.05


def _net(num_envs: int, **kw) -> EnvironmentMLP:
    return EnvironmentMLP(num_envs, 2, HIDDEN, LAYERS, init_std=INIT_STD, **kw)


def make_field(method: str,
               num_envs: int) -> tuple[MultiEnvironmentField | EnvironmentGRU, float]:
    """The field (for FT-RNN the recurrent model) of ``method`` and its penalty weight."""
    if method == "One-For-All":
        return MultiEnvironmentField(_net(1), None), 0.0
    if method in ("One-Per-Env.", "One-Per-Env. (novel)"):
        return MultiEnvironmentField(None, _net(num_envs)), 0.0
    if method == "FT-RNN":
        return EnvironmentGRU(num_envs, 2, HIDDEN), 0.0
    if method == "FT-NODE":
        return MultiEnvironmentField(_net(1, env_bias=num_envs), None), 0.0
    if method == "LEADS no min.":
        return MultiEnvironmentField(_net(1), _net(num_envs)), 0.0
    if method == "LEADS":
        return MultiEnvironmentField(_net(1), _net(num_envs)), PENALTY_WEIGHT
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def _tensor(ds: xr.Dataset, num_envs: int) -> torch.Tensor:
    values = ds["state"].values  # (E * n, T, 2), environment-major
    return torch.tensor(values.reshape(num_envs, -1, *values.shape[1:]), dtype=torch.float32)


def run_leads_lv(iterations: int, seeds: int, adapt_iterations: int, *, num_test: int = 32,
                 seed: int = 0, progress: bool = True) -> ExperimentResult:
    """Every method of Table S7 (LV) over ``seeds`` initialisations, then the novel
    environments with ``adapt_iterations``."""
    train = simulate_lotka_volterra("train", 1, progress=False)
    test = simulate_lotka_volterra("train", num_test, split="test", progress=False)
    novel_train = simulate_lotka_volterra("novel", 1, progress=False)
    novel_test = simulate_lotka_volterra("novel", num_test, split="test", progress=False)
    t = torch.tensor(train["time"].values, dtype=torch.float32)
    E, E_novel = train.sizes["environment"], novel_train.sizes["environment"]
    y, y_test = _tensor(train, E), _tensor(test, E)
    y_novel, y_novel_test = _tensor(novel_train, E_novel), _tensor(novel_test, E_novel)
    scores = {m: [] for m in METHODS + NOVEL_METHODS}
    seconds = {m: [] for m in METHODS + NOVEL_METHODS}
    bar = tqdm(total=seeds * (len(METHODS) + 2), desc="leads-lv", disable=not progress)
    for k in range(seeds):
        s = seed * 100 + k
        leads_field = None
        for method in METHODS:
            torch.manual_seed(s)
            field, weight = make_field(method, E)
            t0 = time.perf_counter()
            fit_leads(field, y, t, iterations=iterations, penalty_weight=weight, alpha=ALPHA,
                      seed=s, progress=False)
            seconds[method].append(time.perf_counter() - t0)
            scores[method].append(leads_scores(field, y, y_test, t))
            if method == "LEADS":
                leads_field = field
            bar.update(1)
        # novel environments: LEADS' shared f, alone or frozen plus new g_e
        shared = leads_field.shared.requires_grad_(False)
        scores["Pre-trained-f-Only"].append(leads_scores(MultiEnvironmentField(shared, None),
                                                    y_novel, y_novel_test, t))
        seconds["Pre-trained-f-Only"].append(0.0)
        for method, field in (
                ("One-Per-Env. (novel)", make_field("One-Per-Env. (novel)", E_novel)[0]),
                ("Pre-trained-f-Plus-Trained-g", MultiEnvironmentField(shared, _net(E_novel)))):
            torch.manual_seed(s)
            weight = PENALTY_WEIGHT if field.shared is not None else 0.0
            t0 = time.perf_counter()
            fit_leads(field, y_novel, t, iterations=adapt_iterations, penalty_weight=weight,
                      alpha=ALPHA, seed=s, progress=False)
            seconds[method].append(time.perf_counter() - t0)
            scores[method].append(leads_scores(field, y_novel, y_novel_test, t))
            bar.update(1)
    bar.close()
    rows, datasets = leads_tables(scores, seconds, PUBLISHED, "leads_lv", {
        "seed": seed, "iterations": iterations, "adapt_iterations": adapt_iterations})
    settings = {
        "iterations": iterations, "adapt_iterations": adapt_iterations, "seeds": seeds,
        "num_test": num_test, "environments": E, "novel_environments": E_novel,
        "train_trajectories_per_env": 1, "lambda": 1 / PENALTY_WEIGHT, "alpha": ALPHA,
        "network": f"MLP 2-{HIDDEN}-{HIDDEN}-{HIDDEN}-2, Swish, N(0, {INIT_STD}^2) init",
        "optimizer": "Adam lr 1e-3 betas (0.9, 0.999)", "solver": "rk4 on the data grid",
        "scheduled_sampling": "0.99 ** (iteration // 10)",
        "official_iterations": 120000,
        "mean_train_seconds": {m: float(np.mean(v)) for m, v in seconds.items()},
        "published_source": "thesis Table S7 (LV); no published numbers for the novel rows",
    }
    return ExperimentResult(settings, rows, datasets)


@register_experiment(
    "leads-lv",
    "LEADS vs One-For-All, One-Per-Env., FT-RNN, FT-NODE and LEADS no min. on 10 "
    "Lotka-Volterra environments (thesis Table S7), plus adaptation to novel environments",
)
def run(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: 1 seed, 1500 iterations (adaptation 500); full: 3 seeds, 20000 iterations
    (adaptation 5000). The official code runs 120000."""
    with single_thread():  # tiny MLPs: one thread is fastest
        if quick:
            return run_leads_lv(1500, 1, 500, seed=seed)
        return run_leads_lv(20000, 3, 5000, seed=seed)


__all__ = ["METHODS", "NOVEL_METHODS", "PUBLISHED", "make_field", "run", "run_leads_lv"]
