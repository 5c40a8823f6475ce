"""Least-action functionals of flows (thesis ch. 4.2, "LAP-Net"): the kinetic energy of a
continuous flow and the transport cost of a residual network, plus the residual network.

Both measure how far a map moves its inputs, ``∫_0^T ||v_t(x_t)||^2 dt`` averaged over the
samples: the dynamical optimal-transport cost (S16-S17) that the least-action principle
minimises subject to the task being solved (see :class:`probdyn.infer.LeastActionMultiplier`).
The thesis sums the squared norms without a factor 1/2; so do these functions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._base import VectorField
from ._neural import _positive_int
from ._solve import solve


class _KineticEnergyField(VectorField):
    """Augmented field on ``(..., D + 1)``: the flattened state and the running energy
    ``de/dt = ||f(t, x)||^2`` (summed over the state's entries)."""

    def __init__(self, field: nn.Module, state_shape: tuple[int, ...]):
        super().__init__()
        self.field = field
        self.state_shape = state_shape
        self.size = math.prod(state_shape)

    def forward(self, t, z):
        x = z[..., :self.size].reshape(z.shape[:-1] + self.state_shape)
        v = self.field(t, x).reshape(z.shape[:-1] + (self.size,))
        return torch.cat([v, (v * v).sum(-1, keepdim=True)], dim=-1)


def kinetic_energy(field: nn.Module, x0, t, *, state_shape=None, **solve_kwargs):
    """Solve ``dx/dt = field(t, x)`` and integrate the kinetic energy along each trajectory.

    The energy ``E(t_k) = ∫_{t_0}^{t_k} ||field(s, x_s)||^2 ds`` is carried as one extra
    state, so it is integrated by the same solver (adaptive methods control its error too).

    Parameters
    ----------
    field : nn.Module
        A vector field ``field(t, x)`` on states of shape ``(..., *state_shape)``.
    x0 : tensor, shape (..., *state_shape)
        Initial states (leading dims: samples).
    t : tensor, shape (T,)
        Output times (one shared grid), ``t[0]`` the time of ``x0``.
    state_shape : sequence of int, optional
        Default ``field.state_shape`` if it has one, else ``x0.shape[-1:]``.
    **solve_kwargs
        Passed to :func:`probdyn.dynamics.solve` (``method``, ``step_size``, ``rtol``...).

    Returns
    -------
    x : tensor, shape (..., T, *state_shape)
        The solution, as :func:`~probdyn.dynamics.solve` returns it.
    energy : tensor, shape (..., T)
        The accumulated ``∫ ||v||^2 dt`` up to each output time (``energy[..., 0] = 0``);
        in (state units)^2 per time unit. Average ``energy[..., -1]`` over samples for the
        Monte Carlo transport cost of S17.
    """
    x0 = torch.as_tensor(x0)
    if state_shape is None:
        state_shape = getattr(field, "state_shape", None) or x0.shape[-1:]
    state_shape = tuple(int(n) for n in state_shape)
    n = len(state_shape)
    if tuple(x0.shape[x0.dim() - n:]) != state_shape:
        raise ValueError(f"x0 must end with the state shape {state_shape}, got "
                         f"{tuple(x0.shape)}")
    batch = x0.shape[:x0.dim() - n]
    augmented = _KineticEnergyField(field, state_shape)
    z0 = torch.cat([x0.reshape(batch + (augmented.size,)), x0.new_zeros(batch + (1,))], -1)
    z = solve(augmented, z0, t, state_shape=(augmented.size + 1,), **solve_kwargs)
    x = z[..., :augmented.size].reshape(z.shape[:-1] + state_shape)
    return x, z[..., -1]


def transport_cost(trajectory: torch.Tensor, dt: float = 1.0) -> torch.Tensor:
    """Discrete kinetic energy of a path, ``sum_k ||x_{k+1} - x_k||^2 / dt`` (S17).

    Parameters
    ----------
    trajectory : tensor, shape (..., K + 1, *state)
        Points ``x_0..x_K`` of each sample's path (a residual network's activations or an
        ODE solution on a uniform grid of spacing ``dt``); ``state`` may be several dims.
    dt : float
        Step between consecutive points. ``dt = 1`` is S17's unit-step cost
        ``sum_k ||r_k||^2`` of the residuals ``r_k``; with ``dt = T / K`` the cost is the
        Riemann sum of ``∫ ||v||^2 dt`` for the velocity ``v_k = r_k / dt``.

    Returns
    -------
    tensor, shape (...)
        The cost per sample (average it over samples for the Monte Carlo estimate).
    """
    if trajectory.dim() < 2 or trajectory.shape[-2] < 1:
        raise ValueError(f"trajectory must have shape (..., K + 1, state), got "
                         f"{tuple(trajectory.shape)}")
    if not (dt > 0):
        raise ValueError(f"dt must be positive, got {dt!r}")
    return transport_cost_steps(trajectory).sum(-1) / dt


def transport_cost_steps(trajectory: torch.Tensor) -> torch.Tensor:
    """Squared displacement of every step, ``||x_{k+1} - x_k||^2``: shape (..., K) for a
    trajectory (..., K + 1, d). The time axis is the second to last."""
    if trajectory.dim() < 2:
        raise ValueError(f"trajectory must have shape (..., K + 1, d), got "
                         f"{tuple(trajectory.shape)}")
    step = trajectory[..., 1:, :] - trajectory[..., :-1, :]
    return (step * step).sum(-1)


class ResidualBlock(nn.Module):
    """One residual step's displacement ``v(x) = W_2 relu(BN(W_1 x + b_1)) + b_2``.

    The 2-FC block of the thesis's 2-D experiments ("2 FC + BN + ReLU"; the order of BN and
    ReLU is not given, we put BN before the ReLU as in the MNIST blocks' "preceded by ReLU and
    BN" read for fully connected layers). ``batch_norm=False`` drops the BN.
    """

    def __init__(self, dim: int, hidden: int, batch_norm: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.norm = nn.BatchNorm1d(hidden) if batch_norm else nn.Identity()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(torch.relu(self.norm(self.fc1(x))))


class ResidualTransport(nn.Module):
    """The transport part ``T`` of a network ``F ∘ T ∘ φ``: ``x_{k+1} = x_k + v_k(x_k)``.

    Parameters
    ----------
    dim : int
        Dimension of the transported points (kept fixed by every block).
    num_blocks : int
        Number of residual blocks ``K`` (the thesis's toy and MNIST nets use 9).
    hidden : int
        Width of each block's hidden layer.
    batch_norm : bool
        Batch normalisation inside each block (the thesis reports both).
    init_gain : float, optional
        Orthogonal initialisation of the weights with this gain and zero biases (the thesis
        uses gain 0.01 on MNIST: the net starts close to the identity map). Default: PyTorch's
        initialisation.

    Notes
    -----
    Shapes: ``forward(x)`` maps ``(B, dim)`` to ``(B, dim)``; :meth:`trajectory` returns all
    ``K + 1`` points ``(B, K + 1, dim)``, the input of :func:`transport_cost`.
    """

    def __init__(self, dim: int, num_blocks: int = 9, hidden: int = 16, *,
                 batch_norm: bool = False, init_gain: float | None = None):
        super().__init__()
        self.dim = _positive_int(dim, "dim")
        hidden = _positive_int(hidden, "hidden")
        self.blocks = nn.ModuleList(ResidualBlock(self.dim, hidden, batch_norm)
                                    for _ in range(_positive_int(num_blocks, "num_blocks")))
        if init_gain is not None:
            if not (init_gain >= 0):
                raise ValueError(f"init_gain must be non-negative, got {init_gain!r}")
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.orthogonal_(module.weight, gain=init_gain)
                    nn.init.zeros_(module.bias)

    def trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """All points ``x_0 = x, x_1, ..., x_K``: shape (B, K + 1, dim)."""
        if x.dim() != 2 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        points = [x]
        for block in self.blocks:
            points.append(points[-1] + block(points[-1]))
        return torch.stack(points, dim=-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trajectory(x)[..., -1, :]
