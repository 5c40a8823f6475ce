"""Results out of the library as xarray objects, and into ArviZ and netCDF.

- :func:`mvn_to_dataset`: per-step Gaussian marginals -> Dataset (``mean``, ``variance``,
  ``covariance`` over ``time``, ``state``).
- :func:`samples_to_dataset`, :func:`add_summaries`: forecast ensembles (``sample``, ``time``,
  ``series``) and their mean / quantiles.
- :func:`to_inference_data`: Pyro MCMC runs or dicts of draws (MCMC or SVI) -> ArviZ
  ``InferenceData`` (arviz < 1) / ``xarray.DataTree`` (arviz >= 1).
- :func:`components_to_dataset`: structural components' mean and variance over time.
- :func:`trajectories_to_dataset`: simulated / predicted ODE and PDE trajectories (``trajectory``,
  ``time``, ``channel``[, ``y``, ``x``]).
- :func:`write_netcdf`: write any of these with attributes made storable.
"""

from ._arviz import to_inference_data
from ._components import components_to_dataset
from ._gaussian import mvn_to_dataset
from ._netcdf import netcdf_attr, write_netcdf
from ._samples import add_summaries, samples_to_dataset
from ._trajectories import trajectories_to_dataset

__all__ = [
    "add_summaries",
    "components_to_dataset",
    "mvn_to_dataset",
    "netcdf_attr",
    "samples_to_dataset",
    "to_inference_data",
    "trajectories_to_dataset",
    "write_netcdf",
]
