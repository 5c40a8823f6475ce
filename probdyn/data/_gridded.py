"""Gridded fields: NCEP/NCAR reanalysis air temperature and ERA5 UK 2-m temperature (the
xarray tutorial data) and the Pacific winter SST anomalies of the eofs package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ._registry import register


@register(
    "air_temperature_ncep",
    path="xarray_data/air_temperature_ncep_2013-2014.npz",
    sha256="c715bdfd7c12b3d4fd9f43621266de0c61a74316aa1034ee5d47f8ecc9ff1a0f",
    description=(
        "NCEP/NCAR reanalysis 6-hourly air temperature at sigma level 995 over North America, "
        "2013-2014, on a 25 x 53 grid of 2.5 degrees (75-15 N, 200-330 E); one series per grid "
        "point (lat-major), with lat/lon coordinates on the series dim (grid_fields() "
        "reshapes to (time, lat, lon))."
    ),
    frequency="6-hourly",
    shape=(2920, 1325),
    units="K",
    source=(
        "xarray tutorial dataset air_temperature: zarr store air_temperature.zarr in GitHub "
        "scottyhq/zarrdata @ 21a5cee3b158d1801692715e1e87e3392fadf87e, decoded to npz by "
        "data/scripts of the probdyn data folder"
    ),
    licence="NCEP/NCAR reanalysis (NOAA PSL): free to use",
    citation=(
        "Kalnay, E. et al. (1996). The NCEP/NCAR 40-year reanalysis project. Bulletin of the "
        "American Meteorological Society 77(3), 437-471."
    ),
    obtain=(
        "xarray.tutorial.load_dataset('air_temperature') (downloads the NetCDF original), "
        "then save air (time, lat, lon), lat, lon and hours since 1800-01-01 as this npz"
    ),
)
def _load_air_temperature(path: Path) -> xr.Dataset:
    with np.load(path) as f:
        air, lat, lon = f["air"], f["lat"], f["lon"]
        hours = f["time_hours_since_1800"]
    time = np.datetime64("1800-01-01T00", "ns") + (
        np.round(hours).astype("int64").astype("timedelta64[h]"))
    return _grid_dataset(path, "air", air, time, lat, lon, "air temperature at sigma level 995")


@register(
    "era5_t2m_uk",
    path="xarray_data/era5_t2m_uk_2019-03.npz",
    sha256="0f229662fbc1953f755e3eb8aae814b427c1ed8fb2d182b1da796ae56958eab2",
    description=(
        "ERA5 reanalysis hourly 2-m temperature over the UK and its seas, March 2019, on a "
        "33 x 49 grid of 0.25 degrees (58-50 N, 10 W-2 E); one series per grid point "
        "(lat-major), with lat/lon coordinates on the series dim (grid_fields(ds, 't2m') "
        "reshapes to (time, lat, lon))."
    ),
    frequency="hourly",
    shape=(744, 1617),
    units="K",
    source=(
        "xarray tutorial file era5-2mt-2019-03-uk.grib (GitHub pydata/xarray-data @ "
        "58de68cb45bcbd1557df11a92827758495481b4e), GRIB1 decoded to npz by data/scripts/"
        "decode_grib1.py of the probdyn data folder. Contains modified Copernicus Climate "
        "Change Service information 2019."
    ),
    licence="Copernicus (C3S) licence for ERA5: free use, attribution required",
    citation=(
        "Hersbach, H. et al. (2020). The ERA5 global reanalysis. Quarterly Journal of the "
        "Royal Meteorological Society 146(730), 1999-2049."
    ),
    obtain=(
        "xarray.tutorial.open_dataset('era5-2mt-2019-03-uk.grib') (needs cfgrib), then save "
        "t2m (time, lat, lon), lat, lon and time (ISO strings) as this npz"
    ),
)
def _load_era5_t2m(path: Path) -> xr.Dataset:
    with np.load(path) as f:
        t2m, lat, lon, time = f["t2m"], f["lat"], f["lon"], f["time"]
    return _grid_dataset(path, "t2m", t2m, time.astype("datetime64[ns]"), lat, lon,
                         "2-m temperature")


def _grid_dataset(path, var, values, time, lat, lon, long_name) -> xr.Dataset:
    """A ``(time, lat, lon)`` array read from ``path`` as ``var`` over ``(time, series)``
    (lat-major series) with lat/lon coordinates on ``series``, after checking its shape and
    that every value is finite."""
    if values.shape != (len(time), len(lat), len(lon)) or not np.all(np.isfinite(values)):
        raise ValueError(f"{path}: {var} has shape {values.shape} (expected (time, lat, lon) = "
                         f"{(len(time), len(lat), len(lon))}, all finite); is this the "
                         f"registered file?")
    glat, glon = np.meshgrid(lat.astype(np.float64), lon.astype(np.float64), indexing="ij")
    return xr.Dataset(
        {var: (("time", "series"), values.reshape(len(time), -1).astype(np.float64),
               {"units": "K", "long_name": long_name})},
        coords={"time": time,
                "lat": ("series", glat.ravel(), {"units": "degrees_north"}),
                "lon": ("series", glon.ravel(), {"units": "degrees_east"})},
    )


@register(
    "sst_ndjfm_anomalies",
    path="eofs/sst_ndjfm_anom.nc",
    sha256="7b85c04e272d020d72d35c3eb9c720e03cb030920a779947de810e5d1dc7252c",
    package_file=("eofs", "examples/example_data/sst_ndjfm_anom.nc"),
    description=(
        "Kaplan sea-surface-temperature anomalies over the Pacific, one November-March mean per "
        "winter, 1963-2012 (time stamped mid-January), on an 18 x 30 grid of 5 degrees "
        "(22.5 S-62.5 N, 117.5-262.5 E); land is NaN (16.7 % of cells). One series per grid "
        "point (lat-major), with lat/lon coordinates on the series dim (grid_fields() "
        "reshapes to (time, lat, lon)). One value per winter: an EOF / El Nino test bed, too "
        "coarse in time for advection forecasting."
    ),
    frequency="yearly (NDJFM winter means)",
    shape=(50, 540),
    units="K",
    source=(
        "eofs 2.0.0 example data (eofs/examples/example_data/sst_ndjfm_anom.nc; GitHub "
        "ajdawson/eofs @ c617dc67495d07ba0f3eba379abcd2e2c8b5fc43), derived from the Kaplan "
        "extended SST v2 (NOAA PSL)"
    ),
    licence="GPL-3 (eofs package): keep the licence notice",
    citation=(
        "Kaplan, A. et al. (1998). Analyses of global sea surface temperature 1856-1991. "
        "J. Geophys. Res. 103(C9), 18567-18589. Dawson, A. (2016). eofs: a library for EOF "
        "analysis of meteorological, oceanographic, and climate data. J. Open Res. Softw. 4(1)."
    ),
)
def _load_sst_anomalies(path: Path) -> xr.Dataset:
    # the scipy engine reads NetCDF-3 without netCDF4 and masks missing_value = 1e20 as NaN
    with xr.open_dataset(path, engine="scipy") as raw:
        sst = raw["sst"].transpose("time", "latitude", "longitude").values.astype(np.float64)
        lat = raw["latitude"].values.astype(np.float64)
        lon = raw["longitude"].values.astype(np.float64)
        time = raw["time"].values.astype("datetime64[ns]")
    if sst.shape != (len(time), len(lat), len(lon)) or np.any(np.abs(sst) > 1e3):
        raise ValueError(f"{path}: sst of shape {sst.shape} with |values| up to "
                         f"{np.nanmax(np.abs(sst)):.3g}; is this the registered file?")
    glat, glon = np.meshgrid(lat, lon, indexing="ij")
    return xr.Dataset(
        {"sst": (("time", "series"), sst.reshape(len(time), -1),
                 {"units": "K", "long_name": "NDJFM mean SST anomaly (NaN over land)"})},
        coords={"time": time,
                "lat": ("series", glat.ravel(), {"units": "degrees_north"}),
                "lon": ("series", glon.ravel(), {"units": "degrees_east"})},
    )


def _in_order(values: np.ndarray) -> np.ndarray:
    """Distinct values in order of first appearance."""
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def grid_fields(ds: xr.Dataset, var: str = "air") -> xr.DataArray:
    """A gridded dataset's ``(time, series)`` variable reshaped to ``(time, lat, lon)``
    (series in lat-major order, as the loaders store them)."""
    lat, lon = (_in_order(ds[c].values) for c in ("lat", "lon"))
    values = ds[var].values
    if values.shape[1] != len(lat) * len(lon):
        raise ValueError(f"{var} has {values.shape[1]} series, not a full lat x lon grid "
                         f"({len(lat)} x {len(lon)})")
    grid = values.reshape(len(ds["time"]), len(lat), len(lon))
    return xr.DataArray(grid, dims=("time", "lat", "lon"),
                        coords={"time": ds["time"].values, "lat": lat, "lon": lon},
                        attrs=dict(ds[var].attrs))
