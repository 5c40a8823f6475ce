"""The pkn-temperature reproduction: a tiny run by default (persistence checked by brute force
on the raw grid), the quick run as slow."""

import json

import numpy as np
import pytest

from probdyn import data as pdata
from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce.pkn_temperature import (
    METHODS,
    PUBLISHED,
    air_temperature_sequences,
    run_pkn_temperature,
)


def _need_data(dataset="air_temperature_ncep"):
    path = pdata.describe(dataset).local_path()
    if not path.is_file():
        pytest.skip(f"{path} not in the data directory")


def _by(result):
    return {(r["method"], r["metric"]): r for r in result.rows}


def _brute_force_persistence(length, n_seq, dataset="air_temperature_ncep", var="air",
                             n_train=1460):
    """6-step MSE (K^2) per step of "the last frame plus the climatological diurnal change"
    on the first n_seq held-out sequences (after the first n_train frames), by loops over the
    raw temperatures."""
    grid = pdata.grid_fields(pdata.load(dataset), var)
    temp, hours = grid.values, grid.time.dt.hour.values
    clim = {h: temp[:n_train][hours[:n_train] == h].mean(0) for h in set(hours.tolist())}
    temp, hours = temp[n_train:], hours[n_train:]
    per = np.zeros(6)
    count = 0
    for s in range(n_seq):
        for t0 in range(s * length, (s + 1) * length - 9):
            last = t0 + 3
            for h in range(6):
                target = last + 1 + h
                forecast = temp[last] + clim[hours[target]] - clim[hours[last]]
                per[h] += ((temp[target] - forecast) ** 2).mean()
            count += 1
    return per / count


def test_sequences_are_standardised_2013_anomalies():
    _need_data()
    train, test, scale, coords = air_temperature_sequences(73, diurnal=False)
    assert train.shape == test.shape == (20, 73, 25, 53)
    assert abs(scale - 9.11) < 0.01  # the figure quoted in docs/api/physics-warping.md
    np.testing.assert_allclose(train.reshape(-1, 25, 53).mean(0), 0, atol=1e-9)
    assert train.std() == pytest.approx(1.0)
    assert str(coords["time"][0])[:10] == "2014-01-01" and coords["lat"][0] == 75.0
    train, _, scale_d, _ = air_temperature_sequences(73)
    # removing the mean diurnal cycle: zero mean at each hour of the day (frames 0, 4, ...
    # are 00 UTC), a smaller anomaly scale
    hourly = train.reshape(-1, 4, 25, 53).mean(0)
    np.testing.assert_allclose(hourly, 0, atol=1e-9)
    assert scale_d < scale
    with pytest.raises(ValueError, match="sequence_length"):
        air_temperature_sequences(5)
    with pytest.raises(ValueError, match="dataset"):
        air_temperature_sequences(dataset="air")


def test_era5_sequences_split_march_by_day():
    _need_data("era5_t2m_uk")
    train, test, scale, coords = air_temperature_sequences(dataset="era5_t2m_uk")
    # March 1-24 train, 25-31 held out, one day per sequence
    assert train.shape == (24, 24, 33, 49) and test.shape == (7, 24, 33, 49)
    assert str(coords["time"][0])[:16] == "2019-03-25T00:00" and len(coords["time"]) == 168
    # each training sequence starts at 00 UTC, so axis 1 is the hour of the day
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-9)
    assert train.std() == pytest.approx(1.0) and 1.0 < scale < 3.0
    with pytest.raises(ValueError, match=r"sequence_length .*\[10, 168\]"):
        air_temperature_sequences(169, dataset="era5_t2m_uk")


def test_per_frame_standardisation_as_the_reference_code(tmp_path):
    _need_data("era5_t2m_uk")
    train, test, scale, _ = air_temperature_sequences(dataset="era5_t2m_uk", per_frame=True)
    assert scale is None
    frames = np.concatenate([train, test]).reshape(-1, 33 * 49)
    np.testing.assert_allclose(frames.mean(1), 0, atol=1e-9)
    np.testing.assert_allclose(frames.std(1), 1, rtol=1e-9)
    # the same frames as the K anomalies, each standardised by hand
    _, test_k, _, _ = air_temperature_sequences(dataset="era5_t2m_uk")
    one = test_k[3, 7]
    np.testing.assert_allclose(test[3, 7], (one - one.mean()) / one.std(), atol=1e-9)
    result = run_pkn_temperature(dataset="era5_t2m_uk", sequence_length=12, train_sequences=4,
                                 test_sequences=2, epochs=1, patience=1, per_frame=True,
                                 seed=0, out=tmp_path)
    rows = _by(result)
    assert not any(metric.endswith("_K2") for _, metric in rows)
    _, test, _, _ = air_temperature_sequences(12, dataset="era5_t2m_uk", per_frame=True)
    brute = [np.mean([((test[s, t0 + 3] - test[s, t0 + 4 + h]) ** 2).mean()
                      for s in range(2) for t0 in range(3)]) for h in range(6)]
    measured = [rows[("Persistence", f"mse_step{h}")]["measured"] for h in range(1, 7)]
    np.testing.assert_allclose(measured, brute, rtol=1e-4)
    assert result.datasets["pkn_temperature_test"]["inputs"].attrs["units"] == (
        "per-frame standard deviations")


def test_per_frame_refuses_uniform_frames(monkeypatch):
    _need_data("era5_t2m_uk")
    real = pdata.grid_fields

    def constant(ds, var):  # every anomaly frame is then uniform (zero)
        grid = real(ds, var).copy()
        grid[:] = 280.0
        return grid

    monkeypatch.setattr(pdata, "grid_fields", constant)
    with pytest.raises(ValueError, match="per_frame: 744 frames .* spatially uniform"):
        air_temperature_sequences(dataset="era5_t2m_uk", per_frame=True)


def test_tiny_run_rows_persistence_oracle_and_figure(tmp_path):
    _need_data()
    get_experiment("pkn-temperature")  # registered through EXPERIMENT_MODULES
    result = run_pkn_temperature(sequence_length=16, train_sequences=6, test_sequences=2,
                                 epochs=1, patience=1, seed=0, out=tmp_path)
    rows = _by(result)
    assert {m for m, _ in rows} == set(METHODS)
    scale2 = result.settings["anomaly_scale_K"] ** 2
    for method in METHODS:
        avg = rows[(method, "mse_avg")]
        assert avg["published"] == PUBLISHED[method]
        steps = [rows[(method, f"mse_step{h}_K2")]["measured"] for h in range(1, 7)]
        assert np.mean(steps) == pytest.approx(rows[(method, "mse_avg_K2")]["measured"],
                                               rel=1e-5)
        assert rows[(method, "mse_avg_K2")]["measured"] == pytest.approx(
            avg["measured"] * scale2, rel=1e-9)
    oracle = _brute_force_persistence(16, 2)
    measured = [rows[("Persistence", f"mse_step{h}_K2")]["measured"] for h in range(1, 7)]
    np.testing.assert_allclose(measured, oracle, rtol=1e-4)
    assert rows[("PKN with regularization", "D_px2_per_step")]["measured"] > 0
    ds = result.datasets["pkn_temperature_test"]
    assert ds["forecast"].dims == ("model", "time", "lat", "lon")
    assert ds.sizes == {"input_time": 4, "time": 6, "lat": 25, "lon": 53, "model": 5,
                        "component": 2}
    assert np.isnan(ds["motion"].sel(model="ACDNN")).all()
    assert np.isnan(ds["motion"].sel(model="Residual ACDNN")).all()
    shift = ds["motion"].sel(model="Shift extrapolation").values  # one motion per window
    assert np.isfinite(shift).all() and np.ptp(shift, axis=(0, 2, 3)).max() == 0
    assert rows[("Shift extrapolation", "speed_m_per_s")]["measured"] >= 0
    assert np.isfinite(ds["motion"].sel(model="PKN with regularization")).all()
    png = tmp_path / "pkn_temperature_motion.png"
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    json.dumps(result.to_json("pkn-temperature"))


def test_tiny_era5_run_against_brute_force_persistence(tmp_path):
    _need_data("era5_t2m_uk")
    get_experiment("pkn-temperature-era5")
    result = run_pkn_temperature(dataset="era5_t2m_uk", sequence_length=12, train_sequences=6,
                                 test_sequences=2, epochs=1, patience=1, seed=0, out=tmp_path)
    rows = _by(result)
    oracle = _brute_force_persistence(12, 2, "era5_t2m_uk", "t2m", 24 * 24)
    measured = [rows[("Persistence", f"mse_step{h}_K2")]["measured"] for h in range(1, 7)]
    np.testing.assert_allclose(measured, oracle, rtol=1e-4)
    ds = result.datasets["pkn_temperature_test"]
    assert ds.sizes["lat"] == 33 and ds.sizes["lon"] == 49 and ds.attrs["step_hours"] == 1
    assert np.all(np.diff(ds.time.values) == np.timedelta64(1, "h"))
    # D in m^2/s from px^2 per hour-long step of 0.25-degree cells
    d_px = rows[("PKN with regularization", "D_px2_per_step")]["measured"]
    cell = 0.25 * np.pi / 180 * 6.371e6
    assert rows[("PKN with regularization", "D_m2_per_s")]["measured"] == pytest.approx(
        d_px * cell**2 / 3600)
    assert (tmp_path / "pkn_temperature_motion.png").is_file()


@pytest.mark.slow
def test_quick_reproduction_beats_persistence(tmp_path):
    _need_data()
    result = run_experiment("pkn-temperature", quick=True, seed=0, out=tmp_path)
    rows = _by(result)

    def m(method):
        return rows[(method, "mse_avg_K2")]["measured"]

    print("\n", {k: round(v["measured"], 4) for k, v in rows.items()})
    # measured (seed 0, idle 2-core machine, every network ran its 8 epochs): persistence
    # 10.08 K^2, shift extrapolation 9.28, ACDNN 6.89, PKN with regularisation 7.44, without
    # 7.27, residual ACDNN 7.31 (on loaded machines the wall-clock cap stops training earlier:
    # ACDNN 7.18, PKNs 7.32-7.55). The thesis's PKN << ACDNN (Table S4) is not reproduced,
    # so only the comparison with persistence is asserted.
    for method in ("ACDNN", "PKN with regularization", "PKN without regularization",
                   "Residual ACDNN"):
        assert m(method) < 0.85 * m("Persistence"), method
    for pkn in ("PKN with regularization", "PKN without regularization"):
        assert rows[(pkn, "speed_m_per_s")]["measured"] > 0.5  # the warp moves things


@pytest.mark.slow
def test_era5_quick_reproduction_beats_persistence(tmp_path):
    _need_data("era5_t2m_uk")
    result = run_experiment("pkn-temperature-era5", quick=True, seed=0, out=tmp_path)
    rows = _by(result)

    def m(method, metric="mse_avg_K2"):
        return rows[(method, metric)]["measured"]

    print("\n", {k: round(v["measured"], 4) for k, v in rows.items()})
    # measured (seed 0, idle 2-core machine, 5.4 min): persistence 1.796 K^2, ACDNN 1.442,
    # PKN with regularisation 1.454 (step 6: 2.70 against ACDNN 3.01), without 1.520,
    # residual ACDNN 1.291. The PKN does not beat the direct predictors on average here
    # either, so only persistence is asserted.
    # The untrained shift extrapolation (deterministic) is 1.750: the motion of the inputs
    # barely persists.
    assert 0.95 * m("Persistence") < m("Shift extrapolation") < m("Persistence")
    for method in ("ACDNN", "PKN with regularization", "PKN without regularization",
                   "Residual ACDNN"):
        assert m(method) < 0.9 * m("Persistence"), method
        assert m(method, "mse_step6_K2") < 0.9 * m("Persistence", "mse_step6_K2"), method
    for pkn in ("PKN with regularization", "PKN without regularization"):
        assert 1.0 < m(pkn, "speed_m_per_s") < 30.0  # the warp moves things, at wind speeds
