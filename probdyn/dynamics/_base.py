"""Vector fields: the common interface of every ODE right-hand side in probdyn."""

import torch
from torch import nn


class VectorField(nn.Module):
    """Right-hand side ``dx/dt = f(t, x)`` of an ODE, as an ``nn.Module``.

    Subclasses implement :meth:`forward`. The state ``x`` has shape ``(..., *state_shape)``:
    leading dims are a batch of trajectories, the trailing ones the state itself (``(d,)`` for
    an ODE, ``(channel, y, x)`` for a field on a grid). ``t`` is a scalar tensor (time units of
    the model). Fields add: ``f + g`` is a :class:`SumField`, the form of hybrid models
    (physics plus a learned correction).
    """

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(t, x)")

    def __add__(self, other: "VectorField") -> "SumField":
        if not isinstance(other, VectorField):
            raise ValueError(f"can only add a VectorField, got {type(other).__name__}")
        return SumField(self, other)


class SumField(VectorField):
    """``f_1(t, x) + ... + f_k(t, x)``; the parts stay reachable as ``fields[i]``."""

    def __init__(self, *fields: VectorField):
        super().__init__()
        if not fields or not all(isinstance(f, VectorField) for f in fields):
            raise ValueError("fields must be one or more VectorField instances")
        flat = []
        for f in fields:  # (f + g) + h keeps a flat list of parts
            flat.extend(f.fields if isinstance(f, SumField) else [f])
        self.fields = nn.ModuleList(flat)

    def forward(self, t, x):
        out = self.fields[0](t, x)
        for f in self.fields[1:]:
            out = out + f(t, x)
        return out
