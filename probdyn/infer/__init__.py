"""Fitting: point estimates, variational and MCMC posteriors, trajectory training.

- :func:`fit_mle` and :func:`fit_map` share one optimisation loop, :func:`minimize` (L-BFGS
  with a strong-Wolfe line search by default, float64, tqdm progress).
- :func:`fit_svi`: SVI with an autoguide (``"normal"``, ``"mvn"``, ``"lowrank"``,
  ``"delta"`` for MAP), mini-batching through the model's plates, early stopping.
- :func:`run_nuts`: NUTS (sequential chains), a ``pyro.infer.MCMC`` for
  :func:`probdyn.io.to_inference_data`.
- :func:`fit_aphynity`: APHYNITY's adaptive-Lagrangian training of a
  :class:`~probdyn.dynamics.HybridField` (min ``||F_a||^2`` s.t. trajectories fitted).
- :func:`fit_leads`: LEADS training of a :class:`~probdyn.dynamics.MultiEnvironmentField`
  over environments (penalty ``Omega(g_e)``, scheduled sampling).
- :func:`fit_partial_observations`: a latent ODE seen through a known operator ``H``
  (thesis 3.1, a :class:`~probdyn.dynamics.PartiallyObservedODE`), backprop through the
  solver or the adjoint; :func:`partial_observation_loss` is its cost ``J``.
- :func:`train_vector_field`: maximum likelihood (MSE) training of a vector field on
  trajectories, Adam on mini-batches, validation early stopping; optional least-action
  (kinetic-energy) regulariser.
- Least action (thesis ch. 4.2, LAP-Net): :class:`LeastActionMultiplier` (Algorithm 4's
  Uzawa multiplier), :class:`FixedPenalty`, :func:`fit_transport_classifier` (a residual or
  ODE transport plus a classifier head, with or without the regulariser) and
  :func:`evaluate_transport_classifier`.
"""

from ._aphynity import AphynityResult, fit_aphynity
from ._fit import FitResult, fit_map, fit_mle, model_log_likelihood, parameter_values
from ._leads import LeadsResult, fit_leads, rollout, trajectory_mse_per_env
from ._least_action import (
    ClassifierResult,
    FixedPenalty,
    LeastActionMultiplier,
    evaluate_transport_classifier,
    fit_transport_classifier,
    transport_and_cost,
)
from ._mcmc import run_nuts
from ._optim import OptimizationTrace, minimize
from ._partial import (
    PartialObservationResult,
    fit_partial_observations,
    partial_observation_loss,
)
from ._svi import GUIDES, SVIResult, fit_svi
from ._train import TrainResult, train_vector_field, trajectory_mse

__all__ = [
    "AphynityResult",
    "ClassifierResult",
    "FixedPenalty",
    "GUIDES",
    "LeastActionMultiplier",
    "LeadsResult",
    "FitResult",
    "OptimizationTrace",
    "PartialObservationResult",
    "SVIResult",
    "TrainResult",
    "evaluate_transport_classifier",
    "fit_aphynity",
    "fit_leads",
    "fit_map",
    "fit_mle",
    "fit_partial_observations",
    "fit_svi",
    "fit_transport_classifier",
    "minimize",
    "model_log_likelihood",
    "parameter_values",
    "partial_observation_loss",
    "rollout",
    "run_nuts",
    "train_vector_field",
    "transport_and_cost",
    "trajectory_mse",
    "trajectory_mse_per_env",
]
