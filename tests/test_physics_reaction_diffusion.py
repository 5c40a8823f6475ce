"""FitzHugh-Nagumo and Gray-Scott: right-hand sides against independent numpy versions (the
spec's formulas with np.roll), bounded non-trivial patterns, the LEADS initial condition and
environments, and the spec's [CHECK] number for the APHYNITY data generator."""

import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from probdyn import physics


def _roll_lap(A, dx):
    return (np.roll(A, 1, -1) + np.roll(A, -1, -1) + np.roll(A, 1, -2) + np.roll(A, -1, -2)
            - 4 * A) / dx**2


def _roll_lap9(A):
    edges = np.roll(A, 1, -1) + np.roll(A, -1, -1) + np.roll(A, 1, -2) + np.roll(A, -1, -2)
    corners = sum(np.roll(np.roll(A, i, -1), j, -2) for i in (1, -1) for j in (1, -1))
    return 0.5 * edges + 0.25 * corners - 3 * A


def test_fitzhugh_nagumo_rhs_matches_numpy():
    a, b, k, N = 1e-3, 5e-3, 5e-3, 32
    field = physics.FitzHughNagumo(a, b, k, N).double()
    x = torch.rand(3, 2, N, N, dtype=torch.float64)
    out = field(torch.tensor(0.0), x).detach().numpy()
    U, V = x[:, 0].numpy(), x[:, 1].numpy()
    dx = 2 / 32
    np.testing.assert_allclose(out[:, 0], a * _roll_lap(U, dx) + U - U**3 - V - k, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], b * _roll_lap(V, dx) + U - V, atol=1e-12)


def test_fitzhugh_nagumo_without_reaction_is_pure_diffusion():
    a, b, N = 2e-3, 4e-3, 16
    field = physics.FitzHughNagumo(a, b, grid_size=N, reaction=False).double()
    assert "k" not in field.physical_parameters()
    x = torch.rand(2, 2, N, N, dtype=torch.float64)
    out = field(torch.tensor(0.0), x).detach().numpy()
    dx = 2 / N
    np.testing.assert_allclose(out[:, 0], a * _roll_lap(x[:, 0].numpy(), dx), atol=1e-12)
    np.testing.assert_allclose(out[:, 1], b * _roll_lap(x[:, 1].numpy(), dx), atol=1e-12)


def test_gray_scott_rhs_matches_numpy():
    F, k, Du, Dv = 0.039, 0.058, 0.2097, 0.105
    field = physics.GrayScott(F, k, Du, Dv, 16).double()
    x = torch.rand(2, 2, 16, 16, dtype=torch.float64)
    out = field(torch.tensor(0.0), x).detach().numpy()
    u, v = x[:, 0].numpy(), x[:, 1].numpy()
    np.testing.assert_allclose(out[:, 0], Du * _roll_lap9(u) - u * v**2 + F * (1 - u),
                               atol=1e-12)
    np.testing.assert_allclose(out[:, 1], Dv * _roll_lap9(v) + u * v**2 - (F + k) * v,
                               atol=1e-12)


def test_fitzhugh_nagumo_patterns_bounded_and_nontrivial():
    ds = physics.simulate_fitzhugh_nagumo(4, progress=False)
    assert ds.sizes == {"trajectory": 4, "time": 31, "channel": 2, "y": 32, "x": 32}
    assert float(ds.time[5]) == pytest.approx(0.0)  # X_0 of the thesis, 25 steps follow
    s = ds.state.values
    assert np.abs(s).max() < 1.5  # the cubic reaction keeps |u| bounded
    final_std = s[:, -1].std(axis=(-2, -1))
    assert (final_std > 0.05).all(), final_std  # not collapsed to a uniform state
    assert np.isclose(ds.x.values[0], -1.0) and np.isclose(ds.x.values[-1], 1 - 2 / 32)


def test_thesis_generator_check_number():
    """spec [CHECK] (checks_rd2.py): data from explicit Euler at 1e-3, True PDE integrated by
    RK4 at the data step 0.1 from X_0 (t = 0) over 25 steps: log10 MSE = -8.78."""
    ds = physics.simulate_fitzhugh_nagumo(8, method="euler", step_size=1e-3, progress=False,
                                          store_dtype="float64")
    data = torch.from_numpy(ds.state.values[:, 5:])  # t = 0 .. 2.5
    field = physics.FitzHughNagumo().double()
    times = torch.tensor(ds.time.values[5:], dtype=torch.float64)
    with torch.no_grad():
        pred = odeint(field, data[:, 0], times, method="rk4", options={"step_size": 0.1})
    mse = (pred.transpose(0, 1) - data).pow(2).mean().item()
    assert -9.1 < np.log10(mse) < -8.5, np.log10(mse)


def test_gray_scott_initial_state_is_the_leads_one():
    x0 = physics.gray_scott_initial_state(5, 32, seed=3)
    u, v = x0[:, 0], x0[:, 1]
    inside = v == 1.0
    assert ((u == 0) == inside).all()
    assert torch.allclose(u[~inside], torch.tensor(0.95, dtype=torch.float64))
    counts = inside.sum((-2, -1))
    assert ((counts >= 9) & (counts <= 27)).all()  # 3 squares of 3 x 3, possibly overlapping


def test_gray_scott_environments():
    ds = physics.simulate_gray_scott(2, progress=False)
    assert ds.state.dims == ("env", "trajectory", "time", "channel", "y", "x")
    assert ds.sizes["time"] == 11 and float(ds.time[-1]) == 400.0
    np.testing.assert_allclose(ds.F.values, [0.037, 0.030, 0.039])
    s = ds.state.values
    # the i-th initial condition is the same in every environment
    assert np.array_equal(s[0, :, 0], s[1, :, 0]) and np.array_equal(s[0, :, 0], s[2, :, 0])
    assert s.min() >= -1e-6 and s.max() <= 1 + 1e-6  # concentrations stay in [0, 1]
    v_final = s[:, :, -1, 1]
    assert (v_final.std(axis=(-2, -1)) > 0.02).all()  # patterns, not a uniform state
    for i in range(3):
        for j in range(i):
            assert np.abs(v_final[i] - v_final[j]).mean() > 0.01  # environments differ
