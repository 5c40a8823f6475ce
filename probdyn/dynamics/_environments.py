"""Vector fields over several environments (LEADS, thesis 3.4): ``f_e = f + g_e``.

States carry the environment as their FIRST axis: ``x`` has shape ``(E, B, d)`` (E
environments, B trajectories each). Per-environment networks are evaluated for all
environments in one batched matrix product (weights ``(E, in, out)``), not in a Python loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._base import VectorField
from ._neural import _positive_int


class EnvironmentMLP(nn.Module):
    """``num_envs`` independent MLPs ``R^d -> R^d``, evaluated together.

    The LEADS networks: ``layers`` hidden layers of width ``hidden`` (LEADS' LV net is
    Linear(2, 64)-Swish-Linear(64, 64)-Swish-Linear(64, 64)-Swish-Linear(64, 2): ``layers=3``),
    the learnable Swish of the official code ``x sigmoid(x softplus(beta)) / 1.1`` (beta per
    environment and layer, initialised at 0.5), weights drawn from ``N(0, init_std^2)`` and
    zero biases (official: 0.05 for LV).

    With ``num_envs = 1`` the same network is applied to every environment (the shared ``f``).

    Shapes: ``forward(x)`` maps ``(E, ..., d)`` to ``(E, ..., d)``; ``E`` must equal
    ``num_envs`` (or ``num_envs`` is 1).

    Parameters
    ----------
    num_envs, dim, hidden, layers : int
    init_std : float
        Standard deviation of the initial weights.
    env_bias : int, optional
        FT-NODE: a shared network with an environment code in every linear layer. The code
        is one-hot, so ``W [x; onehot(e)] = W_x x + w_e``: each layer gets a learned bias per
        environment (``env_bias`` environments) on top of the shared weights.
    """

    def __init__(self, num_envs: int, dim: int, hidden: int = 64, layers: int = 3, *,
                 init_std: float = 0.05, env_bias: int | None = None):
        super().__init__()
        self.num_envs = _positive_int(num_envs, "num_envs")
        self.dim = _positive_int(dim, "dim")
        hidden = _positive_int(hidden, "hidden")
        layers = _positive_int(layers, "layers")
        if not (init_std > 0):
            raise ValueError(f"init_std must be positive, got {init_std!r}")
        sizes = [self.dim] + [hidden] * layers + [self.dim]
        self.weights = nn.ParameterList(
            nn.Parameter(init_std * torch.randn(self.num_envs, a, b))
            for a, b in zip(sizes[:-1], sizes[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(self.num_envs, 1, b))
                                       for b in sizes[1:])
        self.betas = nn.Parameter(torch.full((layers, self.num_envs, 1, 1), 0.5))
        self.env_bias = None if env_bias is None else _positive_int(env_bias, "env_bias")
        if self.env_bias is not None:
            if self.num_envs != 1:
                raise ValueError("env_bias is for a shared network: num_envs must be 1")
            self.code_biases = nn.ParameterList(nn.Parameter(torch.zeros(self.env_bias, 1, b))
                                                for b in sizes[1:])
        # plain references for the forward pass: ParameterList indexing costs more than the
        # tiny matrix products themselves (load_state_dict copies in place, so they stay valid)
        codes = list(self.code_biases) if self.env_bias is not None else [None] * len(sizes[1:])
        self._layers = list(zip(self.weights, self.biases, codes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (E, ..., {self.dim}), got {tuple(x.shape)}")
        E = x.shape[0]
        groups = self.env_bias or self.num_envs
        if groups != 1 and E != groups:
            raise ValueError(f"x has {E} environments on its first axis, the network "
                             f"{groups}")
        batched = self.num_envs > 1
        h = x.reshape(E, -1, self.dim)
        slopes = F.softplus(self.betas)
        last = len(self._layers) - 1
        for k, (w, b, code) in enumerate(self._layers):
            h = torch.baddbmm(b, h, w) if batched else torch.matmul(h, w[0]) + b[0]
            if code is not None:
                h = h + code
            if k < last:
                h = h * torch.sigmoid(h * (slopes[k] if batched else slopes[k, 0])) / 1.1
        return h.reshape(x.shape)

    def linear_weights(self) -> list:
        """The weight tensors ``(num_envs, in, out)`` of the linear layers (no biases)."""
        return list(self.weights)


def spectral_norms(weight: torch.Tensor, u: torch.Tensor, iterations: int = 5):
    """Largest singular value of each matrix of ``weight`` (E, n, m) by power iteration.

    ``u`` (E, m) is the persistent right vector (updated in place, as in Miyato et al. 2018
    and the LEADS code); the gradient flows through ``sigma = u_l^T W v`` with the vectors
    held fixed. Returns ``sigma`` (E,).
    """
    with torch.no_grad():
        v = u
        for _ in range(iterations):
            left = F.normalize(torch.bmm(weight, v.unsqueeze(-1)).squeeze(-1), dim=-1)
            v = F.normalize(torch.bmm(weight.transpose(1, 2), left.unsqueeze(-1)).squeeze(-1),
                            dim=-1)
        u.copy_(v)
    return torch.einsum("en,enm,em->e", left, weight, v)


class MultiEnvironmentField(VectorField):
    """``dx/dt = f(x) + g_e(x)`` for states ``(E, B, d)`` with the environment axis first.

    Parameters
    ----------
    shared : EnvironmentMLP or None
        ``f``, the same for all environments (``num_envs = 1``; or an FT-NODE network with
        ``env_bias``). None: no shared part (One-Per-Env.).
    specific : EnvironmentMLP or None
        ``g_e``, one network per environment. None: no environment part (One-For-All,
        FT-NODE).

    Notes
    -----
    The LEADS penalty of the environment parts is :meth:`penalty`.
    """

    def __init__(self, shared: nn.Module | None, specific: EnvironmentMLP | None):
        super().__init__()
        if shared is None and specific is None:
            raise ValueError("give a shared network, a specific one, or both")
        self.shared = shared
        self.specific = specific
        dim = (specific or shared).dim
        self.state_shape = (dim,)
        if specific is not None:
            for k, w in enumerate(specific.linear_weights()):
                self.register_buffer(f"_power_u{k}", F.normalize(
                    torch.randn(w.shape[0], w.shape[2], dtype=w.dtype), dim=-1))

    @property
    def num_envs(self) -> int | None:
        """Number of environments the field is tied to (None: any number)."""
        if self.specific is not None:
            return self.specific.num_envs
        return getattr(self.shared, "env_bias", None)

    def forward(self, t, x):
        out = self.shared(x) if self.shared is not None else 0.0
        if self.specific is not None:
            out = out + self.specific(x)
        return out

    def penalty(self, states: torch.Tensor, alpha: float, iterations: int = 5) -> torch.Tensor:
        """LEADS' practical ``sum_e Omega(g_e)`` (thesis eq. (7), official code).

        ``sum_e [ mean_x ||g_e(x)||^2 / (||x|| + 1e-5)^2 + alpha sum_l sigma_l(W_l^{g_e})^2 ]``
        over the training states ``states`` (E, ..., d) of each environment, with the spectral
        norms by ``iterations`` power iterations (persistent vectors). Gradients flow into the
        ``g_e`` only. Zero without environment parts.
        """
        if self.specific is None:
            return states.new_zeros(())
        g = self.specific(states)
        relative = (g.norm(dim=-1) / (states.norm(dim=-1) + 1e-5)) ** 2
        output_term = relative.reshape(relative.shape[0], -1).mean(-1).sum()
        lipschitz = sum((spectral_norms(w, getattr(self, f"_power_u{k}"), iterations) ** 2)
                        .sum() for k, w in enumerate(self.specific.linear_weights()))
        return output_term + alpha * lipschitz
