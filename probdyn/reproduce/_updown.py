"""The four UpDown variants of Vialard et al. (2020) behind one interface, for the shooting
reproductions: build, predict with the integrated penalty, measure the complexity."""

from __future__ import annotations

import torch

from ..dynamics import DirectUpDownField, ShootingField, log_frobenius_complexity

#: the paper's four variants (spec §1.5), in its order
VARIANTS = ("static direct", "static particles", "dynamic particles", "dynamic direct")
#: blocks of the dynamic direct variant (paper: 5)
DIRECT_BLOCKS = 5


def make_updown(variant: str, state_dim: int, alpha: int, num_particles: int,
                time_horizon: float, *, activation: str = "relu", momentum_scale: float = 0.1,
                seed: int = 0):
    """One UpDown model; particle positions ``U[-1.5, 1.5]`` (also their v-parts, which the
    paper leaves open) and momenta ``N(0, momentum_scale^2)`` (paper App. E: 0.1, for K = 15
    particles in 1-D; theta is a sum over the particles, so many large particles need less)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if variant.endswith("direct"):
        blocks = 1 if variant == "static direct" else DIRECT_BLOCKS
        return DirectUpDownField(state_dim, alpha, blocks, time_horizon=time_horizon,
                                 activation=activation, seed=seed)
    return ShootingField(state_dim, num_particles, alpha, activation=activation,
                         variant=variant.split()[0], position_range=(-1.5, 1.5),
                         momentum_scale=momentum_scale, seed=seed)


def predict(field, x: torch.Tensor, t: torch.Tensor, step: float):
    """``(trajectories (N, len(t), d), int_0^t[-1] R dt)`` of a model of :func:`make_updown`,
    RK4 with ``step``."""
    if isinstance(field, ShootingField):
        xs, z = field.flow(x, t, method="rk4", step_size=step, return_state=True)
        return xs, field.integrated_penalty(float(t[-1]), z[0])
    xs = field.flow(x, t, method="rk4", step_size=step)
    return xs, field.integrated_penalty(float(t[-1]))


def particle_parameters(field):
    """The particle positions (frozen during the paper's warm-up), or ``()``."""
    return (field.q0,) if isinstance(field, ShootingField) else ()


@torch.no_grad()
def complexity(field, time_horizon: float, step: float) -> float:
    """The paper's log2 Frobenius complexity of ``theta(t)`` on ``[0, T]`` (the RK4 grid for
    particles; exact per block for the direct variants)."""
    n = max(2, round(time_horizon / step) + 1)
    t = torch.linspace(0.0, time_horizon, n)
    if isinstance(field, ShootingField):
        x = torch.zeros(1, field.state_dim)
        _, z = field.flow(x, t, method="rk4", step_size=step, return_state=True)
        return float(log_frobenius_complexity(field.theta(z), t))
    edges = field.boundaries.float()
    # a point just before each inner edge: the rule is then exact for a piecewise constant path
    t = torch.sort(torch.cat([edges, edges[1:-1] - 1e-6 * time_horizon]))[0]
    return float(log_frobenius_complexity(field.theta(t), t))


def num_parameters(field) -> int:
    """The paper's free-parameter count of the model."""
    return int(field.num_free_parameters)
