"""The conv-deconv (FlowNetS-like) network of spec B.4, shared by the PKN motion estimator and
the direct convolutional predictor (ACDNN): ``k`` stacked frames in, ``n_outputs`` maps out at
the input resolution."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin, cout, stride, padding_mode):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False,
                                   padding_mode=padding_mode),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _SoftDeconv(nn.Module):
    """Bilinear x2 upsampling then a 3x3 convolution and ReLU."""

    def __init__(self, cin, cout, padding_mode):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, padding_mode=padding_mode)

    def forward(self, x):
        return F.relu(self.conv(F.interpolate(x, scale_factor=2, mode="bilinear",
                                              align_corners=False)))


class ConvDeconv(nn.Module):
    """Encoder (eight 3x3 conv + BatchNorm + ReLU, five stride-2 stages), decoder (bilinear
    upsampling deconvolutions with skip connections) and a 3x3 head on the concatenation with
    the input, giving ``n_outputs`` maps; channel widths are the spec's times ``width / 64``.

    Input ``(B, k, H, W)``, output ``(B, n_outputs, H, W)``. The frames are standardised per
    sample (window mean and standard deviation) first; grids whose sides are not multiples of
    32 are padded (circularly with ``padding_mode="circular"``, else by replication) and the
    output cropped. The head starts near 0 (std 1e-3).
    """

    def __init__(self, n_inputs: int = 4, n_outputs: int = 2, width: int = 64, *,
                 small: bool = False, padding_mode: str = "zeros"):
        super().__init__()
        for name, v in (("n_inputs", n_inputs), ("n_outputs", n_outputs)):
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        width = 8 if small else width
        if not (isinstance(width, int) and width >= 4):
            raise ValueError(f"width must be an int >= 4, got {width!r}")
        if padding_mode not in ("zeros", "circular", "replicate", "reflect"):
            raise ValueError("padding_mode must be 'zeros', 'circular', 'replicate' or "
                             f"'reflect', got {padding_mode!r}")
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.padding_mode = padding_mode

        def c(n):
            return max(8, n * width // 64)

        pm = padding_mode
        self.conv1 = _conv(n_inputs, c(64), 2, pm)
        self.conv2 = _conv(c(64), c(128), 2, pm)
        self.conv3 = nn.Sequential(_conv(c(128), c(256), 2, pm), _conv(c(256), c(256), 1, pm))
        self.conv4 = nn.Sequential(_conv(c(256), c(512), 2, pm), _conv(c(512), c(512), 1, pm))
        self.conv5 = nn.Sequential(_conv(c(512), c(1024), 2, pm),
                                   _conv(c(1024), c(1024), 1, pm))
        self.deconv4 = _SoftDeconv(c(1024), c(256), pm)
        self.deconv3 = _SoftDeconv(c(256) + c(512), c(128), pm)
        self.deconv2 = _SoftDeconv(c(128) + c(256), c(64), pm)
        self.deconv1 = _SoftDeconv(c(64) + c(128), c(32), pm)
        self.deconv0 = _SoftDeconv(c(32) + c(64), c(16), pm)
        self.head = nn.Conv2d(c(16) + n_inputs, n_outputs, 3, 1, 1, padding_mode=pm)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.head.weight, std=1e-3)

    def standardise(self, frames: torch.Tensor):
        """``(frames - mean) / std`` per sample, with the ``(B, 1, 1, 1)`` mean and std."""
        if frames.dim() != 4 or frames.shape[1] != self.n_inputs:
            raise ValueError(f"frames must have shape (B, {self.n_inputs}, H, W), got "
                             f"{tuple(frames.shape)}")
        mean = frames.mean((1, 2, 3), keepdim=True)
        std = frames.std((1, 2, 3), keepdim=True).clamp_min(1e-8)
        return (frames - mean) / std, mean, std

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x, _, _ = self.standardise(frames)
        H, W = frames.shape[-2:]
        ph, pw = -H % 32, -W % 32
        if ph or pw:  # five stride-2 stages: pad to a multiple of 32, crop the output
            mode = "circular" if self.padding_mode == "circular" else "replicate"
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode=mode)
        c1 = self.conv1(x)
        c2 = self.conv2(c1)
        c3 = self.conv3(c2)
        c4 = self.conv4(c3)
        c5 = self.conv5(c4)
        d = self.deconv4(c5)
        d = self.deconv3(torch.cat([d, c4], 1))
        d = self.deconv2(torch.cat([d, c3], 1))
        d = self.deconv1(torch.cat([d, c2], 1))
        d = self.deconv0(torch.cat([d, c1], 1))
        out = self.head(torch.cat([d, x], 1))
        return out[..., ph // 2:ph // 2 + H, pw // 2:pw // 2 + W]
