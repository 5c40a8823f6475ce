"""`probdyn demo` end to end on the real CO2 series (quick mode), and the plot helpers."""

import math

import matplotlib
import numpy as np
import pytest
import xarray as xr

from probdyn import data

matplotlib.use("Agg")


def test_demo_runs_end_to_end(tmp_path):
    if not data.describe("co2").available():
        pytest.skip("co2 data file not available (set PROBDYN_DATA_DIR)")
    from probdyn.demo import HORIZON, run

    summary = run(tmp_path, quick=True, progress=False)
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
