"""Neural vector fields: an MLP for ODEs in R^d, a ConvNet and a Fourier neural operator for
fields on 2-D grids."""

from __future__ import annotations

import torch
from torch import nn

from ._base import VectorField

_ACTIVATIONS = {
    "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "swish": nn.SiLU,
    "softplus": nn.Softplus, "elu": nn.ELU,
}
PADDINGS = ("periodic", "neumann")


def _activation(activation) -> nn.Module:
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} or an "
                             f"nn.Module, got {activation!r}")
        return _ACTIVATIONS[activation]()
    if isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    raise ValueError(f"activation must be a name or an nn.Module, got {activation!r}")


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class MLPField(VectorField):
    """``dx/dt = MLP(x)`` (or ``MLP(x, t)``) for a state in R^d.

    Parameters
    ----------
    state_dim : int
        d, the size of the state.
    hidden : int
        Width of the hidden layers.
    layers : int
        Number of hidden layers (so ``layers + 1`` linear maps).
    activation : str or nn.Module
        ``"tanh"`` (default), ``"relu"``, ``"gelu"``, ``"silu"``, ``"softplus"``, ``"elu"``.
    time_dependent : bool
        Feed ``t`` as an extra input (non-autonomous field).

    Notes
    -----
    Shapes: ``forward(t, x)`` with ``x`` of shape ``(..., d)`` returns ``(..., d)``.
    """

    def __init__(self, state_dim: int, hidden: int = 64, layers: int = 2,
                 activation="tanh", time_dependent: bool = False):
        super().__init__()
        self.state_dim = _positive_int(state_dim, "state_dim")
        hidden = _positive_int(hidden, "hidden")
        layers = _positive_int(layers, "layers")
        self.time_dependent = bool(time_dependent)
        self.state_shape = (self.state_dim,)
        sizes = [self.state_dim + self.time_dependent] + [hidden] * layers
        mods = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), _activation(activation)]
        mods.append(nn.Linear(sizes[-1], self.state_dim))
        self.net = nn.Sequential(*mods)

    def forward(self, t, x):
        if x.shape[-1] != self.state_dim:
            raise ValueError(f"x must have shape (..., {self.state_dim}), got {tuple(x.shape)}")
        if self.time_dependent:
            x = torch.cat([x, torch.as_tensor(t, dtype=x.dtype).expand(x.shape[:-1] + (1,))], -1)
        return self.net(x)


def _grid_input(x: torch.Tensor, channels: int) -> tuple[torch.Tensor, tuple]:
    if x.dim() < 3 or x.shape[-3] != channels:
        raise ValueError(f"x must have shape (..., {channels}, y, x), got {tuple(x.shape)}")
    batch = x.shape[:-3]
    return x.reshape((-1,) + tuple(x.shape[-3:])), batch


class ConvField(VectorField):
    """``dx/dt = ConvNet(x)`` for a field with ``channels`` channels on a 2-D grid.

    A stack of ``kernel_size`` x ``kernel_size`` convolutions (``layers`` hidden ones of
    ``hidden`` channels, then one to ``channels``) with size-preserving padding:

    - ``"periodic"``: circular padding (a torus, e.g. reaction-diffusion, Navier-Stokes).
    - ``"neumann"``: ``replicate`` padding. On a cell-centred grid the ghost cell equal to the
      boundary cell makes the one-sided difference across the boundary face zero, i.e. a
      homogeneous Neumann (no-flux) condition, and it is defined for any kernel size (torch's
      ``reflect`` mirrors about the boundary *node* instead, the vertex-centred version).

    With ``batch_norm=True`` every hidden convolution (then without bias) is followed by a
    ``BatchNorm2d`` without running statistics, before the activation: the APHYNITY ConvNet
    (thesis Table S3). Its output then depends on the whole batch of states, in training and
    evaluation alike (the official code's behaviour).

    Shapes: ``x`` of shape ``(..., channels, y, x)`` returns the same shape.
    """

    def __init__(self, channels: int, hidden: int = 16, layers: int = 3, kernel_size: int = 3,
                 padding: str = "periodic", activation="relu", batch_norm: bool = False):
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        hidden = _positive_int(hidden, "hidden")
        layers = _positive_int(layers, "layers")
        kernel_size = _positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (size-preserving padding), got "
                             f"{kernel_size}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        self.padding = padding
        self.state_shape = (self.channels, None, None)
        mode = "circular" if padding == "periodic" else "replicate"
        sizes = [self.channels] + [hidden] * layers + [self.channels]
        mods = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            hidden_layer = i < len(sizes) - 2
            mods.append(nn.Conv2d(a, b, kernel_size, padding=kernel_size // 2,
                                  padding_mode=mode, bias=not (batch_norm and hidden_layer)))
            if hidden_layer:
                if batch_norm:
                    mods.append(nn.BatchNorm2d(b, track_running_stats=False))
                mods.append(_activation(activation))
        self.net = nn.Sequential(*mods)

    def forward(self, t, x):
        flat, batch = _grid_input(x, self.channels)
        return self.net(flat).reshape(batch + flat.shape[1:])


class SpectralConv2d(nn.Module):
    r"""The global convolution of a Fourier neural operator layer (Li et al. 2021).

    ``K v = IFFT2(R * FFT2(v))`` where ``R`` is a learned complex ``(in, out)`` matrix for each
    retained Fourier mode: the ``modes[0]`` lowest frequencies of either sign along ``y``
    and the ``modes[1]`` lowest non-negative ones along ``x`` (real FFT); higher modes are
    cut. Shapes: ``(N, in_channels, y, x)`` to ``(N, out_channels, y, x)``; needs
    ``y >= 2 * modes[0]`` and ``x // 2 + 1 >= modes[1]``.
    """

    def __init__(self, in_channels: int, out_channels: int, modes):
        super().__init__()
        modes = (modes, modes) if isinstance(modes, int) else tuple(modes)
        if len(modes) != 2:
            raise ValueError(f"modes must be an int or a pair, got {modes!r}")
        self.modes = tuple(_positive_int(m, "modes") for m in modes)
        self.in_channels = _positive_int(in_channels, "in_channels")
        self.out_channels = _positive_int(out_channels, "out_channels")
        scale = 1.0 / (in_channels * out_channels)
        shape = (2, in_channels, out_channels) + self.modes  # [0]: y >= 0, [1]: y < 0
        # real and imaginary parts stored as a trailing dim of 2 (float parameters, any dtype)
        self.weight = nn.Parameter(scale * torch.rand(shape + (2,)))

    def forward(self, v):
        ny, nx = v.shape[-2:]
        my, mx = self.modes
        if ny < 2 * my or nx // 2 + 1 < mx:
            raise ValueError(f"a grid of {ny} x {nx} cannot hold modes={self.modes}: need "
                             f"y >= {2 * my} and x >= {2 * (mx - 1)}")
        spec = torch.fft.rfft2(v, norm="ortho")
        w = torch.view_as_complex(self.weight.to(v.dtype).contiguous())
        out = spec.new_zeros(v.shape[:-3] + (self.out_channels, ny, nx // 2 + 1))
        out[..., :my, :mx] = torch.einsum("niyx,ioyx->noyx", spec[..., :my, :mx], w[0])
        out[..., ny - my:, :mx] = torch.einsum("niyx,ioyx->noyx", spec[..., ny - my:, :mx], w[1])
        return torch.fft.irfft2(out, s=(ny, nx), norm="ortho")


class FourierLayer(nn.Module):
    """One FNO layer ``v -> act(K v + W v)``: :class:`SpectralConv2d` plus a pointwise
    (1 x 1) linear map ``W``; ``activation=None`` leaves the sum linear (the last layer)."""

    def __init__(self, width: int, modes, activation="gelu"):
        super().__init__()
        self.spectral = SpectralConv2d(width, width, modes)
        self.pointwise = nn.Conv2d(width, width, 1)
        self.act = None if activation is None else _activation(activation)

    def forward(self, v):
        out = self.spectral(v) + self.pointwise(v)
        return out if self.act is None else self.act(out)


class FNOField(VectorField):
    """``dx/dt = FNO(x)``: a Fourier neural operator on a periodic 2-D grid.

    Lift (1 x 1 conv, ``channels -> width``), ``layers`` :class:`FourierLayer` (the last one
    without activation, as in Li et al. 2021), then project (1 x 1 convs ``width -> hidden ->
    channels``). Periodic by construction (FFT); by default no coordinate channels are
    appended, so the field is translation-equivariant.

    Parameters
    ----------
    channels : int
        Channels of the state.
    width : int
        Channels inside the Fourier layers.
    modes : int or (int, int)
        Fourier modes kept along (y, x).
    layers : int
        Number of Fourier layers.
    hidden : int
        Width of the projection.
    activation : str or nn.Module
        Nonlinearity of the Fourier layers and the projection (default ``"gelu"``). A module
        class (e.g. :class:`~probdyn.dynamics.Swish`) gets one instance per layer.
    coordinates : bool
        Append the grid coordinates ``(j / ny, i / nx)`` in [0, 1) as two input channels, as
        Li et al. (2021) and the LEADS code do (needed to represent a space-dependent
        forcing); the field is then no longer translation-equivariant.

    Notes
    -----
    Shapes: ``x`` of shape ``(..., channels, y, x)`` returns the same shape.
    """

    def __init__(self, channels: int, width: int = 32, modes=8, layers: int = 4,
                 hidden: int = 64, activation="gelu", coordinates: bool = False):
        super().__init__()
        self.channels = _positive_int(channels, "channels")
        width = _positive_int(width, "width")
        layers = _positive_int(layers, "layers")
        hidden = _positive_int(hidden, "hidden")
        self.state_shape = (self.channels, None, None)
        self.coordinates = bool(coordinates)
        self.lift = nn.Conv2d(self.channels + 2 * self.coordinates, width, 1)
        self.fourier = nn.Sequential(*[
            FourierLayer(width, modes, activation if i < layers - 1 else None)
            for i in range(layers)])
        self.project = nn.Sequential(nn.Conv2d(width, hidden, 1), _activation(activation),
                                     nn.Conv2d(hidden, self.channels, 1))

    def forward(self, t, x):
        flat, batch = _grid_input(x, self.channels)
        if self.coordinates:
            n, _, ny, nx = flat.shape
            gy = torch.arange(ny, dtype=flat.dtype, device=flat.device) / ny
            gx = torch.arange(nx, dtype=flat.dtype, device=flat.device) / nx
            grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")).expand(n, 2, ny, nx)
            flat = torch.cat([flat, grid], dim=1)
        out = self.project(self.fourier(self.lift(flat)))
        return out.reshape(batch + out.shape[1:])
