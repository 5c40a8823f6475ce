"""Vector fields over several environments (LEADS, thesis 3.4): ``f_e = f + g_e``.

States carry the environment as their FIRST axis: ``x`` has shape ``(E, B, *state_shape)``
(E environments, B trajectories each). Two kinds of per-environment networks share one
interface (``forward(x)``, ``state_shape``, ``penalty_matrices()``):

- :class:`EnvironmentMLP`: E MLPs evaluated in one batched matrix product (tiny LV nets);
- :class:`EnvironmentNet`: E copies of any grid network (the LEADS ConvNet and FNO).

``penalty_matrices()`` gives each layer's weight as a stack of E matrices, whose spectral
norms (:func:`spectral_norms`) make the Lipschitz part of the LEADS penalty.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._base import VectorField
from ._neural import SpectralConv2d, _positive_int


class Swish(nn.Module):
    """The LEADS code's Swish ``x sigmoid(x softplus(beta)) / 1.1`` with a learnable
    ``beta`` (initialised at 0.5). Shapes: elementwise."""

    def __init__(self, beta: float = 0.5):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, x):
        return x * torch.sigmoid(x * F.softplus(self.beta)) / 1.1


def _layer_matrices(module: nn.Module) -> list:
    """The weight matrices of ``module``'s layers, as the LEADS code's ``CalculateNorm``:
    a linear weight as is, a convolution's ``(out, in, k, k)`` weight reshaped to
    ``(out, in k k)``, a Fourier layer's complex ``(in, out, my, mx)`` weights (one per
    frequency half) by their real part reshaped to ``(in, out my mx)``. Biases and Swish
    slopes are not penalised."""
    mats = []
    for name, mod in module.named_modules():
        own = dict(mod.named_parameters(recurse=False))
        if not own:
            continue
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            mats.append(mod.weight.reshape(mod.weight.shape[0], -1))
        elif isinstance(mod, SpectralConv2d):
            real = mod.weight[..., 0]  # (2, in, out, my, mx)
            mats += [real[h].reshape(mod.in_channels, -1) for h in range(2)]
        elif not isinstance(mod, Swish):
            raise ValueError(f"no penalty rule for the parameters of {name or 'the network'} "
                             f"({type(mod).__name__}); use Linear, Conv, SpectralConv2d or "
                             "Swish layers")
    return mats


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
    num_envs, dim, hidden : int
    layers : int
        Hidden layers; 0 gives one affine map per environment (the linear-ODE case).
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
        self.state_shape = (self.dim,)
        hidden = _positive_int(hidden, "hidden")
        if isinstance(layers, bool) or int(layers) != layers or layers < 0:
            raise ValueError(f"layers must be a non-negative integer, got {layers!r}")
        layers = int(layers)
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
        # the ParameterLists are read at every call (not cached) so that
        # torch.func.functional_call's substituted parameters are the ones used
        codes = self.code_biases if self.env_bias is not None else [None] * len(self.biases)
        last = len(self.biases) - 1
        for k, (w, b, code) in enumerate(zip(self.weights, self.biases, codes)):
            h = torch.baddbmm(b, h, w) if batched else torch.matmul(h, w[0]) + b[0]
            if code is not None:
                h = h + code
            if k < last:
                h = h * torch.sigmoid(h * (slopes[k] if batched else slopes[k, 0])) / 1.1
        return h.reshape(x.shape)

    def linear_weights(self) -> list:
        """The weight tensors ``(num_envs, in, out)`` of the linear layers (no biases)."""
        return list(self.weights)

    def penalty_matrices(self) -> list:
        """Each layer's weights as ``(num_envs, in, out)`` matrices (the penalised ones)."""
        return list(self.weights)


class EnvironmentNet(nn.Module):
    """``num_envs`` independent copies of a network on fields ``(..., C, ny, nx)``.

    The LEADS ConvNet (GS) and FNO (NS) per environment: ``make()`` builds one network
    ``net(t, x)`` (e.g. :class:`~probdyn.dynamics.ConvField` or
    :class:`~probdyn.dynamics.FNOField` with ``activation=Swish``) and is called once per
    environment, so each copy has its own initial weights. With ``num_envs = 1`` the one
    network serves every environment (the shared ``f``).

    Shapes: ``forward(x)`` maps ``(E, ..., *state_shape)`` to the same shape.

    Parameters
    ----------
    num_envs : int
    make : callable
        ``make()`` returns a module with ``forward(t, x)`` and a ``state_shape``.
    init_std : float, optional
        Redraw the weights of every linear and convolution layer from ``N(0, init_std^2)``
        with zero biases (official LEADS: 0.1 for GS and NS); None keeps torch's init.
    output_scale : float
        Factor on the output (the LEADS ConvNet's ``factor = 1e-3``).
    env_bias : int, optional
        FT-NODE on grids (``num_envs = 1``): the shared network gets a one-hot environment
        code in every linear and convolution layer, i.e. a learned bias per environment and
        output channel (zero at start) added to each such layer's output, as
        :class:`EnvironmentMLP` does with ``env_bias``. ``x``'s first axis is then the
        ``env_bias`` environments. (With zero padding the one-hot channel would be cut at
        the borders; the added bias is the periodic-padding reading.)

    Notes
    -----
    The copies run one after the other: a grid network's convolutions are large enough
    that batching the environments would gain little.
    """

    def __init__(self, num_envs: int, make: Callable[[], nn.Module], *,
                 init_std: float | None = None, output_scale: float = 1.0,
                 env_bias: int | None = None):
        super().__init__()
        self.num_envs = _positive_int(num_envs, "num_envs")
        if not callable(make):
            raise ValueError(f"make must be a callable returning a network, got {make!r}")
        if init_std is not None and not (init_std > 0):
            raise ValueError(f"init_std must be positive or None, got {init_std!r}")
        if not (output_scale > 0):
            raise ValueError(f"output_scale must be positive, got {output_scale!r}")
        self.nets = nn.ModuleList(make() for _ in range(self.num_envs))
        shape = getattr(self.nets[0], "state_shape", None)
        if shape is None:
            raise ValueError("make() must return a network with a state_shape")
        self.state_shape = tuple(shape)
        self.output_scale = float(output_scale)
        if init_std is not None:
            with torch.no_grad():
                for mod in self.nets.modules():
                    if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                        mod.weight.normal_(0.0, init_std)
                        if mod.bias is not None:
                            mod.bias.zero_()
        _layer_matrices(self.nets[0])  # fails early on layers without a penalty rule
        self.env_bias = None if env_bias is None else _positive_int(env_bias, "env_bias")
        if self.env_bias is not None:
            if self.num_envs != 1:
                raise ValueError("env_bias is for a shared network: num_envs must be 1")
            coded = [m for m in self.nets[0].modules() if isinstance(m, _CODED)]
            self.code_biases = nn.ParameterList(
                nn.Parameter(torch.zeros(self.env_bias, _out_channels(m))) for m in coded)
            for k, m in enumerate(coded):
                m.register_forward_hook(functools.partial(_add_env_code, self, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nd = len(self.state_shape)
        if x.dim() < nd + 1:
            raise ValueError(f"x must have shape (E, ..., *state_shape) with {nd} state dims, "
                             f"got {tuple(x.shape)}")
        if self.env_bias is not None and x.shape[0] != self.env_bias:
            raise ValueError(f"x has {x.shape[0]} environments on its first axis, the "
                             f"environment codes {self.env_bias}")
        if self.num_envs == 1:
            return self.output_scale * self.nets[0](None, x)
        if x.shape[0] != self.num_envs:
            raise ValueError(f"x has {x.shape[0]} environments on its first axis, the network "
                             f"{self.num_envs}")
        return self.output_scale * torch.stack([net(None, x[e])
                                                for e, net in enumerate(self.nets)])

    def penalty_matrices(self) -> list:
        """Each layer's weights as ``(num_envs, rows, cols)`` matrices: linear weights as
        they are, convolutions reshaped to ``(out, in k k)``, Fourier weights by their real
        part reshaped to ``(in, out my mx)`` (the LEADS code's ``CalculateNorm``)."""
        per_env = [_layer_matrices(net) for net in self.nets]
        return [torch.stack(layer) for layer in zip(*per_env)]


_CODED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _out_channels(layer: nn.Module) -> int:
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


def _add_env_code(owner: EnvironmentNet, k: int, layer: nn.Module, inputs, out):
    """Forward hook of FT-NODE's coded layers: add environment e's bias of layer ``k`` to
    the outputs of environment e's states, which lead the flattened batch (``(E*B, ...)``:
    the grid networks flatten ``(E, B, ...)`` in order)."""
    bias = owner.code_biases[k]
    E = bias.shape[0]
    grouped = out.reshape(E, -1, *out.shape[1:])
    if isinstance(layer, nn.Linear):  # channels last
        shape = (E,) + (1,) * (grouped.dim() - 2) + (bias.shape[1],)
    else:  # (N, C, *spatial)
        shape = (E, 1, bias.shape[1]) + (1,) * (grouped.dim() - 3)
    return (grouped + bias.reshape(shape)).reshape(out.shape)


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
    """``dx/dt = f(x) + g_e(x)`` for states ``(E, B, *state_shape)``, environment axis first.

    Parameters
    ----------
    shared : EnvironmentMLP, EnvironmentNet or None
        ``f``, the same for all environments (``num_envs = 1``; or an FT-NODE network with
        ``env_bias``). None: no shared part (One-Per-Env.).
    specific : EnvironmentMLP, EnvironmentNet or None
        ``g_e``, one network per environment. None: no environment part (One-For-All,
        FT-NODE).

    Notes
    -----
    The LEADS penalty of the environment parts is :meth:`penalty`. The first axis of
    ``state_shape`` holds the channels (``d`` for an ODE in R^d, ``C`` for a grid).
    """

    def __init__(self, shared: nn.Module | None, specific: nn.Module | None):
        super().__init__()
        if shared is None and specific is None:
            raise ValueError("give a shared network, a specific one, or both")
        if shared is not None and specific is not None:
            a, b = tuple(shared.state_shape), tuple(specific.state_shape)
            if a != b:
                raise ValueError(f"shared and specific networks have different state shapes "
                                 f"{a} and {b}")
        self.shared = shared
        self.specific = specific
        self.state_shape = tuple((specific or shared).state_shape)
        if specific is not None:
            for k, w in enumerate(specific.penalty_matrices()):
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

    def penalty(self, states: torch.Tensor | None, alpha: float, iterations: int = 5,
                lipschitz: str = "spectral") -> torch.Tensor:
        """LEADS' practical ``sum_e Omega(g_e)`` (thesis eq. (7), official code).

        ``sum_e [ mean_x ||g_e(x)||^2 / (||x|| + 1e-5)^2 + alpha sum_l sigma_l(W_l^{g_e})^2 ]``
        over the training states ``states`` (E, ..., *state_shape) of each environment, the
        norms taken over the channel axis (the first state axis; the mean runs over
        trajectories, times and grid points). Gradients flow into the ``g_e`` only; zero
        without environment parts.

        Parameters
        ----------
        states : tensor or None
            Training states; None leaves out the output-norm term.
        alpha : float
            Weight of the Lipschitz term.
        iterations : int
            Power iterations per call (persistent vectors, as the official code: 5).
        lipschitz : {"spectral", "frobenius"}
            ``sum_l sigma_l^2`` of the layer matrices (:meth:`EnvironmentMLP.penalty_matrices`,
            :meth:`EnvironmentNet.penalty_matrices`), or the official code's ``f_norm``
            ``(sum_l ||W_l||_F)^2`` (for linear ``g_e``: ``||beta_G||_F^2``, thesis Prop. S7).
        """
        if lipschitz not in ("spectral", "frobenius"):
            raise ValueError(f"lipschitz must be 'spectral' or 'frobenius', got {lipschitz!r}")
        if self.specific is None:
            ref = states if states is not None else next(self.parameters())
            return ref.new_zeros(())
        total = 0.0
        if states is not None:
            g = self.specific(states)
            ch = -len(self.state_shape)
            # ||g||^2 as a sum of squares: smooth at g = 0 (a norm's derivative is not)
            relative = (g ** 2).sum(dim=ch) / (states.norm(dim=ch) + 1e-5) ** 2
            total = relative.reshape(relative.shape[0], -1).mean(-1).sum()
        mats = self.specific.penalty_matrices()
        if lipschitz == "spectral":
            lip = sum((spectral_norms(w, getattr(self, f"_power_u{k}"), iterations) ** 2).sum()
                      for k, w in enumerate(mats))
        else:
            lip = (sum(torch.linalg.matrix_norm(w) for w in mats) ** 2).sum()
        return total + alpha * lip
