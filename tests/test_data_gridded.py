"""Gridded datasets: NCEP air temperature and the eofs SST anomalies against the raw files and
their documented numbers."""

import os
from pathlib import Path

import numpy as np
import pytest

from probdyn import data as pdata


def _path() -> Path:
    root = os.environ.get("PROBDYN_DATA_DIR")
    path = Path(root or "/nonexistent") / pdata.describe("air_temperature_ncep").path
    if not path.is_file():
        pytest.skip(f"{path} not in PROBDYN_DATA_DIR ({root})")
    return path


def test_air_temperature_grid_against_raw_file():
    raw = np.load(_path())
    grid = pdata.grid_fields(pdata.load("air_temperature_ncep"))
    assert grid.dims == ("time", "lat", "lon") and grid.shape == (2920, 25, 53)
    np.testing.assert_array_equal(grid.values, raw["air"].astype(np.float64))
    np.testing.assert_array_equal(grid.lat.values, raw["lat"])
    np.testing.assert_array_equal(grid.lon.values, raw["lon"])
    # the data README: mean 281.2550 K, range 221.0-317.4 K, 6-hourly 2013-01-01 00:00 on
    assert abs(float(grid.mean()) - 281.2550) < 1e-4
    assert abs(float(grid.min()) - 221.0) < 0.05 and abs(float(grid.max()) - 317.4) < 0.05
    assert str(grid.time.values[0])[:16] == "2013-01-01T00:00"
    assert str(grid.time.values[-1])[:16] == "2014-12-31T18:00"
    assert np.all(np.diff(grid.time.values) == np.timedelta64(6, "h"))


def test_sst_anomalies_against_scipy_netcdf_reader():
    # oracle: scipy's NetCDF-3 reader on the raw file, land masked by hand (1e20), as in the
    # data README
    from scipy.io import netcdf_file

    root = os.environ.get("PROBDYN_DATA_DIR")
    path = Path(root or "/nonexistent") / pdata.describe("sst_ndjfm_anomalies").path
    if not path.is_file():
        pytest.skip(f"{path} not in PROBDYN_DATA_DIR ({root})")
    with netcdf_file(path, mmap=False) as nc:
        raw = nc.variables["sst"][:].astype(np.float64)
        lat, lon = nc.variables["latitude"][:], nc.variables["longitude"][:]
        days = nc.variables["time"][:]
    raw = np.where(raw > 1e19, np.nan, raw)
    ds = pdata.load("sst_ndjfm_anomalies")
    assert ds.sst.attrs["units"] == "K" and ds.attrs["frequency"].startswith("yearly")
    grid = pdata.grid_fields(ds, "sst")
    assert grid.dims == ("time", "lat", "lon") and grid.shape == (50, 18, 30)
    np.testing.assert_array_equal(grid.values, raw)
    np.testing.assert_array_equal(grid.lat.values, lat)
    np.testing.assert_array_equal(grid.lon.values, lon)
    # the README: 16.7 % land, the same cells every winter; mid-January 1963 to 2012
    land = np.isnan(raw)
    assert abs(land.mean() - 0.1667) < 1e-3 and np.all(land == land[:1])
    expected = np.datetime64("1800-01-01", "ns") + (days * 86400e9).astype("timedelta64[ns]")
    np.testing.assert_array_equal(grid.time.values, expected)
    assert str(grid.time.values[0])[:10] == "1963-01-15"
    assert str(grid.time.values[-1])[:10] == "2012-01-16"
