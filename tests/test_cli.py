"""The ``probdyn`` command line, run in-process through ``main([...])``."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import xarray as xr

import probdyn
import probdyn.data as pdata
from probdyn.cli import main
from probdyn.reproduce import ExperimentResult, _registry, register_experiment


@pytest.fixture
def toy_experiment(monkeypatch):
    """Register a test-local experiment in a scratch copy of the registry."""
    monkeypatch.setattr(_registry, "_EXPERIMENTS", dict(_registry._EXPERIMENTS))
    calls = []

    @register_experiment("toy-mean", "sample mean of N(1, 1) draws vs the true mean")
    def toy(quick: bool, seed: int, out):
        n = 100 if quick else 10_000
        rng = np.random.default_rng(seed)
        x = rng.normal(1.0, 1.0, size=n)
        calls.append((quick, seed, out))
        ds = xr.Dataset({"x": ("draw", x)}, attrs={"seed": seed})
        return ExperimentResult(
            settings={"n": n, "scale": np.float64(1.0)},
            rows=[
                {"method": "sample", "metric": "mean", "measured": x.mean(), "published": 1.0},
                {"method": "sample", "metric": "sd", "measured": x.std(), "published": None},
            ],
            datasets={"draws": ds},
        )

    return calls


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "datasets" in capsys.readouterr().err


def test_datasets_lists_registry(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["name", "frequency", "size", "available", "description"]
    for name in pdata.list_datasets():
        info = pdata.describe(name)
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert info.frequency in line and info.size in line
        assert (" yes " in line) == info.available()


def test_datasets_describes_nile(capsys):
    info = pdata.describe("nile")
    if not info.available():
        pytest.skip("statsmodels/nile.csv not in PROBDYN_DATA_DIR")
    assert main(["datasets", "nile"]) == 0
    out = capsys.readouterr().out
    assert "Cobb" in out and info.sha256 in out and "dims: time=100" in out
    first_row = next(ln for ln in out.splitlines() if ln.startswith("1871"))
    assert first_row.split() == ["1871", "1120.0"]
    assert "volume" in out


def test_datasets_missing_file_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PROBDYN_DATA_DIR", str(tmp_path))
    assert main(["datasets", "exchange_rate"]) == 0
    out = capsys.readouterr().out
    assert "available    no" in out and "download=True" in out and "PROBDYN_DATA_DIR" in out


def test_datasets_download_from_installed_package(tmp_path, monkeypatch, capsys):
    pytest.importorskip("statsmodels")
    monkeypatch.setenv("PROBDYN_DATA_DIR", str(tmp_path))
    assert main(["datasets", "sunspots", "--download"]) == 0
    assert (tmp_path / "statsmodels" / "sunspots_yearly.csv").is_file()
    assert "dims: time=309" in capsys.readouterr().out


def test_unknown_dataset_exits_2(capsys):
    assert main(["datasets", "nile_river"]) == 2
    captured = capsys.readouterr()
    assert "unknown dataset name 'nile_river'" in captured.err
    assert "exchange_rate" in captured.err and "Traceback" not in captured.err


def test_reproduce_list(toy_experiment, capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "toy-mean" in out and "sample mean" in out


def test_reproduce_json_and_netcdf(toy_experiment, tmp_path, capsys):
    json_path = tmp_path / "res" / "toy.json"
    out_dir = tmp_path / "out"
    code = main(
        ["reproduce", "toy-mean", "--quick", "--seed", "3", "--json", str(json_path),
         "--out", str(out_dir)]
    )  # fmt: skip
    assert code == 0
    assert toy_experiment == [(True, 3, out_dir)]
    doc = json.loads(json_path.read_text())
    assert set(doc) == {"experiment", "settings", "rows"}
    assert doc["experiment"] == "toy-mean"
    assert doc["settings"] == {"n": 100, "scale": 1.0, "seed": 3, "quick": True}
    x = np.random.default_rng(3).normal(1.0, 1.0, size=100)  # independent recomputation
    assert len(doc["rows"]) == 2
    for row in doc["rows"]:
        assert set(row) == {"method", "metric", "measured", "published"}
        assert isinstance(row["measured"], float)
    assert doc["rows"][0]["measured"] == pytest.approx(x.mean(), rel=1e-12)
    assert doc["rows"][0]["published"] == 1.0 and doc["rows"][1]["published"] is None
    # the table shows measured and published side by side
    out = capsys.readouterr().out
    header = next(ln for ln in out.splitlines() if ln.startswith("method"))
    assert header.split()[:4] == ["method", "metric", "measured", "published"]
    assert f"{x.mean():.6g}" in out
    # the netCDF file reopens with the data and the provenance
    with xr.open_dataset(out_dir / "draws.nc") as ds:
        np.testing.assert_array_equal(ds.x.values, x)
        assert ds.attrs["experiment"] == "toy-mean"
        assert json.loads(ds.attrs["settings"])["seed"] == 3


def test_reproduce_default_out_dir(toy_experiment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "toy-mean", "--quick"]) == 0
    assert (tmp_path / "probdyn-output" / "toy-mean" / "draws.nc").is_file()


def test_unknown_experiment_exits_2(toy_experiment, capsys):
    assert main(["reproduce", "no-such-thing"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment name 'no-such-thing'" in err and "toy-mean" in err
    assert main(["reproduce"]) == 2
    assert "toy-mean" in capsys.readouterr().err


def test_experiment_result_is_validated(toy_experiment):
    row = {"method": "m", "metric": "crps", "measured": 1.0, "published": 2.0}
    with pytest.raises(ValueError, match="measured"):
        ExperimentResult(settings={}, rows=[{**row, "measured": float("nan")}])
    with pytest.raises(ValueError, match="exactly the keys"):
        ExperimentResult(settings={}, rows=[{"method": "m", "metric": "crps", "measured": 1.0}])
    with pytest.raises(ValueError, match="published"):
        ExperimentResult(settings={}, rows=[{**row, "published": "n/a"}])
    with pytest.raises(ValueError, match="JSON"):
        ExperimentResult(settings={"f": object()}, rows=[row])
    with pytest.raises(ValueError, match="rows must be a non-empty"):
        ExperimentResult(settings={}, rows=[])
    with pytest.raises(ValueError, match="already registered"):
        register_experiment("toy-mean", "again")


def test_demo_is_wired(tmp_path, monkeypatch, capsys):
    seen = {}

    def run(out_dir, quick):
        seen.update(out_dir=out_dir, quick=quick)
        return {"crps": 0.25, "files": [str(out_dir / "a.nc")]}

    fake = types.ModuleType("probdyn.demo")
    fake.run = run
    monkeypatch.setitem(sys.modules, "probdyn.demo", fake)
    monkeypatch.setattr(probdyn, "demo", fake, raising=False)
    assert main(["demo", "--out", str(tmp_path), "--quick"]) == 0
    assert seen == {"out_dir": tmp_path, "quick": True}
    assert json.loads(capsys.readouterr().out) == run(tmp_path, True)


def test_datasets_download_failure_is_reported(tmp_path, monkeypatch, capsys):
    from probdyn.data import _registry as data_registry

    monkeypatch.setattr(data_registry, "_REGISTRY", dict(data_registry._REGISTRY))
    pdata.register(
        "fake_remote", lambda p: None, path="fake/y.csv", sha256="0" * 64,
        url=(tmp_path / "does-not-exist.csv").as_uri(), description="d", frequency="daily",
        shape=(3,), units="m", source="s", licence="l", citation="c",
    )  # fmt: skip
    monkeypatch.setenv("PROBDYN_DATA_DIR", str(tmp_path / "data"))
    assert main(["datasets", "fake_remote", "--download"]) == 1
    err = capsys.readouterr().err
    assert "could not fetch 'fake_remote'" in err and "Traceback" not in err


def test_negative_seed_is_a_usage_error(toy_experiment, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "toy-mean", "--seed", "-1"])
    assert exc.value.code == 2
    assert "non-negative" in capsys.readouterr().err
