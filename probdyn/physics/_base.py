"""Common machinery of the PDE vector fields: grid, named positive parameters, state checks."""

from __future__ import annotations

import math

import torch
from pyro.distributions import constraints
from pyro.nn import PyroParam

from ._physical import PhysicalField


def grid_shape(grid_size, name: str = "grid_size", min_size: int = 4) -> tuple[int, int]:
    """``grid_size`` (an int ``n`` for ``n x n``, or ``(ny, nx)``) as a checked pair."""
    sizes = tuple(grid_size) if isinstance(grid_size, (tuple, list)) else (grid_size,) * 2
    if len(sizes) != 2 or not all(isinstance(n, int) and not isinstance(n, bool)
                                  for n in sizes):
        raise ValueError(f"{name} must be an int or a pair (ny, nx) of ints, got {grid_size!r}")
    if min(sizes) < min_size:
        raise ValueError(f"{name} must be at least {min_size} points per axis, got {grid_size!r}")
    return sizes


def check_number(name: str, value, *, allow_zero: bool = False) -> float:
    """A finite real number, positive (or non-negative with ``allow_zero``)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(value.shape)}")
        value = value.item()
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {kind} and finite, got {value!r}")
    return value


class GridField(PhysicalField):
    """A vector field on a 2-D grid with named physical parameters.

    A :class:`PhysicalField`: each parameter is a ``PyroParam`` constrained positive (stored
    unconstrained through ``exp``), so gradient steps keep it positive and a prior can replace
    it (``field.nu = PyroSample(dist.LogNormal(...))``). A parameter allowed to be exactly
    zero (a damping switched off) is constrained non-negative and stored as ``-inf``: its value
    is then exactly 0 and its gradient 0 (it stays off).

    Attributes
    ----------
    grid : (int, int)
        ``(ny, nx)``.
    dx : (float, float)
        Grid spacings ``(dy, dx)`` in length units (the form :mod:`probdyn.ops` takes).
    channels : tuple of str
        Channel names, in the order of the state's channel dim.
    """

    channels: tuple[str, ...] = ()

    def __init__(self, grid_size, spacing, *, min_size: int = 4):
        super().__init__()
        self.grid = grid_shape(grid_size, min_size=min_size)
        dy, dx = (spacing if isinstance(spacing, tuple) else (spacing, spacing))
        self.dx = (check_number("dy", dy), check_number("dx", dx))
        self.parameter_names = ()

    @property
    def state_shape(self) -> tuple[int, int, int]:
        """``(channel, ny, nx)``."""
        return (len(self.channels), *self.grid)

    def _register_positive(self, name: str, value, *, allow_zero: bool = False) -> None:
        value = check_number(name, value, allow_zero=allow_zero)
        constraint = constraints.nonnegative if allow_zero else constraints.positive
        setattr(self, name, PyroParam(torch.tensor(value, dtype=torch.float64), constraint))
        self.parameter_names = self.parameter_names + (name,)

    def physical_parameters(self) -> dict[str, float]:
        """The named parameters as plain floats (for attrs and reports)."""
        return {name: float(self._read(name).detach()) for name in self.parameter_names}

    def check_state(self, x: torch.Tensor, name: str = "x") -> None:
        """``ValueError`` unless ``x`` has shape ``(..., *state_shape)`` and is finite."""
        if not isinstance(x, torch.Tensor) or tuple(x.shape[-3:]) != self.state_shape:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            dims = ", ".join(map(str, self.state_shape))
            raise ValueError(f"{name} must have shape (..., {dims}) = (..., channel, y, x) for "
                             f"{type(self).__name__}, got {shape}")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or infinite values")

    def _check_shape(self, x: torch.Tensor) -> None:
        # cheap per-call check (no device sync); the finiteness check is done once, on x0
        if tuple(x.shape[-3:]) != self.state_shape:
            raise ValueError(f"x must have shape (..., {', '.join(map(str, self.state_shape))}) "
                             f"for {type(self).__name__}, got {tuple(x.shape)}")

    def _param(self, name: str, like: torch.Tensor) -> torch.Tensor:
        return self.param(name).to(like.dtype)

    def coordinates(self, cell_centred: bool = False) -> dict[str, list[float]]:
        """Grid coordinates ``{"y": ..., "x": ...}`` (length units)."""
        off = 0.5 if cell_centred else 0.0
        return {"y": [(j + off) * self.dx[0] for j in range(self.grid[0])],
                "x": [(j + off) * self.dx[1] for j in range(self.grid[1])]}

    def extra_repr(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.physical_parameters().items())
        return f"{params}, grid={self.grid}, dx={self.dx}"
