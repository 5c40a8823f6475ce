"""Invertible observation maps (normalizing flows) over the series dimension.

Every flow is a ``torch.distributions.Transform`` (z -> y, event dim 1) and an ``nn.Module``.
``elementwise`` says whether it acts on each series separately (then single missing entries
are marginalised exactly by the Normalizing Kalman Filter).
"""

from ._adapters import NflowsTransform, TorchTransformFlow, as_flow
from ._base import ComposeFlow, Flow, IdentityFlow
from ._elementwise import ElementwiseAffine, ElementwiseSpline, SinhArcsinh
from ._realnvp import RealNVP

__all__ = [
    "ComposeFlow",
    "ElementwiseAffine",
    "ElementwiseSpline",
    "Flow",
    "IdentityFlow",
    "NflowsTransform",
    "RealNVP",
    "SinhArcsinh",
    "TorchTransformFlow",
    "as_flow",
]
