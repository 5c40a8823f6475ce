"""LEADS' linear closed form (thesis Prop. S4, spec D.6 item 2) on the 8-D linear-ODE family.

With linear f and g_e, exact derivative data and an interpolating fit term, the minimiser of
``sum_e Omega(g_e)`` subject to ``f + g_e = beta_e`` is ``beta_F = mean_e beta_e`` and
``beta_G_e = beta_e - mean``. For ``beta_e = Q diag(-0.5, .., 0 at e, .., -0.5) Q^T`` the mean
is ``-0.4375 I_8``. The relaxed objective ``fit + mu Omega`` (the library's field and
penalty, tiny ``mu``) is quadratic in the weights, so its minimiser is one Newton step from 0.
"""

import pytest
import torch
from scipy.stats import ortho_group
from torch import nn

from probdyn.dynamics import EnvironmentMLP, MultiEnvironmentField

D = 8
MU = 1e-8  # 1 / lambda -> 0: the fit term interpolates


def _family():
    """The environments' matrices beta_e (official linear dataset, seed 19700101)."""
    q = torch.tensor(ortho_group.rvs(D, random_state=19700101), dtype=torch.float64)
    betas = []
    for i in range(D):
        lam = torch.full((D,), -0.5, dtype=torch.float64)
        lam[i] = 0.0
        betas.append(q @ torch.diag(lam) @ q.T)
    return torch.stack(betas)


class _Objective(nn.Module):
    """``sum_e mean_i ||(f + g_e)(x_i) - beta_e x_i||^2 + mu sum_e Omega(g_e)`` on exact
    derivative data, the same states x_i in every environment."""

    def __init__(self, betas, states, penalty):
        super().__init__()
        shared = EnvironmentMLP(1, D, layers=0).double()
        specific = EnvironmentMLP(D, D, layers=0).double()
        for net in (shared, specific):
            for b in net.biases:  # linear, not affine, maps
                b.requires_grad_(False)
        self.field = MultiEnvironmentField(shared, specific)
        self.x = states.expand(D, -1, -1)
        self.dx = torch.einsum("eij,enj->eni", betas, self.x)
        self.penalty = penalty

    def forward(self):
        fit = ((self.field(0.0, self.x) - self.dx) ** 2).sum(-1).mean(-1).sum()
        return fit + MU * self.penalty(self.field, self.x)


def _minimiser(objective):
    """The exact minimiser of a quadratic function of the trainable weights: one Newton
    step from the initial weights (Hessian by double backpropagation)."""
    params = [p for p in objective.parameters() if p.requires_grad and p.numel()]
    grad = torch.cat([g.reshape(-1) for g in
                      torch.autograd.grad(objective(), params, create_graph=True)])
    hess = torch.stack([torch.cat([h.reshape(-1) for h in
                                   torch.autograd.grad(gi, params, retain_graph=True)])
                        for gi in grad])
    step = torch.linalg.solve(hess, grad.detach())
    with torch.no_grad():
        for p, s in zip(params, torch.split(-step, [p.numel() for p in params])):
            p.add_(s.reshape(p.shape))
    return dict(objective.named_parameters())


PENALTIES = {
    # Omega(g) = ||beta_G||_F^2 (the official f_norm of a one-layer g)
    "frobenius": lambda field, x: field.penalty(None, alpha=1.0, lipschitz="frobenius"),
    # the practical output norm mean ||g(x)||^2 / ||x||^2: with the states shared by all
    # environments it is the same positive-definite quadratic form for every e, so the
    # minimiser is again the mean
    "output-norm": lambda field, x: field.penalty(x, alpha=0.0),
}


@pytest.mark.parametrize("omega", list(PENALTIES))
def test_linear_closed_form(omega):
    betas = _family()
    mean = betas.mean(0)
    assert torch.allclose(mean, -0.4375 * torch.eye(D, dtype=torch.float64), atol=1e-12)
    states = torch.randn(1, 64, D, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)  # the initial weights (any point: one Newton step is exact)
    weights = _minimiser(_Objective(betas, states, PENALTIES[omega]))
    beta_f = weights["field.shared.weights.0"].detach()[0].T  # h = x W: beta = W^T
    beta_g = weights["field.specific.weights.0"].detach().transpose(1, 2)
    assert torch.allclose(beta_f, -0.4375 * torch.eye(D, dtype=torch.float64), atol=1e-3)
    assert torch.allclose(beta_g, betas - mean, atol=1e-3)
    # the decomposition interpolates every environment
    assert torch.allclose(beta_f + beta_g, betas, atol=1e-6)
