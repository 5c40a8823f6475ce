"""Shift extrapolation ("Lagrangian persistence"): the classical nowcasting baseline for a
transport model. One constant motion is fitted to the input frames by least squares and the
last frame is carried forward with it, with no learning. It tells whether the motion seen in
the past frames persists into the forecast: where it does not, no motion estimator (the PKN's
included) can forecast by transport."""

from __future__ import annotations

import torch
from torch import nn

from .warping import _BOUNDARIES, gaussian_warp


class ShiftExtrapolation(nn.Module):
    """Fit one constant motion ``(u, v)`` (pixels per step) per window, then warp forward.

    The motion minimises ``sum_j ||warp(I_j, (u, v)) - I_{j+1}||^2`` over the ``k - 1``
    consecutive input pairs (bilinear warp, the ``D -> 0`` limit of S16), searched on a grid
    refined coarse to fine: spacing ``max_shift / 4`` over ``[-max_shift, max_shift]^2``, then
    halved around the best point until it reaches ``resolution``. Forecast:
    ``I_{t+h} = warp^h(I_t, (u, v))``.

    Parameters
    ----------
    n_inputs : int
        ``k`` (>= 2), the number of input frames.
    max_shift : float
        Largest speed searched (pixels per step), per component.
    resolution : float
        Grid spacing at the last refinement (pixels per step).
    boundary : {"periodic", "zeros", "replicate"}
        Warp boundary (see :func:`~probdyn.physics.gaussian_warp`).

    Notes
    -----
    Called as ``model(frames, horizon)`` like :class:`~probdyn.physics.WarpingForecaster`, so
    :func:`~probdyn.physics.forecast_scores` scores it. Cost: about ``2 * 81 * (k - 1)``
    warps per window; nothing is trained.
    """

    def __init__(self, n_inputs: int = 4, *, max_shift: float = 2.0, resolution: float = 0.125,
                 boundary: str = "replicate"):
        super().__init__()
        if not (isinstance(n_inputs, int) and n_inputs >= 2):
            raise ValueError(f"n_inputs must be an int >= 2, got {n_inputs!r}")
        for name, v in (("max_shift", max_shift), ("resolution", resolution)):
            if not (isinstance(v, (int, float)) and 0 < v < float("inf")):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")
        if resolution > max_shift:
            raise ValueError(f"resolution ({resolution}) must not exceed max_shift "
                             f"({max_shift})")
        if boundary not in _BOUNDARIES:
            raise ValueError(f"boundary must be one of {_BOUNDARIES}, got {boundary!r}")
        self.n_inputs = n_inputs
        self.max_shift = float(max_shift)
        self.resolution = float(resolution)
        self.boundary = boundary

    def _shift(self, image, motion):
        """Warp ``image (B, ..., H, W)`` by one constant motion ``(B, 2)`` per sample."""
        H, W = image.shape[-2:]
        w = motion.reshape(len(motion), *([1] * (image.dim() - 3)), 2, 1, 1)
        return gaussian_warp(image, w.expand(*image.shape[:-2], 2, H, W), kernel="bilinear",
                             boundary=self.boundary)

    def fit_motion(self, frames: torch.Tensor) -> torch.Tensor:
        """The least-squares constant motion ``(B, 2)`` (``(w_x, w_y)``, pixels per step) of
        ``frames (B, k, H, W)``."""
        if frames.dim() != 4 or frames.shape[1] != self.n_inputs:
            raise ValueError(f"frames must have shape (B, {self.n_inputs}, H, W), got "
                             f"{tuple(frames.shape)}")
        if not torch.isfinite(frames).all():
            raise ValueError("frames contain NaN or infinite values")
        src, dst = frames[:, :-1], frames[:, 1:]
        best = torch.zeros(len(frames), 2, dtype=frames.dtype, device=frames.device)
        spacing, reach = self.max_shift / 4, 4
        while True:
            steps = torch.arange(-reach, reach + 1, dtype=frames.dtype,
                                 device=frames.device) * spacing
            offsets = torch.cartesian_prod(steps, steps)
            errors = torch.stack([
                (self._shift(src, (best + o).clamp(-self.max_shift, self.max_shift)) - dst)
                .pow(2).mean((1, 2, 3)) for o in offsets])  # (n_offsets, B)
            best = (best + offsets[errors.argmin(0)]).clamp(-self.max_shift, self.max_shift)
            if spacing <= self.resolution:
                return best
            spacing, reach = max(spacing / 2, self.resolution), 2

    def forward(self, frames: torch.Tensor, horizon: int = 6):
        """Forecast ``horizon`` frames.

        Returns
        -------
        predictions : torch.Tensor, shape (B, horizon, H, W)
        motions : torch.Tensor, shape (B, horizon, 2, H, W)
            The fitted constant motion, the same at every step and pixel.
        """
        if not (isinstance(horizon, int) and horizon >= 1):
            raise ValueError(f"horizon must be a positive int, got {horizon!r}")
        motion = self.fit_motion(frames)
        frame, preds = frames[:, -1], []
        for _ in range(horizon):
            frame = self._shift(frame, motion)
            preds.append(frame)
        H, W = frames.shape[-2:]
        motions = motion[:, None, :, None, None].expand(-1, horizon, 2, H, W)
        return torch.stack(preds, 1), motions


__all__ = ["ShiftExtrapolation"]
