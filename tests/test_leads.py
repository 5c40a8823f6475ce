"""LEADS pieces (thesis 3.4): batched per-environment networks against per-environment
loops, the penalty's mechanics (power iteration vs torch's spectral norm), scheduled
sampling's limits, and training."""

import copy

import pytest
import torch
import torch.nn.functional as F

from probdyn.dynamics import (
    ConvField,
    EnvironmentMLP,
    EnvironmentNet,
    FNOField,
    MultiEnvironmentField,
    SpectralConv2d,
    Swish,
    solve,
    spectral_norms,
)
from probdyn.infer import fit_leads, rollout, trajectory_mse_per_env
from probdyn.physics import simulate_lotka_volterra


def _mlp_by_hand(net, e, x):
    """Environment e's network with plain 2-D operations (the oracle)."""
    slopes = F.softplus(net.betas)
    h = x
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        i = e if net.num_envs > 1 else 0
        h = h @ w[i] + b[i, 0]
        if net.env_bias is not None:
            # the one-hot code concatenated to the layer input: [h_prev; onehot] @ [W; C]
            h = h + net.code_biases[k][e, 0]
        if k < len(net.weights) - 1:
            h = h * torch.sigmoid(h * slopes[k, i, 0, 0]) / 1.1
    return h


@pytest.mark.parametrize("kind", ["specific", "shared", "coded"])
def test_batched_networks_equal_per_environment_loops(kind):
    torch.manual_seed(0)
    E = 4
    net = {"specific": EnvironmentMLP(E, 3, hidden=8, layers=2),
           "shared": EnvironmentMLP(1, 3, hidden=8, layers=2),
           "coded": EnvironmentMLP(1, 3, hidden=8, layers=2, env_bias=E)}[kind]
    with torch.no_grad():  # non-trivial betas and codes
        net.betas.uniform_(-1, 1)
        if net.env_bias is not None:
            for c in net.code_biases:
                c.normal_()
    x = torch.randn(E, 5, 3)
    out = net(x)
    for e in range(E):
        assert torch.allclose(out[e], _mlp_by_hand(net, e, x[e]), atol=1e-6)



@pytest.mark.parametrize("kind", ["specific", "coded"])
def test_functional_call_uses_the_substituted_parameters(kind):
    """torch.func.functional_call (ensembles, hypernetworks, MAML-style adaptation) must see
    the parameters it passes in, not tensors cached at construction."""
    torch.manual_seed(0)
    E = 3
    net = (EnvironmentMLP(E, 2, hidden=8, layers=2) if kind == "specific"
           else EnvironmentMLP(1, 2, hidden=8, layers=2, env_bias=E))
    x = torch.randn(E, 4, 2)
    other = {name: torch.randn_like(p) for name, p in net.named_parameters()}
    out = torch.func.functional_call(net, other, (x,))
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(other[name])
    assert torch.allclose(out, net(x), atol=1e-6)
    assert not torch.allclose(out, torch.func.functional_call(
        net, {k: v + 1 for k, v in other.items()}, (x,)))

def test_power_iteration_matches_spectral_norm_and_carries_gradients():
    torch.manual_seed(1)
    w = torch.randn(3, 6, 4, requires_grad=True)
    u = F.normalize(torch.randn(3, 4), dim=-1)
    sigma = spectral_norms(w, u, iterations=20)
    exact = torch.linalg.matrix_norm(w.detach(), ord=2)
    assert torch.allclose(sigma.detach(), exact, rtol=1e-3)
    # the gradient of the top singular value is u1 v1^T
    sigma.sum().backward()
    U, S, Vh = torch.linalg.svd(w.detach())
    expected = torch.einsum("ei,ej->eij", U[:, :, 0], Vh[:, 0, :])
    assert torch.allclose(w.grad, expected, atol=1e-3)


def test_penalty_mechanics():
    torch.manual_seed(2)
    field = MultiEnvironmentField(EnvironmentMLP(1, 2), EnvironmentMLP(3, 2))
    x = torch.rand(3, 4, 20, 2) + 0.5
    pen = field.penalty(x, alpha=1e-2)
    assert pen > 0
    pen.backward()
    assert all(p.grad is None for p in field.shared.parameters())  # only g_e is penalised
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in field.specific.parameters())
    # g = 0: both terms vanish
    with torch.no_grad():
        for w in field.specific.weights:
            w.zero_()
    assert float(field.penalty(x, alpha=1e-2).detach()) == 0.0
    # no environment part: no penalty (One-For-All, FT-NODE)
    shared_only = MultiEnvironmentField(EnvironmentMLP(1, 2), None)
    assert float(shared_only.penalty(x, alpha=1.0).detach()) == 0.0


def test_penalty_output_term_is_the_relative_norm():
    torch.manual_seed(3)
    field = MultiEnvironmentField(None, EnvironmentMLP(2, 2, hidden=4, layers=1))
    x = torch.rand(2, 5, 2) + 0.1
    g = field.specific(x)
    expected = sum(((g[e].norm(dim=-1) / (x[e].norm(dim=-1) + 1e-5)) ** 2).mean()
                   for e in range(2))
    assert torch.allclose(field.penalty(x, alpha=0.0), expected)


def test_scheduled_sampling_limits():
    torch.manual_seed(4)
    field = MultiEnvironmentField(EnvironmentMLP(1, 2, hidden=8, layers=1), None)
    y = torch.rand(2, 3, 6, 2)
    t = torch.linspace(0, 2.5, 6)
    with torch.no_grad():
        free = rollout(field, y, t)
        assert torch.allclose(free, solve(field, y[:, :, 0], t, method="rk4"))
        assert torch.allclose(rollout(field, y, t, torch.zeros(5, dtype=torch.bool)), free)
        forced = rollout(field, y, t, torch.ones(5, dtype=torch.bool))
        # every step restarts from the data: one-step teacher forcing
        for k in range(5):
            step = solve(field, y[:, :, k], t[k:k + 2], method="rk4")[:, :, -1]
            assert torch.allclose(forced[:, :, k + 1], step, atol=1e-6)
        assert torch.equal(forced[:, :, 0], y[:, :, 0])


def test_fit_leads_reduces_the_loss_on_lotka_volterra():
    ds = simulate_lotka_volterra("train", 1, num_steps=10, progress=False)
    y = torch.tensor(ds["state"].values.reshape(10, 1, 10, 2), dtype=torch.float32)
    t = torch.tensor(ds["time"].values, dtype=torch.float32)
    torch.manual_seed(0)
    field = MultiEnvironmentField(EnvironmentMLP(1, 2, hidden=16), EnvironmentMLP(10, 2,
                                                                                  hidden=16))
    before = float(trajectory_mse_per_env(field, y, t).mean())
    fit = fit_leads(field, y, t, iterations=60, lr=3e-3, teacher_forcing=0.9, decay_every=5,
                    y_val=y, eval_every=20, progress=False)
    after = float(trajectory_mse_per_env(field, y, t).mean())
    assert after < 0.5 * before
    assert len(fit.losses) == 60 and len(fit.validation_mses) == 3
    assert min(v for _, v in fit.validation_mses) == pytest.approx(after, rel=1e-5)
    assert all(p > 0 for p in fit.penalties)


def test_fit_leads_learning_curve_without_selection_keeps_the_last_iterate():
    ds = simulate_lotka_volterra("train", 2, num_steps=6, progress=False)
    y = torch.tensor(ds["state"].values.reshape(10, 2, 6, 2), dtype=torch.float32)
    t = torch.tensor(ds["time"].values, dtype=torch.float32)
    y_train, y_val = y[:, :1], y[:, 1:]

    def fit(**kw):
        torch.manual_seed(0)
        field = MultiEnvironmentField(EnvironmentMLP(1, 2, hidden=8),
                                      EnvironmentMLP(10, 2, hidden=8))
        return field, fit_leads(field, y_train, t, iterations=25, lr=0.1, progress=False, **kw)

    plain, _ = fit()  # no validation: the last iterate
    curve, result = fit(y_val=y_val, eval_every=1, keep_best=False)
    _, selected = fit(y_val=y_val, eval_every=1)
    mses = [v for _, v in result.validation_mses]
    assert len(mses) == 25 and result.best_iteration == 24
    # the run is noisy enough that selection picks an earlier iterate ...
    assert selected.best_iteration == min(range(25), key=mses.__getitem__) != 24
    # ... while keep_best=False leaves exactly the parameters of the run without y_val
    for a, b in zip(plain.state_dict().values(), curve.state_dict().values()):
        assert torch.equal(a, b)
    assert mses[-1] == pytest.approx(float(trajectory_mse_per_env(curve, y_val, t).mean()),
                                     rel=1e-6)


def test_fit_leads_bad_inputs():
    field = MultiEnvironmentField(None, EnvironmentMLP(3, 2, hidden=4, layers=1))
    t = torch.linspace(0, 1, 4)
    with pytest.raises(ValueError, match="environments"):
        fit_leads(field, torch.rand(2, 1, 4, 2), t, iterations=1, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        fit_leads(field, torch.full((3, 1, 4, 2), float("nan")), t, iterations=1,
                  progress=False)
    with pytest.raises(ValueError, match="teacher_forcing"):
        fit_leads(field, torch.rand(3, 1, 4, 2), t, teacher_forcing=2.0, progress=False)
    with pytest.raises(ValueError, match="shape"):
        fit_leads(field, torch.rand(3, 4, 2), t, progress=False)
    with pytest.raises(ValueError, match="MultiEnvironmentField"):
        fit_leads(torch.nn.Linear(2, 2), torch.rand(3, 1, 4, 2), t, progress=False)
    with pytest.raises(ValueError, match="specific"):
        MultiEnvironmentField(None, None)
    with pytest.raises(ValueError, match="environments"):
        field(0.0, torch.rand(5, 1, 2))


def _conv():
    return ConvField(2, hidden=8, layers=3, activation=Swish)


def _fno():
    return FNOField(1, width=4, modes=3, layers=2, hidden=8, activation=Swish, coordinates=True)


@pytest.mark.parametrize("make", [_conv, _fno])
def test_environment_net_runs_each_environment_through_its_own_copy(make):
    torch.manual_seed(5)
    net = EnvironmentNet(3, make, init_std=0.1, output_scale=1e-3)
    shared = EnvironmentNet(1, make, init_std=0.1)
    c = net.state_shape[0]
    x = torch.randn(3, 2, c, 8, 8)
    out = net(x)
    for e in range(3):
        assert torch.allclose(out[e], 1e-3 * net.nets[e](None, x[e]), atol=1e-9)
    assert not torch.allclose(out[0], out[1])  # independent initial weights
    assert torch.allclose(shared(x), torch.stack([shared.nets[0](None, x[e])
                                                  for e in range(3)]), atol=1e-6)
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert float(conv.bias.detach().abs().max()) == 0.0
    assert 0.05 < float(conv.weight.detach().std()) < 0.2
    with pytest.raises(ValueError, match="environments"):
        net(torch.randn(2, 1, c, 8, 8))


@pytest.mark.parametrize("make", [_conv, _fno])
def test_ft_node_grid_codes_are_per_environment_biases_in_every_layer(make):
    """FT-NODE on grids against its definition: environment e's output is the shared network
    with code_biases[k][e] added to the bias of its k-th linear/conv layer."""
    torch.manual_seed(6)
    E = 3
    net = EnvironmentNet(1, make, init_std=0.1, env_bias=E)
    with torch.no_grad():
        for code in net.code_biases:
            code.normal_()
    c = net.state_shape[0]
    x = torch.randn(E, 2, c, 8, 8)
    out = net(x)
    layers = [m for m in net.nets[0].modules()
              if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert len(layers) == len(net.code_biases) >= 3
    for e in range(E):
        by_hand = copy.deepcopy(net.nets[0])
        for hook_layer in by_hand.modules():  # plain layers: no hooks in the oracle
            hook_layer._forward_hooks.clear()
        plain = [m for m in by_hand.modules()
                 if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        with torch.no_grad():
            for k, layer in enumerate(plain):
                layer.bias += net.code_biases[k][e]
        assert torch.allclose(out[e], by_hand(None, x[e]), atol=1e-5)
    assert not torch.allclose(out[0], out[1])
    # gradients reach the codes of every environment; the field is tied to E environments
    out.sum().backward()
    assert all(float(code.grad.abs().min()) > 0 for code in net.code_biases)
    assert MultiEnvironmentField(net, None).num_envs == E
    with pytest.raises(ValueError, match="environments"):
        net(torch.randn(E + 1, 1, c, 8, 8))
    with pytest.raises(ValueError, match="num_envs must be 1"):
        EnvironmentNet(2, make, env_bias=E)


def _reference_matrices(net):
    """The penalised matrices of one environment's network, written out by layer type."""
    mats = []
    for mod in net.modules():
        if isinstance(mod, torch.nn.Conv2d):
            out_ch = mod.weight.shape[0]
            mats.append(mod.weight.detach().reshape(out_ch, -1))  # (out, in k k)
        elif isinstance(mod, SpectralConv2d):
            for half in range(2):
                w = torch.view_as_complex(mod.weight.detach()[half].contiguous())
                mats.append(w.real.reshape(mod.in_channels, -1))  # (in, out my mx)
    return mats


@pytest.mark.parametrize("make", [_conv, _fno])
def test_grid_penalty_norms_match_torch_spectral_norm(make):
    torch.manual_seed(6)
    net = EnvironmentNet(2, make, init_std=0.1)
    mats = net.penalty_matrices()
    refs = [_reference_matrices(n) for n in net.nets]
    assert len(mats) == len(refs[0]) > 0
    for k, w in enumerate(mats):
        u = F.normalize(torch.randn(2, w.shape[2]), dim=-1)
        # random matrices have close top singular values: power iteration converges slowly,
        # so repeat calls, which go on from the persistent vector (as training does)
        for _ in range(20):
            sigma = spectral_norms(w, u, iterations=20)
        exact = torch.stack([torch.linalg.matrix_norm(r[k], ord=2) for r in refs])
        assert torch.allclose(sigma.detach(), exact, rtol=1e-3)


@pytest.mark.parametrize("make", [_conv, _fno])
def test_grid_penalty_mechanics(make):
    torch.manual_seed(7)
    field = MultiEnvironmentField(EnvironmentNet(1, make, init_std=0.1),
                                  EnvironmentNet(3, make, init_std=0.1))
    c = field.state_shape[0]
    x = torch.rand(3, 2, 4, c, 8, 8) + 0.5
    pen = field.penalty(x, alpha=1e-2)
    assert pen > 0
    pen.backward()
    assert all(p.grad is None for p in field.shared.parameters())  # only g_e is penalised
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in field.specific.parameters())
    # the output term: channel norms per grid point, averaged per environment
    g = field.specific(x).detach()
    expected = sum(((g[e] ** 2).sum(-3) / (x[e].norm(dim=-3) + 1e-5) ** 2).mean()
                   for e in range(3))
    assert torch.allclose(field.penalty(x, alpha=0.0).detach(), expected, rtol=1e-5)
    with torch.no_grad():  # g = 0: both terms vanish
        for p in field.specific.parameters():
            p.zero_()
    assert float(field.penalty(x, alpha=1e-2).detach()) == 0.0


def test_fit_leads_on_grids_reduces_the_loss():
    torch.manual_seed(8)
    E, t = 2, torch.linspace(0, 1, 4)
    # two environments of linear decay at different rates on a 2-channel 8 x 8 field
    rates = torch.tensor([0.5, 1.5]).reshape(E, 1, 1, 1, 1, 1)
    x0 = torch.rand(1, 3, 2, 8, 8).expand(E, -1, -1, -1, -1)
    y = x0.unsqueeze(2) * torch.exp(-rates * t.reshape(1, 1, -1, 1, 1, 1))
    field = MultiEnvironmentField(EnvironmentNet(1, _conv, init_std=0.1),
                                  EnvironmentNet(E, _conv, init_std=0.1))
    before = float(trajectory_mse_per_env(field, y, t).mean())
    fit = fit_leads(field, y, t, iterations=40, lr=3e-3, penalty_weight=1e-3, progress=False)
    after = float(trajectory_mse_per_env(field, y, t).mean())
    assert after < 0.5 * before
    assert all(p > 0 for p in fit.penalties)
    with pytest.raises(ValueError, match="state dims"):
        fit_leads(field, y[..., 0, 0], t, iterations=1, progress=False)
    with pytest.raises(ValueError, match="method"):
        fit_leads(field, y, t, iterations=1, method="dopri5", progress=False)


def test_output_norm_is_scale_invariant_only_for_linear_g():
    torch.manual_seed(9)
    x = torch.rand(2, 3, 5, 2) + 0.5
    linear = MultiEnvironmentField(None, EnvironmentMLP(2, 2, layers=0))
    nonlinear = MultiEnvironmentField(None, EnvironmentMLP(2, 2, hidden=8, layers=2))
    with torch.no_grad():
        for b in linear.specific.biases:
            b.zero_()
        for w in nonlinear.specific.weights:  # large enough weights to leave the linear zone
            w.normal_(0.0, 1.0)
        a, b = linear.penalty(x, alpha=0.0), linear.penalty(10 * x, alpha=0.0)
        assert torch.allclose(a, b, rtol=1e-4)
        c, d = nonlinear.penalty(x, alpha=0.0), nonlinear.penalty(10 * x, alpha=0.0)
        assert not torch.allclose(c, d, rtol=1e-2)
