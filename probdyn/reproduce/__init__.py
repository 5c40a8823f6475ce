"""Reproductions of published results: ``probdyn reproduce NAME [--quick] [--seed S]``.

An experiment is a function ``run(quick: bool, seed: int, out: Path) -> ExperimentResult``
registered with :func:`register_experiment`, in its own module of this package. The module is
imported (and so registered) by listing its name in ``EXPERIMENT_MODULES`` below.
"""

import importlib

from ._registry import (
    Experiment,
    UnknownExperimentError,
    get_experiment,
    list_experiments,
    register_experiment,
    run_experiment,
)
from ._result import ExperimentResult

# ---------------------------------------------------------------------------------------------
# EXPERIMENT_MODULES: modules of probdyn/reproduce/ that define experiments. Add a module's
# name here when it lands (e.g. "nile" for probdyn/reproduce/nile.py); it is imported by name,
# and an import error is a real error (not skipped).
EXPERIMENT_MODULES: list[str] = [
    "nile", "lynx_hare", "nkf_exchange", "nkf_synthetic", "nkf_missing", "aphynity_pendulum",
    "leads_lv", "leads_grid", "least_action_circles", "ode_recovery", "partial_obs",
    "shooting_regression", "shooting_spiral", "pkn_temperature", "shooting_circles",
    "shooting_rotating_digits", "aphynity_rd", "aphynity_wave",
]
# ---------------------------------------------------------------------------------------------

for _module in EXPERIMENT_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "EXPERIMENT_MODULES",
    "Experiment",
    "ExperimentResult",
    "UnknownExperimentError",
    "get_experiment",
    "list_experiments",
    "register_experiment",
    "run_experiment",
]
