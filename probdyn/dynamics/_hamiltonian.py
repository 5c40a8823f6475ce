"""Hamiltonian vector fields with a learned (MLP) Hamiltonian (Greydanus et al. 2019)."""

from __future__ import annotations

import torch
from torch import nn

from ._base import VectorField
from ._neural import _activation, _positive_int


class HamiltonianField(VectorField):
    """``dq/dt = dH/dp``, ``dp/dt = -dH/dq`` with ``H(q, p)`` an MLP, derivatives by autograd.

    The flow conserves the learned ``H`` and is volume-preserving whatever the weights: a
    structural prior for conservative mechanics (APHYNITY's "Hamiltonian" physical model for
    the pendulum).

    Parameters
    ----------
    dof : int
        Degrees of freedom n; the state is ``(q_1..q_n, p_1..p_n)``, shape ``(..., 2 n)``.
    hidden, layers, activation
        The MLP ``R^{2n} -> R`` (a smooth activation, default ``"tanh"``, keeps ``H`` in H^1).
    """

    def __init__(self, dof: int = 1, hidden: int = 64, layers: int = 2, activation="tanh"):
        super().__init__()
        self.dof = _positive_int(dof, "dof")
        hidden = _positive_int(hidden, "hidden")
        layers = _positive_int(layers, "layers")
        self.state_shape = (2 * self.dof,)
        sizes = [2 * self.dof] + [hidden] * layers
        mods = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), _activation(activation)]
        mods.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*mods)

    def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        """``H(q, p)``, shape ``(...,)`` for ``x`` of shape ``(..., 2 n)``."""
        if x.shape[-1] != 2 * self.dof:
            raise ValueError(f"x must have shape (..., {2 * self.dof}), got {tuple(x.shape)}")
        return self.net(x).squeeze(-1)

    def forward(self, t, x):
        training = torch.is_grad_enabled()  # keep the graph of dH only when differentiating
        with torch.enable_grad():
            z = x if x.requires_grad else x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.hamiltonian(z).sum(), z, create_graph=training)
        dq, dp = grad[..., :self.dof], grad[..., self.dof:]
        return torch.cat([dp, -dq], dim=-1)
