"""ODE dynamics: vector fields (neural, physical, hybrid) and their solution."""

from ._base import SumField, VectorField

__all__ = ["SumField", "VectorField"]
