"""Gridded fields with a motion field drawn over them (PKN's estimated advection)."""

import numpy as np

from ._bands import _np


def plot_motion_field(image, motion, ax=None, *, x=None, y=None, stride=2, steps=1.0,
                      cmap="RdBu_r", vmin=None, vmax=None, title=None, colorbar_label=None):
    """An image with its motion field as arrows (every ``stride``-th grid point).

    Parameters
    ----------
    image : array, shape (H, W)
        The field, row ``0`` at ``y[0]``.
    motion : array, shape (2, H, W)
        ``(w_x, w_y)`` in grid cells per step (the convention of
        :func:`probdyn.physics.gaussian_warp`: ``w_y > 0`` towards larger row index). The
        arrows are drawn in grid-cell units, so on an axis in degrees they are scaled by the
        grid spacing.
    ax : matplotlib Axes, optional
        Default: a new figure.
    x, y : array, optional
        Coordinates of the columns (``W``) and rows (``H``), e.g. longitude and latitude;
        default the indices. Must be evenly spaced.
    stride : int
        Draw one arrow per ``stride x stride`` block.
    steps : float
        Each arrow is the displacement over this many steps, drawn to the axes' scale.
    cmap, vmin, vmax, title, colorbar_label
        Styling.

    Returns
    -------
    matplotlib Axes
    """
    image, motion = _np(image), _np(motion)
    if image.ndim != 2 or motion.shape != (2, *image.shape):
        raise ValueError(f"image must be (H, W) and motion (2, H, W); got {image.shape} and "
                         f"{motion.shape}")
    if not (np.isfinite(motion).all()):
        raise ValueError("motion contains NaN or infinite values")
    if not (isinstance(stride, int) and stride >= 1):
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if not (isinstance(steps, (int, float)) and np.isfinite(steps) and steps > 0):
        raise ValueError(f"steps must be a positive number, got {steps!r}")
    H, W = image.shape
    x = np.arange(W, dtype=float) if x is None else np.asarray(x, dtype=float)
    y = np.arange(H, dtype=float) if y is None else np.asarray(y, dtype=float)
    if x.shape != (W,) or y.shape != (H,):
        raise ValueError(f"x must have length {W} and y length {H}, got {x.shape}, {y.shape}")
    dx = (x[-1] - x[0]) / (W - 1) if W > 1 else 1.0
    dy = (y[-1] - y[0]) / (H - 1) if H > 1 else 1.0
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4))
    mesh = ax.pcolormesh(x, y, image, cmap=cmap, vmin=vmin, vmax=vmax, shading="nearest")
    cb = ax.figure.colorbar(mesh, ax=ax, shrink=0.85)
    if colorbar_label:
        cb.set_label(colorbar_label)
    s = (slice(None, None, stride), slice(None, None, stride))
    # one grid cell becomes (dx, dy) in axis units; angles="xy" keeps the direction
    u, v = motion[0][s] * dx * steps, motion[1][s] * dy * steps
    ax.quiver(x[s[1]], y[s[0]], u, v, angles="xy",
              scale_units="xy", scale=1, width=0.003, color="k")
    ax.set_aspect("equal" if abs(abs(dx) - abs(dy)) < 1e-9 * max(abs(dx), 1) else "auto")
    if title:
        ax.set_title(title, fontsize=9)
    return ax
