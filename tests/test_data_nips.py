"""The GluonTS ``*_nips`` loader on archives built here, and entries without a recorded sha256."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import probdyn.data as pdata
from probdyn.data import _registry
from probdyn.data._gluonts import NipsSpec, nips_dataset, read_rolling_split

UNRECORDED = ["electricity_nips", "solar_nips", "traffic_nips", "wiki2000_nips",
              "wiki_rolling_nips"]


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _lines(entries) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


def make_archive(path: Path, root: str, values: np.ndarray, train_length: int,
                 window_ends, meta: dict, start: str, tamper=None) -> np.ndarray:
    """Write a GluonTS-layout archive of ``values (T, N)``: train = first ``train_length``
    steps, test window k = first ``window_ends[k]`` steps. ``tamper(train, test)`` may edit
    the entries. Returns ``values``."""
    N = values.shape[1]
    train = [{"start": start, "target": values[:train_length, i].tolist(), "item_id": i}
             for i in range(N)]
    test = [{"start": start, "target": values[:end, i].tolist()}
            for end in window_ends for i in range(N)]
    if tamper is not None:
        tamper(train, test)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, f"{root}/metadata/metadata.json", json.dumps(meta))
        _add(tar, f"{root}/train/train.json", _lines(train))
        _add(tar, f"{root}/test/test.json", _lines(test))
    return values


def _hourly(path, root="toy_nips", N=3, train=40, tamper=None, **kw):
    values = np.random.default_rng(0).integers(0, 50, size=(train + 7 * 24, N)).astype(float)
    ends = [train + 24 * (k + 1) for k in range(7)]
    meta = kw.pop("meta", {"time_granularity": "H"})
    return make_archive(path, root, values, train, ends, meta, "2014-01-01 00:00:00",
                        tamper=tamper)


HOURLY = NipsSpec("toy_nips", 3, "H", 24, 7, "load", "kW", "toy load")


def _nan_as_string(train, test):  # GluonTS's JSON writes missing values as "NaN"
    for entry in train + test:
        entry["target"] = ["NaN" if np.isnan(v) else v for v in entry["target"]]


@pytest.mark.parametrize("nan_as", ["literal", "string"])
def test_hourly_archive_window_coordinate_dates_and_values(tmp_path, nan_as):
    values = np.random.default_rng(0).integers(0, 50, size=(40 + 7 * 24, 3)).astype(float)
    values[5, 1] = values[100, 2] = np.nan
    make_archive(tmp_path / "a.tar.gz", "toy_nips", values, 40,
                 [40 + 24 * (k + 1) for k in range(7)], {"time_granularity": "H"},
                 "2014-01-01 00:00:00", tamper=_nan_as_string if nan_as == "string" else None)
    ds = nips_dataset(tmp_path / "a.tar.gz", HOURLY)
    assert ds["load"].dims == ("time", "series") and ds["load"].shape == (40 + 168, 3)
    np.testing.assert_array_equal(ds["load"].values, values)  # NaN where NaN
    time = pd.DatetimeIndex(ds.time.values)
    assert time[0] == pd.Timestamp("2014-01-01") and (np.diff(time.asi8) == 3600e9).all()
    assert (ds.window.values[:40] == 0).all()
    for k in range(1, 8):  # window k forecasts steps 40 + 24 (k - 1) ... + 24
        np.testing.assert_array_equal(np.flatnonzero(ds.window.values == k),
                                      np.arange(40 + 24 * (k - 1), 40 + 24 * k))
    assert (ds.attrs["train_length"], ds.attrs["archive_train_length"],
            ds.attrs["prediction_length"], ds.attrs["num_test_windows"]) == (40, 40, 24, 7)


def test_daily_archive_with_freq_key_and_a_training_range_overlapping_the_test(tmp_path):
    values = np.arange(60.0 * 2).reshape(60, 2)
    # the training entries are as long as the first test window (its forecast range
    # overlaps them): train_length is the leak-free range before the first forecast
    make_archive(tmp_path / "d.tar.gz", "daily_nips", values, 30, [30, 40, 50, 60],
                 {"freq": "D", "prediction_length": 10}, "2012-01-01")
    spec = NipsSpec("daily_nips", 2, "D", 10, None, "views", "views", "toy views")
    ds = nips_dataset(tmp_path / "d.tar.gz", spec)
    assert (ds.attrs["train_length"], ds.attrs["archive_train_length"],
            ds.attrs["num_test_windows"]) == (20, 30, 4)
    assert pd.DatetimeIndex(ds.time.values).equals(pd.date_range("2012-01-01", periods=60))
    np.testing.assert_array_equal(ds.window.values, np.repeat([0, 1, 2, 3, 4], [20, 10, 10,
                                                                               10, 10]))
    make_archive(tmp_path / "e.tar.gz", "daily_nips", values, 30, [30, 40, 50, 60], {},
                 "2012-01-01")  # metadata without a frequency: the registered one is used
    unstated = nips_dataset(tmp_path / "e.tar.gz", spec)
    assert unstated.attrs["archive_freq"] == "not stated (registered: D)"
    np.testing.assert_array_equal(unstated.views.values, ds.views.values)
    with pytest.raises(ValueError, match="expected 5 rolling test windows, got 4"):
        nips_dataset(tmp_path / "d.tar.gz", spec.__class__(**{**spec.__dict__,
                                                              "num_windows": 5}))


def test_the_registered_exchange_loader_reads_the_real_archive_like_the_generic_reader():
    info = pdata.describe("exchange_rate_nips")
    if not info.available():
        pytest.skip("exchange_rate_nips not in PROBDYN_DATA_DIR")
    split = read_rolling_split(info.local_path(), "exchange_rate_nips", 8, 30, 5)
    assert split.train_length == split.test_start == 6071
    assert split.window_ends == (6101, 6131, 6161, 6191, 6221) and split.freq == "B"
    ds = pdata.load("exchange_rate_nips")
    np.testing.assert_array_equal(ds.rate.values, split.values)


def _break_prefix(train, test):
    test[3]["target"][2] += 1.0


def _drop_series(train, test):
    del train[0]


def _ragged_window(train, test):
    test[4]["target"].append(1.0)


def _two_starts(train, test):
    test[0]["start"] = "2015-01-01 00:00:00"


@pytest.mark.parametrize("tamper, match", [
    (_break_prefix, "not a prefix of the longest test window"),
    (_drop_series, "expected 3 training series"),
    (_ragged_window, "differ in length"),
    (_two_starts, "do not share one start date"),
])
def test_malformed_archives_get_a_clear_error(tmp_path, tamper, match):
    _hourly(tmp_path / "bad.tar.gz", tamper=tamper)
    with pytest.raises(ValueError, match=match):
        nips_dataset(tmp_path / "bad.tar.gz", HOURLY)


def test_broken_files_get_a_clear_error(tmp_path):
    (tmp_path / "junk.tar.gz").write_bytes(b"this is not a tar archive")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        nips_dataset(tmp_path / "junk.tar.gz", HOURLY)
    _hourly(tmp_path / "other.tar.gz", root="other_nips")
    with pytest.raises(ValueError, match="no member toy_nips/metadata/metadata.json"):
        nips_dataset(tmp_path / "other.tar.gz", HOURLY)
    _hourly(tmp_path / "daily.tar.gz", meta={"time_granularity": "D"})
    with pytest.raises(ValueError, match="expected time granularity 'H', got 'D'"):
        nips_dataset(tmp_path / "daily.tar.gz", HOURLY)
    with tarfile.open(tmp_path / "json.tar.gz", "w:gz") as tar:
        _add(tar, "toy_nips/metadata/metadata.json", '{"time_granularity": "H"}')
        _add(tar, "toy_nips/train/train.json", '{"start": "2014-01-01", "target": [1, 2\n')
        _add(tar, "toy_nips/test/test.json", "")
    with pytest.raises(ValueError, match="train.json line 1 is not JSON"):
        nips_dataset(tmp_path / "json.tar.gz", HOURLY)
    # windows that do not step by the prediction length
    values = np.ones((100, 3))
    make_archive(tmp_path / "step.tar.gz", "toy_nips", values, 40, [64, 90],
                 {"time_granularity": "H"}, "2014-01-01 00:00:00")
    with pytest.raises(ValueError, match="increasing by prediction_length=24"):
        nips_dataset(tmp_path / "step.tar.gz", HOURLY)


# ------------------------------------------------------------ entries without a recorded sha256


@pytest.mark.parametrize("name", UNRECORDED)
def test_unrecorded_entries_say_so(name):
    info = pdata.describe(name)
    assert info.sha256 is None and not info.checksum_recorded
    assert info.url.startswith("https://github") or info.url.startswith(
        "https://raw.githubusercontent.com/mbohlkeschneider/gluon-ts/")
    assert info.path == "gluonts_nips/" + info.url.rsplit("/", 1)[1]
    assert info.shape[0] is None and info.size.startswith("? x ")
    assert "not yet recorded" in info.description and "not yet recorded" in info.how_to_obtain()


SPEC_OF = {"solar_nips": ("solar_nips", 137, "H", 24, 7, "power"),
           "electricity_nips": ("electricity_nips", 370, "H", 24, 7, "load")}
# (the daily entries differ only in their NipsSpec; the daily path is tested above)


@pytest.mark.parametrize("name", sorted(SPEC_OF))
def test_registered_loader_downloads_unverified_with_a_warning_and_the_digest(
        name, tmp_path, scratch_registry, monkeypatch):
    """load(download=True) of an entry without a recorded sha256, from a file:// URL: the
    file is kept, a warning gives its digest (independent hashlib pass), the data are read."""
    root, N, freq, pred, windows, var = SPEC_OF[name]
    info = pdata.describe(name)
    remote = tmp_path / "remote" / "archive.tar.gz"
    values = np.random.default_rng(1).integers(0, 9, size=(3 + windows * pred, N)).astype(float)
    make_archive(remote, root, values, 3, [3 + pred * (k + 1) for k in range(windows)],
                 {"time_granularity": freq}, "2012-01-01 00:00:00")
    digest = hashlib.sha256(remote.read_bytes()).hexdigest()
    monkeypatch.setitem(_registry._REGISTRY, name, info.__class__(
        **{**info.__dict__, "url": remote.as_uri()}))
    cache = tmp_path / "cache"
    with pytest.warns(pdata.UnverifiedDatasetWarning, match=f"downloaded.*sha256 is {digest}"):
        path = pdata.fetch(name, data_dir=cache)
    assert path == cache / info.path and path.read_bytes() == remote.read_bytes()
    with pytest.warns(pdata.UnverifiedDatasetWarning, match=f"reading.*{digest}"):
        ds = pdata.load(name, data_dir=cache)
    assert ds.attrs["sha256"] == digest and ds.attrs["sha256_verified"] == 0
    np.testing.assert_array_equal(ds[var].values, values)
    assert ds.attrs["num_test_windows"] == windows and ds.attrs["train_length"] == 3


def test_register_accepts_none_for_an_unrecorded_sha256_but_not_junk(scratch_registry):
    meta = dict(path="fake/y.csv", description="d", frequency="daily", units="m",
                source="s", licence="l", citation="c", url="https://example.org/y.csv")
    pdata.register("fake_unrecorded", lambda p: None, sha256=None, shape=(None, 3), **meta)
    assert pdata.describe("fake_unrecorded").size == "? x 3"
    for bad in ("", "ABC", 0):
        with pytest.raises(ValueError, match="sha256"):
            pdata.register("fake_bad_sha", lambda p: None, sha256=bad, shape=(3,), **meta)
    with pytest.raises(ValueError, match="shape"):
        pdata.register("fake_bad_shape", lambda p: None, sha256=None, shape=(None, 0), **meta)


def test_recorded_entries_never_warn():
    info = pdata.describe("exchange_rate_nips")
    if not info.available():
        pytest.skip("exchange_rate_nips not in PROBDYN_DATA_DIR")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pdata.UnverifiedDatasetWarning)
        pdata.load("exchange_rate_nips")
