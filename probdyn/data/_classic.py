"""Classic state-space series: Nile, sunspots, Mauna Loa CO2, Hudson Bay lynx and hare."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._parse import month_starts, read_csv, series_dataset, year_coord
from ._registry import register

_STATSMODELS = "statsmodels 0.15.0 (PyPI), file statsmodels/datasets/{}"
_PUBLIC_DOMAIN = "public domain (as marked by statsmodels; statsmodels itself is BSD-3)"


@register(
    "nile",
    path="statsmodels/nile.csv",
    sha256="88e97bea7249e5832a85e41aec6ce4b8f7b1b14aae930c8363da7f193286b598",
    package_file=("statsmodels", "datasets/nile/nile.csv"),
    description="Annual flow of the Nile at Aswan, 1871-1970; change point near 1898.",
    frequency="yearly",
    shape=(100,),
    units="1e8 m^3 per year",
    source=_STATSMODELS.format("nile/nile.csv"),
    licence=_PUBLIC_DOMAIN,
    citation=(
        "Cobb, G. W. (1978). The problem of the Nile: conditional solution to a changepoint "
        "problem. Biometrika 65(2), 243-251; Durbin, J. & Koopman, S. J. (2012). Time Series "
        "Analysis by State Space Methods, 2nd ed."
    ),
)
def _load_nile(path: Path) -> xr.Dataset:
    frame = read_csv(path, ["year", "volume"])
    return series_dataset(
        "volume",
        frame["volume"].to_numpy(),
        year_coord(frame["year"]),
        units="1e8 m^3",
        long_name="annual discharge at Aswan",
    )


@register(
    "sunspots",
    path="statsmodels/sunspots_yearly.csv",
    sha256="f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b",
    package_file=("statsmodels", "datasets/sunspots/sunspots.csv"),
    description="Yearly mean sunspot number, 1700-2008 (NGDC, pre-2015 calibration).",
    frequency="yearly",
    shape=(309,),
    units="sunspot number (dimensionless)",
    source=_STATSMODELS.format("sunspots/sunspots.csv"),
    licence=_PUBLIC_DOMAIN,
    citation="NOAA National Geophysical Data Center (NGDC), yearly mean sunspot numbers.",
)
def _load_sunspots(path: Path) -> xr.Dataset:
    frame = read_csv(path, ["YEAR", "SUNACTIVITY"])
    return series_dataset(
        "sunspots",
        frame["SUNACTIVITY"].to_numpy(),
        year_coord(frame["YEAR"]),
        units="1",
        long_name="yearly mean sunspot number",
    )


_YEAR_ROW = re.compile(r"^(\d{4})((?:\s+-?\d+(?:\.\d*)?)+)\s*$")


@register(
    "sunspots_monthly",
    path="statsmodels/sunspots_monthly.dat",
    sha256="cc303d26340b6d599bc2878899f8c50c12323dc04b52a26ad047965ea2b9d2a3",
    package_file=("statsmodels", "datasets/sunspots/src/sunspots_monthly.dat"),
    description=(
        "Monthly mean sunspot number, 1749-01 to 2009-06 (NGDC; preliminary after 2008-12, "
        "February 1824 interpolated)."
    ),
    frequency="monthly",
    shape=(3126,),
    units="sunspot number (dimensionless)",
    source=_STATSMODELS.format("sunspots/src/sunspots_monthly.dat"),
    licence=_PUBLIC_DOMAIN,
    citation="NOAA National Geophysical Data Center (NGDC), monthly mean sunspot numbers.",
)
def _load_sunspots_monthly(path: Path) -> xr.Dataset:
    years, rows = [], []
    with open(path, encoding="ascii") as f:
        for line in f:
            match = _YEAR_ROW.match(line.rstrip("\n"))
            if match:
                years.append(int(match.group(1)))
                rows.append([float(v) for v in match.group(2).split()])
    if not rows or np.any(np.diff(years) != 1):
        raise ValueError(f"{path}: expected one row per consecutive year")
    if any(len(r) != 12 for r in rows[:-1]) or not 1 <= len(rows[-1]) <= 12:
        raise ValueError(f"{path}: every year but the last must have 12 monthly values")
    values = np.concatenate(rows)
    time = month_starts(f"{years[0]}-01", values.size)
    return series_dataset(
        "sunspots", values, time, units="1", long_name="monthly mean sunspot number"
    )


@register(
    "co2",
    path="rdatasets/datasets_co2_monthly_maunaloa.csv",
    sha256="16f9baa6f3986f31d5b4585d14f5479471a719906638626570ea96faab038807",
    url=(
        "https://raw.githubusercontent.com/vincentarelbundock/Rdatasets/"
        "1dcc2bf5f955cc1224a3e1307256e1fe86b68dae/csv/timeSeriesDataSets/co2_ts.csv"
    ),
    description=(
        "Monthly atmospheric CO2 at Mauna Loa, 1959-01 to 1997-12 (R datasets::co2; "
        "Feb-Apr 1964 interpolated by the source)."
    ),
    frequency="monthly",
    shape=(468,),
    units="ppm (mole fraction)",
    source=(
        "Rdatasets @ 1dcc2bf5f955cc1224a3e1307256e1fe86b68dae, csv/timeSeriesDataSets/co2_ts.csv "
        "(R datasets::co2)"
    ),
    licence="R package data (GPL, as part of R / CRAN)",
    citation=(
        "Keeling, C. D. & Whorf, T. P., Scripps Institution of Oceanography; NOAA. "
        "R Core Team, datasets::co2."
    ),
)
def _load_co2(path: Path) -> xr.Dataset:
    frame = read_csv(path, ["time", "value"])
    t = frame["time"].to_numpy()  # decimal years: year + (month - 1) / 12
    year0 = int(np.floor(t[0] + 1e-6))
    months = np.round((t - year0) * 12).astype(np.int64)  # months since January of year0
    if np.any(np.diff(months) != 1) or not np.allclose(year0 + months / 12, t, atol=1e-6):
        raise ValueError(f"{path}: time must be consecutive months in decimal years")
    time = month_starts(f"{year0}-{months[0] + 1:02d}", len(frame))
    return series_dataset(
        "co2", frame["value"].to_numpy(), time, units="ppm", long_name="atmospheric CO2"
    )


@register(
    "co2_weekly",
    path="statsmodels/co2_weekly.csv",
    sha256="16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
    package_file=("statsmodels", "datasets/co2/co2.csv"),
    description=(
        "Weekly atmospheric CO2 at Mauna Loa (continuous air samples), 1958-03-29 to "
        "2001-12-29; 59 missing weeks are NaN."
    ),
    frequency="weekly",
    shape=(2284,),
    units="ppmv",
    source=_STATSMODELS.format("co2/co2.csv"),
    licence=_PUBLIC_DOMAIN,
    citation=(
        "Keeling, C. D. & Whorf, T. P. (2004). Atmospheric CO2 records from sites in the SIO "
        "air sampling network. Trends: A Compendium of Data on Global Change, CDIAC."
    ),
)
def _load_co2_weekly(path: Path) -> xr.Dataset:
    frame = read_csv(path, ["date", "co2"], dtype={"date": str})
    time = pd.DatetimeIndex(pd.to_datetime(frame["date"], format="%Y%m%d"))
    if not time.is_monotonic_increasing:
        raise ValueError(f"{path}: dates must increase")
    return series_dataset(
        "co2", frame["co2"].to_numpy(), time, units="ppmv", long_name="atmospheric CO2"
    )


@register(
    "lynx_hare",
    path="lotka_volterra/hudson-bay-lynx-hare.csv",
    sha256="b9d7bab8be18fe3b67e32e55e9888ad1847ff29dbc0de566070d0ff969adf14d",
    url=(
        "https://raw.githubusercontent.com/stan-dev/example-models/"
        "3057930df98f3fe54ee32b1d6736a97ac0012ab6/knitr/lotka-volterra/hudson-bay-lynx-hare.csv"
    ),
    description=(
        "Hudson's Bay Company pelts of snowshoe hare (prey) and Canadian lynx (predator), "
        "1900-1920, in thousands; series order: hare, lynx."
    ),
    frequency="yearly",
    shape=(21, 2),
    units="thousands of pelts",
    source=(
        "stan-dev/example-models @ 3057930df98f3fe54ee32b1d6736a97ac0012ab6, "
        "knitr/lotka-volterra/hudson-bay-lynx-hare.csv (from Howard's lecture notes)"
    ),
    licence="historical counts, no explicit licence",
    citation=(
        "Carpenter, B. (2018). Predator-Prey Population Dynamics: the Lotka-Volterra model in "
        "Stan (Stan case study); Howard, P., Modeling basics, Texas A&M lecture notes (M442)."
    ),
)
def _load_lynx_hare(path: Path) -> xr.Dataset:
    frame = read_csv(path, ["Year", "Lynx", "Hare"], comment="#", skipinitialspace=True)
    values = frame[["Hare", "Lynx"]].to_numpy()
    return series_dataset(
        "pelts",
        values,
        year_coord(frame["Year"]),
        units="thousands",
        long_name="pelts traded",
        series=["hare", "lynx"],
    )
