"""What a reproduction experiment returns, and how it is written to disk."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

_ROW_KEYS = ("method", "metric", "measured", "published")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _number(value: Any, what: str, allow_none: bool) -> float | None:
    """A finite float from a number (numpy scalar, 0-d tensor ...); None if allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return value


def _jsonable(value: Any, where: str) -> Any:
    """Plain-JSON version of a settings value (numpy scalars/arrays, paths, tuples allowed)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"settings{where} must be finite, got {value}")
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise ValueError(f"settings{where} is not JSON-serialisable: {type(value).__name__}")


@dataclass
class ExperimentResult:
    """Outcome of one reproduction run.

    Attributes
    ----------
    settings : dict
        Everything needed to rerun it (sizes, seeds, hyperparameters); JSON-serialisable
        values (numbers, strings, lists, dicts; numpy scalars and paths are converted).
    rows : list of dict
        One dict per reported number with keys ``method`` (str), ``metric`` (str),
        ``measured`` (finite float) and ``published`` (float, or None when the paper has no
        number for it).
    datasets : dict of str to xarray.Dataset
        Named outputs (fits, forecasts, ...), written as ``<name>.nc``.
    """

    settings: dict[str, Any]
    rows: list[dict[str, Any]]
    datasets: dict[str, xr.Dataset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.settings, dict):
            raise ValueError(f"settings must be a dict, got {type(self.settings).__name__}")
        self.settings = _jsonable(self.settings, "")
        if not isinstance(self.rows, (list, tuple)) or not self.rows:
            raise ValueError("rows must be a non-empty list of dicts")
        clean = []
        for i, row in enumerate(self.rows):
            if not isinstance(row, dict) or set(row) != set(_ROW_KEYS):
                got = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise ValueError(f"rows[{i}] must have exactly the keys {_ROW_KEYS}, got {got}")
            for key in ("method", "metric"):
                if not isinstance(row[key], str) or not row[key]:
                    raise ValueError(f"rows[{i}]['{key}'] must be a non-empty string")
            clean.append(
                {
                    "method": row["method"],
                    "metric": row["metric"],
                    "measured": _number(row["measured"], f"rows[{i}]['measured']", False),
                    "published": _number(row["published"], f"rows[{i}]['published']", True),
                }
            )
        self.rows = clean
        if not isinstance(self.datasets, dict):
            raise ValueError("datasets must be a dict of name -> xarray.Dataset")
        for key, ds in self.datasets.items():
            if not isinstance(key, str) or not _FILE_NAME.match(key):
                raise ValueError(f"datasets key {key!r} must be a plain file name")
            if not isinstance(ds, xr.Dataset):
                raise ValueError(f"datasets[{key!r}] must be an xarray.Dataset")

    def to_json(self, experiment: str) -> dict[str, Any]:
        """``{"experiment", "settings", "rows"}``: the ``--json`` document."""
        return {"experiment": experiment, "settings": self.settings, "rows": self.rows}

    def write_json(self, experiment: str, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(experiment), indent=2) + "\n")
        return path

    def write_datasets(self, experiment: str, out: str | Path) -> list[Path]:
        """Write each dataset as ``out/<name>.nc``; provenance goes into its attrs."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for key, ds in self.datasets.items():
            ds = ds.copy()
            ds.attrs.update(
                experiment=experiment, settings=json.dumps(self.settings, sort_keys=True)
            )
            path = out / f"{key}.nc"
            ds.to_netcdf(path)
            paths.append(path)
        return paths
