"""``probdyn demo``: a structural model of the Mauna Loa CO2 series, end to end, and a
physical ODE model.

Local linear trend + monthly seasonal + noise, parameters by exact (diffuse) maximum likelihood
on all but the last 24 months, smoothed components, and a 24-month probabilistic forecast scored
against the held-out months. Then a damped pendulum: noisy simulated trajectories, period and
damping recovered by MAP through the ODE solve (:mod:`probdyn._demo_pendulum`). Writes netCDF
and PNG files and returns a short summary.
"""

from pathlib import Path

import numpy as np
import torch

from . import data, io, metrics
from ._demo_pendulum import run_pendulum
from .infer import fit_mle
from .reproduce._threads import single_thread
from .ssm import LocalLinearTrend, Seasonal, StructuralTimeSeries

HORIZON = 24  # months held out and forecast


def build_model() -> StructuralTimeSeries:
    """Level + slope random walks, a 12-month dummy seasonal, white observation noise."""
    return StructuralTimeSeries(
        {"trend": LocalLinearTrend(level_variance=0.1, slope_variance=1e-4),
         "seasonal": Seasonal(12, seasonal_variance=1e-3)},
        observation_variance=0.05,
    )


def run(out_dir, quick: bool = False, seed: int = 0, progress: bool = True) -> dict:
    """Fit, decompose, forecast and score CO2, then fit the pendulum; files go to ``out_dir``.
    Returns a summary dict (the pendulum's under ``"pendulum"``). Runs on one torch thread
    (restored afterwards): on a busy 2-core machine two threads made the tiny linear algebra of
    these fits about 50x slower."""
    with single_thread():
        return _run(out_dir, quick, seed, progress)


def _run(out_dir, quick: bool, seed: int, progress: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    from .plot import plot_components, plot_forecast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    ds = data.load("co2", download=True)  # from PROBDYN_DATA_DIR, else the cache or the web
    values = torch.tensor(np.array(ds["co2"].values), dtype=torch.float64)
    time = ds["time"].to_index()
    train, test = values[:-HORIZON], values[-HORIZON:]

    model = build_model()
    fit = fit_mle(model, train, steps=25 if quick else 200, progress=progress, seed=seed)
    with torch.no_grad():
        ssm = model.ssm(len(train))
        y = train.unsqueeze(-1)
        smoothed = ssm.smooth(y)
        parts = model.decompose(smoothed.mean, smoothed.covariance_matrix)
        forecast = model.forecast(train, HORIZON)
        samples = forecast.sample((1000,))[..., 0]  # (sample, month)

    units = ds["co2"].attrs.get("units", "ppm")
    components = io.components_to_dataset(
        {name: (p.mean, p.variance) for name, p in parts.items()}, time=time[:-HORIZON],
        attrs={"units": units, "model": "local linear trend + seasonal(12) + noise",
               "seed": seed, **{f"param_{k}": v for k, v in fit.params.items()}},
    )
    fc = io.samples_to_dataset(samples, time=time[-HORIZON:], name="co2",
                               attrs={"units": units})
    fc = io.add_summaries(fc, var="co2", quantiles=(0.05, 0.5, 0.95))
    fc["observed"] = ("time", test.numpy())
    fc.attrs.update(seed=seed, source=ds.attrs.get("source", ""))
    files = [io.write_netcdf(components, out / "co2_components.nc"),
             io.write_netcdf(fc, out / "co2_forecast.nc")]

    fig = plot_components(time[:-HORIZON], {n: (p.mean, p.variance) for n, p in parts.items()},
                          y=train)
    fig.savefig(out / "co2_components.png", dpi=110)
    ax = plot_forecast(time[-120:-HORIZON], train[-(120 - HORIZON):], time[-HORIZON:],
                       forecast.mean[:, 0], forecast.variance[:, 0],
                       title="Mauna Loa CO2: 24-month forecast", ylabel=units)
    ax.plot(time[-HORIZON:], test.numpy(), "k.", ms=4, label="held out")
    ax.legend(loc="upper left", fontsize=8)
    ax.figure.savefig(out / "co2_forecast.png", dpi=110)
    files += [out / "co2_components.png", out / "co2_forecast.png"]

    s = samples.numpy()
    return {
        "data": f"co2 ({len(values)} months, {time[0]:%Y-%m} to {time[-1]:%Y-%m})",
        "fit": f"exact diffuse MLE, log-likelihood {fit.log_likelihood:.2f}, "
               f"{fit.num_iterations} iterations, converged={fit.converged}",
        "parameters": {k: round(v, 6) for k, v in fit.params.items()},
        f"holdout_{HORIZON}m_crps": round(float(metrics.crps_ensemble(s, test.numpy(),
                                                                       reduce=True)), 4),
        f"holdout_{HORIZON}m_mae": round(float(np.mean(np.abs(s.mean(0) - test.numpy()))), 4),
        f"holdout_{HORIZON}m_90pct_coverage": round(float(metrics.interval_coverage(
            s, test.numpy(), level=0.9)), 3),
        "files": [str(f) for f in files],
        "pendulum": run_pendulum(out, quick=quick, seed=seed, progress=progress),
    }
