"""Adapters: nflows transforms and torch / Pyro transforms as probdyn flows."""

import torch
from nflows.transforms.base import Transform as NflowsBase
from torch import nn
from torch.distributions import ComposeTransform, Transform

from ._base import Flow


def _diagonal_log_det(fn, x):
    """log|d fn(x)_i / d x_i| for a map with a diagonal Jacobian: one vector-Jacobian product
    with ones gives the column sums, which are the diagonal (differentiable, create_graph)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True) if not x.requires_grad else x
        out = fn(x)
        (diag,) = torch.autograd.grad(out, x, torch.ones_like(out), create_graph=True)
    return out, torch.log(diag.abs())


class NflowsTransform(Flow):
    """Any nflows ``Transform`` (``forward(inputs) -> (outputs, logabsdet)``) as a flow.

    Parameters
    ----------
    transform : nflows.transforms.Transform
        Works on (batch, N) inputs; it is registered as a submodule (its parameters train).
    num_series : int
    direction : {"forward", "inverse"}
        ``"forward"``: nflows' ``forward`` is ``z -> y`` (noise to data). ``"inverse"``: its
        ``forward`` maps data to noise, as the ``_transform`` of an nflows ``Flow`` does.
    elementwise : bool
        Declare that the transform acts on each coordinate separately (e.g. nflows'
        ``PiecewiseRationalQuadraticCDF``); per-entry log-derivatives are then taken from one
        vector-Jacobian product, which is exact for a diagonal Jacobian.
    """

    def __init__(self, transform, num_series, direction="forward", elementwise=False):
        if not isinstance(transform, NflowsBase):
            raise ValueError(f"transform must be an nflows Transform, got {type(transform)}")
        if direction not in ("forward", "inverse"):
            raise ValueError(f"direction must be 'forward' or 'inverse', got {direction!r}")
        super().__init__(num_series)
        self.transform = transform
        self.direction = direction
        self.elementwise = bool(elementwise)

    def _run(self, x, to_data):
        flat = x.reshape(-1, self.num_series)
        use_forward = to_data == (self.direction == "forward")
        out, ld = (self.transform.forward if use_forward else self.transform.inverse)(flat)
        return out.reshape(x.shape), ld.reshape(x.shape[:-1])

    def _forward_log_det(self, z):
        return self._run(z, to_data=True)

    def _inverse_log_det(self, y):
        return self._run(y, to_data=False)

    def _forward_elementwise(self, z):
        return _diagonal_log_det(lambda x: self._run(x, to_data=True)[0], z)

    def _inverse_elementwise(self, y):
        return _diagonal_log_det(lambda x: self._run(x, to_data=False)[0], y)


class TorchTransformFlow(Flow):
    """A ``torch.distributions.Transform`` (Pyro's, or zuko's, which are torch transforms too)
    as a flow.

    The transform maps ``z -> y``; it must be bijective with event dim 0 (element-wise, e.g.
    ``pyro.distributions.transforms.Spline``) or 1 (e.g. Pyro's ``AffineCoupling``). Parts that
    are ``nn.Module`` s are registered, so their parameters train.

    Parameters
    ----------
    transform : torch.distributions.Transform
    num_series : int
    elementwise : bool, optional
        Default: True exactly when the transform has event dim 0.
    """

    def __init__(self, transform, num_series, elementwise=None):
        if not isinstance(transform, Transform):
            raise ValueError(f"transform must be a torch Transform, got {type(transform)}")
        if not transform.bijective:
            raise ValueError(f"transform {transform} is not bijective: the NKF needs f^-1")
        event_dim = transform.domain.event_dim
        if event_dim not in (0, 1) or transform.codomain.event_dim != event_dim:
            raise ValueError(f"transform must have event dim 0 or 1 on both sides, got domain "
                             f"{transform.domain} and codomain {transform.codomain}")
        super().__init__(num_series)
        self.base = transform
        parts = transform.parts if isinstance(transform, ComposeTransform) else [transform]
        self.modules_ = nn.ModuleList([p for p in parts if isinstance(p, nn.Module)])
        self.base_event_dim = event_dim
        self.elementwise = (event_dim == 0) if elementwise is None else bool(elementwise)
        if self.elementwise and event_dim != 0:
            raise ValueError("elementwise=True needs a transform with event dim 0")

    def _per_entry(self, z, y):
        ld = self.base.log_abs_det_jacobian(z, y)
        return ld.expand(z.shape) if self.base_event_dim == 0 else ld

    def _forward_log_det(self, z):
        y = self.base(z)
        ld = self._per_entry(z, y)
        return y, ld.sum(-1) if self.base_event_dim == 0 else ld

    def _inverse_log_det(self, y):
        z = self.base.inv(y)
        ld = -self._per_entry(z, y)
        return z, ld.sum(-1) if self.base_event_dim == 0 else ld

    def _forward_elementwise(self, z):
        y = self.base(z)
        return y, self._per_entry(z, y)

    def _inverse_elementwise(self, y):
        z = self.base.inv(y)
        return z, -self._per_entry(z, y)


def as_flow(flow, num_series: int) -> Flow:
    """Return ``flow`` as a :class:`Flow` of ``num_series`` series: probdyn flows unchanged,
    nflows transforms through :class:`NflowsTransform`, torch / Pyro transforms through
    :class:`TorchTransformFlow`."""
    if isinstance(flow, Flow):
        if flow.num_series != num_series:
            raise ValueError(f"flow has num_series = {flow.num_series}, but the state-space "
                             f"model has N = {num_series} observed series")
        return flow
    if isinstance(flow, NflowsBase):
        return NflowsTransform(flow, num_series)
    if isinstance(flow, Transform):
        return TorchTransformFlow(flow, num_series)
    raise ValueError(f"flow must be a probdyn Flow, an nflows Transform or a torch Transform, "
                     f"got {type(flow)}")
