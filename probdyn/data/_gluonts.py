"""GluonTS ``*_nips`` datasets (Salinas et al. 2019): the NKF / GP-Copula benchmark splits."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._exchange import _LAI_2018, EXCHANGE_RATE_SERIES
from ._parse import series_dataset
from ._registry import register

_SALINAS_2019 = (
    "Salinas, D., Bohlke-Schneider, M., Callot, L., Medico, R. & Gasthaus, J. (2019). "
    "High-dimensional multivariate forecasting with low-rank Gaussian copula processes. "
    "NeurIPS 2019"
)


def _read_member(archive: tarfile.TarFile, member: str) -> str:
    try:
        return archive.extractfile(member).read().decode("ascii")
    except KeyError:
        raise ValueError(
            f"{archive.name}: no member {member}; is this the registered file?"
        ) from None


def _read_json_lines(archive: tarfile.TarFile, member: str) -> list[dict]:
    return [json.loads(line) for line in _read_member(archive, member).splitlines()
            if line.strip()]


def read_rolling_split(path: Path, name: str, num_series: int, prediction_length: int):
    """Read a GluonTS ``*_nips`` archive: ``(values (T, N), start, freq, train_length,
    num_windows)``, checking that train and the rolling test windows are nested prefixes.

    The archive holds ``train.json`` (N series of length ``train_length``) and ``test.json``
    (``num_windows`` x N entries; window k ends ``(k + 1) * prediction_length`` steps after the
    training range). The values returned are the longest window, which contains all others.
    """
    with tarfile.open(path) as archive:
        meta = json.loads(_read_member(archive, f"{name}/metadata/metadata.json"))
        train = _read_json_lines(archive, f"{name}/train/train.json")
        test = _read_json_lines(archive, f"{name}/test/test.json")
    if len(train) != num_series or len(test) % num_series:
        raise ValueError(f"{path}: expected {num_series} training series and a multiple of "
                         f"{num_series} test entries, got {len(train)} and {len(test)}")
    num_windows = len(test) // num_series
    train_length = len(train[0]["target"])
    values = np.array([d["target"] for d in test[-num_series:]], dtype=np.float64).T
    starts = {d["start"] for d in train + test}
    if len(starts) != 1:
        raise ValueError(f"{path}: the series do not share one start date ({sorted(starts)})")
    for i, entry in enumerate(train + test):
        target = np.asarray(entry["target"], dtype=np.float64)
        k = i // num_series - 1  # -1: training range, else test window k
        expected = train_length + (k + 1) * prediction_length
        if len(target) != expected or not np.array_equal(target, values[:expected,
                                                                          i % num_series]):
            raise ValueError(f"{path}: entry {i} is not a prefix of length {expected} of the "
                             "longest test window; is this the registered file?")
    return values, starts.pop(), meta["time_granularity"], train_length, num_windows


@register(
    "exchange_rate_nips",
    path="gluonts_nips/exchange_rate_nips.tar.gz",
    sha256="83f3cf364ae7854b0a74ef9825c47b8314896de820de877fd466cdffd94027d1",
    url=(
        "https://raw.githubusercontent.com/mbohlkeschneider/gluon-ts/"
        "442bd4ffffa4a0fcf9ae7aa25db9632fbe58a7ea/datasets/exchange_rate_nips.tar.gz"
    ),
    description=(
        "The exchange-rate benchmark of GP-Copula and the NKF with its exact split: 6071 "
        "training steps, then 5 rolling test windows of 30 steps (coordinate 'window': 0 = "
        "training range, k = steps forecast in test window k; attrs train_length, "
        "prediction_length, num_test_windows). The first 6221 days of the LSTNet file."
    ),
    frequency="business daily (GluonTS 'B'; the dates are GluonTS's convention, the source "
              "has none)",
    shape=(6221, 8),
    units="US dollars per unit of currency (inferred from the values; not stated by the source)",
    source=(
        "mbohlkeschneider/gluon-ts, branch mv_release @ 442bd4ffffa4a0fcf9ae7aa25db9632fbe58a7ea, "
        "datasets/exchange_rate_nips.tar.gz (what GluonTS get_dataset('exchange_rate_nips') "
        "downloads)"
    ),
    licence="Apache-2.0 repository (GluonTS fork); cite Salinas et al. 2019 and Lai et al. 2018",
    citation=f"{_SALINAS_2019}; {_LAI_2018}",
)
def _load_exchange_rate_nips(path: Path) -> xr.Dataset:
    prediction_length = 30
    values, start, freq, train_length, num_windows = read_rolling_split(
        path, "exchange_rate_nips", len(EXCHANGE_RATE_SERIES), prediction_length)
    if freq != "B":
        raise ValueError(f"{path}: expected time granularity 'B', got {freq!r}")
    time = pd.bdate_range(pd.Timestamp(start), periods=values.shape[0])
    ds = series_dataset("rate", values, time, units="USD per unit", long_name="exchange rate",
                        series=EXCHANGE_RATE_SERIES)
    steps = np.arange(values.shape[0])
    window = np.where(steps < train_length, 0, (steps - train_length) // prediction_length + 1)
    ds = ds.assign_coords(window=("time", window.astype(np.int64)))
    ds["window"].attrs["long_name"] = "0: training range; k >= 1: forecast range of test window k"
    ds.attrs.update(train_length=int(train_length), prediction_length=prediction_length,
                    num_test_windows=int(num_windows))
    return ds
