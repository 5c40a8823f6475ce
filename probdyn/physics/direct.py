"""The direct convolutional predictor (ACDNN, the PKN paper's baseline, spec B.4): the same
conv-deconv network as the PKN motion estimator, but mapping the ``k`` stacked input frames
straight to the next frame, rolled forward autoregressively. No physics: it is what the warp
of :mod:`probdyn.physics.warping` is measured against."""

from __future__ import annotations

import torch
from torch import nn

from ._convdeconv import ConvDeconv


class DirectForecaster(nn.Module):
    """ACDNN: ``I_{t+1} = net(I_{t-k+1..t})``, the prediction appended to the window, repeated.

    Parameters
    ----------
    n_inputs : int
        ``k``, the number of stacked past frames (4 in the thesis).
    width : int
        Channels of the first layer of the conv-deconv network (64 is the spec's size; the
        layout is that of :class:`~probdyn.physics.MotionEstimator` with one output map).
    small : bool
        Shortcut for ``width=8``.
    padding_mode : str
        Convolution padding (``"zeros"``; ``"circular"`` for periodic domains).
    residual : bool
        Predict ``I_t + net(...)`` instead of the frame itself. The thesis's ACDNN predicts the
        frame (``False``); ``True`` starts from persistence, a stronger baseline.

    Notes
    -----
    The network sees the window standardised per sample (mean ``m`` and standard deviation
    ``s`` over its ``k`` frames and pixels) and its output is mapped back, ``m + s * out``
    (``I_t + s * out`` with ``residual=True``), so the predictor works at any intensity
    scale. The untrained model predicts the window mean (the last frame with ``residual``).
    """

    def __init__(self, n_inputs: int = 4, width: int = 64, *, small: bool = False,
                 padding_mode: str = "zeros", residual: bool = False):
        super().__init__()
        self.net = ConvDeconv(n_inputs, 1, width, small=small, padding_mode=padding_mode)
        self.n_inputs = n_inputs
        self.residual = bool(residual)

    def step(self, frames: torch.Tensor) -> torch.Tensor:
        """One step: ``(B, k, H, W)`` frames (oldest first) to the next frame ``(B, H, W)``."""
        _, mean, std = self.net.standardise(frames)
        out = self.net(frames)[:, 0] * std[:, 0]
        return out + (frames[:, -1] if self.residual else mean[:, 0])

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
        motions : None
            No motion field (the slot keeps the call compatible with
            :class:`~probdyn.physics.WarpingForecaster`).
        """
        if not (isinstance(horizon, int) and horizon >= 1):
            raise ValueError(f"horizon must be a positive int, got {horizon!r}")
        if not torch.isfinite(frames).all():
            raise ValueError("frames contain NaN or infinite values")
        window, preds = frames, []
        for _ in range(horizon):
            nxt = self.step(window)
            window = torch.cat([window[:, 1:], nxt[:, None]], 1)
            preds.append(nxt)
        return torch.stack(preds, 1), None
