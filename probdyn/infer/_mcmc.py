"""NUTS through Pyro's MCMC, with chains drawn one after another by default."""

from __future__ import annotations

import pyro
from pyro.infer import MCMC, NUTS
from pyro.infer.autoguide import init_to_uniform
from pyro.infer.mcmc.api import _UnarySampler


def run_nuts(model, *args, num_samples: int = 1000, warmup: int = 1000, num_chains: int = 4,
             seed: int | None = 0, progress: bool = True, target_accept: float = 0.8,
             max_tree_depth: int = 10, init_strategy=None, parallel: bool = False,
             **kwargs) -> MCMC:
    """Sample the posterior of ``model(*args, **kwargs)`` with NUTS (Pyro's ``MCMC``).

    Parameters
    ----------
    model : callable
        A Pyro model whose latent sites are continuous.
    num_samples, warmup : int
        Draws kept and warm-up (adaptation) iterations, per chain.
    num_chains : int
        Independent chains, each initialised by ``init_strategy`` (default
        ``init_to_uniform``: uniform on (-2, 2) in the unconstrained space, as Stan does, so
        chains start apart). Drawn sequentially unless ``parallel`` (Pyro's
        multiprocessing, when enough CPUs).
    seed : int, optional
        ``pyro.set_rng_seed(seed)`` first.
    progress : bool
        Pyro's tqdm bars (warm-up and sampling, per chain).
    target_accept, max_tree_depth
        NUTS settings (step-size adaptation target; tree depth limit).

    Returns
    -------
    pyro.infer.MCMC
        The finished run: ``get_samples(group_by_chain=True)``, ``diagnostics()``
        (``r_hat``, ``n_eff``, divergences), and :func:`probdyn.io.to_inference_data`.
    """
    for name, value, low in (("num_samples", num_samples, 1), ("warmup", warmup, 0),
                             ("num_chains", num_chains, 1)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
    if seed is not None:
        pyro.set_rng_seed(seed)
    kernel = NUTS(model, target_accept_prob=target_accept, max_tree_depth=max_tree_depth,
                  init_strategy=init_strategy or init_to_uniform)
    mcmc = MCMC(kernel, num_samples=int(num_samples), warmup_steps=int(warmup),
                num_chains=int(num_chains), disable_progbar=not progress)
    if not parallel and not isinstance(mcmc.sampler, _UnarySampler):
        # Pyro picks multiprocessing whenever CPUs are free; sequential chains are cheaper for
        # small models and share the process's RNG (reproducible with one seed).
        mcmc.sampler = _UnarySampler(kernel, int(num_samples), int(warmup), int(num_chains),
                                     not progress, initial_params=None, hook=None)
    mcmc.run(*args, **kwargs)
    return mcmc
