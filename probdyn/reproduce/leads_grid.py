"""LEADS on Gray-Scott and Navier-Stokes environments (thesis 3.4, Table S7 GS and NS
columns): ``probdyn reproduce leads-gs`` and ``leads-ns``.

Data (thesis D.2, :func:`~probdyn.physics.simulate_gray_scott`,
:func:`~probdyn.physics.simulate_navier_stokes`), initial states shared across environments:

- GS: 3 environments ``(F, k)``, 2 x 32 x 32 states, 11 frames at dt = 40 (K = 10), 1
  training trajectory per environment (m = 3, n = 1 K), 32 test trajectories per environment.
- NS: 4 forcings, vorticity 32 x 32, 11 frames at dt = 1, 8 training trajectories per
  environment (m = 4, n = 8 K), 32 test trajectories per environment.

Models (official code): ``f`` and each ``g_e`` are

- GS: a 4-layer 3 x 3 ConvNet (circular padding, 64 hidden channels, learnable Swish),
  output multiplied by 1e-3, N(0, 0.1^2) weights and zero biases; RK4, one step per frame;
- NS: an FNO (4 Fourier layers, 6 x 6 modes, width 10, coordinate channels, projection
  10 -> 128 -> 1, learnable Swish), N(0, 0.1^2) weights of the linear maps; Euler, one step
  per frame.

Adam 1e-3, scheduled sampling 0.99 every 10 iterations; batches of 1 (GS) and 2 (NS)
trajectories per environment. Methods: ``One-For-All`` (``f`` only), ``One-Per-Env.``
(``g_e`` only), ``FT-NODE`` (``f`` with a one-hot environment code in every linear and
convolution layer: a learned per-environment bias of each layer,
:class:`~probdyn.dynamics.EnvironmentNet` with ``env_bias``), ``LEADS no min.``
(``f + g_e``, no penalty) and ``LEADS`` (with
``(1 / lambda) sum_e Omega(g_e)``). The penalty weights follow the official code
(``train_leads.py``), which produced the published numbers, as ``leads-lv`` does: GS
``1 / lambda = 1e-3`` (thesis text: 1e-2) and ``alpha = 1e-2``; NS ``1 / lambda = 1e-5`` and
``alpha = 1e-4`` (thesis text: 1e-5). FT-RNN (a PredRNN) is not run.

Metrics: MSE of free rollouts over whole trajectories (t = 0 included), channels and grid
points; test: mean and standard deviation over test batches of one trajectory per
environment. The ``x_t = x_0 (reference)`` row scores the constant prediction, to show how
much of the dynamics a model has learnt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..dynamics import ConvField, EnvironmentNet, FNOField, MultiEnvironmentField, Swish
from ..infer import fit_leads
from ..physics import simulate_gray_scott, simulate_navier_stokes
from ._leads_common import leads_scores, leads_tables
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread

#: Table S7: (MSE train, MSE test mean, MSE test std) per method.
PUBLISHED = {
    "gs": {"One-For-All": (1.55e-2, 1.43e-2, 0.15e-2),
           "One-Per-Env.": (8.48e-5, 6.43e-3, 3.42e-3),
           "FT-NODE": (3.51e-5, 3.86e-3, 3.36e-3),
           "LEADS no min.": (7.65e-5, 5.53e-3, 3.43e-3),
           "LEADS": (5.75e-5, 2.08e-3, 2.88e-3)},
    "ns": {"One-For-All": (5.17e-2, 7.31e-2, 5.29e-2),
           "One-Per-Env.": (5.60e-6, 1.10e-2, 0.72e-2),
           "FT-NODE": (1.80e-4, 2.96e-2, 1.99e-2),
           "LEADS no min.": (3.20e-4, 7.10e-3, 4.24e-3),
           "LEADS": (1.03e-4, 5.95e-3, 3.65e-3)},
}
METHODS = ("One-For-All", "One-Per-Env.", "FT-NODE", "LEADS no min.", "LEADS")
REFERENCE = "x_t = x_0 (reference)"
TEST_SEED = 2**31 - 1  # test initial states: a seed far from the training ones


@dataclass(frozen=True)
class GridProblem:
    """One LEADS grid benchmark: its simulator, network and official training constants."""

    name: str
    simulate: object
    train_per_env: int
    batch_size: int
    solver: str
    penalty_weight: float
    alpha: float
    init_std: float = 0.1
    output_scale: float = 1.0

    def network(self, size: int):
        """``make()`` of one network; ``size`` is the ConvNet's hidden channels (official
        64) or the FNO's width (official 10)."""
        if self.name == "gs":
            return lambda: ConvField(2, hidden=size, layers=3, padding="periodic",
                                     activation=Swish)
        return lambda: FNOField(1, width=size, modes=6, layers=4, hidden=128,
                                activation=Swish, coordinates=True)


PROBLEMS = {
    "gs": GridProblem("gs", simulate_gray_scott, train_per_env=1, batch_size=1, solver="rk4",
                      penalty_weight=1e-3, alpha=1e-2, output_scale=1e-3),
    "ns": GridProblem("ns", simulate_navier_stokes, train_per_env=8, batch_size=2,
                      solver="euler", penalty_weight=1e-5, alpha=1e-4),
}


def make_field(problem: GridProblem, method: str, num_envs: int,
               size: int) -> tuple[MultiEnvironmentField, float]:
    """The field of ``method`` and its penalty weight."""
    make = problem.network(size)

    def net(envs, env_bias=None):
        return EnvironmentNet(envs, make, init_std=problem.init_std,
                              output_scale=problem.output_scale, env_bias=env_bias)

    if method == "One-For-All":
        return MultiEnvironmentField(net(1), None), 0.0
    if method == "One-Per-Env.":
        return MultiEnvironmentField(None, net(num_envs)), 0.0
    if method == "FT-NODE":
        return MultiEnvironmentField(net(1, env_bias=num_envs), None), 0.0
    if method == "LEADS no min.":
        return MultiEnvironmentField(net(1), net(num_envs)), 0.0
    if method == "LEADS":
        return MultiEnvironmentField(net(1), net(num_envs)), problem.penalty_weight
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def _states(ds) -> torch.Tensor:
    return torch.tensor(ds["state"].values, dtype=torch.float32)  # (E, n, T, C, ny, nx)


def run_leads_grid(name: str, iterations: int, *, size: int, train_per_env: int | None = None,
                   num_test: int = 32, seeds: int = 1, seed: int = 0,
                   progress: bool = True) -> ExperimentResult:
    """Every method of Table S7 on ``name`` (``"gs"`` or ``"ns"``) for ``iterations`` Adam
    steps over ``seeds`` initialisations; ``size`` is the hidden channels (GS) or the FNO
    width (NS), ``train_per_env`` defaults to the spec's (GS 1, NS 8)."""
    if name not in PROBLEMS:
        raise ValueError(f"name must be one of {sorted(PROBLEMS)}, got {name!r}")
    problem = PROBLEMS[name]
    n_train = problem.train_per_env if train_per_env is None else int(train_per_env)
    y = _states(problem.simulate(n_train, seed=seed, progress=False))
    y_test = _states(problem.simulate(num_test, seed=TEST_SEED - seed, progress=False))
    t = torch.linspace(0.0, 400.0 if name == "gs" else 10.0, y.shape[2])
    E = y.shape[0]
    published = PUBLISHED[name]
    scores = {m: [] for m in METHODS + (REFERENCE,)}
    seconds = {m: [] for m in scores}
    constant = {"train": float(((y - y[:, :, :1]) ** 2).mean()),
                "test": float(np.mean([((y_test[:, j] - y_test[:, j, :1]) ** 2).mean()
                                       for j in range(y_test.shape[1])])),
                "test_std": float(np.std([((y_test[:, j] - y_test[:, j, :1]) ** 2).mean()
                                          for j in range(y_test.shape[1])]))}
    bar = tqdm(total=seeds * len(METHODS), desc=f"leads-{name}", disable=not progress)
    for k in range(seeds):
        s = seed * 100 + k
        for method in METHODS:
            torch.manual_seed(s)
            field, weight = make_field(problem, method, E, size)
            t0 = time.process_time()
            fit_leads(field, y, t, iterations=iterations, penalty_weight=weight,
                      alpha=problem.alpha, batch_size=problem.batch_size,
                      method=problem.solver, seed=s, progress=False)
            seconds[method].append(time.process_time() - t0)
            scores[method].append(leads_scores(field, y, y_test, t, problem.solver))
            bar.update(1)
        scores[REFERENCE].append(constant)
        seconds[REFERENCE].append(0.0)
    bar.close()
    rows, datasets = leads_tables(scores, seconds, published, f"leads_{name}",
                                  {"seed": seed, "iterations": iterations, "size": size})
    network = (f"ConvNet 2-{size}-{size}-{size}-2 (3x3, circular), Swish, output x 1e-3"
               if name == "gs" else
               f"FNO2d modes 6, width {size}, coordinates, 4 Fourier layers, fc {size}-128-1")
    settings = {
        "iterations": iterations, "seeds": seeds, "environments": E,
        "train_trajectories_per_env": n_train, "num_test": num_test,
        "lambda": round(1 / problem.penalty_weight), "alpha": problem.alpha,
        "network": f"{network}, N(0, {problem.init_std}^2) init",
        "optimizer": "Adam lr 1e-3 betas (0.9, 0.999)",
        "solver": f"{problem.solver}, one step per frame",
        "batch_per_env": problem.batch_size,
        "scheduled_sampling": "0.99 ** (iteration // 10)",
        "official_iterations": 120000,
        "mean_train_cpu_seconds": {m: float(np.mean(v)) for m, v in seconds.items()},
        "published_source": f"thesis Table S7 ({name.upper()})",
    }
    return ExperimentResult(settings, rows, datasets)


@register_experiment(
    "leads-gs",
    "LEADS vs One-For-All, One-Per-Env., FT-NODE and LEADS no min. on 3 Gray-Scott "
    "environments "
    "(thesis Table S7, GS)",
)
def run_gs(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: hidden 16, 150 iterations, 4 test trajectories per environment (~5.5 min CPU);
    full: the official ConvNet (hidden 64), 10000 iterations, 32 test trajectories (about
    2.5 CPU seconds per LEADS iteration: ~1 CPU day). The official code runs 120000."""
    with single_thread():
        if quick:
            return run_leads_grid("gs", 150, size=16, num_test=4, seed=seed)
        return run_leads_grid("gs", 10000, size=64, seed=seed)


@register_experiment(
    "leads-ns",
    "LEADS vs One-For-All, One-Per-Env., FT-NODE and LEADS no min. on 4 Navier-Stokes "
    "forcings "
    "(thesis Table S7, NS)",
)
def run_ns(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: the official FNO, 2 training trajectories per environment, 150 iterations,
    4 test trajectories; full: 8 training trajectories, 10000 iterations, 32 test
    trajectories (about 3.3 CPU seconds per iteration of the four methods: ~9 CPU hours).
    The official code runs 120000."""
    with single_thread():
        if quick:
            return run_leads_grid("ns", 150, size=10, train_per_env=2, num_test=4, seed=seed)
        return run_leads_grid("ns", 10000, size=10, seed=seed)


__all__ = ["METHODS", "PROBLEMS", "PUBLISHED", "REFERENCE", "GridProblem", "make_field",
           "run_gs", "run_leads_grid", "run_ns"]
