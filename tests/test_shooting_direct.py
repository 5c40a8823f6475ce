"""The direct UpDown variants (static / dynamic direct) and the log-Frobenius complexity."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad, solve_ivp

from probdyn.dynamics import (
    DirectUpDownField,
    ShootingField,
    log_frobenius_complexity,
    updown_parameter_count,
    updown_penalty,
    updown_theta,
)

W = (1.0, 1.0, 1.0, 1.0, 10.0)
NAMES = ("theta1", "b1", "theta2", "b2", "theta3")

# spec §1.7 (paper Tables 1 and 2): (alpha, d, blocks, count)
TABLE = [(4, 1, 1, 37), (8, 1, 1, 105), (128, 1, 1, 17025), (4, 1, 5, 153), (32, 1, 5, 5669),
         (16, 2, 1, 1282), (64, 2, 1, 17410), (16, 2, 5, 6026), (32, 2, 5, 22282)]


@pytest.mark.parametrize("alpha,d,blocks,count", TABLE)
def test_parameter_counts_match_paper_tables(alpha, d, blocks, count):
    f = DirectUpDownField(d, alpha, blocks)
    variant = "static_direct" if blocks == 1 else "dynamic_direct"
    assert f.num_free_parameters == sum(p.numel() for p in f.parameters()) == count
    assert updown_parameter_count(1, alpha, d, variant) == count


def _rhs_numpy(f, b):
    th = [getattr(f, n)[b].detach().numpy() for n in NAMES]
    d = f.state_dim

    def rhs(_, y):
        y = y.reshape(-1, f.S)
        x, sv = y[:, :d], np.tanh(y[:, d:])
        xd = sv @ th[0].T + th[1]
        vd = x @ th[2].T + th[3] + sv @ th[4].T
        return np.concatenate([xd, vd], 1).ravel()

    return rhs


@pytest.mark.parametrize("t_out", [np.linspace(0, 1, 11), np.array([0.0, 0.33, 0.5, 0.97])])
def test_dynamic_direct_flow_matches_scipy_interval_by_interval(t_out):
    # oracle: numpy field + scipy DOP853 restarted at each block edge
    f = DirectUpDownField(2, 3, 5, time_horizon=1.0, seed=1).double()
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        xs = f.flow(x, torch.tensor(t_out), method="dopri5", rtol=1e-11, atol=1e-12)
        y = f.initial_state(x).numpy().ravel()
    ref, edges = {0.0: y}, np.linspace(0, 1, 6)
    for b in range(5):
        lo, hi = edges[b], edges[b + 1]
        ev = [s for s in t_out if lo < s < hi - 1e-12]
        sol = solve_ivp(_rhs_numpy(f, b), (lo, hi), y, method="DOP853", t_eval=ev + [hi],
                        rtol=1e-12, atol=1e-13)
        ref.update({s: sol.y[:, k] for k, s in enumerate(ev)})
        y = sol.y[:, -1]
        ref.update({s: y for s in t_out if abs(s - hi) <= 1e-12})
    want = np.stack([ref[s].reshape(4, f.S)[:, :2] for s in t_out], 1)
    assert np.abs(xs.numpy() - want).max() < 1e-9


def test_rk4_never_straddles_a_block_edge():
    # the edges 0.2, 0.4, ... fall inside rk4 steps of 0.15: the flow splits them there, so it
    # equals a stepwise integration that switches theta exactly at the edges
    f = DirectUpDownField(1, 4, 5, seed=2).double()
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None]
    fine = f.flow(x, torch.tensor([0.0, 1.0], dtype=torch.float64), method="dopri5",
                  rtol=1e-11, atol=1e-12)
    coarse = f.flow(x, torch.tensor([0.0, 1.0], dtype=torch.float64), method="rk4",
                    step_size=0.01)
    assert (fine - coarse).abs().max() < 1e-8


def test_static_direct_equals_static_particles_with_the_same_theta():
    s = ShootingField(2, 6, 3, variant="static", momentum_scale=0.5, seed=3).double()
    f = DirectUpDownField(2, 3, 1, seed=4).double()
    with torch.no_grad():
        for name, th in zip(NAMES, updown_theta(s.q0, s.p0, 2, "tanh", W)):
            getattr(f, name).copy_(th[None])
        f.v0_weight.copy_(s.v0_weight)
        f.v0_bias.copy_(s.v0_bias)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    t = torch.linspace(0, 1, 6, dtype=torch.float64)
    with torch.no_grad():
        a = s.flow(x, t, method="rk4", step_size=0.05)
        b = f.flow(x, t, method="rk4", step_size=0.05)
        assert (a - b).abs().max() < 1e-12
        # and the two penalties are the same integral of R
        assert abs(s.integrated_penalty(0.7) - f.integrated_penalty(0.7)) < 1e-12


def test_integrated_penalty_matches_quadrature():
    f = DirectUpDownField(1, 2, 5, time_horizon=2.0, seed=6).double()
    Rb = updown_penalty(tuple(getattr(f, n) for n in NAMES), W).detach().numpy()
    for t_end in (2.0, 0.9):
        ref = quad(lambda s: Rb[int(f.block_index(s))], 0, t_end, points=[0.4, 0.8, 1.2, 1.6],
                   limit=200)[0]
        assert abs(f.integrated_penalty(t_end).item() - ref) < 1e-9 * ref
    f.integrated_penalty().backward()  # differentiable in theta
    assert f.theta3.grad.abs().max() > 0 and f.v0_weight.grad is None


def test_log_frobenius_complexity_against_quad():
    g = torch.Generator().manual_seed(7)
    th0 = [torch.randn(3, 2, generator=g, dtype=torch.float64),
           torch.randn(3, generator=g, dtype=torch.float64)]
    # constant path: exact, T log2 sum ||theta||^2
    t = torch.linspace(0, 1.5, 4, dtype=torch.float64)
    const = [a.expand(4, *a.shape) for a in th0]
    s0 = sum(float((a ** 2).sum()) for a in th0)
    assert abs(float(log_frobenius_complexity(const, t)) - 1.5 * math.log2(s0)) < 1e-12
    # smooth path theta(t) = theta0 (1 + t^2) [block 1], theta0 e^-t [block 2]
    a2, b2 = float((th0[0] ** 2).sum()), float((th0[1] ** 2).sum())
    ref = quad(lambda s: math.log2(a2 * (1 + s * s) ** 2 + b2 * math.exp(-2 * s)), 0, 1.5)[0]
    errs = []
    for n in (11, 41, 161):
        t = torch.linspace(0, 1.5, n, dtype=torch.float64)
        path = [th0[0] * (1 + t ** 2)[:, None, None], th0[1] * torch.exp(-t)[:, None]]
        errs.append(abs(float(log_frobenius_complexity(path, t)) - ref))
    # measured: 2.1e-2, 1.3e-3, 8.3e-5 (second order, as the averaged-norm rule should be)
    assert errs[2] < 2e-4 and errs[2] < errs[1] / 10 < errs[0] / 100


def test_complexity_of_a_particle_path_is_finite_and_of_the_direct_path_exact():
    f = ShootingField(1, 4, 2, momentum_scale=0.5, seed=8).double()
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    with torch.no_grad():
        _, z = f.flow(torch.zeros(3, 1, dtype=torch.float64), t, method="rk4",
                      return_state=True)
        c = log_frobenius_complexity(f.theta(z), t)
    assert torch.isfinite(c)
    g = DirectUpDownField(1, 2, 5, seed=9).double()
    # a grid with points 1e-9 either side of each edge: the piecewise-constant exact value
    edges = torch.linspace(0, 1, 6, dtype=torch.float64)
    tt = torch.sort(torch.cat([edges, edges[1:-1] - 1e-9]))[0]
    with torch.no_grad():
        c = log_frobenius_complexity(g.theta(tt), tt)
        per = [sum(float((getattr(g, n)[b] ** 2).sum()) for n in NAMES) for b in range(5)]
    assert abs(float(c) - 0.2 * sum(math.log2(p) for p in per)) < 1e-7


def test_bad_input():
    with pytest.raises(ValueError, match="num_blocks"):
        DirectUpDownField(1, 2, 0)
    with pytest.raises(ValueError, match="time_horizon"):
        DirectUpDownField(1, 2, 5, time_horizon=-1.0)
    with pytest.raises(ValueError, match="activation"):
        DirectUpDownField(1, 2, activation="gelu")
    with pytest.raises(ValueError, match="penalty_weights"):
        DirectUpDownField(1, 2, penalty_weights=(1, 1, 1, 0, 1))
    f = DirectUpDownField(1, 2, 5)
    with pytest.raises(ValueError, match="x must have shape"):
        f.initial_state(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="NaN"):
        f.initial_state(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="end by time_horizon"):
        f.flow(torch.zeros(3, 1), torch.linspace(0, 2, 3))
    with pytest.raises(ValueError, match="start at 0"):
        f.flow(torch.zeros(3, 1), torch.linspace(0.1, 1, 3))
    with pytest.raises(ValueError, match="t_end"):
        f.integrated_penalty(1.5)
    with pytest.raises(ValueError, match="state must have shape"):
        f(torch.tensor(0.0), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="strictly increasing"):
        log_frobenius_complexity([torch.ones(3, 2)], torch.tensor([0.0, 0.5, 0.5]))
    with pytest.raises(ValueError, match="time axis first"):
        log_frobenius_complexity([torch.ones(4, 2)], torch.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="NaN"):
        log_frobenius_complexity([torch.full((3, 2), float("nan"))], torch.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="t_end"):
        ShootingField(1, 2, 2).integrated_penalty(float("nan"))


def test_both_direct_variants_train():
    # the solver's graph carries gradients to every block and the affine v(0) map
    # measured: the MSE falls to 5 % of its start in 40 steps for both
    x = torch.linspace(-1, 1, 10)[:, None]
    for blocks in (1, 5):
        f = DirectUpDownField(1, 4, blocks, seed=0)
        opt = torch.optim.Adam(f.parameters(), lr=0.03)
        t = torch.linspace(0, 1, 2)
        losses = []
        for _ in range(40):
            opt.zero_grad()
            loss = ((f.flow(x, t, method="rk4", step_size=0.25)[:, -1] - x ** 3 - 1) ** 2).mean()
            (loss + 0.01 * f.integrated_penalty()).backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.25 * losses[0]
        assert all(p.grad is not None and p.grad.abs().max() > 0 for p in f.parameters())
