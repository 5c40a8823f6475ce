"""Pyro posterior draws (MCMC or dicts of draws) to ArviZ."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ._arrays import check_no_nan, to_numpy

_SAMPLE_DIMS = (("chain", "draw"), ("draw",))


def _arviz_major() -> int:
    import arviz

    return int(arviz.__version__.split(".")[0])


def _is_pyro_mcmc(obj) -> bool:
    try:
        from pyro.infer import MCMC
    except ImportError:  # pragma: no cover - pyro is a dependency
        return False
    return isinstance(obj, MCMC)


def _mcmc_groups(mcmc, infer_observed: bool) -> tuple[dict, dict, dict | None]:
    """Posterior draws (chain, draw, ...), sample stats and the model's observed sites."""
    import torch

    if getattr(mcmc, "_samples", None) is None:
        raise ValueError("posterior is a pyro.infer.MCMC that has not been run yet")
    posterior = dict(mcmc.get_samples(group_by_chain=True))
    stats = {}
    if not posterior:
        return posterior, stats, None
    n_chain, n_draw = next(iter(posterior.values())).shape[:2]
    divergences = mcmc.diagnostics().get("divergences")
    if divergences:
        diverging = np.zeros((n_chain, n_draw), dtype=bool)
        for i in range(n_chain):
            diverging[i, np.asarray(divergences[f"chain {i}"], dtype=int)] = True
        stats["diverging"] = diverging
    observed = None
    model = getattr(mcmc.kernel, "model", None)
    if infer_observed and model is not None and mcmc._args is not None:
        import pyro

        # One prior run of the model to read its observed sites; the global RNG is untouched.
        with torch.random.fork_rng():
            trace = pyro.poutine.trace(model).get_trace(*mcmc._args, **mcmc._kwargs)
        observed = {
            site_name: site["value"]
            for site_name, site in trace.nodes.items()
            if site["type"] == "sample" and site["is_observed"]
        } or None
    return posterior, stats, observed


def _draw_group(
    data: Mapping, group: str, sample_dims: tuple, dims: Mapping, coords: Mapping
) -> xr.Dataset:
    """A group with leading (chain, draw) dims; a (draw,) input gets a chain of length 1."""
    variables = {}
    shape0 = None
    for var, value in data.items():
        arr = to_numpy(value, f"{group}[{var!r}]")
        check_no_nan(arr, f"{group}[{var!r}]")
        if arr.ndim < len(sample_dims):
            raise ValueError(
                f"{group}[{var!r}] has shape {arr.shape}, fewer axes than sample_dims "
                f"{sample_dims}"
            )
        if sample_dims == ("draw",):
            arr = arr[None]
        if shape0 is None:
            shape0 = arr.shape[:2]
        elif arr.shape[:2] != shape0:
            raise ValueError(
                f"{group}[{var!r}] has (chain, draw) sizes {arr.shape[:2]}, but other "
                f"variables have {shape0}"
            )
        variables[var] = (("chain", "draw") + _event_dims(var, arr.ndim - 2, dims), arr)
    ds = xr.Dataset(variables)
    return ds.assign_coords(chain=np.arange(ds.sizes["chain"]), draw=np.arange(ds.sizes["draw"]))


def _split_chains(value, chain_draw: tuple):
    """(chain * draw, ...) draws, e.g. ``Predictive(model, mcmc.get_samples())`` output, to
    (chain, draw, ...); Pyro concatenates chains in order. Other shapes pass unchanged."""
    n_chain, n_draw = chain_draw
    shape = tuple(value.shape)
    if n_chain > 1 and shape[:1] == (n_chain * n_draw,) and shape[:2] != (n_chain, n_draw):
        return value.reshape((n_chain, n_draw) + shape[1:])
    return value


def _event_dims(var: str, ndim: int, dims: Mapping) -> tuple:
    if var in dims:
        names = tuple(dims[var])
        if len(names) != ndim:
            raise ValueError(
                f"dims[{var!r}] names {len(names)} dimensions {names}, but {var!r} has "
                f"{ndim} non-sample dimensions"
            )
        return names
    return tuple(f"{var}_dim_{i}" for i in range(ndim))


def _data_group(data: Mapping, group: str, dims: Mapping) -> xr.Dataset:
    variables = {}
    for var, value in data.items():
        arr = to_numpy(value, f"{group}[{var!r}]")
        variables[var] = (_event_dims(var, arr.ndim, dims), arr)
    return xr.Dataset(variables)


def _with_coords(ds: xr.Dataset, coords: Mapping) -> xr.Dataset:
    present = {k: v for k, v in coords.items() if k in ds.dims}
    for k, v in present.items():
        if len(v) != ds.sizes[k]:
            raise ValueError(
                f"coords[{k!r}] has length {len(v)}, but dimension {k!r} has size {ds.sizes[k]}"
            )
    return ds.assign_coords(present)


def to_inference_data(
    posterior=None,
    *,
    observed_data: Mapping | None = None,
    posterior_predictive: Mapping | None = None,
    predictions: Mapping | None = None,
    log_likelihood: Mapping | None = None,
    sample_stats: Mapping | None = None,
    constant_data: Mapping | None = None,
    coords: Mapping[str, Sequence] | None = None,
    dims: Mapping[str, Sequence[str]] | None = None,
    sample_dims: Sequence[str] = ("chain", "draw"),
    infer_observed: bool = True,
    attrs: Mapping | None = None,
):
    """Pyro posterior draws to ArviZ: ``InferenceData`` (arviz < 1) or ``DataTree`` (>= 1).

    ArviZ 0.x's ``from_pyro`` handles MCMC only and ArviZ 1.x has no Pyro converter; this
    takes MCMC runs and draws from SVI guides (e.g. ``pyro.infer.Predictive(model,
    guide=guide, num_samples=S)()``) alike.

    Parameters
    ----------
    posterior : pyro.infer.MCMC or dict of array_like, optional
        A finished MCMC run (its draws by chain, ``diverging`` sample stats and, unless
        ``observed_data`` is given, the model's observed sites), or a dict of draws whose
        leading axes are ``sample_dims``.
    observed_data, constant_data : dict of array_like, optional
        Arrays without sample dims (``NaN`` allowed for missing observations).
    posterior_predictive, predictions, log_likelihood, sample_stats : dict of array_like
        Draws with leading ``sample_dims``, like a dict ``posterior`` (``predictions`` are
        forecasts, e.g. dims ``(chain, draw, time, series)``). With an MCMC ``posterior``,
        flat ``(chain * draw, ...)`` draws (``Predictive(model, mcmc.get_samples())``) are
        split into chains too.
    coords : dict, optional
        Dimension name -> coordinate values, applied in every group having that dimension.
    dims : dict, optional
        Variable name -> names of its non-sample dims (default ``{var}_dim_{i}``).
    sample_dims : ("chain", "draw") or ("draw",)
        Leading axes of the dict inputs; with ``("draw",)`` (SVI draws) a ``chain`` dim of
        length 1 is added. Draws must be finite (``ValueError`` otherwise).
        Note: ``pyro.infer.Predictive`` leaves a singleton dim on sites outside all plates
        (e.g. shape ``(S, 1)`` for a scalar); squeeze it first, or name it in ``dims``.
    infer_observed : bool
        For an MCMC ``posterior`` without ``observed_data``, run the model once (global RNG
        state restored afterwards) and store its observed sites.
    attrs : dict, optional
        Extra attributes for every group.

    Returns
    -------
    arviz.InferenceData (arviz < 1) or xarray.DataTree (arviz >= 1)
        Groups with dims ``chain``, ``draw`` and coordinates ``0..n-1`` for them.
    """
    sample_dims = tuple(sample_dims)
    if sample_dims not in _SAMPLE_DIMS:
        raise ValueError(f"sample_dims must be ('chain', 'draw') or ('draw',), got {sample_dims}")
    coords = dict(coords or {})
    dims = dict(dims or {})
    draw_groups: dict[str, tuple[Mapping, tuple]] = {}
    mcmc_shape = None  # (chain, draw) of an MCMC run
    if posterior is not None and _is_pyro_mcmc(posterior):
        draws, stats, observed = _mcmc_groups(posterior, infer_observed and observed_data is None)
        draw_groups["posterior"] = (draws, ("chain", "draw"))
        if draws:
            mcmc_shape = tuple(next(iter(draws.values())).shape[:2])
        if stats:
            if sample_stats is not None and sample_dims != ("chain", "draw"):
                raise ValueError("sample_stats given with an MCMC posterior must have leading "
                                 "(chain, draw) axes: use sample_dims=('chain', 'draw')")
            sample_stats = {**stats, **dict(sample_stats or {})}
        if observed_data is None:
            observed_data = observed
    elif posterior is not None:
        if not isinstance(posterior, Mapping):
            raise ValueError(
                f"posterior must be a pyro.infer.MCMC or a dict of arrays, got {type(posterior)}"
            )
        draw_groups["posterior"] = (posterior, sample_dims)
    for group, data in (
        ("posterior_predictive", posterior_predictive),
        ("predictions", predictions),
        ("log_likelihood", log_likelihood),
        ("sample_stats", sample_stats),
    ):
        if data is not None:
            if mcmc_shape is not None:
                data = {k: _split_chains(v, mcmc_shape) for k, v in data.items()}
            draw_groups[group] = (data, sample_dims)
    if not draw_groups:
        raise ValueError("nothing to convert: give posterior, posterior_predictive or predictions")

    import pyro

    from probdyn import __version__

    group_attrs = {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "inference_library": "pyro",
        "inference_library_version": pyro.__version__,
        "creation_library": "probdyn",
        "creation_library_version": __version__,
        **dict(attrs or {}),
    }
    groups = {}
    for group, (data, sdims) in draw_groups.items():
        if not data:
            continue
        ds = _with_coords(_draw_group(data, group, sdims, dims, coords), coords)
        groups[group] = ds.assign_attrs(group_attrs)
    for group, data in (("observed_data", observed_data), ("constant_data", constant_data)):
        if data:
            groups[group] = _with_coords(_data_group(data, group, dims), coords).assign_attrs(
                group_attrs
            )
    if _arviz_major() >= 1:
        return xr.DataTree.from_dict(groups)
    import arviz

    return arviz.InferenceData(**groups)
