"""The two *direct* UpDown variants of Vialard et al. (2020): theta optimised directly instead of
through shooting particles (spec shooting-least-action.md §1.5).

- static direct (``num_blocks=1``, ~ NODE/ANODE): one time-independent
  ``theta = (theta1, b1, theta2, b2, theta3)``;
- dynamic direct (``num_blocks=5`` in the paper, ~ a discrete ResNet): theta piecewise constant
  over ``num_blocks`` equal sub-intervals of ``[0, T]`` (the paper does not say how the blocks
  split the interval; equal pieces are the natural reading).

The velocity is the same :func:`updown_velocity` as the particle variants, and the penalty is the
same quadratic ``R`` integrated over time, so all four variants train under one loss.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._base import VectorField
from ._neural import _positive_int
from ._shooting import DEFAULT_WEIGHTS, _activation, _weights, updown_penalty, updown_velocity

_NAMES = ("theta1", "b1", "theta2", "b2", "theta3")


class DirectUpDownField(VectorField):
    """UpDown vector field with directly optimised, piecewise-constant parameters.

    ``(x', v') = (theta1 s(v) + b1, theta2 x + b2 + theta3 s(v))`` on states ``(..., N, S)``,
    ``S = (alpha + 1) d``, with ``theta`` constant on each of ``num_blocks`` equal sub-intervals
    of ``[0, time_horizon]``. :meth:`flow` integrates block by block, so a fixed-step solver
    never straddles a switch of theta.

    Parameters
    ----------
    state_dim : int
        d, the dimension of the data ``x``.
    alpha : int
        Inflation factor >= 1: ``v`` has ``D = alpha d`` dims.
    num_blocks : int
        1 for the paper's *static direct* variant, 5 for its *dynamic direct* variant.
    time_horizon : float
        T > 0, the end of the integration interval (time units of the data).
    activation : {"tanh", "relu", "softplus", "sigmoid"}
        sigma of the UpDown model.
    penalty_weights : 5 floats
        ``(w1, wb1, w2, wb2, w3)`` of ``R``; default ``(1, 1, 1, 1, 10)`` (paper App. E).
    v0 : {"affine", "zero"}
        ``v_i(0) = Theta12 x_i + b12`` (learned, ``alpha d (d + 1)`` parameters) or 0.
    seed : int
        Seed of the initialisation (PyTorch's ``nn.Linear`` default, ``U(-1/sqrt(fan_in),
        1/sqrt(fan_in))`` for each weight and its bias; the paper does not state one).

    Notes
    -----
    Parameters are stored with a leading block axis: ``theta1`` is ``(B, d, D)``, ``b1``
    ``(B, d)``, ``theta2`` ``(B, D, d)``, ``b2`` ``(B, D)``, ``theta3`` ``(B, D, D)``.
    ``num_free_parameters`` equals ``updown_parameter_count(1, alpha, d, "static_direct")``
    for one block and the ``"dynamic_direct"`` count for five.
    """

    def __init__(self, state_dim: int, alpha: int = 8, num_blocks: int = 1, *,
                 time_horizon: float = 1.0, activation: str = "tanh",
                 penalty_weights=DEFAULT_WEIGHTS, v0: str = "affine", seed: int = 0):
        super().__init__()
        self.state_dim = d = _positive_int(state_dim, "state_dim")
        self.alpha = _positive_int(alpha, "alpha")
        self.num_blocks = B = _positive_int(num_blocks, "num_blocks")
        T = float(time_horizon)
        if not (math.isfinite(T) and T > 0):
            raise ValueError(f"time_horizon must be a positive finite number, got "
                             f"{time_horizon!r}")
        if v0 not in ("affine", "zero"):
            raise ValueError(f"v0 must be 'affine' or 'zero', got {v0!r}")
        _activation(activation)
        self.time_horizon, self.activation, self.v0 = T, activation, v0
        self.penalty_weights = _weights(penalty_weights)
        self.D = D = self.alpha * d
        self.S = d + D
        self.state_shape = (None, self.S)
        g = torch.Generator().manual_seed(int(seed))
        dtype = torch.get_default_dtype()

        def uniform(*shape, fan_in):
            bound = 1.0 / math.sqrt(fan_in)
            return nn.Parameter(bound * (2 * torch.rand(*shape, generator=g, dtype=dtype) - 1))

        # fan-ins: theta1 and theta3 act on s(v) (D inputs), theta2 on x (d inputs)
        self.theta1, self.b1 = uniform(B, d, D, fan_in=D), uniform(B, d, fan_in=D)
        self.theta2, self.b2 = uniform(B, D, d, fan_in=d), uniform(B, D, fan_in=d)
        self.theta3 = uniform(B, D, D, fan_in=D)
        if v0 == "affine":
            self.v0_weight = uniform(D, d, fan_in=d)
            self.v0_bias = uniform(D, fan_in=d)

    @property
    def num_free_parameters(self) -> int:
        """``B (dD + d + Dd + D + D^2) [+ alpha d (d + 1)]``."""
        d, D = self.state_dim, self.D
        affine = self.alpha * d * (d + 1) if self.v0 == "affine" else 0
        return self.num_blocks * (d * D + d + D * d + D + D * D) + affine

    @property
    def boundaries(self) -> torch.Tensor:
        """The block edges ``0 = tau_0 < ... < tau_B = T``, shape ``(B + 1,)``."""
        return torch.linspace(0.0, self.time_horizon, self.num_blocks + 1,
                              dtype=self.theta1.dtype)

    def block_index(self, t) -> torch.Tensor:
        """Index of the block holding time ``t`` (any shape): ``floor(t B / T)`` clipped to
        ``[0, B - 1]`` (block ``b`` is ``[tau_b, tau_{b+1})``, the last one closed)."""
        t = torch.as_tensor(t, dtype=self.theta1.dtype)
        b = torch.floor(t * self.num_blocks / self.time_horizon).long()
        return b.clamp(0, self.num_blocks - 1)

    def block_theta(self, b: int) -> tuple:
        """``(theta1, b1, theta2, b2, theta3)`` of block ``b``."""
        return tuple(getattr(self, name)[b] for name in _NAMES)

    def theta(self, t) -> tuple:
        """theta at the times ``t`` (shape ``(n,)`` or scalar): tensors with a leading dim
        ``n`` (none for a scalar), e.g. ``theta1`` of shape ``(n, d, D)``."""
        b = self.block_index(t)
        return tuple(getattr(self, name)[b] for name in _NAMES)

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """``(x, v(0))`` of shape ``(..., N, S)`` for data ``x`` of shape ``(..., N, d)``."""
        x = torch.as_tensor(x)
        if x.dim() < 2 or x.shape[-1] != self.state_dim:
            raise ValueError(f"x must have shape (..., N, {self.state_dim}), got "
                             f"{tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
        x = x.to(self.theta1.dtype)
        if self.v0 == "affine":
            v = x @ self.v0_weight.T + self.v0_bias
        else:
            v = x.new_zeros(*x.shape[:-1], self.D)
        return torch.cat([x, v], dim=-1)

    def _check_state(self, z: torch.Tensor) -> None:
        if z.dim() < 2 or z.shape[-1] != self.S:
            raise ValueError(f"state must have shape (..., N, {self.S}), got {tuple(z.shape)}")

    def forward(self, t, z):
        self._check_state(z)
        return updown_velocity(z, self.block_theta(int(self.block_index(t))), self.state_dim,
                               self.activation)

    def integrated_penalty(self, t_end: float | None = None) -> torch.Tensor:
        """``int_0^t_end R(theta(t)) dt`` (default ``t_end = T``): the sum of each block's
        ``R`` times the length of the block inside ``[0, t_end]``; a scalar tensor."""
        t_end = self.time_horizon if t_end is None else float(t_end)
        if not (math.isfinite(t_end) and 0 <= t_end <= self.time_horizon * (1 + 1e-9)):
            raise ValueError(f"t_end must be in [0, time_horizon = {self.time_horizon}], got "
                             f"{t_end!r}")
        edges = self.boundaries
        lengths = (edges[1:].clamp(max=t_end) - edges[:-1]).clamp(min=0)
        R = updown_penalty(tuple(getattr(self, n) for n in _NAMES), self.penalty_weights)
        return (lengths * R).sum()

    def flow(self, x: torch.Tensor, t, *, return_state: bool = False, **solve_kwargs):
        """Data trajectories ``x_i(t)``: shape ``(..., N, T, d)`` for ``x`` of shape
        ``(..., N, d)`` and a 1-D increasing time grid ``t`` starting at 0 and ending by
        ``time_horizon``. Each block is solved on its own interval (the block edges are added
        to the grid and dropped from the output). ``solve_kwargs`` go to
        :func:`probdyn.dynamics.solve`. With ``return_state=True`` also returns the state
        ``(..., T, N, S)``."""
        from ._solve import solve

        z0 = self.initial_state(x)
        t = torch.as_tensor(t, dtype=z0.dtype)
        if t.dim() != 1 or t.numel() < 1 or not torch.isfinite(t).all():
            raise ValueError(f"t must be a non-empty finite 1-D time grid, got shape "
                             f"{tuple(t.shape)}")
        if t[0] != 0 or (t.numel() > 1 and not (t[1:] > t[:-1]).all()):
            raise ValueError("t must start at 0 and be strictly increasing")
        if t[-1] > self.time_horizon * (1 + 1e-9):
            raise ValueError(f"t must end by time_horizon = {self.time_horizon}, got "
                             f"{float(t[-1])}")
        # the output grid plus the block edges inside it; an edge within rounding of an output
        # time is that time (no vanishing interval for a fixed-step solver)
        tol = 1e-9 * self.time_horizon
        edges = self.boundaries.to(z0.dtype)[1:-1]
        edges = edges[edges < t[-1] - tol]
        near = (edges[:, None] - t).abs().min(-1).values <= tol
        grid, _ = torch.sort(torch.cat([t, edges[~near]]))
        # where each interior edge sits in grid (the output time it was merged with, if any)
        cuts = (edges[:, None] - grid).abs().argmin(-1).tolist()
        cuts = [0] + cuts + [grid.numel() - 1]
        # block of each piece: that of its midpoint
        states, z = [z0], z0
        for i, j in zip(cuts[:-1], cuts[1:]):
            if j == i:
                continue
            b = int(self.block_index(0.5 * (grid[i] + grid[j])))
            zs = solve(_Block(self, b), z, grid[i:j + 1], **solve_kwargs)  # (..., n, N, S)
            states.extend(zs.unbind(-3)[1:])
            z = states[-1]
        keep = torch.searchsorted(grid, t).tolist()
        traj = torch.stack([states[k] for k in keep], dim=-3)  # (..., T, N, S)
        xs = traj[..., :self.state_dim].transpose(-3, -2)
        return (xs, traj) if return_state else xs


class _Block(VectorField):
    """Block ``b`` of a :class:`DirectUpDownField` as an autonomous field (theta fixed)."""

    def __init__(self, field: DirectUpDownField, b: int):
        super().__init__()
        self.field, self.b = field, b
        self.state_shape = field.state_shape

    def forward(self, t, z):
        f = self.field
        return updown_velocity(z, f.block_theta(self.b), f.state_dim, f.activation)


def log_frobenius_complexity(theta, t) -> torch.Tensor:
    """The paper's complexity of a parameter path: ``int_0^T log2(sum_k ||theta_k(t)||_F^2) dt``.

    Vialard et al. (2020) report "the time-integral of log2 of the Frobenius norm" of the
    parameters (spec §1.8, E1); the sum runs over all blocks ``(theta1, b1, theta2, b2,
    theta3)``, unweighted (a bias's Frobenius norm is its Euclidean norm).

    Parameters
    ----------
    theta : sequence of tensors
        The parameter blocks along the path, each of shape ``(n, ...)`` with the time axis
        first (e.g. from ``ShootingField.theta(z)`` of a solved state, or
        ``DirectUpDownField.theta(t)``).
    t : tensor, shape (n,)
        Strictly increasing times of the rows, ``n >= 2``.

    Returns
    -------
    tensor
        Scalar (bits x time units).

    Notes
    -----
    Discretised as in the authors' code: the squared norm is averaged over the two ends of
    each interval before the log (``sum_i dt_i log2((s_i + s_{i+1}) / 2)``). For a constant path
    this is exact; for a path with jumps (the dynamic direct variant) put each jump between
    two grid points that are close together.
    """
    t = torch.as_tensor(t)
    if t.dim() != 1 or t.numel() < 2 or not torch.isfinite(t).all():
        raise ValueError(f"t must be a finite 1-D grid of >= 2 times, got shape {tuple(t.shape)}")
    if not (t[1:] > t[:-1]).all():
        raise ValueError("t must be strictly increasing")
    theta = tuple(theta)
    if not theta or any(th.shape[:1] != t.shape for th in theta):
        raise ValueError(f"every theta block must have the time axis first, of length "
                         f"{t.numel()}, got shapes {[tuple(th.shape) for th in theta]}")
    sq = sum((th.reshape(th.shape[0], -1) ** 2).sum(-1) for th in theta)
    if not torch.isfinite(sq).all():
        raise ValueError("theta contains NaN or infinite values")
    if (sq <= 0).any():
        raise ValueError("theta is exactly 0 at some time: its log-norm is -inf")
    mid = 0.5 * (sq[1:] + sq[:-1])
    return ((t[1:] - t[:-1]).to(mid.dtype) * torch.log2(mid)).sum()
