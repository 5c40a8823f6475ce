"""Dataset registry: every dataset against its source and an independent reader."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import probdyn.data as pdata
from probdyn.data import _registry

REQUIRED_ATTRS = ("source", "licence", "frequency", "citation", "description", "units", "sha256")


def _shared() -> Path | None:
    env = os.environ.get("PROBDYN_DATA_DIR")
    return Path(env) if env else None


def _need(relpath: str) -> Path:
    """Path of a file in the data directory, or skip the test cleanly."""
    root = _shared()
    if root is None or not (root / relpath).is_file():
        pytest.skip(f"{relpath} not in PROBDYN_DATA_DIR ({root})")
    return root / relpath


def _load(name: str) -> xr.Dataset:
    _need(pdata.describe(name).path)
    return pdata.load(name)


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry, restored after the test (for test-local datasets)."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))


# ---------------------------------------------------------------- every dataset (conformance)


#: entries whose file is in the reference data and whose sha256 is recorded
RECORDED = [n for n in pdata.list_datasets() if pdata.describe(n).checksum_recorded]


def test_registry_matches_manifest():
    manifest = _need("MANIFEST.tsv")
    rows = pd.read_csv(manifest, sep="\t").set_index("path")
    for name in pdata.list_datasets():
        info = pdata.describe(name)
        if info.checksum_recorded:
            assert info.path in rows.index, name
            assert rows.loc[info.path, "sha256"] == info.sha256, name
        else:  # "not yet recorded" is only honest for files the reference data lacks
            assert info.path not in rows.index, name
            assert info.url is not None and None not in info.shape[1:], name


@pytest.mark.parametrize("name", RECORDED)
def test_dataset_conforms(name, tmp_path):
    ds = _load(name)
    info = pdata.describe(name)
    assert ds.attrs["name"] == name
    for key in REQUIRED_ATTRS:
        assert isinstance(ds.attrs[key], str) and ds.attrs[key], key
    # the sha256 attr is the digest of the file actually read (independent hashlib pass)
    digest = hashlib.sha256(info.local_path().read_bytes()).hexdigest()
    assert ds.attrs["sha256"] == digest == info.sha256 and ds.attrs["sha256_verified"] == 1
    dims = ("time",) if len(info.shape) == 1 else ("time", "series")
    (var,) = ds.data_vars.values()
    assert var.dims == dims and var.shape == info.shape
    assert var.dtype == np.float64 and var.attrs["units"]
    time = ds["time"].values
    assert np.all(time[1:] > time[:-1])
    if info.frequency in ("monthly", "weekly"):
        assert time.dtype == np.dtype("datetime64[ns]")
    # provenance survives a netCDF round trip
    ds.to_netcdf(tmp_path / "x.nc")
    with xr.open_dataset(tmp_path / "x.nc") as back:
        xr.testing.assert_identical(back.load(), ds)


def test_listing_is_sorted_and_described():
    names = pdata.list_datasets()
    assert names == sorted(names)
    for required in ("co2", "sunspots", "sunspots_monthly", "nile", "lynx_hare", "exchange_rate"):
        assert required in names
        info = pdata.describe(required)
        assert info.size == " x ".join(map(str, info.shape))


# ---------------------------------------------------------------- known values / oracles


def test_nile_against_statsmodels():
    ds = _load("nile")
    assert ds.sizes["time"] == 100
    assert int(ds.time[0]) == 1871 and int(ds.time[-1]) == 1970
    assert float(ds.volume[0]) == 1120.0  # README / Durbin & Koopman
    sm = pytest.importorskip("statsmodels.api")
    ref = sm.datasets.nile.load_pandas().data
    np.testing.assert_array_equal(ds.volume.values, ref["volume"].to_numpy())
    np.testing.assert_array_equal(ds.time.values, ref["year"].to_numpy().astype(int))


def test_sunspots_against_statsmodels():
    ds = _load("sunspots")
    assert (int(ds.time[0]), int(ds.time[-1])) == (1700, 2008)
    sm = pytest.importorskip("statsmodels.api")
    ref = sm.datasets.sunspots.load_pandas().data
    np.testing.assert_array_equal(ds.sunspots.values, ref["SUNACTIVITY"].to_numpy())


def test_sunspots_monthly_values_and_yearly_means():
    ds = _load("sunspots_monthly")
    s = ds.sunspots.to_series()
    assert s.index[0] == pd.Timestamp("1749-01-01") and s.index[-1] == pd.Timestamp("2009-06-01")
    assert s.iloc[0] == 58.0 and s.iloc[-1] == 2.6  # first and last entries of the table
    assert s["1778-05-01"] == 238.9
    # Independent check of the month/year alignment: the yearly means of the monthly table
    # agree with the yearly series to within rounding (a one-year shift is off by ~19).
    yearly = _load("sunspots").sunspots.to_series()
    means = s[s.index.year <= 2008].groupby(s.index.year[s.index.year <= 2008]).mean()
    diff = means - yearly.loc[means.index]
    assert len(means) == 260 and diff.abs().max() < 0.5


def test_co2_monthly_against_weekly_record():
    ds = _load("co2")
    s = ds.co2.to_series()
    assert len(s) == 468 and not s.isna().any()
    assert s.index[0] == pd.Timestamp("1959-01-01") and s.iloc[0] == 315.42
    assert s.index[-1] == pd.Timestamp("1997-12-01") and s.iloc[-1] == 364.34
    # R's ?co2: Feb-Apr 1964 were missing and linearly interpolated between Jan and May 1964
    jan_may = s["1964-01":"1964-05"].to_numpy()
    np.testing.assert_allclose(jan_may, np.linspace(jan_may[0], jan_may[-1], 5), atol=0.0051)
    # Cross-source check: monthly means of the weekly continuous record (a different file and
    # measurement programme) match month by month; a one-month shift would be ~1 ppm off.
    weekly = _load("co2_weekly").co2.to_series()
    monthly = weekly.resample("MS").mean().reindex(s.index)
    diff = (monthly - s).dropna()
    assert len(diff) >= 460
    assert diff.abs().mean() < 0.2 and diff.abs().max() < 1.0
    assert (monthly.shift(1) - s).abs().mean() > 0.8


def test_co2_weekly_against_statsmodels():
    ds = _load("co2_weekly")
    assert ds.sizes["time"] == 2284 and int(ds.co2.isnull().sum()) == 59
    sm = pytest.importorskip("statsmodels.api")
    ref = sm.datasets.co2.load_pandas().data  # DatetimeIndex, NaN for missing weeks
    np.testing.assert_array_equal(ds.co2.values, ref["co2"].to_numpy())
    np.testing.assert_array_equal(
        ds.time.values, pd.DatetimeIndex(ref.index).to_numpy().astype("datetime64[ns]")
    )


# Published in the Stan case study (Carpenter 2018) and the PyMC Lotka-Volterra examples.
HARE = [30.0, 47.2, 70.2, 77.4, 36.3, 20.6, 18.1, 21.4, 22.0, 25.4, 27.1,
        40.3, 57.0, 76.6, 52.3, 19.5, 11.2, 7.6, 14.6, 16.2, 24.7]  # fmt: skip
LYNX = [4.0, 6.1, 9.8, 35.2, 59.4, 41.7, 19.0, 13.0, 8.3, 9.1, 7.4,
        8.0, 12.3, 19.5, 45.7, 51.1, 29.7, 15.8, 9.7, 10.1, 8.6]  # fmt: skip


def test_lynx_hare_published_values():
    ds = _load("lynx_hare")
    assert list(ds.series.values) == ["hare", "lynx"]
    np.testing.assert_array_equal(ds.time.values, np.arange(1900, 1921))
    np.testing.assert_array_equal(ds.pelts.sel(series="hare").values, HARE)
    np.testing.assert_array_equal(ds.pelts.sel(series="lynx").values, LYNX)


def test_exchange_rate_against_other_copies():
    ds = _load("exchange_rate")
    assert list(ds.series.values) == list(pdata.EXCHANGE_RATE_SERIES)
    first = ds.rate.isel(time=0)
    assert float(first.sel(series="British")) == 1.611  # README: pound in January 1990
    assert float(first.sel(series="Japan")) == 0.006838  # README: yen
    # darts' copy: same columns, same order
    darts = np.loadtxt(_need("darts/exchange_rate.csv"), delimiter=",", skiprows=1)
    np.testing.assert_array_equal(ds.rate.values, darts)
    # LTSF copy: column "6" is Singapore and "OT" New Zealand (last two swapped)
    ltsf = pd.read_csv(_need("ltsf/exchange_rate.csv"))
    np.testing.assert_array_equal(ds.rate.sel(series="Singapore").values, ltsf["6"].to_numpy())
    np.testing.assert_array_equal(ds.rate.sel(series="New Zealand").values, ltsf["OT"].to_numpy())


# ---------------------------------------------------------------- data directory and errors


def test_missing_file_names_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("PROBDYN_DATA_DIR", str(tmp_path))
    assert pdata.data_dir() == tmp_path
    assert not pdata.describe("nile").available()
    with pytest.raises(FileNotFoundError) as err:
        pdata.load("nile")
    msg = str(err.value)
    assert "PROBDYN_DATA_DIR" in msg and "statsmodels/nile.csv" in msg and str(tmp_path) in msg
    with pytest.raises(FileNotFoundError, match="PROBDYN_DATA_DIR"):
        pdata.load("exchange_rate")


def test_default_data_dir_is_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("PROBDYN_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert pdata.data_dir() == tmp_path / "probdyn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert pdata.data_dir() == Path.home() / ".cache" / "probdyn"


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError) as err:
        pdata.load("nile_river")
    assert isinstance(err.value, ValueError)
    assert "nile_river" in str(err.value) and "exchange_rate" in str(err.value)


def _fake_csv(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("t,y\n0,1.5\n1,2.5\n2,NaN\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _register_fake(name: str, sha256: str, **kw) -> None:
    def loader(path: Path) -> xr.Dataset:
        frame = pd.read_csv(path)
        return xr.Dataset({"y": ("time", frame["y"].to_numpy())}, coords={"time": frame["t"]})

    meta = dict(description="fake", frequency="daily", shape=(3,), units="m", source="test",
                licence="CC0", citation="none")  # fmt: skip
    meta.update(kw)
    pdata.register(name, loader, path="fake/y.csv", sha256=sha256, **meta)


def test_checksum_mismatch_raises(tmp_path, scratch_registry):
    _fake_csv(tmp_path / "fake" / "y.csv")
    _register_fake("fake_bad", "0" * 64, obtain="nowhere")
    with pytest.raises(pdata.ChecksumError, match="checksum mismatch"):
        pdata.load("fake_bad", data_dir=tmp_path)
    ds = pdata.load("fake_bad", data_dir=tmp_path, verify=False)  # read anyway, digest recorded
    assert ds.attrs["sha256"] != "0" * 64 and np.isnan(ds.y.values[2])


def test_download_verifies_and_discards_bad_file(tmp_path, scratch_registry):
    good = _fake_csv(tmp_path / "remote" / "fake" / "y.csv")
    url = (tmp_path / "remote" / "fake" / "y.csv").as_uri()  # file:// goes through urllib
    cache = tmp_path / "cache"
    _register_fake("fake_good", good, url=url)
    _register_fake("fake_corrupt", "f" * 64, url=url)
    with pytest.raises(pdata.ChecksumError):
        pdata.load("fake_corrupt", data_dir=cache, download=True)
    assert not (cache / "fake" / "y.csv").exists()
    assert not (cache / "fake" / "y.csv.part").exists()
    with pytest.raises(FileNotFoundError, match="download=True"):
        pdata.load("fake_good", data_dir=cache)
    ds = pdata.load("fake_good", data_dir=cache, download=True)
    assert (cache / "fake" / "y.csv").read_bytes() == (tmp_path / "remote/fake/y.csv").read_bytes()
    assert ds.attrs["sha256"] == good and ds.attrs["url"] == url
    np.testing.assert_array_equal(ds.y.values[:2], [1.5, 2.5])


def test_download_copies_from_installed_package(tmp_path):
    pytest.importorskip("statsmodels")
    ds = pdata.load("nile", data_dir=tmp_path, download=True)
    assert (tmp_path / "statsmodels" / "nile.csv").is_file()
    assert float(ds.volume[0]) == 1120.0 and ds.attrs["sha256"] == pdata.describe("nile").sha256


def test_no_source_to_fetch_from(tmp_path, scratch_registry):
    _register_fake("fake_manual", "a" * 64, obtain="ask the author for y.csv")
    with pytest.raises(FileNotFoundError, match="ask the author"):
        pdata.load("fake_manual", data_dir=tmp_path, download=True)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(name="nile"), "already registered"),
        (dict(name="Bad Name"), "name must be"),
        (dict(sha256="xyz"), "sha256"),
        (dict(path="/abs/y.csv"), "path must be relative"),
        (dict(path="../y.csv"), "path must be relative"),
        (dict(shape=(0,)), "shape"),
        (dict(url=None, obtain=None), "url, package_file or obtain"),
    ],
)
def test_register_rejects_bad_metadata(bad, match, scratch_registry):
    kw = dict(name="fake_x", path="fake/y.csv", sha256="0" * 64, description="d",
              frequency="daily", shape=(3,), units="m", source="s", licence="l",
              citation="c", url="https://example.org/y.csv")  # fmt: skip
    kw.update(bad)
    name = kw.pop("name")
    with pytest.raises(ValueError, match=match):
        pdata.register(name, lambda p: None, **kw)


def test_loader_shape_is_checked(tmp_path, scratch_registry):
    sha = _fake_csv(tmp_path / "fake" / "y.csv")
    _register_fake("fake_shape", sha, shape=(4,), obtain="here")
    with pytest.raises(RuntimeError, match="registry says"):
        pdata.load("fake_shape", data_dir=tmp_path)


# ------------------------------------------------------- GluonTS benchmark split (NKF issue)


def test_exchange_rate_nips_split_against_the_raw_archive_and_lstnet():
    import json
    import tarfile

    ds = _load("exchange_rate_nips")
    assert list(ds.series.values) == list(pdata.EXCHANGE_RATE_SERIES)
    assert (ds.attrs["train_length"], ds.attrs["prediction_length"],
            ds.attrs["num_test_windows"]) == (6071, 30, 5)
    # independent reader (data/README.md §1.2): train = first 6071 steps, test window k = the
    # first 6071 + 30 k steps, and window k forecasts exactly its last 30 steps
    with tarfile.open(_need("gluonts_nips/exchange_rate_nips.tar.gz")) as tf:
        train = [json.loads(x) for x in tf.extractfile("exchange_rate_nips/train/train.json")]
        test = [json.loads(x) for x in tf.extractfile("exchange_rate_nips/test/test.json")]
    np.testing.assert_array_equal(ds.rate.values[:6071], np.array([d["target"] for d in train]).T)
    for k in range(1, 6):
        window = np.array([d["target"] for d in test[8 * (k - 1):8 * k]]).T
        np.testing.assert_array_equal(ds.rate.values[:6071 + 30 * k], window)
        in_window = np.flatnonzero(ds.window.values == k)
        np.testing.assert_array_equal(in_window, np.arange(6071 + 30 * (k - 1), 6071 + 30 * k))
    assert (ds.window.values[:6071] == 0).all()
    # business days from 1990-01-01 (GluonTS 'B'), and the same numbers as the LSTNet file
    time = pd.DatetimeIndex(ds.time.values)
    assert time[0] == pd.Timestamp("1990-01-01") and (time.day_of_week < 5).all()
    assert len(pd.bdate_range(time[0], time[-1])) == 6221
    lstnet = _load("exchange_rate")
    np.testing.assert_array_equal(ds.rate.values, lstnet.rate.values[:6221])


# ------------------------------------------------------------- synthetic S1 / S2 (spec §5.1)


@pytest.mark.parametrize("maker", [pdata.synthetic_s1, pdata.synthetic_s2])
def test_synthetic_sets_shape_weekly_period_and_levels(maker):
    ds = maker(seed=4)
    assert ds.y.shape == (120, 2) and ds.state.shape == (120, 2, 7)
    assert ds.attrs["seed"] == 4
    np.testing.assert_array_equal(ds.weekday.values, np.arange(120) % 7 + 1)
    # the emitted linear signal is the active weekday's state (one-hot A_t), recomputed here
    states = ds.state.values
    u = np.stack([states[t, :, t % 7] for t in range(120)])
    # three levels by weekday group (random walk of variance 1e-3 per step drifts < 2)
    level = np.select([np.arange(120) % 7 <= 1, np.arange(120) % 7 <= 4], [-10.0, 0.0], 10.0)
    assert np.abs(u - level[:, None]).max() < 2.0
    # weekly period: the same weekday a week apart moves only by the slow random walk
    assert np.abs(u[7:] - u[:-7]).max() < 0.5
    if maker is pdata.synthetic_s1:
        np.testing.assert_array_equal(ds.signal.values, u)
    else:
        np.testing.assert_allclose(ds.signal.values,
                                   np.stack([u[:, 0] * u[:, 1], u[:, 0] + u[:, 1]], -1))
    np.testing.assert_allclose(ds.y.values, ds.signal.values + ds.noise.values)
    # reproducible, and a different seed gives different data
    xr.testing.assert_identical(maker(seed=4), ds)
    assert not np.allclose(maker(seed=5).y.values, ds.y.values)
    # the state increments have the specified variance 1e-3
    inc = np.diff(states, axis=0).ravel()
    assert abs(inc.var() / 1e-3 - 1) < 0.1


def test_synthetic_noise_laws():
    s1 = pdata.synthetic_s1(num_steps=700, seed=1).noise.values
    np.testing.assert_allclose(s1[:, 1], np.cos(s1[:, 0]))
    assert s1[:, 0].min() >= -np.pi and s1[:, 0].max() <= np.pi
    s2 = pdata.synthetic_s2(num_steps=700, seed=1)
    day = s2.weekday.values
    noise = s2.noise.values
    first = noise[day <= 2]
    np.testing.assert_allclose(first[:, 1], np.cos(first[:, 0]))
    weekend = noise[day >= 6]
    np.testing.assert_allclose(weekend[:, 1], s2.attrs["line_slope"] * weekend[:, 0])
    middle = noise[(day >= 3) & (day <= 5)]
    # two Gaussian clusters at -+ 1.5 (1, 1)
    upper = middle[middle.sum(1) > 0]
    lower = middle[middle.sum(1) <= 0]
    assert 0.35 < len(upper) / len(middle) < 0.65
    np.testing.assert_allclose(upper.mean(0), [1.5, 1.5], atol=0.1)
    np.testing.assert_allclose(lower.mean(0), [-1.5, -1.5], atol=0.1)
    np.testing.assert_allclose(upper.std(0), [0.3, 0.3], atol=0.06)


def test_synthetic_bad_input():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="num_steps"):
            pdata.synthetic_s1(num_steps=bad)
    with pytest.raises(ValueError, match="seed"):
        pdata.synthetic_s2(seed=-1)


# ------------------------------------------------------------------------------- ETTh1 / ETTh2


@pytest.mark.parametrize("name, file", [("etth1", "ETTh1.csv"), ("etth2", "ETTh2.csv")])
def test_ett_against_an_independent_reader(name, file):
    ds = _load(name)
    # data/README.md §2.1 reader (numpy only)
    raw = np.genfromtxt(_need(f"ETT/{file}"), delimiter=",", names=True, dtype=None,
                        encoding="utf-8")
    columns = raw.dtype.names[1:]
    assert tuple(ds.series.values) == columns == ("HUFL", "HULL", "MUFL", "MULL", "LUFL",
                                                   "LULL", "OT")
    np.testing.assert_array_equal(ds.value.values, np.column_stack([raw[c] for c in columns]))
    time = pd.DatetimeIndex(ds.time.values)
    assert time[0] == pd.Timestamp("2016-07-01 00:00") and time[-1] == pd.Timestamp(
        "2018-06-26 19:00")
    assert list(time.strftime("%Y-%m-%d %H:%M:%S")) == list(raw["date"])
    # Informer split: 12 / 4 / 4 months of 30 days of 24 hours
    assert list(ds.attrs["informer_train"]) == [0, 12 * 30 * 24]
    assert list(ds.attrs["informer_val"]) == [12 * 30 * 24, 16 * 30 * 24]
    assert list(ds.attrs["informer_test"]) == [16 * 30 * 24, 20 * 30 * 24]
    assert "CC BY-ND" in ds.attrs["licence"] and "Informer" in ds.attrs["citation"]
