"""The physical part of ``probdyn demo``: recover a damped pendulum's period and damping from
noisy simulated trajectories by MAP (SVI with a point-mass guide)."""

from __future__ import annotations

import math
from pathlib import Path

import pyro.distributions as dist
import torch
from pyro import plate, sample
from pyro.infer.autoguide import init_to_median, init_to_value
from pyro.nn import PyroSample

from . import io
from .distributions import ODETrajectory
from .dynamics import solve
from .infer import fit_svi
from .physics import DampedPendulum, simulate_pendulum
from .physics.pendulum import CHANNELS

TRUE_PERIOD, TRUE_DAMPING = 6.0, 0.2  # s, 1/s (APHYNITY's settings)
NOISE = 0.05  # observation noise sd [rad, rad/s]
STEP = 0.25  # RK4 step of the fitted model [s]; the data come from dopri8 at rtol 1e-10


def pendulum_model(times: torch.Tensor, y: torch.Tensor):
    """Damped pendulum with unknown period, damping, noise sd and initial states, observed
    with Gaussian noise.

    Priors: ``period ~ LogNormal(log 5, 0.5)`` [s], ``damping ~ LogNormal(log 0.1, 1)`` [1/s],
    ``sigma ~ LogNormal(log 0.1, 1)``, each trajectory's initial state ``x0 ~ N(0, 2^2 I)``
    (theta [rad], omega [rad/s]; the data's have norm 1.3-2.3).

    Parameters
    ----------
    times : tensor (T,)
        Observation times [s], ``times[0]`` the time of ``y[:, 0]``.
    y : tensor (B, T, 2)
        Observed (theta [rad], omega [rad/s]).
    """
    field = DampedPendulum()
    field.period = PyroSample(dist.LogNormal(math.log(5.0), 0.5))
    field.damping = PyroSample(dist.LogNormal(math.log(0.1), 1.0))
    sigma = sample("sigma", dist.LogNormal(math.log(0.1), 1.0))
    # draw the shared parameters before entering the plate (inside it: one per trajectory)
    with field.frozen_parameters(), plate("trajectories", y.shape[0]):
        x0 = sample("x0", dist.Normal(torch.zeros(2, dtype=y.dtype), 2.0).to_event(1))
        sample("y", ODETrajectory(field, x0, times, sigma, "normal", method="rk4",
                                  step_size=STEP), obs=y)


def run_pendulum(out_dir, quick: bool = False, seed: int = 0, progress: bool = True) -> dict:
    """Simulate (25 x 40 at dt = 0.5 s; quick: 10 x 40), fit, write netCDF + PNG; a summary."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    num = 10 if quick else 25
    ds = simulate_pendulum(num, 40, 0.5, period=TRUE_PERIOD, damping=TRUE_DAMPING, noise=NOISE,
                           seed=seed, progress=False)
    times = torch.tensor(ds["time"].values, dtype=torch.float64)
    y = torch.tensor(ds["observation"].values, dtype=torch.float64)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        fit = fit_svi(pendulum_model, times, y, guide="delta", steps=150 if quick else 400,
                      lr=0.05, seed=seed, progress=progress,
                      # the optimiser starts from the first observations as initial states
                      init_loc_fn=init_to_value(values={"x0": y[:, 0]}, fallback=init_to_median))
        est = {k: float(fit.median[k]) for k in ("period", "damping", "sigma")}
        field = DampedPendulum(est["period"], est["damping"])
        with torch.no_grad():
            fitted = solve(field, fit.median["x0"], times, method="dopri5", rtol=1e-8, atol=1e-10)
    finally:
        torch.set_default_dtype(prev)
    rmse = float(torch.sqrt(((fitted - torch.tensor(ds["state"].values)) ** 2).mean()))
    result = ds.copy()
    result["fitted"] = io.trajectories_to_dataset(
        fitted.numpy(), times.numpy(), CHANNELS, name="fitted")["fitted"]
    result.attrs.update(fitted_period=est["period"], fitted_damping=est["damping"],
                        fitted_sigma=est["sigma"],
                        fit=f"MAP (SVI, AutoDelta) incl. initial states, rk4 step {STEP} s")
    files = [io.write_netcdf(result, out / "pendulum_fit.nc")]

    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for i in range(3):
        for k, ax in enumerate(axes):
            ax.plot(times, y[i, :, k], ".", ms=3, color=f"C{i}")
            ax.plot(times, fitted[i, :, k], "-", lw=1, color=f"C{i}")
    axes[0].set_ylabel("theta [rad]")
    axes[1].set_ylabel("omega [rad/s]")
    axes[1].set_xlabel("t [s]")
    axes[0].set_title(f"damped pendulum: fitted T0 = {est['period']:.3f} s, "
                      f"alpha = {est['damping']:.3f} 1/s (dots: noisy data)")
    fig.tight_layout()
    fig.savefig(out / "pendulum_fit.png", dpi=110)
    plt.close(fig)
    files.append(out / "pendulum_fit.png")
    return {
        "data": f"damped pendulum, {num} trajectories x 40 steps at dt = 0.5 s, noise sd "
                f"{NOISE} (dopri8 at rtol 1e-10)",
        "fit": f"MAP by SVI (AutoDelta, {fit.num_steps} steps) of period, damping, noise sd "
               f"and the {num} initial states, rk4 at {STEP} s",
        "period_s": {"true": TRUE_PERIOD, "fitted": round(est["period"], 4)},
        "damping_per_s": {"true": TRUE_DAMPING, "fitted": round(est["damping"], 4)},
        "noise_sd": {"true": NOISE, "fitted": round(est["sigma"], 4)},
        "fitted_vs_clean_rmse": round(rmse, 5),
        "files": [str(f) for f in files],
    }
