"""GluonTS ``*_nips`` datasets (Salinas et al. 2019): the NKF / GP-Copula benchmark splits.

Every archive has the layout GluonTS's ``get_dataset`` unpacks
(``src/gluonts/dataset/repository/_gp_copula_2019.py``): ``<root>/metadata/metadata.json``
(the frequency under ``time_granularity`` or ``freq``), ``<root>/train/*.json`` (N JSON lines
``{"start", "target"}``, one per series) and ``<root>/test/*.json`` (W x N lines: rolling
window k holds every series extended to the end of its forecast range). One reader,
:func:`read_rolling_split`, handles all of them; :func:`nips_dataset` turns the result into the
registry's xarray form.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from dataclasses import dataclass
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
#: The GP-Copula fork GluonTS downloads these archives from (branch mv_release, pinned at the
#: commit whose exchange_rate_nips.tar.gz is in the reference data).
_FORK = ("https://raw.githubusercontent.com/mbohlkeschneider/gluon-ts/"
         "442bd4ffffa4a0fcf9ae7aa25db9632fbe58a7ea/datasets/")
_FORK_SOURCE = ("mbohlkeschneider/gluon-ts, branch mv_release @ "
                "442bd4ffffa4a0fcf9ae7aa25db9632fbe58a7ea, datasets/{file} (GluonTS "
                "get_dataset({name!r}) downloads it from the branch head)")
_LICENCE = "Apache-2.0 repository (GluonTS / its GP-Copula fork); cite Salinas et al. 2019"
#: pandas frequency of each GluonTS time granularity used by these archives
_PANDAS_FREQ = {"B": "B", "D": "D", "H": "h", "1H": "h", "1D": "D"}
_UNRECORDED = (" The file is not in the reference data: its sha256 is not yet recorded, so "
               "load() reads it unverified (with a warning that prints its digest).")


@dataclass(frozen=True)
class RollingSplit:
    """The content of a ``*_nips`` archive.

    ``values (T, N)`` is the longest test window (it contains the training range and every
    other window); ``start`` the first date (str), ``freq`` the archive's time granularity
    (None when its metadata.json states none);
    ``train_length`` the length of the training entries; ``window_ends`` the end (exclusive
    step index) of each rolling test window, increasing by ``prediction_length``.
    """

    values: np.ndarray
    start: str
    freq: str | None
    train_length: int
    window_ends: tuple[int, ...]
    prediction_length: int

    @property
    def num_windows(self) -> int:
        return len(self.window_ends)

    @property
    def test_start(self) -> int:
        """First step forecast by the first test window (steps before it: training data)."""
        return self.window_ends[0] - self.prediction_length


def _members(archive: tarfile.TarFile, folder: str) -> list[str]:
    names = sorted(m.name for m in archive.getmembers()
                   if m.isfile() and posixpath.dirname(m.name) == folder
                   and m.name.endswith(".json"))
    if not names:
        raise ValueError(f"{archive.name}: no JSON file in {folder}/; is this a GluonTS "
                         "*_nips archive (and the registered file)?")
    return names


def _read_text(archive: tarfile.TarFile, member: str) -> str:
    try:
        return archive.extractfile(member).read().decode("utf-8")
    except KeyError:
        raise ValueError(
            f"{archive.name}: no member {member}; is this the registered file?"
        ) from None


def _read_json_lines(archive: tarfile.TarFile, folder: str) -> list[dict]:
    entries = []
    for member in _members(archive, folder):
        for number, line in enumerate(_read_text(archive, member).splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{archive.name}: {member} line {number} is not JSON "
                                 f"({err.msg})") from None
            if not isinstance(entry, dict) or not {"start", "target"} <= set(entry):
                raise ValueError(f"{archive.name}: {member} line {number} lacks 'start' or "
                                 "'target'")
            entries.append(entry)
    return entries


def _target(entry: dict, where: str) -> np.ndarray:
    try:  # GluonTS writes missing values as NaN or "NaN"
        target = np.asarray(entry["target"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: 'target' is not a list of numbers") from None
    if target.ndim != 1 or target.size == 0:
        raise ValueError(f"{where}: 'target' must be a non-empty 1-D list")
    return target


def read_rolling_split(path: Path, root: str, num_series: int, prediction_length: int,
                       num_windows: int | None = None) -> RollingSplit:
    """Read and check a GluonTS ``*_nips`` archive.

    Parameters
    ----------
    path : Path
        The ``.tar.gz`` archive.
    root : str
        Its top folder (the GluonTS dataset name, e.g. ``"exchange_rate_nips"``).
    num_series, prediction_length : int
        Expected N and forecast length.
    num_windows : int, optional
        Expected number of rolling test windows (not checked when None).

    Returns
    -------
    RollingSplit

    Raises
    ------
    ValueError
        If a member is missing or not JSON lines, the counts differ from the expected ones,
        the series do not share one start, the window ends do not step by
        ``prediction_length``, or an entry is not a prefix of the longest test window.
    """
    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as err:
        raise ValueError(f"{path}: not a readable tar archive ({err})") from None
    with archive:
        meta = json.loads(_read_text(archive, f"{root}/metadata/metadata.json"))
        train = _read_json_lines(archive, f"{root}/train")
        test = _read_json_lines(archive, f"{root}/test")
    freq = meta.get("time_granularity", meta.get("freq")) if isinstance(meta, dict) else None
    if freq is not None and not isinstance(freq, str):
        raise ValueError(f"{path}: metadata.json gives a non-string frequency {freq!r}")
    N = int(num_series)
    if len(train) != N or not test or len(test) % N:
        raise ValueError(f"{path}: expected {N} training series and a multiple of {N} test "
                         f"entries, got {len(train)} and {len(test)}")
    starts = {str(d["start"]) for d in train + test}
    if len(starts) != 1:
        raise ValueError(f"{path}: the series do not share one start date ({sorted(starts)})")
    train_t = [_target(d, f"{path}: train entry {i}") for i, d in enumerate(train)]
    test_t = [_target(d, f"{path}: test entry {i}") for i, d in enumerate(test)]
    W = len(test) // N
    ends = []
    for k in range(W):
        lengths = {len(t) for t in test_t[k * N:(k + 1) * N]}
        if len(lengths) != 1:
            raise ValueError(f"{path}: the series of test window {k} differ in length "
                             f"({sorted(lengths)})")
        ends.append(lengths.pop())
    train_lengths = {len(t) for t in train_t}
    if len(train_lengths) != 1:
        raise ValueError(f"{path}: the training series differ in length")
    train_length = train_lengths.pop()
    if any(b - a != prediction_length for a, b in zip(ends, ends[1:])) or \
            ends[0] - prediction_length < 1 or ends[-1] <= train_length:
        raise ValueError(f"{path}: test windows end at steps {ends}: expected ends increasing "
                         f"by prediction_length={prediction_length} beyond the training "
                         f"range ({train_length} steps)")
    if num_windows is not None and W != num_windows:
        raise ValueError(f"{path}: expected {num_windows} rolling test windows, got {W}")
    values = np.stack(test_t[-N:], axis=1)
    for i, target in enumerate(train_t + test_t):
        if not np.array_equal(target, values[:len(target), i % N], equal_nan=True):
            raise ValueError(f"{path}: entry {i} is not a prefix of the longest test window; "
                             "is this the registered file?")
    return RollingSplit(values, starts.pop(), freq, train_length, tuple(ends),
                        int(prediction_length))


@dataclass(frozen=True)
class NipsSpec:
    """What the registry knows of one ``*_nips`` archive before reading it."""

    root: str  # top folder of the archive (the GluonTS dataset name)
    num_series: int
    freq: str  # GluonTS time granularity
    prediction_length: int
    num_windows: int | None  # None: not checked
    variable: str
    units: str
    long_name: str
    series: tuple[str, ...] | None = None  # default "0" ... "N-1"


def nips_dataset(path: Path, spec: NipsSpec) -> xr.Dataset:
    """A ``*_nips`` archive as the registry's Dataset: variable ``spec.variable`` (time,
    series), coordinate ``window`` (0 = steps before the first forecast range, k = steps
    forecast by test window k) and attrs ``train_length`` (steps before the first forecast
    range: the leak-free training range :func:`probdyn.models.backtest` starts from),
    ``archive_train_length`` (length of the archive's training entries; equal unless the
    archive's training range overlaps the first test window), ``prediction_length``,
    ``num_test_windows``, ``archive_freq`` (the archive's frequency; when its metadata states
    none, the registered one is used and this says so)."""
    split = read_rolling_split(path, spec.root, spec.num_series, spec.prediction_length,
                               spec.num_windows)
    if split.freq is not None and _PANDAS_FREQ.get(split.freq) != _PANDAS_FREQ[spec.freq]:
        raise ValueError(f"{path}: expected time granularity {spec.freq!r}, got {split.freq!r}")
    T = split.values.shape[0]
    freq = _PANDAS_FREQ[spec.freq]
    start = pd.Timestamp(split.start)
    time = (pd.bdate_range(start, periods=T) if freq == "B"
            else pd.date_range(start, periods=T, freq=freq))
    series = spec.series or tuple(str(i) for i in range(spec.num_series))
    ds = series_dataset(spec.variable, split.values, time, units=spec.units,
                        long_name=spec.long_name, series=series)
    steps = np.arange(T)
    window = np.where(steps < split.test_start, 0,
                      (steps - split.test_start) // split.prediction_length + 1)
    ds = ds.assign_coords(window=("time", window.astype(np.int64)))
    ds["window"].attrs["long_name"] = ("0: before the first forecast range (training); k >= 1: "
                                       "forecast range of test window k")
    ds.attrs.update(train_length=int(split.test_start),
                    archive_train_length=int(split.train_length),
                    prediction_length=int(split.prediction_length),
                    num_test_windows=int(split.num_windows),
                    archive_freq=split.freq or f"not stated (registered: {spec.freq})")
    return ds


def _register_nips(name: str, spec: NipsSpec, *, file: str, sha256: str | None, url: str,
                   source: str, description: str, frequency: str, length: int | None,
                   citation: str, units: str | None = None) -> None:
    def loader(path: Path) -> xr.Dataset:
        return nips_dataset(path, spec)

    loader.__name__ = f"_load_{name}"
    loader.__doc__ = f"Read ``{file}`` (see :func:`nips_dataset`)."
    register(name, loader, path=f"gluonts_nips/{file}", sha256=sha256, url=url,
             description=description + ("" if sha256 else _UNRECORDED), frequency=frequency,
             shape=(length, spec.num_series), units=units or spec.units, source=source,
             licence=_LICENCE, citation=citation)


_register_nips(
    "exchange_rate_nips",
    NipsSpec("exchange_rate_nips", 8, "B", 30, 5, "rate", "USD per unit", "exchange rate",
             EXCHANGE_RATE_SERIES),
    file="exchange_rate_nips.tar.gz",
    sha256="83f3cf364ae7854b0a74ef9825c47b8314896de820de877fd466cdffd94027d1",
    url=_FORK + "exchange_rate_nips.tar.gz",
    source=_FORK_SOURCE.format(file="exchange_rate_nips.tar.gz", name="exchange_rate_nips"),
    description=(
        "The exchange-rate benchmark of GP-Copula and the NKF with its exact split: 6071 "
        "training steps, then 5 rolling test windows of 30 steps (coordinate 'window': 0 = "
        "training range, k = steps forecast in test window k; attrs train_length, "
        "prediction_length, num_test_windows). The first 6221 days of the LSTNet file."
    ),
    frequency="business daily (GluonTS 'B'; the dates are GluonTS's convention, the source "
              "has none)",
    length=6221,
    citation=f"{_SALINAS_2019}; {_LAI_2018}",
    units="US dollars per unit of currency (inferred from the values; not stated by the source)",
)

_HOURLY = ("hourly (GluonTS 'H'); 7 rolling test windows of 24 steps (spec §5.3; number "
           "checked when read)")
_DAILY = "daily (GluonTS 'D'); 5 rolling test windows of 30 steps (spec §5.3)"

_register_nips(
    "solar_nips",
    NipsSpec("solar_nips", 137, "H", 24, 7, "power", "MW (LSTNet's description of the "
             "source; not stated in the archive)", "PV power production"),
    file="solar_nips.tar.gz", sha256=None, url=_FORK + "solar_nips.tar.gz",
    source=_FORK_SOURCE.format(file="solar_nips.tar.gz", name="solar_nips") +
    "; GluonTS saves it as 'solar-energy'. Data: NREL Solar Power Data for Integration Studies "
    "(Alabama 2006; synthetic PV plant outputs), via LSTNet's solar_AL",
    description=(
        "GP-Copula / NKF solar benchmark: 137 PV plants, hourly; training range then 7 "
        "rolling windows of 24 hours (coordinate 'window', attrs as exchange_rate_nips). "
        "Thesis Table S4: 7009 training steps."
    ),
    frequency=_HOURLY, length=None,
    citation=f"{_SALINAS_2019}; {_LAI_2018}",
)

_register_nips(
    "electricity_nips",
    NipsSpec("electricity_nips", 370, "H", 24, 7, "load", "kW (hourly consumption, UCI "
             "ElectricityLoadDiagrams20112014 as aggregated by LSTNet; not stated in the "
             "archive)", "electricity consumption"),
    file="electricity_nips.tar.gz", sha256=None, url=_FORK + "electricity_nips.tar.gz",
    source=_FORK_SOURCE.format(file="electricity_nips.tar.gz", name="electricity_nips") +
    "; original data: UCI ElectricityLoadDiagrams20112014",
    description=(
        "GP-Copula / NKF electricity benchmark ('elec' in the NKF paper, Table S5's missing-"
        "data dataset): 370 clients, hourly; training range then 7 rolling windows of 24 hours. "
        "Thesis Table S4: 5790 training steps."
    ),
    frequency=_HOURLY, length=None,
    citation=f"{_SALINAS_2019}; {_LAI_2018}",
)

_register_nips(
    "traffic_nips",
    NipsSpec("traffic_nips", 963, "H", 24, 7, "occupancy", "occupancy rate in [0, 1] (PeMS; "
             "not stated in the archive)", "road occupancy"),
    file="traffic_nips.tar.gz", sha256=None, url=_FORK + "traffic_nips.tar.gz",
    source=_FORK_SOURCE.format(file="traffic_nips.tar.gz", name="traffic_nips") +
    "; original data: Caltrans PeMS (San Francisco Bay Area freeways), UCI PEMS-SF",
    description=(
        "GP-Copula / NKF traffic benchmark: 963 freeway sensors, hourly; training range then "
        "7 rolling windows of 24 hours. Thesis Table S4: 10413 training steps."
    ),
    frequency=_HOURLY, length=None,
    citation=f"{_SALINAS_2019}; {_LAI_2018}",
)

_WIKI_ROLLING_URL = ("https://github.com/awslabs/gluon-ts/raw/"
                     "1553651ca1fca63a16e012b8927bd9ce72b8e79e/datasets/wiki-rolling_nips.tar.gz")
_register_nips(
    "wiki_rolling_nips",
    NipsSpec("wiki-rolling_nips", 9535, "D", 30, 5, "views", "page views per day",
             "Wikipedia page views"),
    file="wiki-rolling_nips.tar.gz", sha256=None, url=_WIKI_ROLLING_URL,
    source=("awslabs/gluon-ts @ 1553651ca1fca63a16e012b8927bd9ce72b8e79e, "
            "datasets/wiki-rolling_nips.tar.gz (the Git-LFS object GluonTS "
            "get_dataset('wiki-rolling_nips') downloads; also on mbohlkeschneider/gluon-ts "
            "mv_release as an LFS file)"),
    description=(
        "GP-Copula wiki benchmark (GluonTS name 'wiki-rolling_nips'): 9535 daily page-view "
        "series; training range then 5 rolling windows of 30 days. GluonTS caps the "
        "dimension at 2000 (max_target_dim), the NKF paper uses N = 2000 (see wiki2000_nips)."
    ),
    frequency=_DAILY, length=None, citation=_SALINAS_2019,
)

_WIKI2000_URL = ("https://github.com/awslabs/gluonts/raw/"
                 "b89f203595183340651411a41eeb0ee60570a4d9/datasets/wiki2000_nips.tar.gz")
_register_nips(
    "wiki2000_nips",
    NipsSpec("wiki2000_nips", 2000, "D", 30, None, "views", "page views per day",
             "Wikipedia page views"),
    file="wiki2000_nips.tar.gz", sha256=None, url=_WIKI2000_URL,
    source=("awslabs/gluonts @ b89f203595183340651411a41eeb0ee60570a4d9, "
            "datasets/wiki2000_nips.tar.gz (not in GluonTS's get_dataset list; the URL "
            "downstream GluonTS-based code downloads)"),
    description=(
        "The 2000-series wiki benchmark of the NKF paper (Table S4: N = 2000, 792 training "
        "days), daily, prediction length 30. The number of rolling windows is read from the "
        "archive (not checked; spec §5.3 says 5). If its training entries overlap the first "
        "test window, attrs train_length is the leak-free range before the first forecast and "
        "archive_train_length the archive's own."
    ),
    frequency="daily (GluonTS 'D'); rolling test windows of 30 steps", length=None,
    citation=_SALINAS_2019,
)
