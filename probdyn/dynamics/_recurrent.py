"""FT-RNN (Spieckermann et al. 2015), the recurrent multi-environment baseline of LEADS
(thesis Table S7): a GRU with a one-hot environment code in its linear transformations."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EnvironmentGRU(nn.Module):
    """Discrete-time forecaster of states ``(E, B, d)`` on a fixed time grid:

    ``h_{k+1} = GRU([x_k, c_e], h_k)``, ``x_{k+1} = x_k + W [h_{k+1}, c_e] + b``

    with ``c_e`` the one-hot code of environment ``e`` (so every input-side transformation of
    the GRU and the output layer has a per-environment bias) and ``h_0 = 0``. The step is a
    residual update, like one solver step of a vector field; unlike a vector field the model
    is tied to the grid it was trained on (one step per data interval).

    Parameters
    ----------
    num_envs : int
        Number of environments E (the code's length).
    state_dim : int
        d.
    hidden : int
        GRU width (64 as the LEADS MLPs).
    """

    def __init__(self, num_envs: int, state_dim: int, hidden: int = 64):
        super().__init__()
        for name, value in (("num_envs", num_envs), ("state_dim", state_dim),
                            ("hidden", hidden)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.num_envs, self.hidden = int(num_envs), int(hidden)
        self.state_shape = (int(state_dim),)
        self.specific = None  # no environment part to penalise (fit_leads reads it)
        self.cell = nn.GRUCell(state_dim + num_envs, hidden)
        self.head = nn.Linear(hidden + num_envs, state_dim)

    def rollout(self, y: torch.Tensor, restart: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted trajectories ``(E, B, T, d)`` from ``y[:, :, 0]``, one step per interval.

        ``y`` (E, B, T, d) gives the initial states and, where ``restart[k]`` (T - 1,) is
        True, the input of step k (teacher forcing, as scheduled sampling in ``fit_leads``);
        elsewhere the input is the previous prediction. None: a free rollout.
        """
        E, B, T, d = y.shape
        if E != self.num_envs or d != self.state_shape[0]:
            raise ValueError(f"y must have shape ({self.num_envs}, B, T, {self.state_shape[0]}),"
                             f" got {tuple(y.shape)}")
        code = F.one_hot(torch.arange(E, device=y.device), E).to(y.dtype)
        code = code[:, None].expand(E, B, E).reshape(E * B, E)
        x = y[:, :, 0].reshape(E * B, d)
        h = y.new_zeros(E * B, self.hidden)
        preds = [x]
        for k in range(T - 1):
            if k > 0 and restart is not None and bool(restart[k]):
                x = y[:, :, k].reshape(E * B, d)
            h = self.cell(torch.cat([x, code], -1), h)
            x = x + self.head(torch.cat([h, code], -1))
            preds.append(x)
        return torch.stack(preds, 1).reshape(E, B, T, d)
