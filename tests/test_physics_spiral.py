"""The cubic spiral x' = A x^3 (shooting paper E2): both orientations against scipy."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from probdyn.physics import SPIRAL_A, CubicSpiral, simulate_cubic_spiral

A = np.array(SPIRAL_A)


@pytest.mark.parametrize("orientation", ["column", "row"])
def test_spiral_matches_scipy_in_both_orientations(orientation):
    ds = simulate_cubic_spiral(orientation=orientation)
    t = ds["time"].values
    assert ds["state"].shape == (1, 200, 2) and t[-1] == 10.0
    M = A if orientation == "column" else A.T  # row form y'^T = (y^3)^T A is A^T in columns
    ref = solve_ivp(lambda _, x: M @ x ** 3, (0, 10), [2.0, 0.0], method="DOP853", t_eval=t,
                    rtol=1e-12, atol=1e-12)
    assert np.abs(ds["state"].values[0] - ref.y.T).max() < 1e-8


def test_orientations_differ_and_the_field_is_a_cube():
    col = simulate_cubic_spiral(20, 2.0)["state"].values
    row = simulate_cubic_spiral(20, 2.0, orientation="row")["state"].values
    assert np.abs(col - row).max() > 0.1  # the two readings are different spirals
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    f = CubicSpiral().double()
    assert torch.allclose(f(torch.tensor(0.0), x), torch.tensor([[-0.1 + 16.0, -2.0 - 0.8]],
                                                                dtype=torch.float64))


def test_bad_input():
    with pytest.raises(ValueError, match="num_points"):
        simulate_cubic_spiral(1)
    with pytest.raises(ValueError, match="t_end"):
        simulate_cubic_spiral(t_end=float("nan"))
    with pytest.raises(ValueError, match="x0"):
        simulate_cubic_spiral(x0=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="orientation"):
        CubicSpiral(orientation="diagonal")
    with pytest.raises(ValueError, match="A must be"):
        CubicSpiral(A=np.eye(3))
