"""Autoregressive component AR(p) in companion form."""

import torch
from pyro.distributions import constraints
from pyro.nn import PyroParam

from ._component import Component, ComponentSystem, check_positive_int, stochastic_variance


def pacf_to_coefficients(pacf: torch.Tensor) -> torch.Tensor:
    """AR coefficients ``phi (..., p)`` from partial autocorrelations ``(..., p)`` in (-1, 1).

    Durbin-Levinson recursion (Barndorff-Nielsen & Schou 1973; Monahan 1984):
    ``phi^(k)_j = phi^(k-1)_j - r_k phi^(k-1)_(k-j)``, ``phi^(k)_k = r_k``. It maps the open
    cube (-1, 1)^p one-to-one onto the stationary region of ``x_t = sum_j phi_j x_(t-j) + e_t``.
    """
    p = pacf.shape[-1]
    phi = pacf[..., :1]
    for k in range(1, p):
        r = pacf[..., k : k + 1]
        phi = torch.cat([phi - r * phi.flip(-1), r], dim=-1)
    return phi


def coefficients_to_pacf(phi: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pacf_to_coefficients`; ``ValueError`` if ``phi`` is not stationary."""
    phi = torch.as_tensor(phi, dtype=torch.float64)
    p = phi.shape[-1]
    out = torch.empty_like(phi)
    for k in range(p - 1, -1, -1):
        r = phi[..., k : k + 1]
        if (r.abs() >= 1).any():
            raise ValueError(f"coefficients {phi.tolist()} are not stationary (the AR "
                             "polynomial has a root on or inside the unit circle)")
        out[..., k : k + 1] = r
        head = phi[..., :k]
        phi = (head + r * head.flip(-1)) / (1 - r * r)
    return out


def companion(phi: torch.Tensor) -> torch.Tensor:
    """Companion matrix (..., p, p): first row ``phi``, identity on the sub-diagonal."""
    p = phi.shape[-1]
    lower = torch.eye(p - 1, p, dtype=phi.dtype, device=phi.device)
    lower = lower.expand(phi.shape[:-1] + lower.shape)
    return torch.cat([phi.unsqueeze(-2), lower], dim=-2)


def stationary_covariance(F: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """Solution ``P`` of the discrete Lyapunov equation ``P = F P F' + Q`` (batched, small d),
    by the vectorised linear system ``(I - F kron F) vec(P) = vec(Q)``."""
    d = F.shape[-1]
    batch = torch.broadcast_shapes(F.shape[:-2], Q.shape[:-2])
    F, Q = F.expand(batch + (d, d)), Q.expand(batch + (d, d))
    kron = (F[..., :, None, :, None] * F[..., None, :, None, :]).reshape(batch + (d * d, d * d))
    eye = torch.eye(d * d, dtype=F.dtype, device=F.device)
    vec = torch.linalg.solve(eye - kron, Q.reshape(batch + (d * d, 1)))
    P = vec.reshape(batch + (d, d))
    return 0.5 * (P + P.mT)


class Autoregressive(Component):
    r"""Autoregressive component of order ``p`` in companion form.

    .. math:: a_t = \sum_{j=1}^p \phi_j a_{t-j} + \epsilon_t,\quad
              \epsilon_t \sim N(0, \sigma^2_{ar}),\qquad y_t \mathrel{+}= a_t

    State ``(a_t, a_{t-1}, ..., a_{t-p+1})``; ``F`` is the companion matrix (first row
    ``phi``, identity below), ``Q = ar_variance * e_1 e_1'``, ``H = e_1'`` (statsmodels'
    ``UnobservedComponents(autoregressive=p)`` and ``SARIMAX(order=(p, 0, 0))``).

    Parameters
    ----------
    order : int
        ``p >= 1``.
    coefficients : sequence of p floats, optional
        Initial ``phi`` (default zeros).
    ar_variance : float
        Initial value of the positive parameter ``ar_variance``.
    stationary : bool
        True (default): the learnable parameter is ``partial_autocorrelations`` (p values
        constrained to (-1, 1) by a sigmoid transform) and ``coefficients`` is computed from it
        by :func:`pacf_to_coefficients`, so every value is stationary; the initial state then
        has the stationary covariance (unless ``initial_scale`` is given). False: the learnable
        parameter is ``coefficients`` itself (unconstrained) and the initial state is diffuse
        unless ``initial_scale`` is given.
    initial_loc, initial_scale
        Prior of the state at the first step (see above).
    """

    default_name = "ar"

    def __init__(self, order: int, coefficients=None, ar_variance=1.0, stationary: bool = True,
                 initial_loc=0.0, initial_scale=None):
        p = check_positive_int("order", order)
        super().__init__(p, initial_loc, initial_scale)
        self.order = p
        self.stationary = bool(stationary)
        if coefficients is None:
            phi = torch.zeros(p)
        else:
            phi = torch.as_tensor(coefficients, dtype=torch.get_default_dtype())
            if phi.shape != (p,):
                raise ValueError(f"coefficients must have shape ({p},), got {tuple(phi.shape)}")
            if not torch.isfinite(phi).all():
                raise ValueError("coefficients must be finite")
        if self.stationary:
            pacf = coefficients_to_pacf(phi).to(torch.get_default_dtype())
            self.partial_autocorrelations = PyroParam(pacf, constraints.interval(-1.0, 1.0),
                                                      event_dim=1)
        else:
            self.coefficients = PyroParam(phi, constraints.real_vector, event_dim=1)
        stochastic_variance(self, "ar_variance", ar_variance, True)

    def __getattr__(self, name):
        if name == "coefficients" and self.__dict__.get("stationary", False):
            return pacf_to_coefficients(self.partial_autocorrelations)
        return super().__getattr__(name)

    @property
    def state_names(self):
        return [f"L{j}" for j in range(1, self.order + 1)]

    def derived_parameters(self):
        return {"coefficients": self.coefficients} if self.stationary else {}

    def system(self, duration, start=0, covariates=None, dtype=None, device=None):
        var = torch.as_tensor(self.ar_variance)
        phi = self.coefficients
        dtype = dtype or phi.dtype
        phi, var = phi.to(dtype), var.to(dtype)
        p = self.order
        F = companion(phi)
        pattern = torch.zeros(p, p, dtype=dtype, device=device)
        pattern[0, 0] = 1.0
        Q = var[..., None, None] * pattern
        H = torch.zeros(1, 1, p, dtype=dtype, device=device)
        H[0, 0, 0] = 1.0
        stationary = stationary_covariance(F, Q) if self.stationary else None
        loc, cov, diffuse = self._initial(dtype, device, stationary_cov=stationary)
        return ComponentSystem(F.unsqueeze(-3), Q.unsqueeze(-3), H, loc, cov, diffuse)
