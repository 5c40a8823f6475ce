"""Element-wise (per-series, monotone) flows: y_i = u_i(z_i).

With these, a missing single entry y_{t,i} is marginalised exactly by the Kalman filter on
z = f^{-1}(y): the observed entries are inverted one by one and only their log-derivatives
enter the likelihood.
"""

import math

import numpy as np
import torch
from nflows.transforms.splines import rational_quadratic as rq
from nflows.transforms.splines.rational_quadratic import unconstrained_rational_quadratic_spline
from torch import nn

from ._base import Flow


def _per_series(name: str, value, num_series: int, default: float) -> torch.Tensor:
    if value is None:
        return torch.full((num_series,), float(default))
    value = torch.as_tensor(value, dtype=torch.get_default_dtype()).clone()
    if value.dim() == 0:
        value = value.expand(num_series).clone()
    if value.shape != (num_series,):
        raise ValueError(f"{name} must be a scalar or have shape ({num_series},), "
                         f"got {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return value


class ElementwiseAffine(Flow):
    """``y_i = loc_i + scale_i * z_i`` with ``scale_i > 0`` (learnable ``loc`` and
    ``log_scale``, shapes (N,)).

    An NKF with this flow is a linear-Gaussian model with rescaled emission and noise, which
    is how it is tested.

    Parameters
    ----------
    num_series : int
    loc, scale : float or (N,) tensor, optional
        Initial values (0 and 1: the identity). ``scale`` must be positive (in units of y per
        unit of z).
    """

    elementwise = True

    def __init__(self, num_series, loc=None, scale=None):
        super().__init__(num_series)
        scale = _per_series("scale", scale, self.num_series, 1.0)
        if (scale <= 0).any():
            raise ValueError(f"scale must be positive (the map must be invertible), got {scale}")
        self.loc = nn.Parameter(_per_series("loc", loc, self.num_series, 0.0))
        self.log_scale = nn.Parameter(torch.log(scale))

    def _forward_elementwise(self, z):
        y = self.loc + torch.exp(self.log_scale) * z
        return y, self.log_scale.expand(z.shape)

    def _inverse_elementwise(self, y):
        z = (y - self.loc) * torch.exp(-self.log_scale)
        return z, (-self.log_scale).expand(y.shape)


def _log_cosh(x):
    # log cosh x = |x| + log1p(exp(-2|x|)) - log 2, without overflow for large |x|
    a = x.abs()
    return a + torch.log1p(torch.exp(-2 * a)) - math.log(2.0)


class SinhArcsinh(Flow):
    """Sinh-arcsinh map per series (Jones & Pewsey 2009), for skewed and heavy/light tails:

    ``y_i = loc_i + scale_i * sinh(tailweight_i * asinh(z_i) + skew_i)``

    ``tailweight > 1`` gives lighter tails than the Gaussian, ``< 1`` heavier ones. Learnable
    ``loc``, ``log_scale``, ``skew``, ``log_tailweight`` (shapes (N,)), all starting at the
    identity map.
    """

    elementwise = True

    def __init__(self, num_series):
        super().__init__(num_series)
        n = self.num_series
        self.loc = nn.Parameter(torch.zeros(n))
        self.log_scale = nn.Parameter(torch.zeros(n))
        self.skew = nn.Parameter(torch.zeros(n))
        self.log_tailweight = nn.Parameter(torch.zeros(n))

    def _forward_elementwise(self, z):
        tail = torch.exp(self.log_tailweight)
        v = tail * torch.asinh(z) + self.skew
        y = self.loc + torch.exp(self.log_scale) * torch.sinh(v)
        ld = self.log_scale + self.log_tailweight + _log_cosh(v) - 0.5 * torch.log1p(z * z)
        return y, ld

    def _inverse_elementwise(self, y):
        tail = torch.exp(self.log_tailweight)
        v = torch.asinh((y - self.loc) * torch.exp(-self.log_scale))
        u = (v - self.skew) / tail
        z = torch.sinh(u)
        ld = -(self.log_scale + self.log_tailweight + _log_cosh(v)) + _log_cosh(u)
        return z, ld


class ElementwiseSpline(Flow):
    """Monotone rational-quadratic spline per series (Durkan et al. 2019), via nflows'
    ``unconstrained_rational_quadratic_spline``.

    On ``[-tail_bound, tail_bound]`` each ``u_i`` is a spline with ``num_bins`` bins; outside it
    is the identity (linear tails, continuous derivative 1). Parameters ``widths``,
    ``heights`` (N, num_bins) and ``derivatives`` (N, num_bins - 1) start at the identity.
    Standardise the data (or compose with :class:`ElementwiseAffine`) so that it falls inside
    the interval.

    Parameters
    ----------
    num_series : int
    num_bins : int
    tail_bound : float
        Half-width B > 0 of the interval (units of z and y).
    """

    elementwise = True

    def __init__(self, num_series, num_bins=8, tail_bound=5.0):
        super().__init__(num_series)
        if int(num_bins) != num_bins or num_bins < 2:
            raise ValueError(f"num_bins must be an integer >= 2, got {num_bins}")
        if not tail_bound > 0:
            raise ValueError(f"tail_bound must be positive, got {tail_bound}")
        n, k = self.num_series, int(num_bins)
        self.num_bins, self.tail_bound = k, float(tail_bound)
        self.widths = nn.Parameter(torch.zeros(n, k))
        self.heights = nn.Parameter(torch.zeros(n, k))
        # softplus(c) + min_derivative = 1 at every interior knot: the identity
        c = float(np.log(np.exp(1 - rq.DEFAULT_MIN_DERIVATIVE) - 1))
        self.derivatives = nn.Parameter(torch.full((n, k - 1), c))

    def _spline(self, x, inverse):
        shape = x.shape + (self.num_bins,)
        w = self.widths.expand(shape)
        h = self.heights.expand(shape)
        d = self.derivatives.expand(x.shape + (self.num_bins - 1,))
        # nflows writes into its derivative tensor: give it a private copy
        return unconstrained_rational_quadratic_spline(
            x, w, h, d.clone(), inverse=inverse, tails="linear", tail_bound=self.tail_bound)

    def _forward_elementwise(self, z):
        return self._spline(z, inverse=False)

    def _inverse_elementwise(self, y):
        return self._spline(y, inverse=True)

    def extra_repr(self) -> str:
        return (f"num_series={self.num_series}, num_bins={self.num_bins}, "
                f"tail_bound={self.tail_bound}")
