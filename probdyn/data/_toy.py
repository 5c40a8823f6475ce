"""Two-dimensional toy classification sets (no file needed)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def concentric_circles(num_points: int = 1000, *, noise: float = 0.1, factor: float = 0.5,
                       seed: int = 0) -> xr.Dataset:
    """Two noisy concentric circles: the 2-D toy of the least-action experiments.

    Class 0 lies on the unit circle, class 1 on the circle of radius ``factor``; each point
    is at a uniform random angle plus isotropic Gaussian noise of standard deviation
    ``noise``. The same law as scikit-learn's ``make_circles`` (which spaces the angles
    evenly instead of drawing them), written here to avoid the dependency.

    Parameters
    ----------
    num_points : int
        Total number of points; class 0 gets ``num_points // 2``, class 1 the rest.
    noise : float
        Standard deviation of the Gaussian noise (same units as the radii).
    factor : float
        Radius of the inner circle, in (0, 1).
    seed : int
        Seed of the numpy generator.

    Returns
    -------
    xarray.Dataset
        ``x`` (sample, coord) with coord ``["x1", "x2"]`` and ``label`` (sample) in {0, 1};
        the arguments in ``attrs``. Samples are shuffled.
    """
    if isinstance(num_points, bool) or int(num_points) != num_points or num_points < 2:
        raise ValueError(f"num_points must be an integer >= 2, got {num_points!r}")
    if not (noise >= 0 and np.isfinite(noise)):
        raise ValueError(f"noise must be non-negative and finite, got {noise!r}")
    if not (0 < factor < 1):
        raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n_outer = int(num_points) // 2
    label = np.r_[np.zeros(n_outer, np.int64), np.ones(int(num_points) - n_outer, np.int64)]
    radius = np.where(label == 0, 1.0, factor)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=label.shape)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(len(label))
    return xr.Dataset(
        {"x": (("sample", "coord"), x[order]), "label": ("sample", label[order])},
        coords={"coord": ["x1", "x2"]},
        attrs={"description": "two concentric circles (class 0: radius 1, class 1: radius "
                              "factor) with Gaussian noise", "noise": float(noise),
               "factor": float(factor), "seed": int(seed)},
    )
