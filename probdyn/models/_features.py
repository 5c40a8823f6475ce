"""Calendar covariates and season indices from a time index (GluonTS DeepState's inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Seasonal components per frequency: (name, number of seasons). Day of week for daily and
#: business-day data, hour of day and day of week for hourly data (spec §4.3-4.4).
SEASONS = {
    "B": (("day_of_week", 7),),
    "D": (("day_of_week", 7),),
    "H": (("hour_of_day", 24), ("day_of_week", 7)),
}


def check_freq(freq: str) -> str:
    """Normalise a pandas-style frequency to one of ``SEASONS`` ('B', 'D', 'H')."""
    key = str(freq).upper()
    key = {"1B": "B", "1D": "D", "1H": "H", "BD": "B", "C": "B"}.get(key, key)
    if key not in SEASONS:
        raise ValueError(f"freq must be one of {sorted(SEASONS)} (business day, day, hour), "
                         f"got {freq!r}")
    return key


def season_index(time: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Active season of each step for each seasonal component: int array (T, C)."""
    cols = []
    for name, _ in SEASONS[check_freq(freq)]:
        cols.append(time.hour if name == "hour_of_day" else time.day_of_week)
    return np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=-1)


def num_time_features(freq: str) -> int:
    """Number of columns of :func:`time_features` for ``freq``."""
    return 5 if check_freq(freq) == "H" else 4


def time_features(time: pd.DatetimeIndex, freq: str, steps: np.ndarray) -> np.ndarray:
    """Calendar features in [-0.5, 0.5] (GluonTS convention) plus an age feature: (T, k).

    Columns: [hour of day (hourly only)], day of week, day of month, day of year, and
    ``log10(2 + step) / 5``, the age of each step counted from the start of the data
    (``steps``, integers, length T).
    """
    freq = check_freq(freq)
    cols = []
    if freq == "H":
        cols.append(time.hour / 23.0 - 0.5)
    cols += [time.day_of_week / 6.0 - 0.5, (time.day - 1) / 30.0 - 0.5,
             (time.day_of_year - 1) / 365.0 - 0.5,
             np.log10(2.0 + np.asarray(steps, dtype=np.float64)) / 5.0]
    return np.stack([np.asarray(c, dtype=np.float64) for c in cols], axis=-1)


def as_time_index(time, length: int, name: str = "time") -> pd.DatetimeIndex:
    """A ``DatetimeIndex`` of ``length`` dates from ``time``; ValueError otherwise."""
    try:
        index = pd.DatetimeIndex(time)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be dates (a DatetimeIndex or datetime64 values): {e}") \
            from None
    if len(index) != length:
        raise ValueError(f"{name} has {len(index)} dates but the data have {length} steps")
    if index.hasnans:
        raise ValueError(f"{name} contains missing dates (NaT)")
    if len(index) > 1 and not (np.diff(index.asi8) > 0).all():
        raise ValueError(f"{name} must be strictly increasing")
    return index
