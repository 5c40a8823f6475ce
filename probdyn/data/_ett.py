"""ETTh1 / ETTh2: the hourly Electricity Transformer Temperature data (Zhou et al. 2021)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._parse import read_csv, series_dataset
from ._registry import register

#: Value columns of the ETT files: high / middle / low useful and useless load, oil temperature.
ETT_SERIES = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
#: Standard Informer split (Zhou et al. 2021, data_loader.py Dataset_ETT_hour): 12 months of
#: training, 4 of validation, 4 of test, 30-day months of 24 h: step boundaries of each part.
INFORMER_SPLIT = {"train": (0, 8640), "val": (8640, 11520), "test": (11520, 14400)}

_ZHOU_2021 = (
    "Zhou, H., Zhang, S., Peng, J., Zhang, S., Li, J., Xiong, H. & Zhang, W. (2021). "
    "Informer: beyond efficient transformer for long sequence time-series forecasting. "
    "AAAI 2021"
)
_COMMIT = "1d16c8f4f943005d613b5bc962e9eeb06058cf07"


def _load_ett(path: Path) -> xr.Dataset:
    frame = read_csv(path, ("date",) + ETT_SERIES)
    time = pd.DatetimeIndex(pd.to_datetime(frame["date"], format="%Y-%m-%d %H:%M:%S"))
    if len(time) < 2 or not (np.diff(time.values) == np.timedelta64(1, "h")).all():
        raise ValueError(f"{path}: the dates are not consecutive hours; is this the "
                         "registered file?")
    ds = series_dataset("value", frame[list(ETT_SERIES)].to_numpy(np.float64), time,
                        units="load: unstated; OT: degrees Celsius (presumably)",
                        long_name="transformer load (6 features) and oil temperature (OT)",
                        series=ETT_SERIES)
    for part, (start, stop) in INFORMER_SPLIT.items():
        ds.attrs[f"informer_{part}"] = np.array([start, stop], dtype=np.int64)
    ds.attrs["informer_split"] = (
        "standard Informer split (12/4/4 months of 30 days): steps [0, 8640) train, "
        "[8640, 11520) validation, [11520, 14400) test; the file's last 3020 steps are unused "
        "by it (attrs informer_train/val/test: [start, stop) step indices)"
    )
    return ds


for _name, _file, _sha in (
    ("etth1", "ETTh1.csv", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"),
    ("etth2", "ETTh2.csv", "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b"),
):
    register(
        _name,
        _load_ett,
        path=f"ETT/{_file}",
        sha256=_sha,
        url=f"https://raw.githubusercontent.com/zhouhaoyi/ETDataset/{_COMMIT}/ETT-small/{_file}",
        description=(
            f"Electricity Transformer Temperature, station {_name[-1]} (ETT-small-h"
            f"{_name[-1]}): 6 load features and the oil temperature OT (the usual target) of a "
            "transformer in China, hourly, 2016-07-01 00:00 to 2018-06-26 19:00. attrs "
            "informer_split documents the standard Informer split (12/4/4 months)."
        ),
        frequency="hourly",
        shape=(17420, 7),
        units="load features: not stated by the source; OT: oil temperature, presumably deg C",
        source=f"GitHub zhouhaoyi/ETDataset @ {_COMMIT}, ETT-small/{_file}",
        licence="CC BY-ND 4.0 (attribution; redistribute only unmodified copies)",
        citation=_ZHOU_2021,
    )
