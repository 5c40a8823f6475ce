"""The advection-diffusion warping model (PKN, thesis 3.2): the Gaussian warp of eq. S16, a
conv-deconv network estimating the motion field, the Charbonnier loss and the motion
regularisers of S17, and a forecaster rolling the warp forward autoregressively.

Conventions (pixel units throughout):

- images ``(..., H, W)``, ``x`` the last dim;
- motion fields ``(..., 2, H, W)`` with components ``(w_x, w_y)`` in dim ``-3`` (the order of
  :func:`probdyn.ops.gradient`), in pixels per step: ``w_x > 0`` moves content towards larger
  column index, ``w_y > 0`` towards larger row index;
- ``D`` in pixels^2 per step; the kernel of S15/S16 is a 2-D Gaussian of per-axis variance
  ``sigma^2 = 2 D dt`` (``exp(-|u|^2 / (4 D dt))``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import ops
from ._convdeconv import ConvDeconv

_BOUNDARIES = ("periodic", "zeros", "replicate")
_KERNELS = ("gaussian", "bilinear")


# ------------------------------------------------------------------------------ the warp
def _check_inputs(image, motion, dt, boundary, kernel):
    if not isinstance(image, torch.Tensor) or not image.is_floating_point() or image.dim() < 2:
        raise ValueError("image must be a real floating-point tensor of shape (..., H, W), got "
                         f"{getattr(image, 'shape', type(image))}")
    if (not isinstance(motion, torch.Tensor) or motion.dim() < 3 or motion.shape[-3] != 2
            or motion.shape[-2:] != image.shape[-2:]):
        raise ValueError(f"motion must have shape (..., 2, {image.shape[-2]}, "
                         f"{image.shape[-1]}) (components (x, y) in dim -3), got "
                         f"{getattr(motion, 'shape', type(motion))}")
    if not torch.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    if not torch.isfinite(motion).all():
        raise ValueError("motion contains NaN or infinite values")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite number, got {dt!r}")
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")


def _axis_taps(pos, sigma, radius, kernel):
    """Tap indices (long) and normalised 1-D weights along one axis, shape (..., H, W, K)."""
    if kernel == "bilinear":
        base = torch.floor(pos.detach())
        frac = pos - base
        idx = base.unsqueeze(-1) + torch.arange(2, dtype=pos.dtype, device=pos.device)
        return idx.long(), torch.stack([1 - frac, frac], dim=-1)
    # Window centred on the nearest pixel of the source position; a softmax of the Gaussian
    # log-weights normalises the window exactly and stays finite as sigma -> 0.
    centre = torch.round(pos.detach())
    offsets = torch.arange(-radius, radius + 1, dtype=pos.dtype, device=pos.device)
    idx = centre.unsqueeze(-1) + offsets
    logits = -(idx - pos.unsqueeze(-1)) ** 2 / (2 * sigma.unsqueeze(-1) ** 2)
    return idx.long(), torch.softmax(logits, dim=-1)


def _wrap(idx, n, boundary):
    """Indices inside ``[0, n)`` and a mask of the taps that lie inside the image."""
    if boundary == "periodic":
        return idx % n, None
    if boundary == "replicate":
        return idx.clamp(0, n - 1), None
    inside = (idx >= 0) & (idx < n)
    return idx.clamp(0, n - 1), inside


def kernel_radius(diffusivity, dt: float = 1.0, *, truncate: float = 4.0) -> int:
    """Half-width ``r`` (pixels) of the truncated Gaussian window: ``ceil(truncate * sigma)``
    with ``sigma = sqrt(2 D dt)`` the largest kernel width, at least 1. The window is
    ``(2 r + 1)^2`` taps centred on each pixel's source position, so max ``|w|`` does not
    enlarge it; the truncated tail holds a fraction below ``exp(-truncate^2 / 2)`` of the
    weight (3e-4 for the default 4)."""
    d = torch.as_tensor(diffusivity).detach()
    sigma = math.sqrt(2.0 * float(d.max()) * dt)
    return max(1, math.ceil(truncate * sigma))


def gaussian_warp(image: torch.Tensor, motion: torch.Tensor, diffusivity=0.5, dt: float = 1.0,
                  *, boundary: str = "periodic", kernel: str = "gaussian",
                  truncate: float = 4.0) -> torch.Tensor:
    """One step of the warping scheme S16: ``I_{t+1}(x) = sum_y k(x - w(x) dt, y) I_t(y)``.

    Each output pixel is a Gaussian-weighted average of ``I_t`` around its source position
    ``x - w(x) dt``, with weights normalised to sum to one over the window (the raw S16 weights
    sum to 2.55 at ``sigma = 0.25`` px, spec B.1 [CHECK]). For constant ``w`` and ``D`` on a
    periodic grid this is the exact solution of ``dI/dt + (w . grad) I = D Lap I`` (theorem S2)
    applied to the band-limited interpolant of ``I_t``, up to an aliasing error of order
    ``exp(-2 pi^2 sigma^2)`` (tiny once ``sigma >= 1`` px); it conserves ``sum I`` exactly.

    Parameters
    ----------
    image : torch.Tensor, shape (..., H, W)
        ``I_t``.
    motion : torch.Tensor, shape (..., 2, H, W)
        ``w`` in pixels per step, components ``(w_x, w_y)``; leading dims broadcast with
        ``image``'s.
    diffusivity : float or torch.Tensor
        ``D`` (pixels^2 per step), positive; a tensor broadcastable to ``(..., H, W)`` gives one
        value per image or per pixel. Differentiable.
    dt : float
        Step length (steps); the kernel variance per axis is ``2 D dt``.
    boundary : {"periodic", "zeros", "replicate"}
        Taps outside the image wrap around, read 0 (intensity leaves through the border, as in
        ``grid_sample(padding_mode="zeros")``), or read the nearest border pixel.
    kernel : {"gaussian", "bilinear"}
        ``"bilinear"`` ignores ``D`` and samples ``I_t`` bilinearly at ``x - w dt``: the
        ``D -> 0`` brightness-constancy warp of optical-flow spatial transformers.
    truncate : float
        Window half-width in kernel standard deviations (see :func:`kernel_radius`).

    Returns
    -------
    torch.Tensor, shape broadcast(image, motion[..., 0, :, :])
        ``I_{t+1}``. Memory ``O(H W (2 r + 1)^2)`` per image; no loop over pixels.
    """
    _check_inputs(image, motion, dt, boundary, kernel)
    dtype = torch.promote_types(image.dtype, motion.dtype)
    H, W = image.shape[-2:]
    lead = torch.broadcast_shapes(image.shape[:-2], motion.shape[:-3])
    image = image.to(dtype).expand(*lead, H, W)
    motion = motion.to(dtype).expand(*lead, 2, H, W)
    sigma = radius = None
    if kernel == "gaussian":
        d = torch.as_tensor(diffusivity, dtype=dtype, device=image.device)
        if not torch.isfinite(d).all() or (d <= 0).any():
            raise ValueError("diffusivity must be positive and finite for kernel='gaussian' "
                             "(use kernel='bilinear' for the D = 0 limit)")
        try:
            sigma = torch.sqrt(2 * d * dt).expand(*lead, H, W)
        except RuntimeError:
            raise ValueError(f"diffusivity of shape {tuple(d.shape)} does not broadcast to "
                             f"the image shape {(*lead, H, W)}") from None
        radius = kernel_radius(d, dt, truncate=truncate)
    rows = torch.arange(H, dtype=dtype, device=image.device)[:, None].expand(H, W)
    cols = torch.arange(W, dtype=dtype, device=image.device)[None, :].expand(H, W)
    ix, wx = _axis_taps(cols - motion[..., 0, :, :] * dt, sigma, radius, kernel)
    iy, wy = _axis_taps(rows - motion[..., 1, :, :] * dt, sigma, radius, kernel)
    ix, in_x = _wrap(ix, W, boundary)
    iy, in_y = _wrap(iy, H, boundary)
    if in_x is not None:
        wx, wy = wx * in_x, wy * in_y
    index = iy.unsqueeze(-1) * W + ix.unsqueeze(-2)  # (..., H, W, Ky, Kx)
    weight = wy.unsqueeze(-1) * wx.unsqueeze(-2)
    values = torch.gather(image.reshape(*lead, H * W), -1,
                          index.reshape(*lead, -1)).reshape(index.shape)
    return (weight * values).sum((-2, -1))


# --------------------------------------------------------------------- losses and penalties
def charbonnier(residual: torch.Tensor, *, eps: float = 1e-6, alpha: float = 1.0) -> torch.Tensor:
    """Mean Charbonnier penalty ``(r^2 + eps)^(1 / (2 alpha))``.

    This is the thesis's ``rho(x) = (x + eps)^(1/alpha)`` of ``x = |r|`` made smooth at 0:
    ``eps = 0, alpha = 1/2`` gives the squared error (the MSE the reference code trains on);
    ``alpha = 1`` gives the usual robust ``sqrt(r^2 + eps)``.
    """
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be non-negative and finite, got {eps!r}")
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be positive and finite, got {alpha!r}")
    return (residual**2 + eps).pow(1 / (2 * alpha)).mean()


def divergence_penalty(motion: torch.Tensor, *, boundary: str = "periodic") -> torch.Tensor:
    """Mean squared divergence ``(d w_x/dx + d w_y/dy)^2`` (central differences, pixel units;
    ``boundary`` as in :func:`probdyn.ops.divergence`)."""
    return ops.divergence(motion, 1.0, boundary=boundary).pow(2).mean()


def magnitude_penalty(motion: torch.Tensor) -> torch.Tensor:
    """Mean squared speed ``|w|^2`` (pixels^2 / step^2)."""
    if not isinstance(motion, torch.Tensor) or motion.dim() < 3 or motion.shape[-3] != 2:
        raise ValueError(f"motion must have shape (..., 2, H, W), got "
                         f"{getattr(motion, 'shape', type(motion))}")
    return motion.pow(2).sum(-3).mean()


def smoothness_penalty(motion: torch.Tensor, *, boundary: str = "periodic") -> torch.Tensor:
    """Mean squared gradient norm ``|grad w_x|^2 + |grad w_y|^2`` (central differences)."""
    if not isinstance(motion, torch.Tensor) or motion.dim() < 3 or motion.shape[-3] != 2:
        raise ValueError(f"motion must have shape (..., 2, H, W), got "
                         f"{getattr(motion, 'shape', type(motion))}")
    return ops.gradient(motion, 1.0, boundary=boundary).pow(2).sum((-4, -3)).mean()


# ------------------------------------------------------------------------------ the network
class MotionEstimator(ConvDeconv):
    """The conv-deconv (FlowNetS-like) network of spec B.4 estimating ``w`` from ``k`` frames.

    Encoder: eight 3x3 conv + BatchNorm + ReLU layers with channels
    ``(64, 128, 256, 256, 512, 512, 1024, 1024) * width / 64`` and five stride-2 stages;
    decoder: four bilinear-upsampling deconvolutions with skip connections
    (``256, 128, 64, 32, 16`` channels, scaled likewise), then a 3x3 conv (``self.flow``) on
    the concatenation with the input frames giving the two motion components.

    Parameters
    ----------
    n_inputs : int
        ``k``, the number of stacked past frames (4 in the thesis).
    width : int
        Channels of the first layer; 64 is the spec's size.
    small : bool
        Shortcut for ``width=8`` (tests and CPU training), with at least 8 channels per
        layer.
    padding_mode : str
        Convolution padding (``"zeros"``; ``"circular"`` for periodic domains).

    Notes
    -----
    Input ``(B, k, H, W)``; output ``(B, 2, H, W)`` (pixels per step, ``(w_x, w_y)``). Grids
    whose sides are not multiples of 32 (five stride-2 stages) are padded (circularly with
    ``padding_mode="circular"``, else by replication) and the output cropped. The frames are
    standardised per sample (window mean and standard deviation) first, so the estimate does
    not depend on the intensity scale. The flow head starts near ``w = 0`` (the identity
    warp, i.e. persistence) so training begins stable.
    """

    def __init__(self, n_inputs: int = 4, width: int = 64, *, small: bool = False,
                 padding_mode: str = "zeros"):
        super().__init__(n_inputs, 2, width, small=small, padding_mode=padding_mode)

    @property
    def flow(self) -> nn.Conv2d:
        """The last convolution, predicting ``(w_x, w_y)``."""
        return self.head


class WarpingForecaster(nn.Module):
    """Physics-structured forecaster (PKN): ``w = net(I_{t-k+1..t})``,
    ``I_{t+1} = gaussian_warp(I_t, w, D)``, the prediction appended to the window, repeated.

    Parameters
    ----------
    estimator : MotionEstimator, optional
        Default ``MotionEstimator(n_inputs)``.
    n_inputs : int
        ``k`` (4).
    diffusivity : float
        Initial ``D`` (pixels^2 / step), kept positive by a log parametrisation
        (``self.D``; ``self.log_D`` is the parameter).
    learn_diffusivity : bool
        Train ``D`` with the network (else fixed).
    boundary : str
        Warp boundary (see :func:`gaussian_warp`).
    truncate : float
        Warp window half-width in kernel standard deviations (see :func:`kernel_radius`).
    """

    def __init__(self, estimator: MotionEstimator | None = None, *, n_inputs: int = 4,
                 diffusivity: float = 0.5, learn_diffusivity: bool = True,
                 boundary: str = "periodic", truncate: float = 4.0):
        super().__init__()
        self.truncate = float(truncate)
        self.estimator = estimator if estimator is not None else MotionEstimator(n_inputs)
        if self.estimator.n_inputs != n_inputs:
            raise ValueError(f"estimator takes {self.estimator.n_inputs} frames, n_inputs is "
                             f"{n_inputs}")
        if not (isinstance(diffusivity, (int, float)) and math.isfinite(diffusivity)
                and diffusivity > 0):
            raise ValueError(f"diffusivity must be positive and finite, got {diffusivity!r}")
        if boundary not in _BOUNDARIES:
            raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
        log_d = torch.tensor(math.log(diffusivity))
        if learn_diffusivity:
            self.log_D = nn.Parameter(log_d)
        else:
            self.register_buffer("log_D", log_d)
        self.n_inputs = n_inputs
        self.boundary = boundary

    @property
    def D(self) -> torch.Tensor:
        """Diffusion coefficient (pixels^2 / step)."""
        return self.log_D.exp()

    def forward(self, frames: torch.Tensor, horizon: int = 6):
        """Forecast ``horizon`` frames.

        Parameters
        ----------
        frames : torch.Tensor, shape (B, k, H, W)
            The ``k`` most recent frames, oldest first.
        horizon : int
            Number of autoregressive steps (6 in the thesis).

        Returns
        -------
        predictions : torch.Tensor, shape (B, horizon, H, W)
        motions : torch.Tensor, shape (B, horizon, 2, H, W)
            The motion field estimated at each step (pixels per step).
        """
        if not (isinstance(horizon, int) and horizon >= 1):
            raise ValueError(f"horizon must be a positive int, got {horizon!r}")
        if not torch.isfinite(frames).all():
            raise ValueError("frames contain NaN or infinite values")
        window, preds, motions = frames, [], []
        D = self.D.to(frames.dtype)
        for _ in range(horizon):
            w = self.estimator(window)
            nxt = gaussian_warp(window[:, -1], w, D, boundary=self.boundary,
                                truncate=self.truncate)
            window = torch.cat([window[:, 1:], nxt[:, None]], 1)
            preds.append(nxt)
            motions.append(w)
        return torch.stack(preds, 1), torch.stack(motions, 1)


def pkn_loss(predictions: torch.Tensor, targets: torch.Tensor, motions: torch.Tensor, *,
             lambda_div: float = 1.0, lambda_magn: float = 0.0, lambda_grad: float = 0.4,
             eps: float = 0.0, alpha: float = 0.5, boundary: str = "periodic"):
    """The loss S17 averaged over the forecast steps.

    ``charbonnier(pred - target) + lambda_div mean(div w)^2 + lambda_magn mean |w|^2
    + lambda_grad mean |grad w|^2``; the defaults are the reference code's
    (``smooth_coef = 0.4``, ``div_coef = 1``, MSE photometric term) except ``lambda_magn``,
    0 here instead of the code's -0.003 (a negative weight rewards large speeds without bound).

    Returns
    -------
    total : torch.Tensor (scalar)
    parts : dict of float
        ``photometric``, ``divergence``, ``magnitude``, ``smoothness``.
    """
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and targets "
                         f"{tuple(targets.shape)} must have the same shape")
    photo = charbonnier(predictions - targets, eps=eps, alpha=alpha)
    div = divergence_penalty(motions, boundary=boundary)
    magn = magnitude_penalty(motions)
    grad = smoothness_penalty(motions, boundary=boundary)
    total = photo + lambda_div * div + lambda_magn * magn + lambda_grad * grad
    parts = {name: float(v.detach()) for name, v in
             (("photometric", photo), ("divergence", div), ("magnitude", magn),
              ("smoothness", grad))}
    return total, parts
