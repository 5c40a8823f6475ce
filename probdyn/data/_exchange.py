"""Exchange rates: the eight daily LSTNet series (Lai et al. 2018)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import xarray as xr

from ._parse import series_dataset
from ._registry import register

#: Column order of the LSTNet file (laiguokun/multivariate-time-series-data README).
EXCHANGE_RATE_SERIES = (
    "Australia",
    "British",
    "Canada",
    "Switzerland",
    "China",
    "Japan",
    "New Zealand",
    "Singapore",
)

_LAI_2018 = (
    "Lai, G., Chang, W.-C., Yang, Y. & Liu, H. (2018). Modeling long- and short-term temporal "
    "patterns with deep neural networks. SIGIR 2018."
)


@register(
    "exchange_rate",
    path="laiguokun/exchange_rate.txt.gz",
    sha256="6a4fbb561dcdee43f071a83badbeec9223a335552278348656738b556f1c2e9d",
    url=(
        "https://raw.githubusercontent.com/laiguokun/multivariate-time-series-data/"
        "7f402f185cc2435b5e66aed13a3b560ed142e023/exchange_rate/exchange_rate.txt.gz"
    ),
    description=(
        "Daily exchange rates of 8 currencies against the US dollar, 1990 onwards (the LSTNet "
        "file; the source gives no dates, so time is a day index)."
    ),
    frequency="daily",
    shape=(7588, 8),
    units="US dollars per unit of currency (inferred from the values; not stated by the source)",
    source=(
        "laiguokun/multivariate-time-series-data @ 7f402f185cc2435b5e66aed13a3b560ed142e023, "
        "exchange_rate/exchange_rate.txt.gz"
    ),
    licence="no licence file in the source repository; cite Lai et al. 2018",
    citation=_LAI_2018,
)
def _load_exchange_rate(path: Path) -> xr.Dataset:
    with gzip.open(path, "rt", encoding="ascii") as f:
        values = np.loadtxt(f, delimiter=",", ndmin=2)
    time = xr.DataArray(np.arange(values.shape[0]), dims="time", attrs={"long_name": "day index"})
    return series_dataset(
        "rate",
        values,
        time,
        units="USD per unit",
        long_name="exchange rate",
        series=EXCHANGE_RATE_SERIES,
    )
