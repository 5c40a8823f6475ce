"""PKN on real temperature fields (thesis 3.2, Table S4; de Bézenac et al., ICLR 2018).

Data, through :mod:`probdyn.data` (``dataset``):

- ``air_temperature_ncep`` (``pkn-temperature``): NCEP/NCAR reanalysis air temperature,
  6-hourly, 2013-2014, 25 x 53 cells of 2.5 degrees over North America. 2013 trains, 2014 is
  held out; sequences of 73 frames (18 days).
- ``era5_t2m_uk`` (``pkn-temperature-era5``): ERA5 hourly 2-m temperature, March 2019, 33 x 49
  cells of 0.25 degrees over the UK and its seas. March 1-24 train, March 25-31 are held out;
  sequences of 24 frames (one day). At 28 km and one hour a 10 m/s wind moves a feature by
  1.3 cells per step, so transport is resolved, where the NCEP grid moves it by 0.8 of a
  2.5-degree cell in 6 hours.

Each cell's mean diurnal cycle over the training period (its mean at each hour of the day) is
removed and the anomalies divided by their training standard deviation (one number); each
period is cut into sequences of ``sequence_length`` frames. A fifth of the training
sequences (seeded) are for validation and early stopping. Every held-out window of 4 inputs
and 6 targets is scored.

The thesis's data differ (Copernicus daily SST, 64 x 64 regions, each frame standardised),
so the MSEs here are not on Table S4's scale: ``published`` holds Table S4's number on the
row of the same method to set the two rankings side by side, not as a target.

The second registered gridded set, the eofs SST anomalies (``sst_ndjfm_anomalies``), holds one
November-March mean per winter: 50 frames a year apart, with no advection to learn between
them, so it is not used for 6-step forecasting here.

Methods (one seeded run each):

- ``Persistence``: the last input frame, repeated (no training);
- ``Shift extrapolation``: :class:`~probdyn.physics.ShiftExtrapolation`, one constant motion
  fitted to the 4 inputs by least squares (up to 3 cells per step), the last frame carried
  forward with it (no training): does the motion seen in the inputs persist?
- ``ACDNN``: :class:`~probdyn.physics.DirectForecaster`, the conv-deconv network predicting
  the next frame from the 4 stacked inputs, autoregressive;
- ``PKN with regularization``: :class:`~probdyn.physics.WarpingForecaster` (Gaussian warp
  S16 with a learned D), loss S17 with ``lambda_div = lambda_grad = 0.01`` (the reference
  code's 1 and 0.4 act on motion in grid_sample's normalised units and hold ``w`` at zero in
  the pixel units used here);
- ``PKN without regularization``: the same with ``lambda_div = lambda_grad = 0``;
- ``Residual ACDNN``: the direct predictor started from persistence (``I_t + std * out``,
  ``DirectForecaster(residual=True)``), as the PKN starts from the identity warp; not in
  the thesis, a stronger direct baseline.

All networks have the spec's layout at ``width`` (8 by default: the spec's 64 is too slow on
a CPU), Neumann boundaries (``replicate`` warp, zero-padded convolutions), Adam (lr 3e-3, no
weight decay), a 2-step training rollout, 6-step validation and evaluation.

Metrics (on the held-out period): ``mse_avg`` (standardised units; Table S4's column
"Average Score (MSE)"), ``mse_avg_K2`` (K^2) and ``mse_step{1..6}_K2``;
for the PKNs the learned ``D``
(``D_px2_per_step`` and ``D_m2_per_s``, taking a cell as its extent in latitude: 278 km for
NCEP, 27.8 km for ERA5); for them and the shift extrapolation the mean estimated speed
``speed_m_per_s`` (same conversion; longitude cells are narrower by cos(latitude), so this
overstates zonal speeds).

Outputs (in ``out``): ``pkn_temperature_motion.png``: the estimated motion fields of both
PKNs over the last input frame of one held-out window, and the 6-step forecasts of every
method against the truth; dataset ``pkn_temperature_test`` (that window's inputs, targets,
forecasts and motion fields on lat/lon).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from .. import data as pdata
from ..physics import (
    DirectForecaster,
    MotionEstimator,
    ShiftExtrapolation,
    WarpingForecaster,
    forecast_scores,
    train_direct_forecaster,
    train_warping_forecaster,
)
from ._registry import register_experiment
from ._result import ExperimentResult
from ._threads import single_thread

#: Table S4 [T:2018-2031], Average Score (MSE), on the thesis's SST data
PUBLISHED = {
    "Persistence": None,
    "Shift extrapolation": None,
    "ACDNN": 15.84,
    "PKN with regularization": 1.42,
    "PKN without regularization": 2.01,
    "Residual ACDNN": None,
}
METHODS = tuple(PUBLISHED)
N_INPUTS, HORIZON = 4, 6
EARTH_RADIUS_M = 6.371e6


@dataclass(frozen=True)
class TemperatureField:
    """A registered gridded temperature set and how it is split for forecasting."""

    variable: str
    test_start: str  # the first held-out time; everything before trains
    step_hours: int
    cell_degrees: float  # grid spacing in latitude
    sequence_length: int  # default frames per sequence

    @property
    def cell_m(self) -> float:
        return self.cell_degrees * math.pi / 180 * EARTH_RADIUS_M

    @property
    def step_s(self) -> float:
        return self.step_hours * 3600.0


FIELDS = {
    "air_temperature_ncep": TemperatureField("air", "2014-01-01", 6, 2.5, 73),
    "era5_t2m_uk": TemperatureField("t2m", "2019-03-25", 1, 0.25, 24),
}


def _field(dataset: str) -> TemperatureField:
    if dataset not in FIELDS:
        raise ValueError(f"dataset must be one of {sorted(FIELDS)}, got {dataset!r}")
    return FIELDS[dataset]


def air_temperature_sequences(sequence_length: int | None = None, *, diurnal: bool = True,
                              per_frame: bool = False, dataset: str = "air_temperature_ncep"):
    """A gridded temperature set as standardised anomalies, cut into sequences.

    Parameters
    ----------
    sequence_length : int, optional
        Frames per sequence (default: 73 = 18 days for NCEP, 24 = one day for ERA5).
    diurnal : bool
        Remove each cell's training-period mean at each hour of the day (the 4 or 24 hours
        present), i.e. the mean diurnal cycle, instead of its training mean alone. The diurnal
        cycle is radiative heating, a source term that no warp (a transport) can produce;
        persistence of these anomalies is the last frame plus the climatological diurnal
        change.
    per_frame : bool
        Then standardise every anomaly frame by its own spatial mean and standard deviation,
        as the reference code's ``rescale='norm'`` (spec B.3). Each frame's mean and spread
        (domain-wide warming or cooling) are then no longer part of the task; errors are in
        these per-frame units, with no conversion to K (``scale`` is ``None``).
    dataset : {"air_temperature_ncep", "era5_t2m_uk"}
        Which registered set (see the module docstring for the splits).

    Returns
    -------
    train, test : numpy.ndarray, shape (n, sequence_length, lat, lon)
        The training and held-out periods (2013 and 2014 for NCEP: ``n = 1460 //
        sequence_length``; a remainder is dropped), the training climatology removed and
        divided by ``scale``. Differences of anomalies are differences of temperature (the
        climatology is known in advance), so an MSE times ``scale**2`` is the MSE of the
        temperature forecast in K^2 whatever ``diurnal`` is.
    scale : float or None
        The training anomaly standard deviation (K); ``None`` with ``per_frame``.
    coords : dict
        ``lat`` (descending) and ``lon`` (degrees), and ``time`` of the held-out frames used.
    """
    field = _field(dataset)
    grid = pdata.grid_fields(pdata.load(dataset), field.variable)
    values = grid.values
    hour = grid.time.dt.hour.values
    train_rows = grid.time.values < np.datetime64(field.test_start)
    shortest = min(int(train_rows.sum()), int((~train_rows).sum()))
    sequence_length = field.sequence_length if sequence_length is None else sequence_length
    if not (isinstance(sequence_length, int)
            and N_INPUTS + HORIZON <= sequence_length <= shortest):
        raise ValueError(f"sequence_length must be an int in [{N_INPUTS + HORIZON}, "
                         f"{shortest}], got {sequence_length!r}")
    if diurnal:
        clim = np.zeros_like(values)
        for h in np.unique(hour):
            clim[hour == h] = values[train_rows & (hour == h)].mean(0)
    else:
        clim = np.broadcast_to(values[train_rows].mean(0), values.shape)
    anomalies = values - clim
    if per_frame:
        spread = anomalies.std((1, 2), keepdims=True)
        if not (spread > 0).all():  # a uniform frame has no pattern to standardise
            raise ValueError(f"per_frame: {int((spread == 0).sum())} frames of {dataset!r} "
                             "are spatially uniform and cannot be standardised")
        anomalies = (anomalies - anomalies.mean((1, 2), keepdims=True)) / spread
    train, test = anomalies[train_rows], anomalies[~train_rows]
    scale = None if per_frame else float(train.std())

    def cut(frames):
        n = len(frames) // sequence_length
        return frames[:n * sequence_length].reshape(n, sequence_length, *values.shape[1:])

    n_test = int((~train_rows).sum()) // sequence_length
    coords = {"lat": grid.lat.values, "lon": grid.lon.values,
              "time": grid.time.values[~train_rows][:n_test * sequence_length]}
    unit = 1.0 if per_frame else scale
    return cut(train) / unit, cut(test) / unit, scale, coords


def _rows(method, scores, scale) -> list:
    """Average and per-step MSE rows: in K^2, or in per-frame units where ``scale`` is None."""
    rows = [{"method": method, "metric": "mse_avg", "measured": scores["mse"],
             "published": PUBLISHED[method]}]
    factor, suffix = (1.0, "") if scale is None else (scale**2, "_K2")
    if scale is not None:
        rows.append({"method": method, "metric": "mse_avg_K2", "measured": scores["mse"] * factor,
                     "published": None})
    return rows + [{"method": method, "metric": f"mse_step{i + 1}{suffix}",
                    "measured": float(m) * factor, "published": None}
                   for i, m in enumerate(scores["mse_per_step"])]


def run_pkn_temperature(*, dataset: str = "air_temperature_ncep",
                        sequence_length: int | None = None, train_sequences: int | None = None,
                        test_sequences: int | None = None, width: int = 8, epochs: int = 30,
                        patience: int = 4, train_horizon: int = 2, batch_size: int = 16,
                        lr: float = 3e-3, weight_decay: float = 0.0, lambda_reg: float = 0.01,
                        diffusivity: float = 0.15,
                        max_seconds: float | None = None, diurnal: bool = True,
                        per_frame: bool = False, seed: int = 0, out: Path | None = None,
                        progress: bool = False) -> ExperimentResult:
    """The experiment at a given size (``run`` calls it with the full or quick sizes).

    ``train_sequences`` / ``test_sequences`` keep only the first so many sequences of each
    period (default all); ``max_seconds`` caps each model's training; ``weight_decay`` is
    Adam's (the reference code's is 4e-4, with lr 1e-4 and batch 64); ``lambda_reg`` is
    ``lambda_div = lambda_grad`` of the regularised PKN; ``dataset``, ``sequence_length``,
    ``diurnal`` and ``per_frame`` as in :func:`air_temperature_sequences` (with
    ``per_frame`` the MSE rows are ``mse_avg`` and ``mse_step{1..6}`` in per-frame units).
    """
    field = _field(dataset)
    train, test, scale, coords = air_temperature_sequences(
        sequence_length, diurnal=diurnal, per_frame=per_frame, dataset=dataset)
    sequence_length = train.shape[1]
    train = torch.tensor(train[:train_sequences], dtype=torch.float32)
    test = torch.tensor(test[:test_sequences], dtype=torch.float32)
    fit = dict(n_inputs=N_INPUTS, horizon=HORIZON, train_horizon=train_horizon, epochs=epochs,
               patience=patience, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
               boundary="neumann", max_seconds=max_seconds, seed=seed, progress=progress)
    shift = ShiftExtrapolation(N_INPUTS, max_shift=3.0, boundary="replicate")
    scores = forecast_scores(shift, test, horizon=HORIZON)  # persistence comes with any model
    rows = _rows("Persistence", {"mse": scores["persistence_mse"],
                                 "mse_per_step": scores["persistence_mse_per_step"]}, scale)
    rows += _rows("Shift extrapolation", scores, scale) + _speed_rows(
        "Shift extrapolation", scores, field)
    models, history = {"Shift extrapolation": shift}, {}

    def pkn():
        torch.manual_seed(seed)
        return WarpingForecaster(MotionEstimator(N_INPUTS, width), n_inputs=N_INPUTS,
                                 diffusivity=diffusivity, boundary="replicate", truncate=3.0)

    def direct(residual):
        torch.manual_seed(seed)
        return DirectForecaster(N_INPUTS, width, residual=residual)

    trained = {
        "ACDNN": train_direct_forecaster(train, model=direct(False), **fit),
        "PKN with regularization": train_warping_forecaster(
            train, model=pkn(), lambda_div=lambda_reg, lambda_grad=lambda_reg, **fit),
        "PKN without regularization": train_warping_forecaster(
            train, model=pkn(), lambda_div=0.0, lambda_grad=0.0, **fit),
        "Residual ACDNN": train_direct_forecaster(train, model=direct(True), **fit),
    }
    for method, res in trained.items():
        scores = forecast_scores(res.model, test, horizon=HORIZON)
        rows += _rows(method, scores, scale)
        models[method] = res.model
        history[method] = {"epochs": len(res.history["val_mse"]), "best_epoch": res.best_epoch,
                           "seconds": res.seconds, "val_mse": res.history["val_mse"]}
        if isinstance(res.model, WarpingForecaster):
            d = float(res.model.D.detach())
            rows += [{"method": method, "metric": "D_px2_per_step", "measured": d,
                      "published": None},
                     {"method": method, "metric": "D_m2_per_s",
                      "measured": d * field.cell_m**2 / field.step_s, "published": None}]
            rows += _speed_rows(method, scores, field)
    ds = _example(models, test, coords, sequence_length, scale, seed, field.step_hours)
    settings = {
        "dataset": dataset, "test_start": field.test_start, "step_hours": field.step_hours,
        "climatology": ("per cell and hour of day (training period)" if diurnal
                        else "per cell (training period)"),
        "per_frame_standardisation": per_frame,
        "sequence_length": sequence_length, "train_sequences": int(train.shape[0]),
        "test_sequences": int(test.shape[0]), "n_inputs": N_INPUTS, "horizon": HORIZON,
        "anomaly_scale_K": scale, "width": width, "epochs": epochs, "patience": patience,
        "train_horizon": train_horizon, "batch_size": batch_size, "lr": lr,
        "weight_decay": weight_decay, "lambda_reg": lambda_reg, "diffusivity_init": diffusivity,
        "boundary": "neumann", "max_seconds": max_seconds, "history": history,
        "published_source": "thesis Table S4 (de Bezenac et al. 2018), SST data: not the "
                            "same data or normalisation; compare rankings only",
        "sst_ndjfm_anomalies": "not used: one value per winter, nothing to advect over 6 "
                               "steps",
    }
    if out is not None:
        settings["figure"] = str(plot_example(ds, Path(out) / "pkn_temperature_motion.png"))
    return ExperimentResult(settings, rows, {"pkn_temperature_test": ds})


def _speed_rows(method, scores, field) -> list:
    """The mean first-step speed of :func:`forecast_scores` (cells per step), in m/s."""
    return [{"method": method, "metric": "speed_m_per_s",
             "measured": scores["mean_speed"] * field.cell_m / field.step_s, "published": None}]


def _example(models, test, coords, sequence_length, scale, seed, step_hours) -> xr.Dataset:
    """Inputs, targets, forecasts and motion fields (K, or per-frame units where ``scale`` is
    None) of one seeded held-out window."""
    unit, units = (1.0, "per-frame standard deviations") if scale is None else (scale, "K")
    g = np.random.default_rng(seed)
    seq = int(g.integers(test.shape[0]))
    start = int(g.integers(test.shape[1] - N_INPUTS - HORIZON + 1))
    window = test[seq:seq + 1, start:start + N_INPUTS + HORIZON]
    x, y = window[:, :N_INPUTS], window[0, N_INPUTS:]
    t0 = seq * sequence_length + start
    times = coords["time"][t0:t0 + N_INPUTS + HORIZON]
    dims = ("lat", "lon")
    ds = xr.Dataset(
        {"inputs": (("input_time", *dims), x[0].numpy() * unit, {"units": units}),
         "targets": (("time", *dims), y.numpy() * unit, {"units": units})},
        coords={"lat": coords["lat"], "lon": coords["lon"], "input_time": times[:N_INPUTS],
                "time": times[N_INPUTS:],
                "model": list(models), "component": ["w_x", "w_y"]},
        attrs={"what": "held-out anomalies (training climatology removed)", "seed": seed,
               "step_hours": step_hours},
    )
    preds, motions = [], []
    with torch.no_grad():
        for model in models.values():
            pred, w = model(x, HORIZON)
            preds.append(pred[0].numpy() * unit)
            motions.append(w[0].numpy() if w is not None
                           else np.full((HORIZON, 2, *x.shape[-2:]), np.nan, np.float32))
    ds["forecast"] = (("model", "time", *dims), np.stack(preds), {"units": units})
    ds["motion"] = (("model", "time", "component", *dims), np.stack(motions),
                    {"units": f"grid cells per {step_hours} h step (w_y > 0: towards "
                              "decreasing lat)"})
    return ds


def plot_example(ds: xr.Dataset, path: Path) -> Path:
    """Motion fields of the PKNs over the last input frame, and every method's forecasts at
    steps 1, 3 and 6 against the truth."""
    from matplotlib.figure import Figure

    from ..plot import plot_motion_field

    pkns = [m for m in ds.model.values if str(m).startswith("PKN")]
    methods = list(ds.model.values)
    steps = [0, 2, HORIZON - 1]
    lim = float(np.abs(ds["targets"]).max())
    fig = Figure(figsize=(4.2 * len(steps), 2.6 * (len(pkns) + len(methods) + 1)))
    axes = fig.subplots(len(pkns) + len(methods) + 1, len(steps), squeeze=False)
    lon, lat = ds.lon.values, ds.lat.values
    last = ds["inputs"].values[-1]
    for i, method in enumerate(pkns):
        for j, s in enumerate(steps):
            w = ds["motion"].sel(model=method).values[s]
            plot_motion_field(last if s == 0 else ds["forecast"].sel(model=method).values[s - 1],
                              w, ax=axes[i, j], x=lon, y=lat, stride=2, steps=4.0, vmin=-lim,
                              vmax=lim, title=f"{method}: w at step {s + 1} (x4 steps)",
                              colorbar_label=ds["inputs"].attrs["units"])
    rows = [("truth", ds["targets"].values)] + [
        (m, ds["forecast"].sel(model=m).values) for m in methods]
    for i, (name, frames) in enumerate(rows, start=len(pkns)):
        for j, s in enumerate(steps):
            ax = axes[i, j]
            mesh = ax.pcolormesh(lon, lat, frames[s], cmap="RdBu_r", vmin=-lim, vmax=lim,
                                 shading="nearest")
            fig.colorbar(mesh, ax=ax, shrink=0.85)
            ax.set_title(f"{name}, +{ds.attrs['step_hours'] * (s + 1)} h", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path


@register_experiment(
    "pkn-temperature",
    "PKN (advection-diffusion warping) vs persistence and the direct conv predictor (ACDNN) "
    "on held-out NCEP air temperature, 6-step MSE next to Table S4",
)
def run(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Full: width 16, up to 100 epochs (patience 10), 6-step training rollout; quick: width
    8, 8 epochs (patience 4), 2-step rollout, training capped at 140 s per model."""
    with single_thread():
        if quick:
            return run_pkn_temperature(epochs=8, patience=4, max_seconds=140.0, seed=seed,
                                       out=out)
        return run_pkn_temperature(width=16, epochs=100, patience=10, train_horizon=6,
                                   seed=seed, out=out)


@register_experiment(
    "pkn-temperature-era5",
    "PKN vs persistence and the direct conv predictor (ACDNN) on held-out hourly ERA5 2-m "
    "temperature over the UK (0.25 degrees, transport resolved), 6-step MSE",
)
def run_era5(quick: bool, seed: int, out: Path) -> ExperimentResult:
    """Full: width 16, up to 100 epochs (patience 10), 6-step training rollout; quick: width
    8, up to 40 epochs (patience 10), 2-step rollout, training capped at 100 s per model."""
    with single_thread():
        if quick:
            return run_pkn_temperature(dataset="era5_t2m_uk", epochs=40, patience=10,
                                       max_seconds=100.0, seed=seed, out=out)
        return run_pkn_temperature(dataset="era5_t2m_uk", width=16, epochs=100, patience=10,
                                   train_horizon=6, seed=seed, out=out)


__all__ = ["FIELDS", "PUBLISHED", "TemperatureField", "air_temperature_sequences",
           "plot_example", "run", "run_era5", "run_pkn_temperature"]
