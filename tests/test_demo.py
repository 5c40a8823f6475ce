"""`probdyn demo` end to end on the real CO2 series (quick mode), and the plot helpers."""

import math

import matplotlib
import numpy as np
import pytest
import torch
import xarray as xr

from probdyn import data

matplotlib.use("Agg")


def test_demo_runs_end_to_end(tmp_path):
    if not data.describe("co2").available():
        pytest.skip("co2 data file not available (set PROBDYN_DATA_DIR)")
    from probdyn.demo import HORIZON, run

    threads = torch.get_num_threads()
    summary = run(tmp_path, quick=True, progress=False)
    assert torch.get_num_threads() == threads  # one thread inside, restored afterwards
    for name in ("co2_components.nc", "co2_forecast.nc", "co2_components.png",
                 "co2_forecast.png"):
        assert (tmp_path / name).stat().st_size > 0
    fc = xr.open_dataset(tmp_path / "co2_forecast.nc")
    assert fc["co2"].dims == ("sample", "time") and fc.sizes["time"] == HORIZON
    assert np.isfinite(fc["co2"].values).all()
    comps = xr.open_dataset(tmp_path / "co2_components.nc")
    assert list(comps["component"].values) == ["trend", "seasonal"]
    # the decomposition adds up: trend + seasonal is close to the data (noise sd ~ 0.15 ppm)
    total = comps["mean"].sum("component").values
    y = data.load("co2")["co2"].values[:-HORIZON]
    assert np.nanmean(np.abs(total - y)) < 0.5
    crps = summary[f"holdout_{HORIZON}m_crps"]
    assert math.isfinite(crps) and crps < 2.0  # ppm; a naive last-value forecast scores ~3
    assert 0.0 <= summary[f"holdout_{HORIZON}m_90pct_coverage"] <= 1.0

    # the physical part: the simulator's (dopri8) parameters are recovered by the rk4 fit
    pend = summary["pendulum"]
    assert abs(pend["period_s"]["fitted"] - 6.0) < 0.06  # 1 %
    assert abs(pend["damping_per_s"]["fitted"] - 0.2) < 0.02  # 10 %
    assert abs(pend["noise_sd"]["fitted"] - 0.05) < 0.01
    assert pend["fitted_vs_clean_rmse"] < 0.05  # below the noise: the fit tracks the states
    for name in ("pendulum_fit.nc", "pendulum_fit.png"):
        assert (tmp_path / name).stat().st_size > 0
    fit = xr.open_dataset(tmp_path / "pendulum_fit.nc")
    assert fit["fitted"].dims == ("trajectory", "time", "channel")
    assert fit["fitted"].shape == fit["observation"].shape
    assert np.isfinite(fit["fitted"].values).all()


def test_plot_helpers_validate_and_draw():
    from probdyn.plot import plot_band, plot_components, plot_forecast

    t = np.arange(10)
    ax = plot_band(t, np.zeros(10), np.ones(10))
    assert len(ax.collections) == 2  # two nested intervals
    with pytest.raises(ValueError, match="same length"):
        plot_band(t, np.zeros(9), np.ones(10))
    plot_forecast(t, np.ones(10), t + 10, np.zeros(10), np.ones(10), title="x")
    fig = plot_components(t, {"a": (np.zeros(10), np.ones(10)), "b": (t, t)}, y=t)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="empty"):
        plot_components(t, {})


def test_demo_command_reports_missing_data(monkeypatch, capsys):
    import probdyn.demo
    from probdyn.cli import main

    def no_data(**kwargs):
        raise FileNotFoundError("dataset 'co2' needs the file ...")

    monkeypatch.setattr(probdyn.demo, "run", no_data)
    assert main(["demo", "--out", "unused"]) == 1
    assert "PROBDYN_DATA_DIR" in capsys.readouterr().err
