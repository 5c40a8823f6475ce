"""Least-action regulariser (thesis ch. 4.2): kinetic energy, transport cost, the Uzawa
multiplier and training under it. Oracles: closed-form energies (constant and linear fields,
the Gaussian optimal-transport displacement interpolation), the Euler-grid identity."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from probdyn.data import concentric_circles
from probdyn.dynamics import (
    MLPField,
    ResidualTransport,
    VectorField,
    kinetic_energy,
    solve,
    transport_cost,
)
from probdyn.infer import (
    FixedPenalty,
    LeastActionMultiplier,
    evaluate_transport_classifier,
    fit_transport_classifier,
    train_vector_field,
)


class Constant(VectorField):
    def __init__(self, c):
        super().__init__()
        self.c = torch.as_tensor(c, dtype=torch.float64)

    def forward(self, t, x):
        return self.c.expand_as(x)


class Linear(VectorField):
    def __init__(self, a):
        super().__init__()
        self.a = a

    def forward(self, t, x):
        return -self.a * x


class GaussianDisplacement(VectorField):
    """Velocity of the displacement interpolation x_t = (1 - t) x + t (m + s x), the W2-optimal
    path from N(0, 1) to N(m, s^2), written in terms of x_t."""

    def __init__(self, m, s):
        super().__init__()
        self.m, self.s = m, s

    def forward(self, t, y):
        x = (y - t * self.m) / (1 + t * (self.s - 1))
        return self.m + (self.s - 1) * x


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
def test_constant_field_energy_is_time_times_squared_speed(method):
    c = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    x0 = torch.randn(5, 3, dtype=torch.float64)
    t = torch.linspace(0.0, 2.5, 6, dtype=torch.float64)
    kw = {"step_size": 0.05} if method != "dopri5" else {}
    x, energy = kinetic_energy(Constant(c), x0, t, method=method, **kw)
    assert x.shape == (5, 6, 3) and energy.shape == (5, 6)
    expected = (t * (c * c).sum()).expand(5, 6)
    assert torch.allclose(energy, expected, rtol=1e-10, atol=1e-12)
    assert torch.allclose(x, x0[:, None] + t[:, None] * c, atol=1e-10)


def test_linear_field_energy_matches_closed_form():
    # x_t = exp(-a t) x0: ∫_0^T ||a x_t||^2 dt = a ||x0||^2 (1 - exp(-2 a T)) / 2
    a, T = 0.7, 3.0
    x0 = torch.randn(4, 2, dtype=torch.float64)
    t = torch.tensor([0.0, T], dtype=torch.float64)
    _, energy = kinetic_energy(Linear(a), x0, t, method="dopri5", rtol=1e-11, atol=1e-12)
    exact = a * (x0 * x0).sum(-1) * (1 - math.exp(-2 * a * T)) / 2
    assert torch.allclose(energy[:, -1], exact, rtol=1e-8)


def test_euler_energy_equals_discrete_transport_cost_and_converges():
    field = MLPField(2, hidden=16).double()
    x0 = torch.randn(6, 2, dtype=torch.float64)
    T, K = 1.0, 20
    t = torch.linspace(0.0, T, K + 1, dtype=torch.float64)
    with torch.no_grad():
        x, energy = kinetic_energy(field, x0, t, method="euler")
        path = solve(field, x0, t, method="euler")
        assert torch.allclose(x, path)
        # Euler: ∫ ||v||^2 ≈ sum_k ||v(x_k)||^2 dt = sum_k ||x_{k+1} - x_k||^2 / dt, exactly
        assert torch.allclose(energy[:, -1], transport_cost(path, dt=T / K), rtol=1e-12)
        # and the discrete cost converges to the accurate integral as dt -> 0
        _, accurate = kinetic_energy(field, x0, t[[0, -1]], method="dopri5", rtol=1e-10,
                                     atol=1e-12)
        errors = []
        for k in (20, 40, 80):
            grid = torch.linspace(0.0, T, k + 1, dtype=torch.float64)
            p = solve(field, x0, grid, method="rk4")
            errors.append(float((transport_cost(p, dt=T / k) - accurate[:, -1]).abs().max()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] / errors[2] > 1.6  # first-order (left Riemann sum) convergence


def test_gaussian_displacement_energy_is_w2_squared():
    # the optimal path N(0,1) -> N(m, s^2) costs E|T(x) - x|^2 = m^2 + (s - 1)^2 (= W2^2)
    m, s = 1.5, 0.4
    # N(0, 1) quantiles at (i + 1/2) / n: a sample whose moments are accurate to ~1e-3
    n = 4000
    x0 = torch.tensor(norm.ppf((np.arange(n) + 0.5) / n), dtype=torch.float64)[:, None]
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    x, energy = kinetic_energy(GaussianDisplacement(m, s), x0, t, method="rk4",
                               step_size=0.05)
    assert torch.allclose(x[:, -1], m + s * x0, atol=1e-9)   # lands on the OT map
    per_sample = (m + (s - 1) * x0[:, 0]) ** 2
    assert torch.allclose(energy[:, -1], per_sample, rtol=1e-9)
    assert abs(float(energy[:, -1].mean()) - (m * m + (s - 1) ** 2)) < 2e-3


def test_identity_flow_costs_nothing_and_cost_is_permutation_invariant():
    net = ResidualTransport(2, num_blocks=4, hidden=8, init_gain=0.0)
    x = torch.randn(10, 2)
    path = net.trajectory(x)
    assert path.shape == (10, 5, 2)
    assert torch.equal(net(x), x) and float(transport_cost(path).detach().abs().max()) == 0.0
    net = ResidualTransport(2, num_blocks=4, hidden=8)
    perm = torch.randperm(10)
    cost = transport_cost(net.trajectory(x))
    assert torch.allclose(transport_cost(net.trajectory(x[perm])).mean(), cost.mean())
    # the residual cost is the sum of the blocks' squared displacements
    manual, z = torch.zeros(10), x
    for block in net.blocks:
        step = block(z)
        manual, z = manual + (step * step).sum(-1), z + step
    assert torch.allclose(cost, manual, rtol=1e-6)


def test_uzawa_multiplier_ascends_every_inner_steps():
    lam = LeastActionMultiplier(lambda0=0.5, tau=0.2, inner_steps=3)
    for loss in (1.0, 2.0, 3.0, 0.5, 0.5):
        lam.update(loss)
    assert lam.history == [0.5, pytest.approx(0.5 + 0.2 * 2.0)]
    lam.update(0.5)
    assert lam.history[-1] == pytest.approx(0.9 + 0.2 * 0.5)
    assert all(b >= a for a, b in zip(lam.history, lam.history[1:]))
    # grad(C / lambda + L) is parallel to grad(C + lambda L)
    w = torch.tensor([0.3, -0.7], requires_grad=True)
    cost, loss = (w ** 2).sum(), (w[0] - 2 * w[1]) ** 2
    g1 = torch.autograd.grad(lam.objective(cost, loss), w, retain_graph=True)[0]
    g2 = torch.autograd.grad(cost + lam.value * loss, w)[0]
    assert torch.allclose(g1 * lam.value, g2)
    assert FixedPenalty(0.1).objective(torch.tensor(2.0), torch.tensor(1.0)) == pytest.approx(1.2)


@pytest.mark.parametrize("kwargs", [{"lambda0": 0.0}, {"lambda0": float("nan")}, {"tau": -1.0},
                                    {"inner_steps": 0}, {"inner_steps": 1.5}])
def test_multiplier_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LeastActionMultiplier(**kwargs)


def test_multiplier_rejects_negative_or_nan_task_loss():
    lam = LeastActionMultiplier()
    with pytest.raises(ValueError, match="task_loss"):
        lam.update(float("nan"))
    with pytest.raises(ValueError, match="task_loss"):
        lam.update(-1.0)


def _circles(n, seed):
    ds = concentric_circles(n, noise=0.1, factor=0.5, seed=seed)
    return torch.tensor(ds["x"].values, dtype=torch.float32), torch.tensor(ds["label"].values)


def _fixed_head(seed):
    torch.manual_seed(seed)
    head = torch.nn.Linear(2, 2)
    head.requires_grad_(False)
    return head


def test_least_action_lowers_transport_cost_of_a_residual_classifier():
    x, labels = _circles(600, seed=1)
    xtr, ytr, xte, yte = x[:400], labels[:400], x[400:], labels[400:]
    results = {}
    # a larger lambda0 and tau than the thesis's toy (0.1, 0.1) reach the fit in fewer steps
    for name, reg in (("plain", None), ("lap", LeastActionMultiplier(1.0, 1.0, 5))):
        torch.manual_seed(0)
        net, head = ResidualTransport(2, num_blocks=5, hidden=16), _fixed_head(7)
        fit = fit_transport_classifier(net, head, xtr, ytr, least_action=reg, epochs=30,
                                       batch_size=40, lr=1e-2, seed=0, progress=False)
        results[name] = evaluate_transport_classifier(net, head, xte, yte)
        if reg is not None:
            assert len(fit.multipliers) > 1 and fit.multipliers[-1] > fit.multipliers[0]
    assert results["plain"]["accuracy"] > 0.95
    assert results["lap"]["accuracy"] > results["plain"]["accuracy"] - 0.05
    assert results["lap"]["cost"] < 0.2 * results["plain"]["cost"]


def test_ode_transport_classifier_with_fixed_penalty():
    x, labels = _circles(300, seed=2)
    torch.manual_seed(0)
    field, head = MLPField(2, hidden=16), _fixed_head(3)
    fit = fit_transport_classifier(field, head, x, labels, least_action=0.05, epochs=15,
                                   batch_size=100, lr=2e-2, seed=0, progress=False,
                                   num_steps=5)
    assert len(fit.costs) == 15 and all(np.isfinite(fit.costs))
    ev = evaluate_transport_classifier(field, head, x, labels, num_steps=5)
    # the reported cost is the kinetic energy of the same flow
    with torch.no_grad():
        _, energy = kinetic_energy(field, x, torch.tensor([0.0, 1.0]), method="rk4",
                                   step_size=0.2)
    assert ev["cost"] == pytest.approx(float(energy[:, -1].mean()), rel=1e-5)


def test_train_vector_field_least_action_option():
    # data from dx/dt = -x; a heavy kinetic penalty shrinks the learned field's energy
    t = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
    x0 = torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = x0[:, None] * torch.exp(-t)[None, :, None]
    energies = {}
    for weight in (None, 10.0):
        torch.manual_seed(0)
        field = MLPField(2, hidden=16).double()
        fit = train_vector_field(field, y, t, epochs=30, lr=1e-2, progress=False,
                                 least_action=weight)
        with torch.no_grad():
            energies[weight] = float(kinetic_energy(field, y[:, 0], t, method="rk4")[1][:, -1]
                                     .mean())
        if weight is not None:
            assert len(fit.kinetic_energies) == 30 and fit.multipliers == []
    assert energies[10.0] < 0.5 * energies[None]
    lam = LeastActionMultiplier(1.0, 1.0, 2)
    fit = train_vector_field(MLPField(2, hidden=8).double(), y, t, epochs=4, batch_size=4,
                             lr=1e-2, progress=False, least_action=lam)
    assert len(fit.multipliers) == 1 + 4 * 4 // 2


def test_bad_inputs_get_clear_errors():
    x, labels = _circles(20, seed=0)
    net, head = ResidualTransport(2, 2, 4), _fixed_head(0)
    with pytest.raises(ValueError, match="least_action"):
        fit_transport_classifier(net, head, x, labels, least_action="yes", progress=False)
    with pytest.raises(ValueError, match="labels"):
        fit_transport_classifier(net, head, x, labels.float(), progress=False)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fit_transport_classifier(net, head, bad, labels, progress=False)
    with pytest.raises(ValueError, match="transport"):
        fit_transport_classifier(torch.nn.Linear(2, 2), head, x, labels, epochs=1,
                                 progress=False)
    with pytest.raises(ValueError, match="x must have shape"):
        net.trajectory(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="num_blocks"):
        ResidualTransport(2, num_blocks=0)
    with pytest.raises(ValueError, match="x0 must end"):
        kinetic_energy(MLPField(2), torch.zeros(3, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="dt"):
        transport_cost(torch.zeros(2, 3, 2), dt=0.0)


def test_concentric_circles_law():
    ds = concentric_circles(1000, noise=0.0, factor=0.3, seed=4)
    r = np.hypot(*ds["x"].values.T)
    label = ds["label"].values
    assert (label == 0).sum() == 500 and (label == 1).sum() == 500
    assert np.allclose(r[label == 0], 1.0) and np.allclose(r[label == 1], 0.3)
    noisy = concentric_circles(4000, noise=0.1, seed=4)
    r = np.hypot(*noisy["x"].values.T)
    assert abs(r[noisy["label"].values == 0].mean() - 1.0) < 0.02
    with pytest.raises(ValueError, match="factor"):
        concentric_circles(10, factor=1.5)
    with pytest.raises(ValueError, match="num_points"):
        concentric_circles(1)
