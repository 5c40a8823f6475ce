"""Gridded datasets: NCEP air temperature, ERA5 UK 2-m temperature and the eofs SST anomalies
against the raw files and their documented numbers."""

import importlib.util
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


def test_era5_t2m_against_the_grib_file():
    # oracle: the data folder's numpy-only GRIB1 decoder on the original .grib (the registered
    # .npz is a decoded copy of it)
    root = os.environ.get("PROBDYN_DATA_DIR")
    folder = Path(root or "/nonexistent")
    grib = folder / "xarray_data" / "era5-2mt-2019-03-uk.grib"
    decoder = folder / "scripts" / "decode_grib1.py"
    if not (grib.is_file() and decoder.is_file()):
        pytest.skip(f"{grib} or {decoder} not in PROBDYN_DATA_DIR ({root})")
    spec = importlib.util.spec_from_file_location("decode_grib1", decoder)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    t2m, lat, lon, times, _ = module.decode(str(grib))
    ds = pdata.load("era5_t2m_uk")
    assert ds.t2m.attrs["units"] == "K" and ds.attrs["frequency"] == "hourly"
    grid = pdata.grid_fields(ds, "t2m")
    assert grid.dims == ("time", "lat", "lon") and grid.shape == (744, 33, 49)
    np.testing.assert_array_equal(grid.values, t2m.astype(np.float64))
    np.testing.assert_array_equal(grid.lat.values, lat)
    np.testing.assert_array_equal(grid.lon.values, lon)
    np.testing.assert_array_equal(grid.time.values, np.asarray(times).astype("datetime64[ns]"))
    # the data README: hourly 2019-03-01 00:00 to 2019-03-31 23:00, 58-50 N, 10 W-2 E
    assert str(grid.time.values[0])[:16] == "2019-03-01T00:00"
    assert str(grid.time.values[-1])[:16] == "2019-03-31T23:00"
    assert np.all(np.diff(grid.time.values) == np.timedelta64(1, "h"))
    assert (grid.lat.values[0], grid.lat.values[-1]) == (58.0, 50.0)
    assert (grid.lon.values[0], grid.lon.values[-1]) == (-10.0, 2.0)
