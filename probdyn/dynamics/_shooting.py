"""Particle shooting for the UpDown model (Vialard et al. 2020, "A Shooting Formulation of Deep
Learning"): the time-dependent parameters theta(t) are not free, they follow from K particles
evolving under Hamilton's equations.

Conventions (see the spec, shooting-least-action.md §1.4):

- sign convention C+: ``theta* = argmax_theta sum_j P_j . f(Q_j; theta) - R(theta)``, so the
  reduced Hamiltonian ``H = R(theta*) >= 0`` (the paper's printed eq. 3.6 uses ``-p``; both
  give the same model family because ``p(0)`` is free);
- particle **sums**, not means (the paper's form; the reference code's means are the same model
  with the penalty weights divided by K);
- penalty ``R = 1/2 sum_k w_k ||theta_k||^2`` over ``(theta1, b1, theta2, b2, theta3)``, weights
  ``(1, 1, 1, 1, 10)`` by default (paper App. E).

A point of the UpDown state space is ``(x, v)`` with ``x`` in R^d and ``v`` in R^D, ``D = alpha d``,
so it has size ``S = (alpha + 1) d``; a particle has a position ``Q_j = (q_j, u_j)`` and a
momentum ``P_j = (p_j, r_j)``, both of size S.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pyro.nn import PyroModule
from torch import nn

from ._base import VectorField
from ._neural import _positive_int

VARIANTS = ("dynamic", "static")
SHOOTING = ("explicit", "autodiff")
#: default penalty weights of (theta1, b1, theta2, b2, theta3) (paper App. E)
DEFAULT_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 10.0)

# activation -> (sigma, sigma'); sigma' written out for the explicit equations
_ACT = {
    "tanh": (torch.tanh, lambda z: 1.0 - torch.tanh(z) ** 2),
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    "softplus": (F.softplus, torch.sigmoid),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1.0 - torch.sigmoid(z))),
}


def _weights(weights) -> tuple:
    w = tuple(float(x) for x in weights)
    if len(w) != 5 or not all(math.isfinite(x) and x > 0 for x in w):
        raise ValueError("penalty_weights must be 5 positive finite numbers (theta1, b1, theta2, "
                         f"b2, theta3), got {weights!r}")
    return w


def _activation(name: str):
    if name not in _ACT:
        raise ValueError(f"activation must be one of {sorted(_ACT)}, got {name!r}")
    return _ACT[name]


def updown_parameter_count(num_particles: int, alpha: int, state_dim: int,
                           variant: str = "particles", v0: str = "affine") -> int:
    """Free parameters of an UpDown model (spec §1.7, paper App. B).

    ``variant``: ``"particles"`` (static or dynamic with particles, ``2 K (alpha+1) d``),
    ``"static_direct"`` (``dD + d + Dd + D + D^2``) or ``"dynamic_direct"`` (5 such blocks);
    plus ``alpha d (d+1)`` for the affine ``v(0)`` map when ``v0="affine"``.
    """
    K = _positive_int(num_particles, "num_particles")
    a = _positive_int(alpha, "alpha")
    d = _positive_int(state_dim, "state_dim")
    D = a * d
    block = d * D + d + D * d + D + D * D
    counts = {"particles": 2 * K * (a + 1) * d, "static_direct": block,
              "dynamic_direct": 5 * block}
    if variant not in counts:
        raise ValueError(f"variant must be one of {sorted(counts)}, got {variant!r}")
    if v0 not in ("affine", "zero"):
        raise ValueError(f"v0 must be 'affine' or 'zero', got {v0!r}")
    return counts[variant] + (a * d * (d + 1) if v0 == "affine" else 0)


def updown_theta(Q: torch.Tensor, P: torch.Tensor, state_dim: int, activation: str = "tanh",
                 penalty_weights=DEFAULT_WEIGHTS) -> tuple:
    """``theta*(t) = (theta1, b1, theta2, b2, theta3)`` from the particles (convention C+).

    ``Q``, ``P``: positions and momenta, shape ``(..., K, S)``. Returns tensors of shapes
    ``(..., d, D)``, ``(..., d)``, ``(..., D, d)``, ``(..., D)``, ``(..., D, D)``.
    """
    w1, wb1, w2, wb2, w3 = _weights(penalty_weights)
    sig, _ = _activation(activation)
    d = state_dim
    q, u, p, r = Q[..., :d], Q[..., d:], P[..., :d], P[..., d:]
    su = sig(u)
    th1 = torch.einsum("...ki,...kj->...ij", p, su) / w1
    b1 = p.sum(-2) / wb1
    th2 = torch.einsum("...ki,...kj->...ij", r, q) / w2
    b2 = r.sum(-2) / wb2
    th3 = torch.einsum("...ki,...kj->...ij", r, su) / w3
    return th1, b1, th2, b2, th3


def updown_velocity(X: torch.Tensor, theta, state_dim: int, activation: str = "tanh"):
    """The UpDown field ``(x', v') = (theta1 s(v) + b1, theta2 x + b2 + theta3 s(v))`` at the
    points ``X`` of shape ``(..., N, S)``; ``theta`` as from :func:`updown_theta`."""
    sig, _ = _activation(activation)
    th1, b1, th2, b2, th3 = theta
    x, sv = X[..., :state_dim], sig(X[..., state_dim:])
    xd = torch.einsum("...nj,...ij->...ni", sv, th1) + b1.unsqueeze(-2)
    vd = (torch.einsum("...nj,...ij->...ni", x, th2) + b2.unsqueeze(-2)
          + torch.einsum("...nj,...ij->...ni", sv, th3))
    return torch.cat([xd, vd], dim=-1)


def updown_penalty(theta, penalty_weights=DEFAULT_WEIGHTS) -> torch.Tensor:
    """``R(theta) = 1/2 sum_k w_k ||theta_k||^2``, shape ``(...)``."""
    w = _weights(penalty_weights)
    sums = [(t ** 2).flatten(t.dim() - n).sum(-1) for t, n in zip(theta, (2, 1, 2, 1, 2))]
    return 0.5 * sum(wk * s for wk, s in zip(w, sums))


def updown_hamiltonian(Q, P, state_dim: int, activation: str = "tanh",
                       penalty_weights=DEFAULT_WEIGHTS) -> torch.Tensor:
    """The reduced Hamiltonian ``H(Q, P) = R(theta*(Q, P))`` (conserved by the particle flow),
    shape ``(...)`` for particles of shape ``(..., K, S)``."""
    theta = updown_theta(Q, P, state_dim, activation, penalty_weights)
    return updown_penalty(theta, penalty_weights)


def updown_shooting_explicit(Q, P, state_dim: int, activation: str = "tanh",
                             penalty_weights=DEFAULT_WEIGHTS):
    """The hand-derived shooting equations of the particles (spec §1.4).

    Returns ``(dQ/dt, dP/dt, theta)`` with ``dQ/dt``, ``dP/dt`` of the shape of ``Q`` and ``P``,
    ``(..., K, S)``::

        q' = theta1 s(u) + b1           u' = theta2 q + b2 + theta3 s(u)
        p' = -theta2^T r                r' = -s'(u) * (theta1^T p + theta3^T r)
    """
    _, dsig = _activation(activation)
    d = state_dim
    theta = updown_theta(Q, P, d, activation, penalty_weights)
    th1, _, th2, _, th3 = theta
    p, r, u = P[..., :d], P[..., d:], Q[..., d:]
    dQ = updown_velocity(Q, theta, d, activation)
    dp = -torch.einsum("...kD,...Di->...ki", r, th2)
    dr = -dsig(u) * (torch.einsum("...ki,...iD->...kD", p, th1)
                     + torch.einsum("...kE,...ED->...kD", r, th3))
    return dQ, torch.cat([dp, dr], dim=-1), theta


def hamiltonian_shooting_autodiff(field_fn, theta_shapes, penalty_weights, Q, P,
                                  create_graph: bool = True):
    """Shooting equations of any linear-in-parameter field with a quadratic penalty, by autograd
    (paper App. C): no hand derivation.

    With ``R = 1/2 sum_k w_k ||theta_k||^2`` and ``f`` linear in ``theta``, the compatibility
    condition ``dR/dtheta = sum_j df(Q_j)/dtheta^T P_j`` solves to ``theta*_k = (1/w_k) d/d theta_k
    [sum_j P_j . f(Q_j; theta)]`` (a gradient that does not depend on ``theta``, taken at 0).
    Then ``H = sum_j P_j . f(Q_j; theta*) - R(theta*)``, ``Q' = dH/dP``, ``P' = -dH/dQ``.

    Parameters
    ----------
    field_fn : callable
        ``field_fn(X, theta) -> dX/dt`` for points ``X`` of shape ``(..., K, S)`` and ``theta`` a
        tuple of tensors of shapes ``(..., *theta_shapes[k])``; must be linear in ``theta``.
    theta_shapes : sequence of tuples
        Shape of each parameter block (without leading batch dims).
    penalty_weights : sequence of float
        ``w_k`` per block, positive.
    Q, P : tensor, shape (..., K, S)
        Particle positions and momenta.
    create_graph : bool
        Keep the graph of the derivatives (needed to differentiate the flow, e.g. for training).

    Returns
    -------
    dQ, dP : tensors of shape (..., K, S); H : tensor of shape (...); theta : tuple
    """
    w = [float(x) for x in penalty_weights]
    if len(w) != len(theta_shapes) or not all(math.isfinite(x) and x > 0 for x in w):
        raise ValueError("penalty_weights must hold one positive weight per theta block, got "
                         f"{penalty_weights!r} for {len(theta_shapes)} blocks")
    batch = Q.shape[:-2]
    with torch.enable_grad():
        Q = Q if Q.requires_grad else Q.detach().requires_grad_(True)
        P = P if P.requires_grad else P.detach().requires_grad_(True)
        zeros = [torch.zeros(*batch, *s, dtype=Q.dtype, device=Q.device, requires_grad=True)
                 for s in theta_shapes]
        pairing0 = (P * field_fn(Q, tuple(zeros))).sum()
        grads = torch.autograd.grad(pairing0, zeros, create_graph=True)
        theta = tuple(g / wk for g, wk in zip(grads, w))
        pen = 0.5 * sum(wk * (t ** 2).reshape(*batch, -1).sum(-1) for wk, t in zip(w, theta))
        H = (P * field_fn(Q, theta)).sum((-2, -1)) - pen
        dHdQ, dHdP = torch.autograd.grad(H.sum(), (Q, P), create_graph=create_graph)
    return dHdP, -dHdQ, H, theta


def updown_shooting_autodiff(Q, P, state_dim: int, activation: str = "tanh",
                             penalty_weights=DEFAULT_WEIGHTS, create_graph: bool = True):
    """The UpDown shooting equations from :func:`hamiltonian_shooting_autodiff`; same return as
    :func:`updown_shooting_explicit` (``(dQ, dP, theta)``)."""
    d = state_dim
    D = Q.shape[-1] - d
    shapes = [(d, D), (d,), (D, d), (D,), (D, D)]

    def f(X, theta):
        return updown_velocity(X, theta, d, activation)

    dQ, dP, _, theta = hamiltonian_shooting_autodiff(f, shapes, _weights(penalty_weights), Q, P,
                                                     create_graph=create_graph)
    return dQ, dP, theta


class ShootingField(VectorField, PyroModule):
    """UpDown vector field whose parameters ``theta(t)`` are driven by K shooting particles.

    The data and the particles are integrated **jointly**: the ODE state is the augmented array
    ``z`` of shape ``(..., 2K + N, S)`` (``S = (alpha + 1) d``) whose rows are

    - ``z[..., :K, :]``: particle positions ``Q_j = (q_j, u_j)``,
    - ``z[..., K:2K, :]``: particle momenta ``P_j = (p_j, r_j)``,
    - ``z[..., 2K:, :]``: the N data points ``(x_i, v_i)``, passive (they do not drive theta).

    so ``probdyn.dynamics.solve(field, field.initial_state(x), t)`` solves the whole system;
    :meth:`flow` does this and returns the data trajectories only. The particles' initial
    positions and momenta (``q0``, ``p0``) and the affine ``v(0)`` map (``v0_weight``,
    ``v0_bias``) are the free parameters; the module is a ``PyroModule``, so a prior can replace
    any of them (``field.p0 = PyroSample(dist.Normal(0., .1).expand([K, S]).to_event(2))``).
    The remaining ``nn.Parameter`` s are read from the module itself (not Pyro's global param
    store, where names would collide between fields); for SVI register them with
    ``pyro.module("field", field)`` in the model.

    Parameters
    ----------
    state_dim : int
        d, the dimension of the data ``x``.
    num_particles : int
        K >= 1.
    alpha : int
        Inflation factor >= 1: ``v`` has ``D = alpha d`` dims.
    variant : {"dynamic", "static"}
        ``"dynamic"`` (the paper's method): the particles follow the shooting equations and
        ``theta(t)`` changes in time. ``"static"``: the particles do not move (their derivative is
        0), so ``theta`` is ``theta*(particles at t = 0)`` for the whole flow.
    activation : {"tanh", "relu", "softplus", "sigmoid"}
        sigma of the UpDown model (the paper uses ReLU; tanh gives a smooth Hamiltonian flow).
    penalty_weights : 5 floats
        ``(w1, wb1, w2, wb2, w3)`` of ``R``; default ``(1, 1, 1, 1, 10)``.
    shooting : {"explicit", "autodiff"}
        Hand-derived particle equations, or Hamilton's equations by autograd (slower; App. C).
    v0 : {"affine", "zero"}
        ``v_i(0) = Theta12 x_i + b12`` (learned, ``alpha d (d + 1)`` parameters) or 0.
    position_range : (float, float)
        Initial particle positions (q and u) are uniform on this interval.
    momentum_scale : float
        Initial particle momenta are ``N(0, momentum_scale^2)``.
    seed : int
        Seed of the initialisation.

    Notes
    -----
    ``num_free_parameters`` counts ``2 K (alpha + 1) d + alpha d (d + 1)`` (with the affine
    map), the paper's count; it equals ``sum(p.numel() for p in field.parameters())``.
    """

    def __init__(self, state_dim: int, num_particles: int = 15, alpha: int = 8, *,
                 variant: str = "dynamic", activation: str = "tanh",
                 penalty_weights=DEFAULT_WEIGHTS, shooting: str = "explicit",
                 v0: str = "affine", position_range=(-1.5, 1.5), momentum_scale: float = 0.1,
                 seed: int = 0):
        super().__init__()
        self.state_dim = d = _positive_int(state_dim, "state_dim")
        self.num_particles = K = _positive_int(num_particles, "num_particles")
        self.alpha = _positive_int(alpha, "alpha")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if shooting not in SHOOTING:
            raise ValueError(f"shooting must be one of {SHOOTING}, got {shooting!r}")
        if v0 not in ("affine", "zero"):
            raise ValueError(f"v0 must be 'affine' or 'zero', got {v0!r}")
        _activation(activation)
        self.variant, self.shooting, self.activation, self.v0 = variant, shooting, activation, v0
        self.penalty_weights = _weights(penalty_weights)
        lo, hi = (float(x) for x in position_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"position_range must be finite (low, high) with low < high, got "
                             f"{position_range!r}")
        if not (math.isfinite(momentum_scale) and momentum_scale >= 0):
            raise ValueError(f"momentum_scale must be >= 0, got {momentum_scale!r}")
        self.D = D = self.alpha * d
        self.S = S = d + D
        self.state_shape = (None, S)
        g = torch.Generator().manual_seed(int(seed))
        dtype = torch.get_default_dtype()
        self.q0 = nn.Parameter(lo + (hi - lo) * torch.rand(K, S, generator=g, dtype=dtype))
        self.p0 = nn.Parameter(momentum_scale * torch.randn(K, S, generator=g, dtype=dtype))
        if v0 == "affine":  # nn.Linear's default init: U(-1/sqrt(d), 1/sqrt(d))
            bound = 1.0 / math.sqrt(d)
            self.v0_weight = nn.Parameter(bound * (2 * torch.rand(D, d, generator=g,
                                                                  dtype=dtype) - 1))
            self.v0_bias = nn.Parameter(bound * (2 * torch.rand(D, generator=g, dtype=dtype) - 1))

    @property
    def num_free_parameters(self) -> int:
        """The paper's parameter count, ``2 K (alpha + 1) d [+ alpha d (d + 1)]``."""
        return updown_parameter_count(self.num_particles, self.alpha, self.state_dim,
                                      "particles", self.v0)

    def _get(self, name: str) -> torch.Tensor:
        # An nn.Parameter is read from this module itself: inside a Pyro context PyroModule
        # would look it up in the global param store by name, where another field's "q0" may
        # live. A PyroSample prior is drawn as a sample site.
        if name in self._parameters:
            return self._parameters[name]
        return getattr(self, name)

    # -- the augmented state ---------------------------------------------------------------
    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """The augmented state at t = 0 for data ``x`` of shape ``(..., N, d)``: returns
        ``(..., 2K + N, S)`` (particles broadcast over the leading dims)."""
        x = torch.as_tensor(x)
        if x.dim() < 2 or x.shape[-1] != self.state_dim:
            raise ValueError(f"x must have shape (..., N, {self.state_dim}), got "
                             f"{tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
        with self._pyro_context:  # a PyroSample prior on q0/p0/v0_* is drawn here, once
            q0, p0 = self._get("q0"), self._get("p0")
            x = x.to(q0.dtype)
            if self.v0 == "affine":
                v = x @ self._get("v0_weight").T + self._get("v0_bias")
            else:
                v = x.new_zeros(*x.shape[:-1], self.D)
        batch = x.shape[:-2]
        parts = [q0.expand(*batch, *q0.shape), p0.expand(*batch, *p0.shape),
                 torch.cat([x, v], dim=-1)]
        return torch.cat(parts, dim=-2)

    def split(self, z: torch.Tensor):
        """``(Q, P, X)`` of the augmented state ``z`` (shapes ``(..., K, S)`` twice and
        ``(..., N, S)``)."""
        K = self.num_particles
        if z.dim() < 2 or z.shape[-1] != self.S or z.shape[-2] < 2 * K:
            raise ValueError(f"state must have shape (..., 2K + N, {self.S}) with K = {K}, got "
                             f"{tuple(z.shape)}")
        return z[..., :K, :], z[..., K:2 * K, :], z[..., 2 * K:, :]

    # -- dynamics --------------------------------------------------------------------------
    def particle_rhs(self, Q, P):
        """``(dQ/dt, dP/dt, theta)`` of the particles (explicit or autodiff equations)."""
        if self.shooting == "explicit":
            return updown_shooting_explicit(Q, P, self.state_dim, self.activation,
                                            self.penalty_weights)
        return updown_shooting_autodiff(Q, P, self.state_dim, self.activation,
                                        self.penalty_weights,
                                        create_graph=torch.is_grad_enabled())

    def theta(self, z: torch.Tensor) -> tuple:
        """``theta(t) = (theta1, b1, theta2, b2, theta3)`` for the state ``z`` at time t."""
        Q, P, _ = self.split(z)
        return updown_theta(Q, P, self.state_dim, self.activation, self.penalty_weights)

    def hamiltonian(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """``H = R(theta*)`` of the particles of ``z`` (default: the initial particles), shape
        ``(...)``. ``T * hamiltonian()`` is the time integral of the penalty for the dynamic
        variant (H is conserved); use it as the norm term of the training loss. With a prior
        on the particles, pass the solved state (``z[..., 0, :, :]``) so the sample site is
        drawn only once, in :meth:`initial_state`."""
        if z is None:
            with self._pyro_context:
                Q, P = self._get("q0"), self._get("p0")
        else:
            Q, P, _ = self.split(z)
        return updown_hamiltonian(Q, P, self.state_dim, self.activation, self.penalty_weights)

    def integrated_penalty(self, t_end: float, z: torch.Tensor | None = None) -> torch.Tensor:
        """``int_0^t_end R(theta(t)) dt = t_end * H``: R is constant along the flow (conserved
        for the dynamic variant, frozen for the static one). ``z`` as in :meth:`hamiltonian`.
        The same penalty as :meth:`DirectUpDownField.integrated_penalty`, so all four UpDown
        variants train under one loss."""
        t_end = float(t_end)
        if not (math.isfinite(t_end) and t_end >= 0):
            raise ValueError(f"t_end must be a finite time >= 0, got {t_end!r}")
        return t_end * self.hamiltonian(z)

    def forward(self, t, z):
        Q, P, X = self.split(z)
        if self.variant == "static":
            theta = updown_theta(Q, P, self.state_dim, self.activation, self.penalty_weights)
            dQ, dP = torch.zeros_like(Q), torch.zeros_like(P)
        else:
            dQ, dP, theta = self.particle_rhs(Q, P)
        dX = updown_velocity(X, theta, self.state_dim, self.activation)
        return torch.cat([dQ, dP, dX], dim=-2)

    def flow(self, x: torch.Tensor, t, *, return_state: bool = False, **solve_kwargs):
        """Data trajectories ``x_i(t)``: shape ``(..., N, T, d)`` (trajectory, time, channel) for
        ``x`` of shape ``(..., N, d)`` and a 1-D time grid ``t`` of length T starting at 0.
        ``solve_kwargs`` go to :func:`probdyn.dynamics.solve` (method, rtol, step_size, ...).
        With ``return_state=True`` also returns the augmented solution ``(..., T, 2K + N, S)``
        (particles included)."""
        from ._solve import solve

        z = solve(self, self.initial_state(x), t, **solve_kwargs)  # (..., T, 2K + N, S)
        xs = z[..., 2 * self.num_particles:, :self.state_dim].transpose(-3, -2)
        return (xs, z) if return_state else xs
