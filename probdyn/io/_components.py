"""Per-component estimates of a structural model to xarray."""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

from ._arrays import index_coord, to_numpy


def components_to_dataset(components: Mapping, time=None, attrs: dict | None = None
                          ) -> xr.Dataset:
    """Component contributions (e.g. :meth:`probdyn.ssm.StructuralTimeSeries.decompose`) as
    an ``xarray.Dataset`` with variables ``mean`` and ``variance`` over (``component``, ``time``).

    Parameters
    ----------
    components : mapping name -> (mean, variance)
        Each of shape (T,) or (T, 1), in data units and squared data units.
    time : pandas.DatetimeIndex or sequence, length T, optional
    attrs : dict, optional
        Dataset attributes (units, provenance).
    """
    if not components:
        raise ValueError("components is empty")
    means, variances = [], []
    for name, (mean, variance) in components.items():
        m = to_numpy(mean, f"components[{name!r}].mean").reshape(-1)
        v = to_numpy(variance, f"components[{name!r}].variance").reshape(-1)
        if m.shape != v.shape or (means and m.shape != means[0].shape):
            raise ValueError(f"components[{name!r}] has mean/variance of shapes {m.shape}, "
                             f"{v.shape}; all must have length T")
        means.append(m)
        variances.append(v)
    coords = {"component": list(components), "time": index_coord(time, len(means[0]), "time")}
    dims = ("component", "time")
    return xr.Dataset(
        {"mean": (dims, means), "variance": (dims, variances)}, coords=coords,
        attrs=dict(attrs or {}),
    )
