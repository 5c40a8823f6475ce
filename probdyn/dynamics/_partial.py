"""A latent ODE state seen through a known differentiable observation operator (thesis 3.1,
Ayed et al. 2020): ``dX/dt = F_theta(X)``, ``Y_t = H(X_t)``, ``X_0 = g_theta(Y_{-k+1..0})``
(Setting 1) or the true ``X_0`` (Setting 2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ._neural import PADDINGS, _activation, _positive_int
from ._solve import FIXED_STEP_METHODS, solve


class ChannelObservation(nn.Module):
    """``H(X) = X[..., channels, :, :]``: observe some channels of a gridded state.

    Linear, so ``(dH/dX)^*`` puts the observation residual back on the observed channels and
    zero on the hidden ones.

    Parameters
    ----------
    channels : int or sequence of int
        Indices of the observed channels (distinct, in ``0 .. num_channels - 1``).
    num_channels : int
        Channels of the state ``X``.

    Notes
    -----
    Shapes: ``(..., num_channels, y, x)`` to ``(..., len(channels), y, x)``.
    """

    def __init__(self, channels, num_channels: int):
        super().__init__()
        self.num_channels = _positive_int(num_channels, "num_channels")
        chosen = [channels] if isinstance(channels, int) else list(channels)
        if (not chosen or len(set(chosen)) != len(chosen)
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in chosen)
                or not all(0 <= c < self.num_channels for c in chosen)):
            raise ValueError(f"channels must be distinct ints in 0..{self.num_channels - 1}, "
                             f"got {channels!r}")
        self.channels = tuple(chosen)
        self.register_buffer("index", torch.tensor(chosen), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[-3] != self.num_channels:
            raise ValueError(f"the state must have shape (..., {self.num_channels}, y, x), got "
                             f"{tuple(x.shape)}")
        return x.index_select(-3, self.index.to(x.device))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_channels={self.num_channels}"


def as_observation(observation, num_channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``observation`` as a callable ``H``: an int or a sequence of ints becomes a
    :class:`ChannelObservation`; a callable (e.g. an ``nn.Module``) is kept."""
    if isinstance(observation, (int, Sequence)) and not isinstance(observation, (str, bool)):
        return ChannelObservation(observation, num_channels)
    if callable(observation):
        return observation
    raise ValueError(f"observation must be channel indices or a callable H(X), got "
                     f"{type(observation).__name__}")


class ObservationEncoder(nn.Module):
    """The initial-state encoder ``g_theta``: a ConvNet from the last ``history``
    observations to the full state ``X_0``.

    The ``history`` frames are stacked along the channel axis, then ``layers`` hidden
    ``kernel_size`` x ``kernel_size`` convolutions of ``hidden`` channels and a last one to
    ``state_channels``, with size-preserving padding (circular for ``"periodic"``, replicate
    for ``"neumann"``, as :class:`~probdyn.dynamics.ConvField`). The thesis gives neither the
    architecture of ``g_theta`` nor ``k`` (spec A.1 GAP).

    Parameters
    ----------
    history : int
        ``k``, the number of past observations ``Y_{-k+1}, ..., Y_0`` (the last one at the
        time of ``X_0``).
    obs_channels : int
        Channels of one observation.
    state_channels : int
        Channels of the state.
    hidden, layers, kernel_size, padding, activation
        Width, hidden-layer count, odd kernel size, boundary and nonlinearity.

    Notes
    -----
    Shapes: ``(..., history, obs_channels, y, x)`` to ``(..., state_channels, y, x)``.
    """

    def __init__(self, history: int, obs_channels: int, state_channels: int, hidden: int = 32,
                 layers: int = 3, kernel_size: int = 3, padding: str = "periodic",
                 activation="relu"):
        super().__init__()
        self.history = _positive_int(history, "history")
        self.obs_channels = _positive_int(obs_channels, "obs_channels")
        self.state_channels = _positive_int(state_channels, "state_channels")
        hidden = _positive_int(hidden, "hidden")
        layers = _positive_int(layers, "layers")
        kernel_size = _positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        mode = "circular" if padding == "periodic" else "replicate"
        sizes = [self.history * self.obs_channels] + [hidden] * layers + [self.state_channels]
        mods = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(nn.Conv2d(a, b, kernel_size, padding=kernel_size // 2,
                                  padding_mode=mode))
            if i < len(sizes) - 2:
                mods.append(_activation(activation))
        self.net = nn.Sequential(*mods)

    def forward(self, y_past: torch.Tensor) -> torch.Tensor:
        want = (self.history, self.obs_channels)
        if y_past.dim() < 4 or tuple(y_past.shape[-4:-2]) != want:
            raise ValueError(f"y_past must have shape (..., {self.history}, {self.obs_channels}, "
                             f"y, x) (history k = {self.history}), got {tuple(y_past.shape)}")
        batch, grid = y_past.shape[:-4], y_past.shape[-2:]
        flat = y_past.reshape((-1, self.history * self.obs_channels) + tuple(grid))
        return self.net(flat).reshape(batch + (self.state_channels,) + tuple(grid))


class PartiallyObservedODE(nn.Module):
    """``dX/dt = F_theta(X)``, ``Y_t = H(X_t)``, with ``X_0`` from an encoder or given.

    - **Setting 1** ("jointly trained states"): ``encoder`` is an
      :class:`ObservationEncoder` (or any module ``(..., k, C_obs, y, x) -> (..., *state)``
      with a ``history`` attribute ``k``); ``X_0 = g_theta(Y_{-k+1}, ..., Y_0)`` and
      ``F_theta`` and ``g_theta`` are trained together from observations only.
    - **Setting 2** ("canonical initial condition"): ``encoder=None``; the true ``X_0`` is
      passed in.

    Parameters
    ----------
    field : nn.Module
        The latent vector field ``F_theta`` (e.g. :class:`~probdyn.dynamics.ConvField`),
        ``field(t, x)`` on states ``(..., *state_shape)``.
    observation : int, sequence of int or callable
        The known differentiable operator ``H``: observed channel indices (a
        :class:`ChannelObservation`) or a callable mapping states ``(..., C, y, x)`` to
        observations ``(..., C_obs, y, x)``.
    state_channels : int
        Channels of ``X``.
    encoder : nn.Module, optional
        ``g_theta`` (Setting 1); none for Setting 2.

    Notes
    -----
    Time convention: with history ``k`` (1 in Setting 2) a sequence ``y`` of shape ``(B, k + T,
    C_obs, y, x)`` at times ``t`` of shape ``(k + T,)`` has ``X_0`` at ``t[k - 1]`` and the
    targets ``y[:, k:]``. In Setting 2, ``y[:, 0]`` is the observation of the given ``X_0``
    and not a target.
    """

    def __init__(self, field: nn.Module, observation, state_channels: int,
                 encoder: nn.Module | None = None):
        super().__init__()
        if not isinstance(field, nn.Module) or not callable(field):
            raise ValueError(f"field must be an nn.Module, got {type(field).__name__}")
        self.field = field
        self.state_channels = _positive_int(state_channels, "state_channels")
        self.observation = as_observation(observation, self.state_channels)
        if encoder is not None:
            if not isinstance(encoder, nn.Module):
                raise ValueError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
            _positive_int(getattr(encoder, "history", None) or 0, "encoder.history")
        self.encoder = encoder

    @property
    def history(self) -> int:
        """``k``: observations used before (and at) the time of ``X_0`` (1 without encoder)."""
        return 1 if self.encoder is None else int(self.encoder.history)

    def observe(self, states: torch.Tensor) -> torch.Tensor:
        """``H(X)`` for states ``(..., C, y, x)``; checks that ``H`` keeps the batch and grid."""
        out = self.observation(states)
        if (not torch.is_tensor(out) or out.dim() != states.dim()
                or out.shape[:-3] != states.shape[:-3] or out.shape[-2:] != states.shape[-2:]):
            raise ValueError(f"the observation H must map states (..., C, y, x) to (..., C_obs, "
                             f"y, x); states {tuple(states.shape)} gave "
                             f"{tuple(getattr(out, 'shape', ()))}")
        return out

    def initial_state(self, y=None, x0=None) -> torch.Tensor:
        """``X_0``: ``g_theta(y[:, :k])`` in Setting 1, the given ``x0`` in Setting 2.

        ``y``: ``(B, >= k, C_obs, y, x)`` observations (Setting 1); ``x0``: ``(B, C, y, x)``.
        """
        if self.encoder is None:
            if x0 is None:
                raise ValueError("x0 (the true initial state) is required without an encoder "
                                 "(Setting 2)")
            x0 = torch.as_tensor(x0)
            if x0.dim() != 4 or x0.shape[1] != self.state_channels:
                raise ValueError(f"x0 must have shape (B, {self.state_channels}, y, x), got "
                                 f"{tuple(x0.shape)}")
            if not torch.isfinite(x0).all():
                raise ValueError("x0 contains NaN or infinite values")
            return x0
        if x0 is not None:
            raise ValueError("x0 is for Setting 2 (no encoder); with an encoder X_0 = g(y)")
        if y is None:
            raise ValueError("y (the past observations) is required with an encoder")
        y = torch.as_tensor(y)
        if y.dim() != 5 or y.shape[1] < self.history:
            raise ValueError(f"y must have shape (B, T, C_obs, y, x) with T >= history k = "
                             f"{self.history}, got {tuple(y.shape)}")
        if not torch.isfinite(y[:, :self.history]).all():
            raise ValueError("y contains NaN or infinite values")
        x0 = self.encoder(y[:, :self.history])
        if x0.shape[1] != self.state_channels:
            raise ValueError(f"the encoder returned {x0.shape[1]} channels, expected "
                             f"state_channels = {self.state_channels}")
        return x0

    def forward(self, t, *, y=None, x0=None, method: str = "euler", substeps: int = 3,
                step_size: float | None = None, adjoint: bool = False, **solve_kwargs):
        """Predict from ``X_0`` over ``t[k - 1:]`` (see the class notes).

        Parameters
        ----------
        t : tensor, shape (k + T,)
            Times of the observations ``y`` (strictly increasing, model time units).
        y : tensor, shape (B, k + T, C_obs, y, x), optional
            Observations; the encoder reads ``y[:, :k]`` (Setting 1).
        x0 : tensor, shape (B, C, y, x), optional
            The true initial state at ``t[0]`` (Setting 2).
        method : str
            Solver (default explicit Euler, as the thesis).
        substeps : int
            Fixed-step methods: steps per interval of ``t`` (the thesis's "three steps Euler
            scheme"; ``step_size`` = the first interval / ``substeps``).
        step_size : float, optional
            Overrides ``substeps``.
        adjoint : bool
            Gradients by the continuous adjoint (``odeint_adjoint``, spec S8/S9) instead of
            backpropagation through the solver (discretise-then-differentiate, the thesis's
            choice).
        **solve_kwargs
            Passed to :func:`~probdyn.dynamics.solve` (``rtol``, ``atol``, ``checkpoint``).

        Returns
        -------
        states : tensor, shape (B, T + 1, C, y, x)
            ``X`` at ``t[k - 1:]`` (``states[:, 0] = X_0``).
        observations : tensor, shape (B, T + 1, C_obs, y, x)
            ``H(X)``; compare ``observations[:, 1:]`` with ``y[:, k:]``.
        """
        x_init = self.initial_state(y, x0)
        t = torch.as_tensor(t, dtype=x_init.dtype, device=x_init.device)
        if t.dim() != 1 or t.numel() < self.history + 1:
            raise ValueError(f"t must be 1-D with at least history + 1 = {self.history + 1} "
                             f"times, got shape {tuple(t.shape)}")
        grid = t[self.history - 1:]
        if method in FIXED_STEP_METHODS and step_size is None:
            substeps = _positive_int(substeps, "substeps")
            step_size = float(grid[1] - grid[0]) / substeps
        states = solve(self.field, x_init, grid, method=method, step_size=step_size,
                       adjoint=adjoint, state_shape=tuple(x_init.shape[1:]), **solve_kwargs)
        return states, self.observe(states)
