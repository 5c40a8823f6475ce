"""Physical models: vector fields with named physical parameters, and their simulators.

- Pendulum: :class:`DampedPendulum`, :class:`Pendulum` (frictionless),
  :func:`simulate_pendulum` (APHYNITY data). A learned Hamiltonian form is
  :class:`probdyn.dynamics.HamiltonianField`.
- Lotka-Volterra: :class:`LotkaVolterra`, :func:`simulate_lotka_volterra` (LEADS
  environments :data:`LV_TRAIN_ENVIRONMENTS`, :data:`LV_NOVEL_ENVIRONMENTS`).
- :class:`PhysicalField`: their base (a ``PyroModule``: positive ``PyroParam`` parameters,
  priors by ``PyroSample``).
"""

from ._physical import PhysicalField
from .lotka_volterra import (
    LV_NOVEL_ENVIRONMENTS,
    LV_TRAIN_ENVIRONMENTS,
    LotkaVolterra,
    simulate_lotka_volterra,
)
from .pendulum import DampedPendulum, Pendulum, pendulum_initial_state, simulate_pendulum

__all__ = [
    "LV_NOVEL_ENVIRONMENTS",
    "LV_TRAIN_ENVIRONMENTS",
    "DampedPendulum",
    "LotkaVolterra",
    "Pendulum",
    "PhysicalField",
    "pendulum_initial_state",
    "simulate_lotka_volterra",
    "simulate_pendulum",
]
