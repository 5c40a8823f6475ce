"""Schmidt & Lipson (2009) measured systems: the loaders against an independent parse of the
files, and the meaning of the columns checked from the data (velocity = d position / dt)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import probdyn.data as pdata
from probdyn.data._schmidt_lipson import read_schmidt_lipson

NAMES = {
    "schmidt_lipson_pendulum": ["theta", "omega"],
    "schmidt_lipson_oscillator": ["x", "v"],
    "schmidt_lipson_coupled_oscillators": ["x1", "x2", "v1", "v2"],
}


def _load(name: str):
    root = os.environ.get("PROBDYN_DATA_DIR")
    if not root or not (Path(root) / pdata.describe(name).path).is_file():
        pytest.skip(f"{name} not in PROBDYN_DATA_DIR ({root})")
    return pdata.load(name)


def _raw(name: str) -> np.ndarray:
    """The file read by pandas (whitespace separated, header line skipped)."""
    path = pdata.describe(name).local_path()
    return pd.read_csv(path, sep=r"\s+", header=None, skiprows=1).to_numpy(np.float64)


def _central_differences(t, x):
    """(x[i+1] - x[i-1]) / (t[i+1] - t[i-1]) at interior points with equal neighbour steps."""
    dt_left, dt_right = t[1:-1] - t[:-2], t[2:] - t[1:-1]
    regular = np.isclose(dt_left, dt_right, rtol=1e-3)
    idx = np.flatnonzero(regular) + 1
    return idx, (x[idx + 1] - x[idx - 1]) / (t[idx + 1] - t[idx - 1])


@pytest.mark.parametrize("name", list(NAMES))
def test_loader_matches_an_independent_parse(name):
    ds = _load(name)
    raw = _raw(name)
    assert list(ds["series"].values) == NAMES[name]
    np.testing.assert_array_equal(ds["time"].values, raw[:, 1])
    np.testing.assert_array_equal(ds["trial"].values, raw[:, 0].astype(int))
    np.testing.assert_array_equal(ds["state"].values, raw[:, 2:])
    assert ds["time"].attrs["units"] == "s"


@pytest.mark.parametrize("name", list(NAMES))
def test_velocity_columns_are_time_derivatives_of_the_positions(name):
    """Each velocity column matches the central finite difference of its position column:
    correlation > 0.98, best at lag 0, least-squares slope within 15 % of 1. Measured slopes:
    pendulum 1.04, oscillator 1.02, coupled 1.10 / 1.02 (the source's velocities look slightly
    smoothed); the slope rules out other units (per frame would give 1/6 or 1/30; degrees 57)."""
    ds = _load(name)
    t = ds["time"].values
    state = ds["state"].values
    k = state.shape[1] // 2
    for j in range(k):
        idx, deriv = _central_differences(t, state[:, j])
        v = state[idx, k + j]
        assert np.corrcoef(deriv, v)[0, 1] > 0.98
        slope = np.dot(v, deriv) / np.dot(v, v)
        assert abs(slope - 1) < 0.15, slope
        # a shifted copy of the velocity fits worse: the columns are aligned in time
        shifted = [
            np.corrcoef(deriv[3:-3], state[idx[3:-3] + lag, k + j])[0, 1] for lag in range(-3, 4)
        ]
        assert int(np.argmax(shifted)) == 3


def test_pendulum_sampling_and_the_acceleration_file():
    ds = _load("schmidt_lipson_pendulum")
    t = ds["time"].values
    assert t[0] == 5.0 and abs(t[-1] - 99.5) < 1e-9
    steps = np.diff(t)
    # 6 frames per second, with a few tracking gaps of 2 or 3 frames
    frames = steps * 6
    np.testing.assert_allclose(frames, np.round(frames), atol=1e-6)
    assert (np.round(frames) == 1).sum() == 545 and np.round(frames).max() == 3
    # the "_a" file holds the same theta and omega plus an angular acceleration: it matches
    # the finite difference of omega, and the pendulum law a ~ -w0^2 sin(theta)
    path = Path(os.environ["PROBDYN_DATA_DIR"]) / "schmidt_lipson/real_pend_a_1.txt"
    if not path.is_file():
        pytest.skip("real_pend_a_1.txt not in PROBDYN_DATA_DIR")
    a_file = np.loadtxt(path, comments="%")  # trial, t, theta, a, omega
    np.testing.assert_array_equal(a_file[:, [2, 4]], ds["state"].values)
    idx, domega = _central_differences(t, ds["state"].values[:, 1])
    assert np.corrcoef(domega, a_file[idx, 3])[0, 1] > 0.98
    sin_theta = np.sin(ds["state"].values[:, 0])
    assert np.corrcoef(sin_theta, a_file[:, 3])[0, 1] < -0.99


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "f.txt"
    path.write_text(text, encoding="ascii")
    return path


def test_reader_rejects_bad_files(tmp_path):
    good = "%o v\n0 5.0 1.0 0.5\n0 5.1666 1.1 0.4\n"
    ds = read_schmidt_lipson(_write(tmp_path, good), ["o", "v"], "rad", "angle")
    assert ds["state"].shape == (2, 2) and ds["state"].dtype == np.float64
    with pytest.raises(ValueError, match="header"):
        read_schmidt_lipson(_write(tmp_path, good), ["x", "v"], "rad", "angle")
    with pytest.raises(ValueError, match="columns"):
        read_schmidt_lipson(
            _write(tmp_path, "%o v\n0 5.0 1.0\n0 5.2 1.1\n"), ["o", "v"], "rad", "angle"
        )
    with pytest.raises(ValueError, match="strictly increasing"):
        read_schmidt_lipson(
            _write(tmp_path, "%o v\n0 5.0 1.0 0.5\n0 5.0 1.1 0.4\n"), ["o", "v"], "rad", "angle"
        )
    with pytest.raises(ValueError, match="non-finite"):
        read_schmidt_lipson(
            _write(tmp_path, "%o v\n0 5.0 nan 0.5\n0 5.2 1.1 0.4\n"), ["o", "v"], "rad", "angle"
        )
