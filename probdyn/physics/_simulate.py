"""Accurate batched integration of PDE fields for data generation, and the xarray output."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import xarray as xr
from torchdiffeq import odeint
from tqdm.auto import tqdm

from ..io import trajectories_to_dataset

_FIXED_STEP = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
_ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


def time_grid(start: float, stop: float, step: float, name: str = "dt_data") -> torch.Tensor:
    """``start, start + step, ..., stop`` (float64); ``stop - start`` must be a multiple."""
    if not step > 0:
        raise ValueError(f"{name} must be positive, got {step!r}")
    if not stop > start:
        raise ValueError(f"the horizon must end after it starts, got [{start}, {stop}]")
    n = round((stop - start) / step)
    if abs(n * step - (stop - start)) > 1e-9 * max(1.0, abs(stop - start)):
        raise ValueError(f"the time span {stop - start} is not a multiple of {name}={step}")
    return start + step * torch.arange(n + 1, dtype=torch.float64)


def solver_attrs(method: str, rtol: float, atol: float, step_size: float | None) -> dict:
    if method not in _FIXED_STEP + _ADAPTIVE:
        raise ValueError(f"method must be a torchdiffeq method, one of "
                         f"{_FIXED_STEP + _ADAPTIVE}, got {method!r}")
    if method in _FIXED_STEP:
        if step_size is None or not step_size > 0:
            raise ValueError(f"method={method!r} is fixed-step: give a positive step_size, "
                             f"got {step_size!r}")
        return {"solver": f"torchdiffeq {method}", "step_size": float(step_size)}
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive, got rtol={rtol!r}, atol={atol!r}")
    return {"solver": f"torchdiffeq {method}", "rtol": float(rtol), "atol": float(atol)}


def initial_or(initial_state, field, draw: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The user's ``initial_state`` (checked: shape ``(B, *state_shape)``, finite) as float64,
    or ``draw()``."""
    if initial_state is None:
        return draw()
    if not isinstance(initial_state, torch.Tensor) or initial_state.dim() != 4:
        shape = getattr(initial_state, "shape", type(initial_state).__name__)
        raise ValueError(f"initial_state must be a tensor of shape (B, "
                         f"{', '.join(map(str, field.state_shape))}), got {shape}")
    field.check_state(initial_state, "initial_state")
    return initial_state.detach().to(torch.float64).clone()


def storage_dtype(store_dtype: str) -> torch.dtype:
    if store_dtype not in ("float32", "float64"):
        raise ValueError(f"store_dtype must be 'float32' or 'float64', got {store_dtype!r}")
    return torch.float32 if store_dtype == "float32" else torch.float64


def integrate(field_for: Callable[[slice], torch.nn.Module], x0: torch.Tensor,
              times: torch.Tensor, *, method: str, rtol: float, atol: float,
              step_size: float | None, batch_size: int | None, progress: bool,
              desc: str, store_dtype: str = "float64") -> torch.Tensor:
    """Solve ``dx/dt = field(t, x)`` for every trajectory; returns ``(B, T, *state)`` in
    ``store_dtype`` (the solve itself runs in ``x0``'s dtype; frames are cast as they come, so
    a float32 store never holds a float64 copy).

    ``field_for(batch_slice)`` gives the field for a slice of trajectories (fields whose
    coefficients differ per trajectory). The solve runs interval by interval between the
    output times, so the progress bar advances with simulated time.
    """
    solver_attrs(method, rtol, atol, step_size)
    n = x0.shape[0]
    batch_size = n if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    options = {"step_size": step_size} if method in _FIXED_STEP else None
    times = times.to(x0.dtype)
    out = torch.empty((n, len(times), *x0.shape[1:]), dtype=storage_dtype(store_dtype))
    bar = tqdm(total=n * (len(times) - 1), desc=desc, disable=not progress, unit="frame")
    with torch.no_grad(), bar:
        for start in range(0, n, batch_size):
            sl = slice(start, min(n, start + batch_size))
            field, x = field_for(sl), x0[sl]
            out[sl, 0] = x
            for i in range(len(times) - 1):
                x = odeint(field, x, times[i:i + 2], method=method, rtol=rtol, atol=atol,
                           options=options)[-1]
                if not torch.isfinite(x).all():
                    raise RuntimeError(
                        f"{desc}: the solution became NaN/inf before t={times[i + 1].item():g} "
                        "(unstable parameters or too large a step_size)")
                out[sl, i + 1] = x
                bar.update(sl.stop - sl.start)
    return out


def to_dataset(states: torch.Tensor, times: torch.Tensor, field, *, store_dtype: str,
               attrs: dict, env: Sequence | None = None, cell_centred: bool = False,
               env_coords: dict | None = None) -> xr.Dataset:
    """``(B, T, C, y, x)`` or, with ``env``, ``(E, B, T, C, y, x)`` states as a Dataset."""
    dtype = storage_dtype(store_dtype)
    space = field.coordinates(cell_centred)
    common = dict(channels=field.channels, space=space, attrs=attrs)
    if env is None:
        return trajectories_to_dataset(states.to(dtype), times.tolist(), **common)
    parts = [trajectories_to_dataset(s.to(dtype), times.tolist(), **common) for s in states]
    ds = xr.concat(parts, dim="env", combine_attrs="override")
    ds = ds.assign_coords(env=list(env))
    for name, values in (env_coords or {}).items():
        ds = ds.assign_coords({name: ("env", list(values))})
    return ds
