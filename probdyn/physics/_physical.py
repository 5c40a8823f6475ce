"""Common base of the physical ODE models: named, positive, optionally random parameters."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from pyro.distributions import constraints
from pyro.nn import PyroModule, PyroParam
from torch.distributions import transform_to

from ..dynamics import VectorField

#: int32 max: the official APHYNITY / LEADS generators seed test trajectory i with MAX - i
INT32_MAX = 2**31 - 1
SPLITS = ("train", "test")


class PhysicalField(VectorField, PyroModule):
    """A :class:`~probdyn.dynamics.VectorField` that is a ``PyroModule`` with named physical
    parameters.

    Each parameter is a ``PyroParam`` constrained positive (stored unconstrained through the
    ``exp`` bijection, never clamped), so ``fit_mle`` / SVI keep it positive. Give it a prior
    by replacing it: ``field.alpha = PyroSample(dist.LogNormal(0., 1.))``. A parameter may be
    a tensor of shape ``(B,)``: one value per trajectory of a batch ``x`` of shape ``(B, d)``
    (environments).
    """

    parameter_names: tuple = ()
    _frozen = None

    @contextlib.contextmanager
    def frozen_parameters(self):
        """Read each parameter once and reuse the value in every evaluation inside the block.

        :func:`probdyn.dynamics.solve` enters it for the duration of one solve: reading a
        ``PyroParam``/``PyroSample`` costs far more than evaluating a small field, and a
        sampled parameter must keep one value along a trajectory anyway. Gradients still
        flow to the parameters (the values are not detached).
        """
        # Inside the PyroModule context a PyroSample is drawn once (a named sample site) and
        # cached; outside it every read would be a fresh, untraced draw.
        with self._pyro_context:
            values = {name: self._read(name) for name in self.parameter_names}
            values.update(self._derived(values))
            self._frozen = values
            try:
                yield
            finally:
                self._frozen = None

    def _derived(self, values: dict) -> dict:
        """Tensors computed once per solve from the parameter values (override)."""
        return {}

    def _read(self, name: str) -> torch.Tensor:
        # A PyroParam is read from this module's own unconstrained tensor: inside a Pyro
        # context PyroModule would otherwise look it up in the global param store by name,
        # where another model's "alpha" may already live.
        spec = self.__dict__.get("_pyro_params", {}).get(name)
        if spec is None:  # PyroSample (a sample site in a model), or a plain tensor
            return getattr(self, name)
        return transform_to(spec[0])(self._parameters[f"{name}_unconstrained"])

    def param(self, name: str) -> torch.Tensor:
        """The value of parameter ``name`` (the frozen one inside :meth:`frozen_parameters`)."""
        return self._frozen[name] if self._frozen is not None else self._read(name)

    def _add_positive(self, name: str, value) -> None:
        value = torch.as_tensor(value, dtype=torch.get_default_dtype())
        if not torch.isfinite(value).all() or (value <= 0).any():
            raise ValueError(f"{name} must be positive and finite, got {value.tolist()}")
        setattr(self, name, PyroParam(value.clone(), constraint=constraints.positive))

    def physical_parameters(self) -> dict:
        """Current values by name (sampled ones drawn once), as detached tensors."""
        return {name: self._read(name).detach() for name in self.parameter_names}

    def _check_state(self, x: torch.Tensor) -> None:
        if x.shape[-1:] != self.state_shape:
            raise ValueError(f"x must have shape (..., {self.state_shape[0]}), got "
                             f"{tuple(x.shape)}")


@contextlib.contextmanager
def float64_default():
    """Build fields in float64 (their unconstrained parameters would lose digits in float32:
    ``exp(float32(log 6)) != 6``)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def split_seeds(split: str, seed: int, n: int) -> list:
    """Per-trajectory seeds of the official generators: ``seed + i`` for ``"train"``,
    ``INT32_MAX - (seed + i)`` for ``"test"``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    ids = [int(seed) + i for i in range(n)]
    return ids if split == "train" else [INT32_MAX - i for i in ids]


def check_grid(num_steps, dt) -> None:
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
