"""Dataset registry: real datasets as :class:`xarray.Dataset`, read from a data directory.

Files are never shipped with probdyn. They are read from ``$PROBDYN_DATA_DIR`` when set, else
from the user cache ``~/.cache/probdyn``, at their registry path (e.g.
``statsmodels/nile.csv``), and their sha256 is checked against the registry.
``load(name, download=True)`` fetches a missing file (from an installed package that ships it,
or from its public URL) and keeps it only if the checksum matches.

- :func:`load`: a dataset as ``xarray.Dataset`` (dims ``time`` and, for panels, ``series``)
  with provenance in ``attrs``.
- :func:`list_datasets`, :func:`describe`: what is registered (no file needed).
- :func:`register`: add a dataset (decorator on its loader).
- :func:`data_dir`: the directory files are read from; :func:`fetch`: get a file.
- :func:`synthetic_s1`, :func:`synthetic_s2`: the simulated S1/S2 sets of the NKF paper.
- :func:`concentric_circles`: the 2-D two-circle classification toy (least action);
  :func:`concentric_annuli`: a disc inside an annulus (ANODE's toy, shooting).
- :func:`rotating_digits`: one digit rotated through a full turn, ``(sample, time, y, x)``,
  from scikit-learn's 8 x 8 digits or MNIST IDX files (:func:`read_idx`).

Registered datasets (data variable in brackets): ``nile`` (``volume``), ``sunspots`` and
``sunspots_monthly`` (``sunspots``), ``co2`` and ``co2_weekly`` (``co2``), ``lynx_hare``
(``pelts``; series hare, lynx), ``exchange_rate`` (``rate``; 8 series),
``exchange_rate_nips`` (``rate``; the GluonTS benchmark split, coordinate ``window``), the
other GluonTS ``*_nips`` benchmarks ``solar_nips`` (``power``), ``electricity_nips``
(``load``), ``traffic_nips`` (``occupancy``), ``wiki_rolling_nips`` and ``wiki2000_nips``
(``views``) (files not in the reference data; sha256 not yet recorded, so they load with an
:class:`UnverifiedDatasetWarning`), ``etth1`` and ``etth2`` (``value``; 7 series HUFL ... OT),
``air_temperature_ncep`` (``air``; 1325 grid points with lat/lon coordinates;
:func:`grid_fields` reshapes it to ``(time, lat, lon)``), ``era5_t2m_uk`` (``t2m``; hourly,
March 2019, 1617 grid points of 0.25 degrees over the UK), ``sst_ndjfm_anomalies`` (``sst``;
540 Pacific grid points, one value per winter 1963-2012, NaN over land); the measured
mechanical systems of Schmidt & Lipson (2009), ``state`` over ``time`` in seconds:
``schmidt_lipson_pendulum`` (series theta [rad], omega [rad/s]),
``schmidt_lipson_oscillator`` (x, v) and
``schmidt_lipson_coupled_oscillators`` (x1, x2, v1, v2).

- :func:`grid_fields`: a gridded dataset as a ``(time, lat, lon)`` DataArray.
"""

from . import (  # noqa: F401  (register the datasets)
    _classic,
    _ett,
    _exchange,
    _gluonts,
    _gridded,
    _schmidt_lipson,
)
from ._digits import read_idx, rotating_digits
from ._exchange import EXCHANGE_RATE_SERIES
from ._files import ENV_VAR, ChecksumError, UnverifiedDatasetWarning, data_dir
from ._gridded import grid_fields
from ._load import fetch, load
from ._registry import DatasetInfo, UnknownDatasetError, describe, list_datasets, register
from ._synthetic import synthetic_s1, synthetic_s2
from ._toy import concentric_annuli, concentric_circles

__all__ = [
    "ENV_VAR",
    "EXCHANGE_RATE_SERIES",
    "ChecksumError",
    "DatasetInfo",
    "UnknownDatasetError",
    "concentric_annuli",
    "concentric_circles",
    "UnverifiedDatasetWarning",
    "data_dir",
    "describe",
    "fetch",
    "grid_fields",
    "list_datasets",
    "load",
    "read_idx",
    "register",
    "rotating_digits",
    "synthetic_s1",
    "synthetic_s2",
]
