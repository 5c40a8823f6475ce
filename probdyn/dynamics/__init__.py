"""ODE dynamics: vector fields (neural, physical, hybrid) and their solution.

- :class:`VectorField` (base, ``forward(t, x)``; ``f + g`` is a :class:`SumField`).
- Neural fields: :class:`MLPField` (R^d), :class:`ConvField` and :class:`FNOField` (2-D
  grids; the FNO's pieces :class:`SpectralConv2d`, :class:`FourierLayer`),
  :class:`HamiltonianField` (learned Hamiltonian, symplectic by construction).
- :class:`HybridField`: APHYNITY's ``F_p + F_a`` with the augmentation's norm.
- Shooting (Vialard et al. 2020): :class:`ShootingField` (UpDown model driven by K
  Hamiltonian particles, integrated jointly with the data), the explicit and autodiff shooting
  equations (:func:`updown_shooting_explicit`, :func:`updown_shooting_autodiff`,
  :func:`hamiltonian_shooting_autodiff`), :func:`updown_theta`, :func:`updown_hamiltonian`,
  :func:`updown_parameter_count`; the direct variants :class:`DirectUpDownField` (theta
  optimised directly, constant or piecewise constant in time) and the paper's complexity
  :func:`log_frobenius_complexity`.
- Least action (thesis ch. 4.2): :class:`ResidualTransport` (a residual network ``x_{k+1} =
  x_k + v_k(x_k)`` of :class:`ResidualBlock`), :func:`kinetic_energy` (``∫ ||f||^2 dt`` along
  a solution, as an extra ODE state), :func:`transport_cost` (``sum_k ||x_{k+1} - x_k||^2 /
  dt`` of a path).
- Several environments (LEADS): :class:`MultiEnvironmentField` (``f + g_e`` on states
  ``(E, B, *state)``, with the penalty ``Omega(g_e)``), :class:`EnvironmentMLP` (E MLPs in one
  batched product; shared with ``num_envs=1``; FT-NODE codes with ``env_bias``),
  :class:`EnvironmentNet` (E copies of a grid network, e.g. a ConvNet or an FNO),
  :class:`Swish` (LEADS' learnable Swish), :func:`spectral_norms` (batched power iteration);
  the recurrent baseline FT-RNN :class:`EnvironmentGRU` (a discrete-time forecaster).
- Partial observations (thesis 3.1): :class:`PartiallyObservedODE` (``dX/dt = F(X)``,
  ``Y = H(X)``, ``X_0`` from an :class:`ObservationEncoder` ``g_theta`` of the last ``k``
  observations or given), :class:`ChannelObservation` (``H`` = observe some channels).
- :func:`solve`: torchdiffeq's ``odeint``/``odeint_adjoint`` with checks, output
  ``(..., time, *state)`` and per-trajectory time grids.
"""

from ._base import SumField, VectorField
from ._environments import (
    EnvironmentMLP,
    EnvironmentNet,
    MultiEnvironmentField,
    Swish,
    spectral_norms,
)
from ._hamiltonian import HamiltonianField
from ._hybrid import HybridField
from ._least_action import ResidualBlock, ResidualTransport, kinetic_energy, transport_cost
from ._neural import ConvField, FNOField, FourierLayer, MLPField, SpectralConv2d
from ._partial import ChannelObservation, ObservationEncoder, PartiallyObservedODE
from ._recurrent import EnvironmentGRU
from ._shooting import (
    ShootingField,
    hamiltonian_shooting_autodiff,
    updown_hamiltonian,
    updown_parameter_count,
    updown_penalty,
    updown_shooting_autodiff,
    updown_shooting_explicit,
    updown_theta,
    updown_velocity,
)
from ._solve import ADAPTIVE_METHODS, FIXED_STEP_METHODS, METHODS, solve
from ._updown_direct import DirectUpDownField, log_frobenius_complexity

__all__ = [
    "ADAPTIVE_METHODS",
    "FIXED_STEP_METHODS",
    "METHODS",
    "ChannelObservation",
    "ConvField",
    "DirectUpDownField",
    "EnvironmentGRU",
    "EnvironmentMLP",
    "EnvironmentNet",
    "FNOField",
    "FourierLayer",
    "HamiltonianField",
    "HybridField",
    "MLPField",
    "ResidualBlock",
    "ResidualTransport",
    "MultiEnvironmentField",
    "ObservationEncoder",
    "PartiallyObservedODE",
    "ShootingField",
    "SpectralConv2d",
    "SumField",
    "Swish",
    "VectorField",
    "hamiltonian_shooting_autodiff",
    "kinetic_energy",
    "log_frobenius_complexity",
    "solve",
    "transport_cost",
    "spectral_norms",
    "updown_hamiltonian",
    "updown_parameter_count",
    "updown_penalty",
    "updown_shooting_autodiff",
    "updown_shooting_explicit",
    "updown_theta",
    "updown_velocity",
]
