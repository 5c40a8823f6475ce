"""Gridded datasets: NCEP air temperature against the raw file and its documented numbers."""

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
