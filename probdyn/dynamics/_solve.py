"""Solving ``dx/dt = f(t, x)``: a checked wrapper over torchdiffeq with trajectory-first output."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch
import torchdiffeq
from torch import nn
from torch.utils.checkpoint import checkpoint as _checkpoint
from tqdm.auto import tqdm

FIXED_STEP_METHODS = ("euler", "midpoint", "rk4")
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "adaptive_heun")
METHODS = FIXED_STEP_METHODS + ADAPTIVE_METHODS


class _Tracked(nn.Module):
    """Calls ``field`` and remembers the last time it was evaluated at (for error messages);
    optionally recomputes the field's activations in the backward pass (``checkpoint``)."""

    def __init__(self, field: nn.Module, checkpoint: bool, bar=None):
        super().__init__()
        self.field = field
        self.checkpoint = checkpoint
        # a plain dict: assigning a module attribute per evaluation goes through the slow
        # nn.Module.__setattr__
        self._seen = {"t": None}
        self.bar = bar  # tqdm over the time span: shows how far the solver has got

    @property
    def last_t(self) -> float:
        """The last evaluation time (NaN before the first evaluation)."""
        t = self._seen["t"]
        return math.nan if t is None else float(t)

    def forward(self, t, x):
        # keep the tensor: float() here would synchronise with a GPU at every evaluation
        self._seen["t"] = t.detach()
        if self.bar is not None:
            now = float(t)
            self.bar.update(max(0.0, abs(now - self.bar.t_begin) - self.bar.n))
        if self.checkpoint and torch.is_grad_enabled():
            return _checkpoint(self.field, t, x, use_reentrant=False)
        return self.field(t, x)


def _state_shape(field, x0: torch.Tensor, state_shape) -> tuple:
    """The trailing state dims of ``x0``; a declared ``None`` entry (a grid size) matches any."""
    declared = state_shape if state_shape is not None else getattr(field, "state_shape", None)
    if declared is None:  # an ODE in R^d: the last dim is the state
        if x0.dim() < 1:
            raise ValueError("x0 must have at least one dim (the state), got a scalar")
        return tuple(x0.shape[-1:])
    declared = tuple(None if n is None else int(n) for n in declared)
    got = tuple(x0.shape[x0.dim() - len(declared):]) if x0.dim() >= len(declared) else ()
    if len(got) != len(declared) or any(d is not None and d != g for d, g in zip(declared, got)):
        want = ", ".join("*" if n is None else str(n) for n in declared)
        raise ValueError(f"x0 must have shape (..., {want}) (the field's state_shape), got "
                         f"{tuple(x0.shape)}")
    return got


def _as_time(t, x0: torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(t)
    dtype = x0.dtype if x0.is_floating_point() else torch.get_default_dtype()
    return t.to(device=x0.device, dtype=dtype)


def _check_grid(t: torch.Tensor, name: str, increasing_only: bool = False) -> None:
    if t.dim() != 1 or t.numel() < 1:
        raise ValueError(f"{name} must be a non-empty 1-D tensor of times, got shape "
                         f"{tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite times")
    if t.numel() > 1:
        d = t[1:] - t[:-1]
        if not ((d > 0).all() or (not increasing_only and (d < 0).all())):
            what = "strictly increasing" if increasing_only else "strictly monotone"
            raise ValueError(f"{name} must be {what}, got {t.tolist()}")


def _odeint(func: _Tracked, x0, t, method, rtol, atol, adjoint, step_size):
    options = {} if step_size is None else {"step_size": float(step_size)}
    if method == "dopri8" and t.numel() > 2:
        # torchdiffeq's dopri8 interpolates to output times with a 4th-order polynomial (errors
        # ~1e-7 at rtol 1e-10); making every output time a step end removes the interpolation
        options["step_t"] = t
    kwargs = dict(rtol=rtol, atol=atol, method=method, options=options)
    with contextlib.ExitStack() as stack:
        if not adjoint:  # the adjoint differentiates through module parameters inside func
            for m in func.field.modules():
                if hasattr(m, "frozen_parameters"):
                    stack.enter_context(m.frozen_parameters())
        return _odeint_raw(func, x0, t, method, rtol, atol, adjoint, kwargs)


def _odeint_raw(func, x0, t, method, rtol, atol, adjoint, kwargs):
    try:
        if adjoint:  # needs the module (it collects the field's parameters from it)
            return torchdiffeq.odeint_adjoint(func, x0, t, **kwargs)
        # the bound forward skips nn.Module.__call__'s hook machinery at every evaluation
        return torchdiffeq.odeint(func.forward, x0, t, **kwargs)
    except AssertionError as err:
        text = str(err)
        if "underflow" in text or "max_num_steps" in text:
            raise RuntimeError(
                f"the ODE solver ({method}, rtol={rtol}, atol={atol}) failed at "
                f"t = {func.last_t:.6g} ({text}): the solution is probably blowing up or the "
                "problem is stiff there; check the parameters or use a fixed-step method"
            ) from err
        raise


def solve(field: nn.Module, x0, t, *, method: str = "dopri5", rtol: float = 1e-6,
          atol: float = 1e-8, adjoint: bool = False, step_size: float | None = None,
          checkpoint: bool = False, t0=None, state_shape: Sequence[int] | None = None,
          check_finite: bool = True, progress: bool = False):
    """Solve ``dx/dt = field(t, x)`` from ``x0``; the output has time just left of the state.

    A wrapper over torchdiffeq's ``odeint`` / ``odeint_adjoint`` that checks its inputs,
    batches over trajectories and accepts a different time grid per trajectory.

    Parameters
    ----------
    field : nn.Module
        Usually a :class:`~probdyn.dynamics.VectorField`; ``field(t, x)`` with ``t`` a scalar
        tensor and ``x`` of shape ``(..., *state_shape)`` returns ``dx/dt`` of the same shape.
        If it has a ``state_shape`` attribute, ``x0`` is checked against it.
    x0 : tensor, shape (..., *state_shape)
        Initial states (leading dims: a batch of trajectories), at time ``t[0]`` (shared grid)
        or ``t0`` (per-trajectory grids). Must be finite.
    t : tensor, shape (T,); or (B, T); or list of B 1-D tensors
        Output times, in the model's time units.

        - ``(T,)``: one grid for all trajectories; strictly increasing or decreasing,
          ``t[0]`` is the time of ``x0``.
        - ``(B, T)`` or a list of ``B`` grids (lengths may differ): trajectory ``b`` is
          reported at its own strictly increasing times ``t[b]``; ``x0`` must be ``(B,
          *state_shape)``. One solve runs on the sorted union of all the times and each
          trajectory's times are gathered from it.
    method : str
        Fixed step: ``"euler"``, ``"midpoint"``, ``"rk4"`` (steps between consecutive output
        times, or of ``step_size``); adaptive: ``"dopri5"`` (default), ``"dopri8"``,
        ``"bosh3"``, ``"adaptive_heun"`` (error controlled by ``rtol``/``atol``). With
        ``"dopri8"`` every output time is made a step end: torchdiffeq's dopri8 dense output
        is a 4th-order fit (errors ~1e-7 at rtol 1e-10 otherwise).
    rtol, atol : float
        Tolerances of the adaptive methods (ignored by fixed-step ones).
    adjoint : bool
        Gradients by the adjoint method (``odeint_adjoint``: memory independent of the number
        of steps; ``field`` must be an ``nn.Module`` whose parameters are the ones to
        differentiate) instead of backpropagating through the solver's operations.
    step_size : float, optional
        Step of the fixed-step methods (default: the spacing of the output times). torchdiffeq
        interpolates linearly to output times that are not on the step grid, so choose a step
        that divides the output spacing.
    checkpoint : bool
        Recompute each field evaluation's activations in the backward pass
        (``torch.utils.checkpoint``) instead of storing them: less memory for large
        (convolutional, FNO) fields, about one extra field evaluation per step.
    t0 : float, optional
        Per-trajectory grids only: the time of ``x0`` (default: the earliest time of all
        trajectories); must not be later than any requested time.
    state_shape : sequence of int, optional
        Overrides ``field.state_shape``; default ``x0.shape[-1:]`` (a vector ODE).
    check_finite : bool
        Raise ``RuntimeError`` naming the first time at which the solution is NaN/infinite
        (default). Likelihoods turn a non-finite solution into ``-inf`` instead.
    progress : bool
        A tqdm bar over the time span (off by default: most solves are short).

    Returns
    -------
    tensor, shape (..., T, *state_shape); or list of B tensors (T_b, *state_shape)
        Trajectory-first (torchdiffeq puts time first): the axis order of xarray dims
        ``trajectory, time, channel[, y, x]``, ready for
        :func:`probdyn.io.trajectories_to_dataset`. A list ``t`` gives a list back.

    Raises
    ------
    ValueError
        Non-finite ``x0``, shape mismatches, non-monotone or non-finite times, unknown method.
    RuntimeError
        The adaptive step size underflowed (the message names the time reached), or the
        solution is not finite.
    """
    if not isinstance(field, nn.Module) or not callable(field):
        raise ValueError(f"field must be an nn.Module (a VectorField), got {type(field).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive, got rtol={rtol}, atol={atol}")
    if step_size is not None:
        if method not in FIXED_STEP_METHODS:
            raise ValueError(f"step_size is for the fixed-step methods {FIXED_STEP_METHODS}, "
                             f"not {method!r}")
        if not (step_size > 0 and math.isfinite(step_size)):
            raise ValueError(f"step_size must be positive and finite, got {step_size}")
    x0 = torch.as_tensor(x0)
    if not x0.is_floating_point():
        x0 = x0.to(torch.get_default_dtype())
    if not torch.isfinite(x0).all():
        raise ValueError("x0 contains NaN or infinite values")
    shape = _state_shape(field, x0, state_shape)
    n_state = len(shape)
    per_trajectory = isinstance(t, (list, tuple)) or (torch.is_tensor(t) and t.dim() == 2)
    if not per_trajectory:
        grid = _as_time(t, x0, "t")
        _check_grid(grid, "t")
        with _bar(progress, grid[0], grid[-1]) as bar:
            sol = _odeint(_Tracked(field, checkpoint, bar), x0, grid, method, rtol, atol,
                          adjoint, step_size)
        out = torch.movedim(sol, 0, x0.dim() - n_state)
        if check_finite:
            _check_solution(out, grid, x0.dim() - n_state)
        return out

    grids = [_as_time(g, x0, f"t[{b}]") for b, g in enumerate(t)]
    for b, g in enumerate(grids):
        _check_grid(g, f"t[{b}]", increasing_only=True)
    if x0.dim() != n_state + 1 or x0.shape[0] != len(grids):
        raise ValueError(f"with per-trajectory times for {len(grids)} trajectories, x0 must "
                         f"have shape ({len(grids)}, {', '.join(map(str, shape))}), got "
                         f"{tuple(x0.shape)}")
    earliest = min(float(g[0]) for g in grids)
    start = earliest if t0 is None else float(t0)
    if not math.isfinite(start) or start > earliest:
        raise ValueError(f"t0 must be finite and not later than the earliest time {earliest}, "
                         f"got {t0}")
    union = torch.unique(torch.cat([g.new_tensor([start])] + grids))  # sorted
    with _bar(progress, union[0], union[-1]) as bar:  # sol: (U, B, *state)
        sol = _odeint(_Tracked(field, checkpoint, bar), x0, union, method, rtol, atol,
                      adjoint, step_size)
    batch = torch.arange(len(grids), device=x0.device)
    if torch.is_tensor(t):
        index = torch.searchsorted(union, torch.stack(grids))  # (B, T)
        out = sol[index, batch[:, None]]
        if check_finite:
            _check_solution(out, None, 1)
        return out
    outs = [sol[torch.searchsorted(union, g.contiguous()), b] for b, g in enumerate(grids)]
    if check_finite:
        for g, o in zip(grids, outs):
            _check_solution(o, g, 0)
    return outs


@contextlib.contextmanager
def _bar(progress: bool, start, end):
    if not progress:
        yield None
        return
    with tqdm(total=abs(float(end) - float(start)), desc="solve", leave=False,
              bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g}") as bar:
        bar.t_begin = float(start)
        yield bar


def _check_solution(out: torch.Tensor, grid: torch.Tensor, time_axis: int) -> None:
    bad = ~torch.isfinite(out.detach())
    if bad.any():
        steps = bad.movedim(time_axis, 0).reshape(out.shape[time_axis], -1).any(-1)
        first = int(steps.nonzero()[0])
        when = "" if grid is None else f" (t = {float(grid[first]):.6g})"
        raise RuntimeError(f"the ODE solution is NaN or infinite from output step {first}{when} "
                           "on: the dynamics blow up for these parameters")
