"""Registry of reproduction experiments (``probdyn reproduce NAME``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._result import ExperimentResult

ExperimentFn = Callable[..., ExperimentResult]

_EXPERIMENTS: dict[str, Experiment] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class UnknownExperimentError(KeyError, ValueError):
    """``name`` is not a registered experiment (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: ``run(quick: bool, seed: int, out: Path) -> ExperimentResult``."""

    name: str
    description: str
    run: ExperimentFn


def register_experiment(name: str, description: str) -> Callable[[ExperimentFn], ExperimentFn]:
    """Decorator registering ``fn(quick, seed, out) -> ExperimentResult`` under ``name``.

    Parameters
    ----------
    name : str
        Lower-case name used on the command line (letters, digits, ``_``, ``-``); must be new.
    description : str
        One line shown by ``probdyn reproduce --list``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be lower-case letters, digits, '_' or '-', got {name!r}")
    if name in _EXPERIMENTS:
        raise ValueError(f"experiment name {name!r} is already registered")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("description must be a non-empty string")

    def decorate(fn: ExperimentFn) -> ExperimentFn:
        if not callable(fn):
            raise ValueError(f"experiment {name!r} must be callable")
        _EXPERIMENTS[name] = Experiment(name, description.strip(), fn)
        return fn

    return decorate


def list_experiments() -> list[Experiment]:
    """All registered experiments, sorted by name."""
    return [_EXPERIMENTS[k] for k in sorted(_EXPERIMENTS)]


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; the error lists the valid names."""
    try:
        return _EXPERIMENTS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(_EXPERIMENTS)) or "(none registered)"
        raise UnknownExperimentError(
            f"unknown experiment name {name!r}; valid names: {valid}"
        ) from None


def run_experiment(
    name: str, *, quick: bool = False, seed: int = 0, out: str | Path | None = None
) -> ExperimentResult:
    """Run a registered experiment and check what it returns.

    Parameters
    ----------
    name : str
        Registered experiment name.
    quick : bool, default False
        Small sizes (a smoke run of the same code path).
    seed : int, default 0
        Seed for every random number generator the experiment uses.
    out : str or Path, optional
        Directory for the experiment's own files; default ``./probdyn-output/<name>``.

    Returns
    -------
    ExperimentResult
        With ``settings["seed"]`` and ``settings["quick"]`` filled in if the experiment did not
        set them.
    """
    experiment = get_experiment(name)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    out = Path(out) if out is not None else Path("probdyn-output") / name
    out.mkdir(parents=True, exist_ok=True)
    result = experiment.run(quick=bool(quick), seed=seed, out=out)
    if not isinstance(result, ExperimentResult):
        raise TypeError(
            f"experiment {name!r} returned {type(result).__name__}, not ExperimentResult"
        )
    result.settings.setdefault("seed", seed)
    result.settings.setdefault("quick", bool(quick))
    return result
