"""Physical models: vector fields with named, positive physical parameters, and simulators
that generate the reference datasets as ``xarray.Dataset`` (dims trajectory, time, channel
[, y, x]; ``env`` first for the multi-environment LEADS sets).

ODE models (:class:`PhysicalField`: a ``PyroModule`` with positive ``PyroParam`` parameters,
priors by ``PyroSample``):

- Pendulum: :class:`DampedPendulum`, :class:`Pendulum` (frictionless),
  :func:`simulate_pendulum` (APHYNITY data). A learned Hamiltonian form is
  :class:`probdyn.dynamics.HamiltonianField`.
- Cubic spiral ``x' = A x^3`` (NODE demo, shooting paper): :class:`CubicSpiral`,
  :func:`simulate_cubic_spiral`.
- Lotka-Volterra: :class:`LotkaVolterra`, :func:`simulate_lotka_volterra` (LEADS
  environments :data:`LV_TRAIN_ENVIRONMENTS`, :data:`LV_NOVEL_ENVIRONMENTS`).

PDE models on 2-D grids (each a :class:`probdyn.dynamics.VectorField` with ``state_shape``
``(channel, y, x)``):

- :class:`DampedWave` / :func:`simulate_damped_wave` (APHYNITY wave, Neumann walls),
- :class:`FitzHughNagumo` / :func:`simulate_fitzhugh_nagumo` (APHYNITY reaction-diffusion),
- :class:`GrayScott` / :func:`simulate_gray_scott` (LEADS environments),
- :class:`NavierStokesVorticity` / :func:`simulate_navier_stokes` (LEADS forcings,
  pseudo-spectral),
- :class:`ShallowWater` / :func:`simulate_shallow_water` (wind-forced, C-grid),
- :class:`AdvectionDiffusion` / :func:`simulate_advection_diffusion` (PKN physics).

The advection-diffusion warping forecaster (PKN, thesis 3.2): :func:`gaussian_warp` (S16),
:class:`MotionEstimator`, :class:`WarpingForecaster`, the S17 loss :func:`pkn_loss` and its
terms, :func:`train_warping_forecaster`, :func:`forecast_scores`, :func:`motion_agreement`;
its baselines, the direct convolutional predictor (ACDNN) :class:`DirectForecaster` and
:func:`train_direct_forecaster`, and the untrained shift extrapolation
:class:`ShiftExtrapolation`.
"""

from ._physical import PhysicalField
from ._pkn_training import (
    PKNTrainResult,
    forecast_scores,
    motion_agreement,
    sliding_windows,
    train_direct_forecaster,
    train_warping_forecaster,
)
from .advection_diffusion import (
    AdvectionDiffusion,
    divergence_free_velocity,
    simulate_advection_diffusion,
)
from .direct import DirectForecaster
from .extrapolation import ShiftExtrapolation
from .lotka_volterra import (
    LV_NOVEL_ENVIRONMENTS,
    LV_TRAIN_ENVIRONMENTS,
    LotkaVolterra,
    simulate_lotka_volterra,
)
from .navier_stokes import (
    NavierStokesVorticity,
    navier_stokes_forcing,
    navier_stokes_initial_vorticity,
    simulate_navier_stokes,
)
from .pendulum import DampedPendulum, Pendulum, pendulum_initial_state, simulate_pendulum
from .reaction_diffusion import (
    GRAY_SCOTT_ENVIRONMENTS,
    FitzHughNagumo,
    GrayScott,
    gray_scott_initial_state,
    simulate_fitzhugh_nagumo,
    simulate_gray_scott,
)
from .shallow_water import ShallowWater, balanced_initial_state, simulate_shallow_water
from .spiral import SPIRAL_A, CubicSpiral, simulate_cubic_spiral
from .warping import (
    MotionEstimator,
    WarpingForecaster,
    charbonnier,
    divergence_penalty,
    gaussian_warp,
    kernel_radius,
    magnitude_penalty,
    pkn_loss,
    smoothness_penalty,
)
from .wave import DampedWave, simulate_damped_wave, wave_initial_state

__all__ = [
    "SPIRAL_A",
    "CubicSpiral",
    "simulate_cubic_spiral",
    "PKNTrainResult",
    "forecast_scores",
    "motion_agreement",
    "sliding_windows",
    "train_direct_forecaster",
    "train_warping_forecaster",
    "DirectForecaster",
    "ShiftExtrapolation",
    "MotionEstimator",
    "WarpingForecaster",
    "charbonnier",
    "divergence_penalty",
    "gaussian_warp",
    "kernel_radius",
    "magnitude_penalty",
    "pkn_loss",
    "smoothness_penalty",
    "GRAY_SCOTT_ENVIRONMENTS",
    "LV_NOVEL_ENVIRONMENTS",
    "LV_TRAIN_ENVIRONMENTS",
    "AdvectionDiffusion",
    "DampedPendulum",
    "DampedWave",
    "FitzHughNagumo",
    "GrayScott",
    "LotkaVolterra",
    "NavierStokesVorticity",
    "Pendulum",
    "PhysicalField",
    "ShallowWater",
    "balanced_initial_state",
    "divergence_free_velocity",
    "gray_scott_initial_state",
    "navier_stokes_forcing",
    "navier_stokes_initial_vorticity",
    "pendulum_initial_state",
    "simulate_advection_diffusion",
    "simulate_damped_wave",
    "simulate_fitzhugh_nagumo",
    "simulate_gray_scott",
    "simulate_lotka_volterra",
    "simulate_navier_stokes",
    "simulate_pendulum",
    "simulate_shallow_water",
    "wave_initial_state",
]
