"""The spiral ``x' = A x^3`` learned from short snippets by the four UpDown variants (Vialard et
al. 2020, §5 / App. F, spec E2).

The true trajectory: ``A = [[-0.1, 2], [-2, -0.1]]``, ``x(0) = (2, 0)``, 200 uniform times on
``[0, 10]`` (:func:`probdyn.physics.simulate_cubic_spiral`, the paper's column orientation).
A training sample is a snippet of ``L = 5`` consecutive intervals (``0.251`` time units, the
paper's "about 0.25"), its start drawn along the trace of the spiral (probability proportional
to the arc length of the interval it starts on, not uniform in time). Each epoch draws 100 new
snippets (one batch of 100); the UpDown model maps a snippet's first point through ``[0, L dt]``
and the loss is ``100 MSE`` over all the snippet's points ``+ 0.01 int_0^{L dt} R dt``; RK4 with
the data spacing as step (the paper: 0.05; the spacing is 0.0503), Adam lr 0.01 with
``ReduceLROnPlateau(factor=0.5)`` on the objective of 100 fixed validation snippets evaluated
every 10 epochs (the paper does not say what the scheduler watches), K = 15 particles, ReLU.

Reported per (variant, alpha), mean over seeds: the short-range MSE on 1000 fixed snippets, the
long-range MSE of the whole trajectory rebuilt by pasting snippet-length solutions (each starts
where the previous one ended, the paper's long-range validation), the log2 Frobenius complexity
on ``[0, L dt]`` and the parameter count. Paper Fig. 3 (losses, complexity) is not in the text,
so every ``published`` is None; its claim: similar or better fits than the direct variants for a
similar parameter count, the lowest complexity, and a successful long-range prediction.

Notes
-----
Measured in the quick run (alpha = 16, 2 seeds, 1000 epochs; 333 s CPU), short-range MSE /
long-range median MSE / log2 complexity: dynamic particles 2.4e-3 / 1.08 / 1.85, static
particles 3.9e-3 / diverged / 1.92, static direct 3.6e-3 / diverged / 1.69, dynamic direct
2.8e-3 / 0.48 / 1.48 (the long-range paste of the two static variants left the spiral in both
seeds). So the particle model with dynamics has the best short-range fit with the fewest
parameters (1116 against 1282 and 6026), and with dynamic direct it is the one whose paste stays
on the spiral; its complexity is **not** the lowest (dynamic direct's is). The tutorial
``tutorials/shooting_spiral.ipynb`` (one seed, 1500 epochs) shows the same ordering. The full
mode has not been run.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from ..physics import simulate_cubic_spiral
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread
from ._updown import VARIANTS, complexity, make_updown, num_parameters, particle_parameters, predict

SNIPPET, BATCH, LR, EVAL_EVERY = 5, 100, 0.01, 10
BOX = 20.0  # |x| beyond which a pasted long-range prediction counts as diverged
MSE_WEIGHT, NORM_WEIGHT = 100.0, 0.01


@functools.lru_cache(maxsize=1)
def _spiral_arrays():
    ds = simulate_cubic_spiral()  # a few seconds at rtol 1e-12: solved once per process
    return ds["time"].values, ds["state"].values[0]


def spiral_data():
    """``(t, trajectory)``: float32 tensors of shapes ``(200,)`` and ``(200, 2)`` (new tensors
    on every call)."""
    t, x = _spiral_arrays()
    return torch.tensor(t, dtype=torch.float32), torch.tensor(x, dtype=torch.float32)


def snippet_starts(traj: torch.Tensor, n: int, generator: torch.Generator,
                   length: int = SNIPPET) -> torch.Tensor:
    """``n`` snippet start indices drawn uniformly along the trace (arc-length weights)."""
    seg = (traj[1:] - traj[:-1]).norm(dim=-1)[: len(traj) - length]
    return torch.multinomial(seg / seg.sum(), n, replacement=True, generator=generator)


def snippets(traj: torch.Tensor, starts: torch.Tensor, length: int = SNIPPET) -> torch.Tensor:
    """``(n, length + 1, 2)``: the points of each snippet."""
    return traj[starts[:, None] + torch.arange(length + 1)]


def long_range(field, traj: torch.Tensor, t_snip: torch.Tensor, step: float) -> torch.Tensor:
    """The trajectory rebuilt from ``traj[0]`` by pasting snippet solutions: ``(len(traj), 2)``.

    A paste that leaves the box ``|x| <= BOX`` (ten times the spiral's radius, 2) is diverging (the
    learned maps grow like the cubic outside the data): it is stopped there and the remaining
    points are set to its last point, clipped to the box, so the error stays finite."""
    out, x, n = [traj[:1]], traj[:1], len(traj) - 1
    length = len(t_snip) - 1
    for start in range(0, n, length):
        m = min(length, n - start)
        xs, _ = predict(field, x, t_snip[:m + 1], step)
        out.append(xs[0, 1:])
        x = xs[:, -1]
        if not bool(torch.isfinite(x).all()) or float(x.abs().max()) > BOX:
            last = torch.nan_to_num(x, nan=BOX, posinf=BOX, neginf=-BOX).clamp(-BOX, BOX)
            out.append(last.expand(n - start - m, 2))
            break
    return torch.cat(out).clamp(-BOX, BOX)


def fit_spiral(field, traj, t_snip, step: float, epochs: int, *, seed: int = 0) -> list:
    """Train one model on fresh snippets each epoch; returns the training MSE per epoch."""
    opt = torch.optim.Adam(field.parameters(), lr=LR)
    # stepped on a fixed validation set every EVAL_EVERY epochs: on the per-batch loss (fresh
    # snippets each epoch, noisy) the scheduler halves the rate every ~10 epochs and training
    # freezes by epoch 250 (measured: short-range MSE stuck at 9.4e-3 against 1.9e-3 at 1000
    # epochs without it)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5)
    g = torch.Generator().manual_seed(int(seed))
    y_val = snippets(traj, snippet_starts(traj, BATCH, torch.Generator().manual_seed(
        20_000 + int(seed))))
    freeze = max(1, epochs // 10)  # particle positions frozen first (paper E1, "as E1")
    history = []
    for epoch in range(epochs):
        for p in particle_parameters(field):
            p.requires_grad_(epoch >= freeze)
        y = snippets(traj, snippet_starts(traj, BATCH, g))
        opt.zero_grad()
        xs, pen = predict(field, y[:, 0], t_snip, step)
        mse = ((xs - y) ** 2).mean()
        loss = MSE_WEIGHT * mse + NORM_WEIGHT * pen
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch}")
        loss.backward()
        opt.step()
        if (epoch + 1) % EVAL_EVERY == 0:
            with torch.no_grad():
                xs, pen = predict(field, y_val[:, 0], t_snip, step)
                val = MSE_WEIGHT * ((xs - y_val) ** 2).mean() + NORM_WEIGHT * pen
            sched.step(val.item())
        history.append(mse.item())
    return history


def run_one(variant: str, alpha: int, epochs: int, seed: int, *, num_particles: int = 15,
            num_eval: int = 1000, data=None, return_field: bool = False) -> dict:
    """One training run: short- and long-range MSE, complexity, parameter count."""
    t, traj = spiral_data() if data is None else data
    dt = float(t[1] - t[0])
    t_snip = dt * torch.arange(SNIPPET + 1, dtype=torch.float32)
    horizon = float(t_snip[-1])
    torch.manual_seed(seed)
    field = make_updown(variant, 2, alpha, num_particles, horizon, seed=seed)
    history = fit_spiral(field, traj, t_snip, dt, epochs, seed=seed)
    g = torch.Generator().manual_seed(10_000 + seed)
    y = snippets(traj, snippet_starts(traj, num_eval, g))
    with torch.no_grad():
        xs, _ = predict(field, y[:, 0], t_snip, dt)
        pasted = long_range(field, traj, t_snip, dt)
    result = {"short_range_mse": ((xs - y) ** 2).mean().item(),
              "long_range_mse": ((pasted - traj) ** 2).mean().item(),
              "long_range_diverged": float(pasted.abs().max() >= BOX),
              "log2_complexity": complexity(field, horizon, dt),
              "parameters": num_parameters(field), "train_mse_last": history[-1]}
    if return_field:
        result.update(field=field, history=history, long_range=pasted)
    return result


def run_spiral(alphas, seeds: int, epochs: int, *, variants=VARIANTS, num_particles: int = 15,
               num_eval: int = 1000, seed: int = 0, progress: bool = True) -> ExperimentResult:
    """The grid variants x alphas over ``seeds`` seeds (``seed * 100 + k``)."""
    alphas = [int(a) for a in alphas]
    metrics = ("short_range_mse", "long_range_mse", "long_range_diverged", "log2_complexity",
               "parameters")
    shape = (len(variants), len(alphas), seeds)
    out = {m: np.full(shape, np.nan) for m in metrics}
    data = spiral_data()
    with tqdm(total=math.prod(shape), desc="shooting spiral", disable=not progress) as bar:
        for j, variant in enumerate(variants):
            for a, alpha in enumerate(alphas):
                for k in range(seeds):
                    r = run_one(variant, alpha, epochs, seed * 100 + k,
                                num_particles=num_particles, num_eval=num_eval, data=data)
                    for m in metrics:
                        out[m][j, a, k] = r[m]
                    bar.update(1)
    rows = []
    for j, variant in enumerate(variants):
        for a, alpha in enumerate(alphas):
            for m in metrics:
                rows.append({"method": f"{variant} (alpha={alpha})", "metric": m,
                             "measured": float(np.mean(out[m][j, a])), "published": None})
            # a pasted prediction that leaves the spiral grows without bound (x^3-like
            # extrapolation), so the mean over seeds is one run's blow-up: the median too
            rows.append({"method": f"{variant} (alpha={alpha})",
                         "metric": "long_range_mse_median",
                         "measured": float(np.median(out["long_range_mse"][j, a])),
                         "published": None})
    dims = ("variant", "alpha", "seed")
    ds = xr.Dataset({m: (dims, v) for m, v in out.items()},
                    coords={"variant": list(variants), "alpha": alphas,
                            "seed": seed * 100 + np.arange(seeds)},
                    attrs={"seed": seed, "epochs": epochs})
    config = {"alphas": alphas, "seeds": seeds, "epochs": epochs, "variants": list(variants),
              "num_particles": num_particles, "num_eval": num_eval, "snippet_intervals": SNIPPET,
              "snippet_duration": SNIPPET * float(data[0][1] - data[0][0]), "batch": BATCH,
              "lr": LR, "loss": f"{MSE_WEIGHT} MSE + {NORM_WEIGHT} int R dt",
              "penalty_weights": [1, 1, 1, 1, 10], "activation": "relu",
              "spiral": "x' = A x^3, A = [[-0.1, 2], [-2, -0.1]], x0 = (2, 0), T = 10, 200 points",
              "published": "paper Fig. 3 is not in the text: no numbers"}
    return ExperimentResult(config, rows, {"shooting_spiral": ds})


@register_experiment(
    "shooting-spiral",
    "UpDown shooting (Vialard et al. 2020): the cubic spiral learned from short snippets by "
    "the four variants, short- and long-range MSE and log2 Frobenius complexity",
)
def run(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Quick: alpha 16, 2 seeds, 1000 epochs; full: alpha 16, 32, 64, 128, 10 seeds, 1500 epochs
    (the paper's settings)."""
    with single_thread():  # tiny networks: one thread is fastest
        if quick:
            return run_spiral((16,), 2, 1000, seed=seed)
        return run_spiral((16, 32, 64, 128), 10, 1500, seed=seed)


__all__ = ["fit_spiral", "long_range", "run", "run_one", "run_spiral", "snippet_starts",
           "snippets", "spiral_data"]
