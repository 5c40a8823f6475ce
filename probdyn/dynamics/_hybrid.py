"""APHYNITY's hybrid field ``F = F_p + F_a``: physics plus a data-driven augmentation."""

from __future__ import annotations

import torch
from torch import nn

from ._base import VectorField

#: state-norm floor of the ``"l2_normalized"`` penalty (the official APHYNITY code's 1e-5)
NORMALIZED_EPS = 1e-5
NORMS = ("l2", "l2_normalized")


class HybridField(VectorField):
    r"""``F(t, x) = F_p(t, x) + F_a(t, x)``: a physical model and its augmentation (APHYNITY,
    thesis 3.3, S19).

    Parameters
    ----------
    physical : nn.Module
        ``F_p``, usually a :class:`probdyn.physics.PhysicalField` (or any vector field).
    augmentation : nn.Module or None
        ``F_a``, usually an :class:`MLPField` (ODE) or :class:`ConvField` (grid). ``None``
        gives the physics-only model (``F_a = 0``; the "no aug." setting).

    Attributes
    ----------
    physical, augmentation
        The two parts, reachable for inspection and for their parameters.

    Notes
    -----
    Shapes: ``x`` is ``(..., *state_shape)`` and ``forward`` returns the same shape.
    ``state_shape`` is taken from the physical part (else the augmentation) when declared.
    """

    def __init__(self, physical: nn.Module, augmentation: nn.Module | None = None):
        super().__init__()
        if not isinstance(physical, nn.Module):
            raise ValueError(f"physical must be an nn.Module, got {type(physical).__name__}")
        if augmentation is not None and not isinstance(augmentation, nn.Module):
            raise ValueError("augmentation must be an nn.Module or None, got "
                             f"{type(augmentation).__name__}")
        self.physical = physical
        self.augmentation = augmentation
        shape = getattr(physical, "state_shape", None)
        if shape is None and augmentation is not None:
            shape = getattr(augmentation, "state_shape", None)
        self.state_shape = None if shape is None else tuple(shape)

    def forward(self, t, x):
        out = self.physical(t, x)
        if self.augmentation is not None:
            out = out + self.augmentation(t, x)
        return out

    def _channel_dim(self, states: torch.Tensor) -> int:
        # the norm is over the channel (the first state dim), mean over everything else
        ndim = 1 if self.state_shape is None else len(self.state_shape)
        if states.dim() < ndim:
            raise ValueError(f"states must have shape (..., *state_shape) with "
                             f"{ndim} state dim(s), got {tuple(states.shape)}")
        return states.dim() - ndim

    def augmentation_norm(self, states, norm: str = "l2", t=None) -> torch.Tensor:
        r"""Squared empirical L2 norm of ``F_a`` on given states (thesis ``||F_a||^2``).

        ``"l2"``: ``mean ||F_a(x)||^2`` over the states (the norm over the channel / state
        dim, the mean over trajectories, times and grid points; the official code's
        ``min_op='l2'``). ``"l2_normalized"``: ``mean (||F_a(x)|| / (||x|| + 1e-5))^2``
        (its pendulum setting). APHYNITY evaluates it on the ground-truth training states.

        Parameters
        ----------
        states : tensor, shape (..., *state_shape)
            E.g. observed trajectories ``(B, T, *state_shape)``.
        norm : {"l2", "l2_normalized"}
        t : scalar tensor, optional
            Time passed to ``F_a`` (default 0; autonomous fields ignore it).

        Returns
        -------
        tensor, scalar
            Differentiable in ``F_a``'s parameters; 0 without an augmentation.
        """
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        states = torch.as_tensor(states)
        if not torch.isfinite(states).all():
            raise ValueError("states contains NaN or infinite values")
        dim = self._channel_dim(states)
        if self.augmentation is None:
            return states.new_zeros(())
        t = states.new_zeros(()) if t is None else torch.as_tensor(t, dtype=states.dtype)
        sq = (self.augmentation(t, states) ** 2).sum(dim)
        if norm == "l2_normalized":
            sq = sq / ((states ** 2).sum(dim).sqrt() + NORMALIZED_EPS) ** 2
        return sq.mean()
