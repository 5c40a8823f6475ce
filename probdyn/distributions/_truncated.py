"""A normal distribution truncated below: the prior of Stan's ``real<lower=L> x ~ normal()``."""

from __future__ import annotations

import math

import torch
from pyro.distributions import TorchDistribution, constraints
from torch.distributions.utils import broadcast_all


class LowerTruncatedNormal(TorchDistribution):
    """``Normal(loc, scale)`` restricted to ``(low, inf)`` and renormalised.

    ``log_prob(x) = log N(x | loc, scale) - log(1 - Phi((low - loc) / scale))``; sampling by
    the inverse CDF (reparametrised). Shapes broadcast; ``low`` defaults to 0 (positive
    parameters with a normal prior, as in Stan's lower-bounded parameters).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    has_rsample = True

    def __init__(self, loc, scale, low=0.0, validate_args=None):
        self.loc, self.scale, self.low = broadcast_all(loc, scale, low)
        if not torch.isfinite(self.low).all():
            raise ValueError("low must be finite")
        if (self.scale <= 0).any() or not torch.isfinite(self.scale).all():
            raise ValueError("scale must be positive and finite")
        self._alpha = (self.low - self.loc) / self.scale
        # log(1 - Phi(alpha)) computed as log Phi(-alpha) stably (special.log_ndtr)
        self._log_mass = torch.special.log_ndtr(-self._alpha)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than(self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        lp = -0.5 * z**2 - math.log(math.sqrt(2 * math.pi)) - torch.log(self.scale)
        return lp - self._log_mass

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(torch.Size(sample_shape))
        u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        lo = torch.special.ndtr(self._alpha)
        p = lo + u * (1 - lo)
        z = torch.special.ndtri(p.clamp(torch.finfo(p.dtype).tiny, 1 - torch.finfo(p.dtype).eps))
        return torch.maximum(self.loc + self.scale * z, self.low)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LowerTruncatedNormal, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc, new.scale, new.low = (x.expand(batch_shape) for x in
                                       (self.loc, self.scale, self.low))
        new._alpha = self._alpha.expand(batch_shape)
        new._log_mass = self._log_mass.expand(batch_shape)
        super(LowerTruncatedNormal, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        # E[X] = loc + scale * phi(alpha) / (1 - Phi(alpha))
        log_phi = -0.5 * self._alpha**2 - 0.5 * math.log(2 * math.pi)
        return self.loc + self.scale * torch.exp(log_phi - self._log_mass)
