"""Measured mechanical systems of Schmidt & Lipson (2009): pendulum and oscillators.

The files are whitespace-separated text with a first line ``% names`` (the state names; the
trial and time columns are not named), then one row per video frame: trial id, time [s],
then the state. The loaders return one data variable ``state`` with dims ``(time, series)``,
a float ``time`` coordinate in seconds and the integer ``trial`` id as a coordinate on
``time``. Checks of the column meaning (velocity = derivative of position, by finite
differences) are in ``tests/test_data_schmidt_lipson.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ._registry import register

_SOURCE = (
    "GitHub erwincoumans/tiny-differentiable-simulator @ "
    "8381b8c9ad7f0a959548e4982eb8a63431a842d2, data/schmidt-lipson-exp-data/{} (added in "
    "commit ab1d9bec, 'Add real-world data from Schmidt & Lipson')"
)
_LICENCE = (
    "academic supplementary material of Schmidt & Lipson, Science 2009; no explicit licence "
    "(the Apache-2.0 repository that carries the files does not own them)"
)
_CITATION = (
    "Schmidt, M. & Lipson, H. (2009). Distilling free-form natural laws from experimental "
    "data. Science 324(5923), 81-85."
)
_OBTAIN = (
    "download {} from the tiny-differentiable-simulator repository at the commit named in "
    "the source (data/schmidt-lipson-exp-data/), or from the supplementary material of "
    "Schmidt & Lipson (2009)"
)


def read_schmidt_lipson(path: Path, names: Sequence[str], units: str, long_name: str) -> xr.Dataset:
    """Parse one Schmidt-Lipson file into a ``(time, series)`` dataset.

    Parameters
    ----------
    path : Path
        The text file: header ``% <names>``, then rows ``trial, t, *state``.
    names : sequence of str
        Expected header names, which are also the ``series`` coordinate (in file order).
    units, long_name : str
        Attributes of the ``state`` variable.

    Returns
    -------
    xarray.Dataset
        ``state`` (time, series) float64; coords ``time`` (s, float64, strictly increasing),
        ``series`` and ``trial`` (int, on ``time``).

    Raises
    ------
    ValueError
        If the header, the column count or the time column is not as expected (names the
        file).
    """
    with open(path, encoding="ascii") as f:
        first = f.readline().strip()
    # "%o v" in the pendulum file, "% x v" in the others
    if not first.startswith("%") or first[1:].split() != list(names):
        raise ValueError(
            f"{path}: header must be '% {' '.join(names)}', got {first!r}; is "
            "this the registered file?"
        )
    table = np.loadtxt(path, comments="%", dtype=np.float64, ndmin=2)
    if table.shape[1] != 2 + len(names):
        raise ValueError(
            f"{path}: expected {2 + len(names)} columns (trial, t, "
            f"{', '.join(names)}), got {table.shape[1]}"
        )
    if not np.isfinite(table).all():
        raise ValueError(f"{path}: the table has non-finite entries")
    trial, t = table[:, 0], table[:, 1]
    if np.any(trial != np.round(trial)):
        raise ValueError(f"{path}: the trial column must hold integers")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"{path}: time (column 1) must be strictly increasing")
    state = xr.DataArray(
        table[:, 2:], dims=("time", "series"), attrs={"units": units, "long_name": long_name}
    )
    return xr.Dataset(
        {"state": state},
        coords={
            "time": ("time", t, {"units": "s", "long_name": "time"}),
            "series": list(names),
            "trial": ("time", trial.astype(np.int64), {"long_name": "trial id"}),
        },
    )


@register(
    "schmidt_lipson_pendulum",
    path="schmidt_lipson/real_pend_h_1.txt",
    sha256="45d92988198b89a5933f5a53e67aa819d06937516f71a462ac09e1307d8b3411",
    description=(
        "Motion-tracked single pendulum (Schmidt & Lipson 2009), one trial: angle theta and "
        "angular velocity omega, t = 5.0 to 99.5 s at 6 frames/s with 10 tracking gaps of "
        "1/3-1/2 s; slowly damped oscillation of amplitude 1.47 -> 0.8 rad."
    ),
    frequency="irregular: dt = 1/6 s (6 Hz) with a few gaps up to 0.5 s",
    shape=(556, 2),
    units="rad (theta), rad/s (omega)",
    source=_SOURCE.format("real_pend_h_1.txt"),
    licence=_LICENCE,
    citation=_CITATION,
    obtain=_OBTAIN.format("real_pend_h_1.txt"),
)
def _load_pendulum(path: Path) -> xr.Dataset:
    # header "% o v": o = angle, v = angular velocity
    ds = read_schmidt_lipson(
        path, ["o", "v"], "rad (theta), rad/s (omega)", "pendulum angle and angular velocity"
    )
    return ds.assign_coords(series=["theta", "omega"])


@register(
    "schmidt_lipson_oscillator",
    path="schmidt_lipson/real_linear_h_1.txt",
    sha256="bf11e50703376b82566b635771de23845a2546e4b733beb49588c7af4eec26cc",
    description=(
        "Motion-tracked mass-spring oscillator (Schmidt & Lipson 2009), one trial: position "
        "x and velocity v, t = 0.033 to 29.04 s at about 30 frames/s."
    ),
    frequency="about 30 Hz (dt = 0.033-0.034 s)",
    shape=(870, 2),
    units="tracking units, not stated by the source (x; v per second)",
    source=_SOURCE.format("real_linear_h_1.txt"),
    licence=_LICENCE,
    citation=_CITATION,
    obtain=_OBTAIN.format("real_linear_h_1.txt"),
)
def _load_oscillator(path: Path) -> xr.Dataset:
    return read_schmidt_lipson(
        path,
        ["x", "v"],
        "tracking units, not stated (x; v per second)",
        "oscillator position and velocity",
    )


@register(
    "schmidt_lipson_coupled_oscillators",
    path="schmidt_lipson/real_double_linear_h_1.txt",
    sha256="b258df76a9a6f3dda294feb344160e39ecd3158d8e44b8bfe4ae4aa842c026aa",
    description=(
        "Two motion-tracked coupled mass-spring oscillators (Schmidt & Lipson 2009), one "
        "trial: positions x1, x2 and velocities v1, v2, t = 0.033 to 16.52 s at about "
        "30 frames/s."
    ),
    frequency="about 30 Hz (dt = 0.033-0.034 s)",
    shape=(495, 4),
    units="tracking units, not stated by the source (x; v per second)",
    source=_SOURCE.format("real_double_linear_h_1.txt"),
    licence=_LICENCE,
    citation=_CITATION,
    obtain=_OBTAIN.format("real_double_linear_h_1.txt"),
)
def _load_coupled_oscillators(path: Path) -> xr.Dataset:
    return read_schmidt_lipson(
        path,
        ["x1", "x2", "v1", "v2"],
        "tracking units, not stated (x; v per second)",
        "positions and velocities of two coupled oscillators",
    )
