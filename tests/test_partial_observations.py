"""Learning from partial observations (thesis 3.1): the model, its gradients and training.

Oracles: the true shallow-water field (relative MSE 0 and cosine 1 from the true initial
state), finite differences (adjoint and backprop gradients), the hand-derived gradient of the
cost with respect to the state (``B_t`` only involves the observed channels)."""

import pytest
import torch

from probdyn.dynamics import (
    ChannelObservation,
    ConvField,
    ObservationEncoder,
    PartiallyObservedODE,
    VectorField,
)
from probdyn.infer import fit_partial_observations, partial_observation_loss
from probdyn.metrics import cosine_similarity, relative_mse
from probdyn.physics import ShallowWater, simulate_shallow_water
from probdyn.physics.shallow_water import DAY


class _Zero(VectorField):
    def forward(self, t, x):
        return torch.zeros_like(x)


def _tiny_model(setting: int, k: int = 2, grid: int = 8):
    torch.manual_seed(0)
    field = ConvField(3, hidden=4, layers=1, activation="tanh").double()
    enc = (ObservationEncoder(k, 1, 3, hidden=4, layers=1, activation="tanh").double()
           if setting == 1 else None)
    return PartiallyObservedODE(field, [2], 3, encoder=enc)


def _tiny_data(k: int = 2, steps: int = 3, grid: int = 8):
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(2, k + steps, 1, grid, grid, generator=gen, dtype=torch.float64)
    x0 = torch.randn(2, 3, grid, grid, generator=gen, dtype=torch.float64)
    t = torch.arange(k + steps, dtype=torch.float64) * 0.5
    return y, x0, t


# --------------------------------------------------------------------------- the operator H

def test_channel_observation_selects_and_checks():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float64).reshape(2, 3, 4, 4)
    H = ChannelObservation([2, 0], 3)
    assert torch.equal(H(x), torch.stack([x[:, 2], x[:, 0]], 1))
    with pytest.raises(ValueError, match="channels"):
        ChannelObservation([3], 3)
    with pytest.raises(ValueError, match="channels"):
        ChannelObservation([1, 1], 3)
    with pytest.raises(ValueError, match="shape"):
        H(torch.zeros(2, 4, 4, 4))


def test_cost_gradient_wrt_state_is_the_hand_formula():
    # J = mean (H X - Y)^2 with H = channel 2: dJ/dX = 2 (X_2 - Y) / N on channel 2, 0 elsewhere
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 3, 5, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 4, 1, 5, 5, generator=gen, dtype=torch.float64)
    H = ChannelObservation(2, 3)
    loss = ((H(x) - y) ** 2).mean()
    (grad,) = torch.autograd.grad(loss, x)
    expected = torch.zeros_like(x)
    expected[:, :, 2:3] = 2 * (x.detach()[:, :, 2:3] - y) / y.numel()
    assert torch.allclose(grad, expected, rtol=0, atol=1e-15)


def test_nonlinear_observation_gradient_matches_finite_differences():
    def H(x):  # a differentiable nonlinear operator: speed of (u, v) plus h
        return (x[..., :2, :, :].pow(2).sum(-3, keepdim=True) + 1).sqrt() + x[..., 2:, :, :]

    x = torch.randn(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(H, (x,), eps=1e-6, atol=1e-8)


def test_hidden_channels_of_the_final_state_get_no_gradient():
    model = _tiny_model(2)
    y, x0, t = _tiny_data(k=1)
    states, obs = model(t, y=y, x0=x0, method="rk4")
    states.retain_grad()
    loss = ((obs[:, 1:] - y[:, 1:]) ** 2).mean()
    loss.backward()
    final = states.grad[:, -1]
    assert final[:, :2].abs().max() == 0  # u, v hidden: B_T = (dH/dX)^* (H X - Y) = 0 there
    assert final[:, 2].abs().max() > 0


# --------------------------------------------------------------------------- the model

def test_zero_field_keeps_the_initial_state():
    model = PartiallyObservedODE(_Zero(), [2], 3)
    _, x0, t = _tiny_data(k=1)
    states, obs = model(t, x0=x0, method="euler", substeps=3)
    assert torch.equal(states, x0[:, None].expand_as(states))
    assert torch.equal(obs, states[:, :, 2:3])


def test_bad_inputs_raise_naming_the_argument():
    y, x0, t = _tiny_data(k=2)
    m1, m2 = _tiny_model(1, k=2), _tiny_model(2)
    with pytest.raises(ValueError, match="x0"):
        m2(t, y=y)
    with pytest.raises(ValueError, match="Setting 2"):
        m1(t, y=y, x0=x0)
    with pytest.raises(ValueError, match="history"):
        m1(t[:2], y=y[:, :1])
    bad = y.clone()
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        m1(t, y=bad)
    with pytest.raises(ValueError, match="NaN"):
        fit_partial_observations(m1, bad, t, epochs=1, progress=False)
    with pytest.raises(ValueError, match="shape"):  # k = 3 past frames, encoder built for 2
        m1.encoder(y[:, :3])
    wrong_h = PartiallyObservedODE(m2.field, lambda x: x[..., 0, :, :], 3)
    with pytest.raises(ValueError, match="observation H"):
        wrong_h(t, x0=x0)
    two_channels = PartiallyObservedODE(m2.field, [0, 2], 3)
    with pytest.raises(ValueError, match="does not match the data"):
        partial_observation_loss(two_channels, y, t, x0)
    with pytest.raises(ValueError, match="initial states"):
        fit_partial_observations(m2, y, t, x0=x0[:1], epochs=1, progress=False)


# --------------------------------------------------------------------------- gradients

def _grads(model, y, t, x0, **kw):
    model.zero_grad()
    partial_observation_loss(model, y, t, x0, **kw).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize("setting", [1, 2])
def test_adjoint_backprop_and_finite_differences_agree(setting):
    model = _tiny_model(setting)
    y, x0, t = _tiny_data(k=model.history)
    x0 = x0 if setting == 2 else None
    tight = dict(method="dopri5", rtol=1e-10, atol=1e-12)
    g_back = _grads(model, y, t, x0, adjoint=False, **tight)
    g_adj = _grads(model, y, t, x0, adjoint=True, **tight)
    assert torch.allclose(g_adj, g_back, rtol=1e-6, atol=1e-9 * g_back.abs().max())
    # central finite differences along a random direction of all the parameters
    params = list(model.parameters())
    direction = [torch.randn_like(p) for p in params]
    eps = 1e-5

    def loss_at(sign):
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(sign * eps * d)
            value = float(partial_observation_loss(model, y, t, x0, **tight))
            for p, d in zip(params, direction):
                p.sub_(sign * eps * d)
        return value

    fd = (loss_at(1) - loss_at(-1)) / (2 * eps)
    directional = float(sum((p.grad * d).sum() for p, d in zip(params, direction)))
    assert fd == pytest.approx(directional, rel=1e-5)


def test_euler_backprop_is_the_discrete_adjoint():
    # discretise-then-differentiate: odeint_adjoint solving the adjoint with the same Euler
    # steps is only O(h)-close, but backprop equals finite differences of the Euler map
    model = _tiny_model(2)
    y, x0, t = _tiny_data(k=1)
    g = _grads(model, y, t, x0, method="euler", substeps=3)
    p = next(model.parameters())
    idx = (0, 0, 1, 1)
    eps = 1e-6
    with torch.no_grad():
        p[idx] += eps
        up = float(partial_observation_loss(model, y, t, x0, method="euler", substeps=3))
        p[idx] -= 2 * eps
        down = float(partial_observation_loss(model, y, t, x0, method="euler", substeps=3))
        p[idx] += eps
    assert (up - down) / (2 * eps) == pytest.approx(float(p.grad[idx]), rel=1e-6)
    assert g.abs().max() > 0


# --------------------------------------------------------------------------- oracle and fit

@pytest.fixture(scope="module")
def shallow_water():
    ds = simulate_shallow_water(3, grid_size=12, days=6, progress=False, store_dtype="float64",
                                rtol=1e-9, atol=1e-10, seed=3)
    return torch.tensor(ds["state"].values), torch.tensor(ds["time"].values)


def test_true_field_and_true_initial_state_give_zero_error(shallow_water):
    states, times = shallow_water
    model = PartiallyObservedODE(ShallowWater(grid_size=12).double(), [2], 3)
    y = states[:, :, 2:3]
    pred, obs = model(times, x0=states[:, 0], method="dopri5", rtol=1e-9, atol=1e-10)
    rel = relative_mse(obs[:, 1:], y[:, 1:])
    assert rel < 1e-10
    assert relative_mse(obs[:, 1:], y[:, 1:], normalisation="pixel") < 1e-8
    assert cosine_similarity(pred[:, 1:, :2], states[:, 1:, :2]) == pytest.approx(1, abs=1e-10)
    # RK4 at 3 steps a day is only close (8 h steps on a 17 h inertial period); Euler at that
    # step is unstable on the gravity waves of the true field
    _, rk4 = model(times, x0=states[:, 0], method="rk4", substeps=3)
    assert 1e-12 < relative_mse(rk4[:, 1:], y[:, 1:]) < 0.1


@pytest.mark.parametrize("setting, adjoint", [(1, False), (2, False), (2, True)])
def test_training_lowers_the_cost_on_shallow_water(shallow_water, setting, adjoint):
    states, times = shallow_water
    scale = torch.tensor([0.02, 0.02, 10.0], dtype=torch.float64)[:, None, None]
    x = (states / scale).float()
    t = (times / DAY).float()
    torch.manual_seed(0)
    k = 2 if setting == 1 else 1
    enc = ObservationEncoder(k, 1, 3, hidden=8, layers=2) if setting == 1 else None
    model = PartiallyObservedODE(ConvField(3, hidden=16, layers=2, activation="tanh"), [2], 3,
                                 encoder=enc)
    y, x0 = x[:, :, 2:3], (x[:, 0] if setting == 2 else None)
    before = float(partial_observation_loss(model, y, t, x0).detach())
    result = fit_partial_observations(model, y, t, x0=x0, epochs=60, lr=3e-3, adjoint=adjoint,
                                      progress=False)
    after = float(partial_observation_loss(model, y, t, x0).detach())
    assert len(result.losses) == 60
    assert after < 0.5 * before


def test_a_module_observation_operator_stays_fixed():
    y, x0, t = _tiny_data(k=1)
    class Mix(torch.nn.Module):  # a known linear map of the channels, with parameters
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor([[0.5, -0.2, 1.0]], dtype=torch.float64))

        def forward(self, x):
            return torch.einsum("oc,...cyx->...oyx", self.weight, x)

    H = Mix()
    before = [p.detach().clone() for p in H.parameters()]
    model = PartiallyObservedODE(_tiny_model(2).field, H, 3)
    fit_partial_observations(model, y, t, x0=x0, epochs=2, method="rk4", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, H.parameters()))
