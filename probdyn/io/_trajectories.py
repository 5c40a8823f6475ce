"""Simulated or predicted trajectories (ODE and PDE states) to xarray."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import xarray as xr

from ._arrays import check_no_nan, index_coord, to_numpy

_SPACE_DIMS = ("y", "x")


def trajectories_to_dataset(
    states,
    time,
    channels: Sequence[str],
    name: str = "state",
    space: Mapping[str, Sequence[float]] | None = None,
    attrs: dict | None = None,
) -> xr.Dataset:
    """A batch of trajectories as an ``xarray.Dataset`` (dims trajectory, time, channel[, y, x]).

    Parameters
    ----------
    states : array_like or torch.Tensor, shape (B, T, C) or (B, T, C, *grid)
        B trajectories at T times with C channels; a field on a 1-D grid has one trailing grid
        dim (``x``), on a 2-D grid two (``y``, ``x``). Must be finite.
    time : sequence of length T
        Time coordinate in the model's time units (shared by all trajectories).
    channels : sequence of str, length C
        Channel names (``"theta"``, ``"omega"``; ``"u"``, ``"v"``; ...).
    name : str
        Name of the data variable.
    space : dict, optional
        Coordinates of the grid dims, e.g. ``{"y": ys, "x": xs}`` (default: indices).
    attrs : dict, optional
        Dataset attributes: physical parameters, solver, tolerances, seed, units.

    Returns
    -------
    xarray.Dataset
        One variable ``name`` with dims (trajectory, time, channel[, y], [x]).
    """
    values = to_numpy(states, "states")
    if values.ndim < 3 or values.ndim > 5:
        raise ValueError(
            f"states must have shape (B, T, C) or (B, T, C, [y,] x), got {values.shape}"
        )
    check_no_nan(values, "states")
    channels = list(channels)
    grid_dims = _SPACE_DIMS[2 - (values.ndim - 3):] if values.ndim > 3 else ()
    dims = ("trajectory", "time", "channel") + grid_dims
    space = dict(space or {})
    unknown = set(space) - set(grid_dims)
    if unknown:
        raise ValueError(f"space has coordinates for {sorted(unknown)}, but the grid dims are "
                         f"{grid_dims}")
    coords = {
        "trajectory": index_coord(None, values.shape[0], "trajectory"),
        "time": index_coord(time, values.shape[1], "time"),
        "channel": index_coord(channels, values.shape[2], "channels"),
    }
    for i, dim in enumerate(grid_dims):
        coords[dim] = index_coord(space.get(dim), values.shape[3 + i], f"space[{dim!r}]")
    return xr.Dataset({name: xr.DataArray(values, dims=dims, coords=coords)},
                      attrs=dict(attrs or {}))
