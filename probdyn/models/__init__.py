"""Ready-made model programs built on the distributions and building blocks.

- :class:`LocalGlobalNKF`: the local-global Normalizing Kalman Filter forecaster
  (de Bézenac et al. 2020): per-series structural state spaces with LSTM-produced,
  time-varying parameters, joined by a flow over the series (RealNVP = NKF, element-wise =
  NKF-Local, identity = DeepState). :meth:`~LocalGlobalNKF.fit` trains it by exact maximum
  likelihood, :meth:`~LocalGlobalNKF.forecast` samples future paths as xarray.
- :class:`HybridODEModel`: Bayesian APHYNITY, ``dx/dt = F_p + F_a`` with priors on the
  physics and the ``||F_a||^2`` penalty as a Gaussian prior on the augmentation
  (:func:`augmentation_prior`), fitted by SVI / Laplace / NUTS.
- :func:`backtest`: the rolling-window evaluation of the GluonTS ``*_nips`` benchmarks.
"""

from ._backtest import backtest, rolling_windows
from ._fit import FitHistory, fit_local_global
from ._hybrid_ode import HybridODEModel, augmentation_prior
from ._local_global import FLOWS, Inputs, LocalGlobalNKF, SSMParameters, pseudo_observations
from ._structure import local_system, side_by_side, state_dim

__all__ = [
    "FLOWS",
    "FitHistory",
    "HybridODEModel",
    "Inputs",
    "LocalGlobalNKF",
    "SSMParameters",
    "augmentation_prior",
    "backtest",
    "fit_local_global",
    "local_system",
    "pseudo_observations",
    "rolling_windows",
    "side_by_side",
    "state_dim",
]
