"""Base class of probdyn's observation flows: invertible maps of R^N, one row per time step."""

import torch
from pyro.distributions import constraints
from pyro.distributions.torch_transform import TransformModule


def _check_last_dim(name: str, value: torch.Tensor, num_series: int) -> None:
    if value.dim() < 1 or value.shape[-1] != num_series:
        raise ValueError(
            f"{name} must have shape (..., {num_series}) (last dim = num_series), "
            f"got {tuple(value.shape)}"
        )


class Flow(TransformModule):
    """An invertible map ``y = f(z)`` of ``R^N`` applied to each row (time step) of a series.

    A ``torch.distributions.Transform`` (``forward`` / ``__call__``: z -> y, ``inv``,
    ``log_abs_det_jacobian(z, y)`` = log|det dy/dz|) that is also an ``nn.Module``, so its
    parameters train with any torch optimiser or Pyro's ``pyro.module``. ``domain`` and
    ``codomain`` are ``real_vector`` (event dim 1); every leading dim (time, samples, batch) is
    a batch dim.

    Subclasses implement ``_forward_log_det(z)`` and ``_inverse_log_det(y)``, each returning the
    output and the log|det| of the Jacobian of the map applied, shape (...). Element-wise
    flows (``elementwise = True``: ``y_i = u_i(z_i)``) also implement
    ``_forward_elementwise`` / ``_inverse_elementwise`` returning the per-entry
    log|derivatives| (..., N); only these let a Kalman filter marginalise single missing entries
    exactly.

    Parameters
    ----------
    num_series : int
        N, the dimension of one observation.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    elementwise = False

    def __init__(self, num_series: int):
        super().__init__(cache_size=0)
        if int(num_series) != num_series or num_series < 1:
            raise ValueError(f"num_series must be a positive integer, got {num_series}")
        self.num_series = int(num_series)

    # -------------------------------------------------------------- subclass API
    def _forward_log_det(self, z):
        if self.elementwise:
            y, ld = self._forward_elementwise(z)
            return y, ld.sum(-1)
        raise NotImplementedError

    def _inverse_log_det(self, y):
        if self.elementwise:
            z, ld = self._inverse_elementwise(y)
            return z, ld.sum(-1)
        raise NotImplementedError

    def _forward_elementwise(self, z):
        raise NotImplementedError(f"{type(self).__name__} is not element-wise")

    def _inverse_elementwise(self, y):
        raise NotImplementedError(f"{type(self).__name__} is not element-wise")

    # ------------------------------------------------------------ public methods
    def forward_and_log_det(self, z: torch.Tensor):
        """``(y, log|det dy/dz|)`` with shapes (..., N) and (...)."""
        _check_last_dim("z", z, self.num_series)
        return self._forward_log_det(z)

    def inverse_and_log_det(self, y: torch.Tensor):
        """``(z, log|det dz/dy|)`` = (f^{-1}(y), log|det J_{f^{-1}}(y)|), shapes (..., N), (...)."""
        _check_last_dim("y", y, self.num_series)
        return self._inverse_log_det(y)

    def inverse_and_log_det_elementwise(self, y: torch.Tensor):
        """Element-wise flows only: ``(z, log|dz_i/dy_i|)``, both of shape (..., N)."""
        if not self.elementwise:
            raise ValueError(f"{type(self).__name__} mixes the series (elementwise=False)")
        _check_last_dim("y", y, self.num_series)
        return self._inverse_elementwise(y)

    def forward_and_log_det_elementwise(self, z: torch.Tensor):
        """Element-wise flows only: ``(y, log|dy_i/dz_i|)``, both of shape (..., N)."""
        if not self.elementwise:
            raise ValueError(f"{type(self).__name__} mixes the series (elementwise=False)")
        _check_last_dim("z", z, self.num_series)
        return self._forward_elementwise(z)

    # ---------------------------------------------------- torch Transform protocol
    def _call(self, z):
        return self.forward_and_log_det(z)[0]

    def _inverse(self, y):
        return self.inverse_and_log_det(y)[0]

    def log_abs_det_jacobian(self, z, y):
        return self.forward_and_log_det(z)[1]

    def extra_repr(self) -> str:
        return f"num_series={self.num_series}, elementwise={self.elementwise}"


class IdentityFlow(Flow):
    """``f(z) = z``: the NKF with this flow is the linear-Gaussian state-space model."""

    elementwise = True

    def _forward_elementwise(self, z):
        return z, torch.zeros_like(z)

    def _inverse_elementwise(self, y):
        return y, torch.zeros_like(y)


class ComposeFlow(Flow):
    """``f = f_K o ... o f_1``: ``flows[0]`` is applied to ``z`` first.

    Element-wise when every part is (e.g. an affine map followed by a spline).
    """

    def __init__(self, *flows: Flow):
        if not flows:
            raise ValueError("ComposeFlow needs at least one flow")
        sizes = {f.num_series for f in flows}
        if len(sizes) != 1:
            raise ValueError(f"flows have different num_series: {[f.num_series for f in flows]}")
        super().__init__(sizes.pop())
        self.flows = torch.nn.ModuleList(flows)
        self.elementwise = all(f.elementwise for f in flows)

    def _forward_log_det(self, z):
        total = 0.0
        for f in self.flows:
            z, ld = f.forward_and_log_det(z)
            total = total + ld
        return z, total

    def _inverse_log_det(self, y):
        total = 0.0
        for f in reversed(self.flows):
            y, ld = f.inverse_and_log_det(y)
            total = total + ld
        return y, total

    def _forward_elementwise(self, z):
        total = torch.zeros_like(z)
        for f in self.flows:
            z, ld = f.forward_and_log_det_elementwise(z)
            total = total + ld
        return z, total

    def _inverse_elementwise(self, y):
        total = torch.zeros_like(y)
        for f in reversed(self.flows):
            y, ld = f.inverse_and_log_det_elementwise(y)
            total = total + ld
        return y, total
