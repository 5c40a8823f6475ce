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


def concentric_annuli(num_inner: int = 1000, num_outer: int = 2000, *,
                      inner_range=(0.0, 0.5), outer_range=(1.0, 1.5),
                      seed: int = 0) -> xr.Dataset:
    """A disc inside an annulus in R^2: the "concentric spheres" of Augmented Neural ODEs.

    No homeomorphism of the plane maps the two classes to linearly separable sets, so a
    neural ODE in R^2 cannot classify them with a linear head (Dupont et al. 2019); an
    augmented one (extra dimensions, e.g. the UpDown ``v``) can. Each point has a uniform
    direction and the radius ``r_lo + (r_hi - r_lo) sqrt(U)``, ``U ~ U(0, 1)``, ANODE's law
    in 2-D (area-uniform on a disc; on an annulus the density grows linearly from ``r_lo``).

    Parameters
    ----------
    num_inner, num_outer : int
        Points of class 0 (the inner ring or disc) and of class 1 (the outer annulus), >= 1.
    inner_range, outer_range : (float, float)
        ``(r_lo, r_hi)`` of each class, ``0 <= r_lo < r_hi``; the inner one must end before
        the outer one starts (disjoint classes).
    seed : int
        Seed of the numpy generator.

    Returns
    -------
    xarray.Dataset
        ``x`` (sample, coord) with coord ``["x1", "x2"]`` and ``label`` (sample) in {0, 1}
        (0: inner, 1: outer); the arguments in ``attrs``. Samples are shuffled.
    """
    counts = []
    for name, n in (("num_inner", num_inner), ("num_outer", num_outer)):
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
        counts.append(int(n))
    ranges = []
    for name, rr in (("inner_range", inner_range), ("outer_range", outer_range)):
        lo, hi = (float(v) for v in rr)
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
            raise ValueError(f"{name} must be (low, high) with 0 <= low < high, got {rr!r}")
        ranges.append((lo, hi))
    if ranges[0][1] >= ranges[1][0]:
        raise ValueError(f"inner_range {inner_range!r} must end before outer_range "
                         f"{outer_range!r} starts (the classes would overlap)")
    rng = np.random.default_rng(seed)
    parts = []
    for n, (lo, hi) in zip(counts, ranges):
        direction = rng.standard_normal((n, 2))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        radius = lo + (hi - lo) * np.sqrt(rng.uniform(size=n))
        parts.append(direction * radius[:, None])
    x = np.concatenate(parts)
    label = np.r_[np.zeros(counts[0], np.int64), np.ones(counts[1], np.int64)]
    order = rng.permutation(len(label))
    return xr.Dataset(
        {"x": (("sample", "coord"), x[order]), "label": ("sample", label[order])},
        coords={"coord": ["x1", "x2"]},
        attrs={"description": "a disc (class 0) inside an annulus (class 1), ANODE's concentric "
                              "spheres in 2-D", "inner_range": list(ranges[0]),
               "outer_range": list(ranges[1]), "seed": int(seed)},
    )
