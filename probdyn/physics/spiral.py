"""The cubic spiral ``x' = A x^3`` of the neural-ODE demo, the shooting paper's spiral task
(Vialard et al. 2020, spec E2)."""

from __future__ import annotations

import math

import torch

from ..dynamics import VectorField, solve
from ..io import trajectories_to_dataset

#: the spiral's matrix (paper and NODE demo)
SPIRAL_A = ((-0.1, 2.0), (-2.0, -0.1))
ORIENTATIONS = ("column", "row")


class CubicSpiral(VectorField):
    """``dx/dt = A x^3`` (cube component-wise) on states ``(..., 2)``.

    Parameters
    ----------
    A : 2 x 2 array_like
        Default :data:`SPIRAL_A`.
    orientation : {"column", "row"}
        ``"column"``: ``x' = A x^3`` as printed in the paper; ``"row"``: ``x'^T = (x^3)^T A``,
        i.e. ``A^T`` in column form, the orientation of the authors' and the NODE demo's code.
    """

    def __init__(self, A=SPIRAL_A, orientation: str = "column"):
        super().__init__()
        A = torch.as_tensor(A, dtype=torch.float64)  # cast per call: -0.1 stays exact in float64
        if A.shape != (2, 2) or not torch.isfinite(A).all():
            raise ValueError(f"A must be a finite 2 x 2 matrix, got shape {tuple(A.shape)}")
        if orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
        self.orientation = orientation
        self.register_buffer("A", A if orientation == "column" else A.T.contiguous())
        self.state_shape = (2,)

    def forward(self, t, x):
        return (x ** 3) @ self.A.T.to(x.dtype)


def simulate_cubic_spiral(num_points: int = 200, t_end: float = 10.0, x0=(2.0, 0.0), *,
                          orientation: str = "column", rtol: float = 1e-12,
                          atol: float = 1e-14):
    """The spiral trajectory on ``num_points`` uniform times in ``[0, t_end]`` (paper: 200 points,
    T = 10, ``x(0) = (2, 0)``), float64 ``dopri8``.

    Returns
    -------
    xarray.Dataset
        ``state`` (trajectory = 1, time, channel ``x``, ``y``).
    """
    if isinstance(num_points, bool) or int(num_points) != num_points or num_points < 2:
        raise ValueError(f"num_points must be an integer >= 2, got {num_points!r}")
    if not (math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be positive and finite, got {t_end!r}")
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    if x0.shape != (2,) or not torch.isfinite(x0).all():
        raise ValueError(f"x0 must be 2 finite numbers, got {tuple(x0.shape)}")
    field = CubicSpiral(orientation=orientation).double()
    t = torch.linspace(0.0, float(t_end), int(num_points), dtype=torch.float64)
    with torch.no_grad():
        states = solve(field, x0[None], t, method="dopri8", rtol=rtol, atol=atol)
    attrs = {"model": "cubic spiral x' = A x^3", "A": str(SPIRAL_A), "orientation": orientation,
             "solver": "torchdiffeq dopri8 (float64)", "rtol": rtol, "atol": atol}
    return trajectories_to_dataset(states, t.numpy(), ("x", "y"), name="state", attrs=attrs)


__all__ = ["ORIENTATIONS", "SPIRAL_A", "CubicSpiral", "simulate_cubic_spiral"]
